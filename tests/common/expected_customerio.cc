#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

// Customer.io reporting webhooks (https://docs.customer.io/api/webhooks/#operation/reportingWebhook):
// occurred_at is the payload's `timestamp` (Unix seconds), the provider event key its `event_id`,
// the recipient data.recipient; metric "sent" -> SENT.
const std::vector<ExpectedEvent>& CustomerioFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        {"customerio/email.sent.signed.json", v1::EVENT_TYPE_SENT, "test@example.com", 1692633432,
         0, "01E2EMRMM6TZ12TF9WGZN0WJQT"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
