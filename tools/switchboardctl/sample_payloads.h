#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::ctl {

// A sample webhook body of `provider` (and Standard Webhooks `vendor`) for one event of `type` to
// `to`, shaped like the provider's documented payloads:
// - standard-webhooks/resend: https://resend.com/docs/dashboard/webhooks/event-types
// - standard-webhooks/agentmail: https://docs.agentmail.to/webhook-events
// - sendgrid: a one-element Event Webhook array,
//   https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
// - postmark, mailjet, brevo, sparkpost, mandrill: tools/switchboardctl/auth_provider_samples.h
//   (Mandrill's is the form body "mandrill_events=...").
// - sendgrid-inbound: an Inbound Parse default-mode multipart/form-data body (RECEIVED only),
//   Message-ID <event_key@example.com>, https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email
// - mailgun: {"event-data":{...}} (accepted, delivered, failed temporary / permanent bounce /
//   permanent suppress-bounce, opened, clicked, unsubscribed, complained, stored for RECEIVED),
//   https://documentation.mailgun.com/docs/mailgun/user-manual/events/; its "signature" object is
//   added by MailgunSignedBody (webhook_signer.h). event_key is event-data.id.
// `event_key` becomes the provider's event id where the body carries one (SendGrid sg_event_id).
// kInvalidArgument: the provider has no event of that type; kUnimplemented: provider not supported.
absl::StatusOr<std::string> SamplePayload(std::string_view provider, std::string_view vendor,
                                          v1::EventType type, std::string_view to, absl::Time now,
                                          std::string_view event_key);

}  // namespace switchboard::ctl
