#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& PostmarkFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    constexpr int64_t kApril2025 = 1743870834;  // 2025-04-05T16:33:54Z
    constexpr int32_t kApril2025Nanos = 907025900;  // .9070259
    const std::string kId = "883953f4-6105-42a2-a16a-77a8eac79483";
    const std::string kApril2025Text = "2025-04-05T16:33:54.9070259Z";
    return new std::vector<ExpectedEvent>{
        {"postmark/bounce.json", v1::EVENT_TYPE_BOUNCED, "john@example.com", kApril2025,
         kApril2025Nanos, "Bounce|42", v1::BOUNCE_CLASS_HARD},
        // 2016-04-27T16:28:50.3963933-04:00 = 20:28:50Z
        {"postmark/bounce.offset-timestamp.json", v1::EVENT_TYPE_BOUNCED, "bounce@example.com",
         1461788930, 396393300, "Bounce|901542550", v1::BOUNCE_CLASS_HARD},
        // Type Unsubscribe, no Email, no BouncedAt.
        {"postmark/bounce.unsubscribe-variant.json", v1::EVENT_TYPE_UNSUBSCRIBED, "",
         kAtReceipt, 0, "Bounce|555555555"},
        // 2017-10-25T15:21:11.9065619Z
        {"postmark/click.anymail.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com",
         1508944871, 906561900,
         "Click|f4830d10-9c35-4f0c-bca3-3d9b459821f8|2017-10-25T15:21:11.9065619Z|"
         "https://example.com/click/me"},
        {"postmark/click.json", v1::EVENT_TYPE_CLICKED, "john@example.com", kApril2025,
         kApril2025Nanos, "Click|" + kId + "|" + kApril2025Text + "|https://yourdomain.com/pricing"},
        {"postmark/delivery.json", v1::EVENT_TYPE_DELIVERED, "john@example.com", kApril2025,
         kApril2025Nanos, "Delivery|" + kId + "|" + kApril2025Text},
        // 2014-08-01T13:28:10.2735393-04:00 = 17:28:10Z
        {"postmark/delivery.offset-timestamp.json", v1::EVENT_TYPE_DELIVERED,
         "recipient@example.com", 1406914090, 273539300,
         "Delivery|" + kId + "|2014-08-01T13:28:10.2735393-04:00"},
        // Date: Fri, 5 May 2023 17:44:33 -0400 = 21:44:33Z
        {"postmark/inbound.json", v1::EVENT_TYPE_RECEIVED,
         "mailbox+SampleHash@inbound.postmarkapp.com", 1683323073, 0,
         "Inbound|00000000-0000-0000-0000-000000000000"},
        // Date: Thu, 5 Apr 2025 16:59:01 +0200 = 14:59:01Z
        {"postmark/inbound.skills.json", v1::EVENT_TYPE_RECEIVED,
         "support+ticket-456@yourdomain.com", 1743865141, 0,
         "Inbound|73e6d360-66eb-11e1-8e72-a8206ea7d3ea"},
        // Date: Fri, 5 May 2023 17:41:16 -0400 = 21:41:16Z
        {"postmark/inbound.with-raw.json", v1::EVENT_TYPE_RECEIVED,
         "mailbox+SampleHash@inbound.postmarkapp.com", 1683322876, 0,
         "Inbound|00000000-0000-0000-0000-000000000000"},
        {"postmark/open.json", v1::EVENT_TYPE_OPENED, "john@example.com", kApril2025,
         kApril2025Nanos, "Open|" + kId + "|" + kApril2025Text},
        // 2016-04-27T16:21:41.2493688-04:00 = 20:21:41Z
        {"postmark/open.offset-timestamp.json", v1::EVENT_TYPE_OPENED, "recipient@example.com",
         1461788501, 249368800,
         "Open|f4830d10-9c35-4f0c-bca3-3d9b459821f8|2016-04-27T16:21:41.2493688-04:00"},
        {"postmark/spam-complaint.anymail.json", v1::EVENT_TYPE_COMPLAINED, "spam@example.com",
         1461788930, 396393300, "SpamComplaint|901542550"},
        {"postmark/spam-complaint.json", v1::EVENT_TYPE_COMPLAINED, "john@example.com", kApril2025,
         kApril2025Nanos, "SpamComplaint|42"},
        // 2022-06-05T17:17:32Z; SuppressionReason HardBounce.
        {"postmark/subscription-change.hard-bounce.json", v1::EVENT_TYPE_BOUNCED,
         "john@example.com", 1654449452, 0,
         "SubscriptionChange|b4cb783d-78ed-43f2-983b-63f55c712dc8|2022-06-05T17:17:32Z",
         v1::BOUNCE_CLASS_HARD},
        {"postmark/subscription-change.json", v1::EVENT_TYPE_UNSUBSCRIBED, "john@example.com",
         kApril2025, kApril2025Nanos, "SubscriptionChange|" + kId + "|" + kApril2025Text},
        // SuppressSending false: a resubscribe, never an unsubscribe.
        {"postmark/subscription-change.resubscribe.json", v1::EVENT_TYPE_RESUBSCRIBED,
         "john@example.com", 1654449452, 0,
         "SubscriptionChange|a4909a96-73d7-4c49-b148-a54522d3f7ac|2022-06-05T17:17:32Z"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
