#include <string>

#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

std::string StandardWebhooksId(std::string_view fixture) {
  std::string_view name = fixture.substr(fixture.rfind('/') + 1);
  if (name.ends_with(".json")) name.remove_suffix(5);
  return "msg_" + std::string(name);
}

// Resend (https://resend.com/docs/dashboard/webhooks/event-types): occurred_at is the event's
// top-level created_at (milliseconds kept); one event per data.to address; the provider event key
// is the webhook-id header. email.bounced without bounce.type is UNDETERMINED; the one whose
// message says "suppressed sending" was never sent: DROPPED.
const std::vector<ExpectedEvent>& ResendFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        // 2023-10-02T18:11:26.101Z
        {"resend_svix/email.bounced.json", v1::EVENT_TYPE_BOUNCED, "bounced@resend.dev",
         1696270286, 101000000, "msg_email.bounced", v1::BOUNCE_CLASS_UNDETERMINED},
        // 2023-10-01T20:01:01.598Z
        {"resend_svix/email.bounced.suppressed.json", v1::EVENT_TYPE_DROPPED,
         "blocked@example.org", 1696190461, 598000000, "msg_email.bounced.suppressed"},
        // 2023-09-28T17:21:35.257Z
        {"resend_svix/email.clicked.json", v1::EVENT_TYPE_CLICKED, "to@example.org", 1695921695,
         257000000, "msg_email.clicked"},
        // 2023-10-02T18:10:03.690Z
        {"resend_svix/email.complained.json", v1::EVENT_TYPE_COMPLAINED, "complained@resend.dev",
         1696270203, 690000000, "msg_email.complained"},
        // 2023-09-28T17:19:44.823Z
        {"resend_svix/email.delivered.json", v1::EVENT_TYPE_DELIVERED, "to@example.org",
         1695921584, 823000000, "msg_email.delivered"},
        // 2023-02-22T23:41:12.126Z
        {"resend_svix/email.delivery_delayed.json", v1::EVENT_TYPE_DEFERRED,
         "delivered@resend.dev", 1677109272, 126000000, "msg_email.delivery_delayed"},
        // 2023-09-28T17:20:38.990Z
        {"resend_svix/email.opened.json", v1::EVENT_TYPE_OPENED, "to@example.org", 1695921638,
         990000000, "msg_email.opened"},
        // 2024-02-22T23:41:12.126Z
        {"resend_svix/email.received.json", v1::EVENT_TYPE_RECEIVED, "recipient@example.org",
         1708645272, 126000000, "msg_email.received"},
        // 2023-09-28T17:19:43.736Z; to: ["Recipient <to@example.org>", "to2@example.org"].
        {"resend_svix/email.sent.json", v1::EVENT_TYPE_SENT, "to@example.org", 1695921583,
         736000000, "msg_email.sent"},
        {"resend_svix/email.sent.json", v1::EVENT_TYPE_SENT, "to2@example.org", 1695921583,
         736000000, "msg_email.sent"},
    };
  }();
  return *kEvents;
}

// AgentMail (https://docs.agentmail.to/webhooks-events): occurred_at is the detail object's
// timestamp (send/delivery/bounce/complaint/reject/message), else the signed webhook-timestamp;
// recipients from detail.recipients (bounce: [{address}]) or message.to; the provider event key
// is the webhook-id header. message.received.{blocked,spam,unauthenticated} stay UNKNOWN so that
// a reply agent never answers filtered mail.
const std::vector<ExpectedEvent>& AgentMailFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    constexpr int64_t k1000 = 1698400800;  // 2023-10-27T10:00:00Z
    return new std::vector<ExpectedEvent>{
        // No detail object: the signed timestamp.
        {"agentmail/domain.verified.json", v1::EVENT_TYPE_UNKNOWN, "", kAtSignature, 0,
         "msg_domain.verified"},
        // bounce.type Permanent; 10:07:00Z.
        {"agentmail/message.bounced.json", v1::EVENT_TYPE_BOUNCED, "invalid@example.com",
         k1000 + 420, 0, "msg_message.bounced", v1::BOUNCE_CLASS_HARD},
        {"agentmail/message.complained.json", v1::EVENT_TYPE_COMPLAINED, "complainer@example.com",
         k1000 + 480, 0, "msg_message.complained"},
        {"agentmail/message.delivered.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com",
         k1000 + 360, 0, "msg_message.delivered"},
        {"agentmail/message.received.blocked.json", v1::EVENT_TYPE_UNKNOWN, "agent@agentmail.to",
         k1000, 0, "msg_message.received.blocked"},
        // to: ["Support Agent <support@agentmail.to>"]
        {"agentmail/message.received.json", v1::EVENT_TYPE_RECEIVED, "support@agentmail.to", k1000,
         0, "msg_message.received"},
        {"agentmail/message.received.spam.json", v1::EVENT_TYPE_UNKNOWN, "agent@agentmail.to",
         k1000, 0, "msg_message.received.spam"},
        {"agentmail/message.received.unauthenticated.json", v1::EVENT_TYPE_UNKNOWN,
         "agent@agentmail.to", k1000, 0, "msg_message.received.unauthenticated"},
        // reject names no recipient; 10:09:00Z.
        {"agentmail/message.rejected.json", v1::EVENT_TYPE_DROPPED, "", k1000 + 540, 0,
         "msg_message.rejected"},
        {"agentmail/message.sent.json", v1::EVENT_TYPE_SENT, "recipient@example.com", k1000 + 300,
         0, "msg_message.sent"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
