#include <string>

#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

std::string SesMessageId(std::string_view fixture) {
  std::string_view name = fixture.substr(fixture.rfind('/') + 1);
  if (name.ends_with(".json")) name.remove_suffix(5);
  return "sns-" + std::string(name);
}

// Amazon SES records (https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html and
// event-publishing-retrieving-sns-contents.html), each posted inside an SNS Notification whose
// MessageId is "sns-<file stem>" (the provider event key): occurred_at is the record's own time
// (bounce/complaint/delivery timestamp, mail.timestamp for the others; milliseconds kept), one
// event per recipient; bounceType Permanent -> HARD. The doc samples' values, read off the text.
const std::vector<ExpectedEvent>& SesRecordFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        {"ses_sns/bounce.event.json", v1::EVENT_TYPE_BOUNCED, "recipient@example.com", 1501893662, 669000000, "sns-bounce.event", v1::BOUNCE_CLASS_HARD},
        {"ses_sns/bounce.notification-dsn.json", v1::EVENT_TYPE_BOUNCED, "jane@example.com", 1453906778, 237000000, "sns-bounce.notification-dsn", v1::BOUNCE_CLASS_HARD},
        {"ses_sns/bounce.notification-no-dsn.json", v1::EVENT_TYPE_BOUNCED, "jane@example.com", 1453906778, 237000000, "sns-bounce.notification-no-dsn", v1::BOUNCE_CLASS_HARD},
        {"ses_sns/bounce.notification-no-dsn.json", v1::EVENT_TYPE_BOUNCED, "richard@example.com", 1453906778, 237000000, "sns-bounce.notification-no-dsn", v1::BOUNCE_CLASS_HARD},
        {"ses_sns/click.event.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com", 1502322685, 570000000, "sns-click.event"},
        {"ses_sns/complaint.event.json", v1::EVENT_TYPE_COMPLAINED, "recipient@example.com", 1501893662, 669000000, "sns-complaint.event"},
        {"ses_sns/complaint.notification-feedback.json", v1::EVENT_TYPE_COMPLAINED, "richard@example.com", 1453906778, 237000000, "sns-complaint.notification-feedback"},
        {"ses_sns/complaint.notification-no-feedback.json", v1::EVENT_TYPE_COMPLAINED, "richard@example.com", 1453906778, 237000000, "sns-complaint.notification-no-feedback"},
        {"ses_sns/delivery-delay.event.json", v1::EVENT_TYPE_DEFERRED, "recipient@example.com", 1592267140, 95000000, "sns-delivery-delay.event"},
        {"ses_sns/delivery.event.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com", 1476919264, 133000000, "sns-delivery.event"},
        {"ses_sns/delivery.notification.json", v1::EVENT_TYPE_DELIVERED, "jane@example.com", 1453906778, 237000000, "sns-delivery.notification"},
        {"ses_sns/open.event.json", v1::EVENT_TYPE_OPENED, "recipient@example.com", 1502316019, 652000000, "sns-open.event"},
        {"ses_sns/received.alert.json", v1::EVENT_TYPE_RECEIVED, "recipient@example.com", 1442003553, 936000000, "sns-received.alert"},
        {"ses_sns/received.sns-action.json", v1::EVENT_TYPE_RECEIVED, "recipient@example.com", 1442003553, 936000000, "sns-received.sns-action"},
        {"ses_sns/reject.event.json", v1::EVENT_TYPE_DROPPED, "sender@example.com", 1476466695, 211000000, "sns-reject.event"},
        {"ses_sns/rendering-failure.event.json", v1::EVENT_TYPE_DROPPED, "recipient@example.com", 1516646586, 197000000, "sns-rendering-failure.event"},
        {"ses_sns/send.event.json", v1::EVENT_TYPE_SENT, "recipient@example.com", 1476421336, 645000000, "sns-send.event"},
        {"ses_sns/subscription.event.json", v1::EVENT_TYPE_UNSUBSCRIBED, "recipient@example.com", 1641949217, 910000000, "sns-subscription.event"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
