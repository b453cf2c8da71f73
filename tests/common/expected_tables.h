#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tests/common/expected_events.h"

// The hand-written expectations of every provider fixture folder, one function per table: the
// events each fixture must yield (read from the provider's documentation and the fixture text,
// never from the code under test). The unit tests decode against them (tests/unit/providers), the
// integration tests post the same fixtures to a real router and check what the agent receives
// (tests/integration/providers_*_test.cc). Each table is built once and never changes.
namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& AgentMailFixtureEvents();        // agentmail/*.json
const std::vector<ExpectedEvent>& BrevoFixtureEvents();            // brevo/*.json
const std::vector<ExpectedEvent>& CustomerioFixtureEvents();       // customerio/*.json
const std::vector<ExpectedEvent>& GenericHmacFixtureEvents();      // tests/testdata/generic_hmac
const std::vector<ExpectedEvent>& MailgunFixtureEvents();          // mailgun/*.json
const std::vector<ExpectedEvent>& MailjetFixtureEvents();          // mailjet/*.json
const std::vector<ExpectedEvent>& MandrillFixtureEvents();         // mandrill/*.json
const std::vector<ExpectedEvent>& PostalFixtureEvents();           // postal/*.json
const std::vector<ExpectedEvent>& PostalRawSampleEvents();  // tests/testdata/postal
const std::vector<ExpectedEvent>& PostmarkFixtureEvents();         // postmark/*.json
const std::vector<ExpectedEvent>& ResendFixtureEvents();           // resend_svix/*.json
const std::vector<ExpectedEvent>& SendgridFixtureEvents();         // sendgrid/*.json
const std::vector<ExpectedEvent>& SendgridInboundFixtureEvents();  // sendgrid/*.multipart
const std::vector<ExpectedEvent>& SesRecordFixtureEvents();  // ses_sns/*.json but sns-* captures
const std::vector<ExpectedEvent>& SparkpostFixtureEvents();        // sparkpost/*.json

// The webhook-id a test posts a Standard Webhooks fixture with (Resend, AgentMail), which the
// tables use as the provider event key: "msg_" + the file name without ".json"
// ("resend_svix/email.sent.json" -> "msg_email.sent").
std::string StandardWebhooksId(std::string_view fixture);

// The body Postal posts for a postal/ fixture: the docs' payload-only samples (*.payload.json)
// wrapped in Postal's envelope {"event", "timestamp": 1477945180.5, "payload", "uuid":
// "uuid-<file stem>"}; the other fixtures as they are.
std::string PostalFixtureBody(std::string_view fixture);

// The SNS MessageId a test wraps an SES record fixture in, which the table uses as the provider
// event key: "sns-" + the file name without ".json" ("ses_sns/send.event.json" -> "sns-send.event").
std::string SesMessageId(std::string_view fixture);

}  // namespace switchboard::providers::testing
