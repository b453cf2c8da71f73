#include "tools/switchboardctl/auth_provider_samples.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "router/common/event_type_names.h"
#include "router/providers/form_urlencoded.h"

namespace switchboard::ctl {
namespace {

namespace json = boost::json;

constexpr char kFrom[] = "switchboardctl@example.com";
constexpr char kSubject[] = "Sample from switchboardctl";

absl::Status NoSuchEvent(std::string_view provider, v1::EventType type) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(provider), " has no event of type ", EventTypeName(type)));
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string Rfc5322(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", t, absl::UTCTimeZone());
}

std::string MessageIdHeader(std::string_view event_key) {
  return absl::StrCat("<", std::string(event_key), "@switchboardctl.example.com>");
}

}  // namespace

absl::StatusOr<std::string> PostmarkSample(v1::EventType type, std::string_view to, absl::Time now,
                                           std::string_view event_key) {
  const std::string key(event_key);
  json::object e{{"MessageID", key}, {"MessageStream", "outbound"}, {"Tag", "switchboardctl"}};
  switch (type) {
    case v1::EVENT_TYPE_DELIVERED:
      e["RecordType"] = "Delivery";
      e["Recipient"] = to;
      e["DeliveredAt"] = Rfc3339(now);
      e["Details"] = "Test delivery webhook details";
      break;
    case v1::EVENT_TYPE_BOUNCED:
    case v1::EVENT_TYPE_COMPLAINED: {
      const bool bounce = type == v1::EVENT_TYPE_BOUNCED;
      e["RecordType"] = bounce ? "Bounce" : "SpamComplaint";
      e["ID"] = key;
      e["Type"] = bounce ? "HardBounce" : "SpamComplaint";
      e["Email"] = to;
      e["From"] = kFrom;
      e["BouncedAt"] = Rfc3339(now);
      e["Subject"] = kSubject;
      if (bounce) {
        e["Details"] = "smtp;550 5.1.1 The email account that you tried to reach does not exist.";
      }
      break;
    }
    case v1::EVENT_TYPE_OPENED:
    case v1::EVENT_TYPE_CLICKED:
      e["RecordType"] = type == v1::EVENT_TYPE_OPENED ? "Open" : "Click";
      e["Recipient"] = to;
      e["ReceivedAt"] = Rfc3339(now);
      e["UserAgent"] = "Mozilla/5.0 (switchboardctl)";
      e["Geo"] = json::object{{"IP", "192.0.2.1"}};
      if (type == v1::EVENT_TYPE_CLICKED) e["OriginalLink"] = "https://example.com/clicked";
      break;
    case v1::EVENT_TYPE_UNSUBSCRIBED:
    case v1::EVENT_TYPE_RESUBSCRIBED:
      e["RecordType"] = "SubscriptionChange";
      e["Recipient"] = to;
      e["ChangedAt"] = Rfc3339(now);
      e["Origin"] = "Recipient";
      e["SuppressSending"] = type == v1::EVENT_TYPE_UNSUBSCRIBED;
      e["SuppressionReason"] =
          type == v1::EVENT_TYPE_UNSUBSCRIBED ? json::value("ManualSuppression") : json::value();
      break;
    case v1::EVENT_TYPE_RECEIVED:
      return json::serialize(json::object{
          {"FromName", "Switchboard"},
          {"MessageStream", "inbound"},
          {"From", kFrom},
          {"FromFull", json::object{{"Email", kFrom}, {"Name", "Switchboard"}}},
          {"To", to},
          {"ToFull", json::array{json::object{{"Email", to}, {"Name", ""}}}},
          {"OriginalRecipient", to},
          {"Subject", kSubject},
          {"MessageID", key},
          {"Date", Rfc5322(now)},
          {"TextBody", "A sample inbound message."},
          {"Headers", json::array{json::object{{"Name", "Message-ID"},
                                               {"Value", MessageIdHeader(event_key)}}}},
      });
    default:
      return NoSuchEvent("postmark", type);
  }
  return json::serialize(e);
}

absl::StatusOr<std::string> MailjetSample(v1::EventType type, std::string_view to, absl::Time now,
                                          std::string_view event_key) {
  if (type == v1::EVENT_TYPE_RECEIVED) {
    return json::serialize(json::object{
        {"Sender", kFrom},
        {"Recipient", to},
        {"Date", absl::FormatTime("%Y%m%dT%H%M%S", now, absl::UTCTimeZone())},
        {"From", absl::StrCat("Switchboard <", kFrom, ">")},
        {"Subject", kSubject},
        {"Headers", json::object{{"Message-ID", MessageIdHeader(event_key)}, {"To", to}}},
        {"Text-part", "A sample inbound message."},
    });
  }
  const char* name = nullptr;
  switch (type) {
    case v1::EVENT_TYPE_DELIVERED: name = "sent"; break;
    case v1::EVENT_TYPE_OPENED: name = "open"; break;
    case v1::EVENT_TYPE_CLICKED: name = "click"; break;
    case v1::EVENT_TYPE_BOUNCED: name = "bounce"; break;
    case v1::EVENT_TYPE_DROPPED: name = "blocked"; break;
    case v1::EVENT_TYPE_COMPLAINED: name = "spam"; break;
    case v1::EVENT_TYPE_UNSUBSCRIBED: name = "unsub"; break;
    default: return NoSuchEvent("mailjet", type);
  }
  json::object e{{"event", name},
                 {"time", absl::ToUnixSeconds(now)},
                 {"MessageID", event_key},
                 {"email", to},
                 {"customcampaign", "switchboardctl"},
                 {"CustomID", ""},
                 {"Payload", ""}};
  if (type == v1::EVENT_TYPE_BOUNCED || type == v1::EVENT_TYPE_DROPPED) {
    e["blocked"] = type == v1::EVENT_TYPE_DROPPED;
    e["hard_bounce"] = type == v1::EVENT_TYPE_BOUNCED;
    e["error_related_to"] = "recipient";
    e["error"] = "user unknown";
  }
  if (type == v1::EVENT_TYPE_CLICKED) e["url"] = "https://example.com/clicked";
  return json::serialize(json::array{e});
}

absl::StatusOr<std::string> BrevoSample(v1::EventType type, std::string_view to, absl::Time now,
                                        std::string_view event_key) {
  if (type == v1::EVENT_TYPE_RECEIVED) {
    json::object item{
        {"Uuid", json::array{std::string(event_key)}},
        {"MessageId", MessageIdHeader(event_key)},
        {"InReplyTo", nullptr},
        {"From", json::object{{"Name", "Switchboard"}, {"Address", kFrom}}},
        {"To", json::array{json::object{{"Name", nullptr}, {"Address", to}}}},
        {"Cc", json::array{}},
        {"SentAtDate", Rfc5322(now)},
        {"Subject", kSubject},
        {"RawTextBody", "A sample inbound message.\r\n"},
    };
    return json::serialize(json::object{{"items", json::array{item}}});
  }
  const char* name = nullptr;
  switch (type) {
    case v1::EVENT_TYPE_SENT: name = "request"; break;
    case v1::EVENT_TYPE_DELIVERED: name = "delivered"; break;
    case v1::EVENT_TYPE_DEFERRED: name = "deferred"; break;
    case v1::EVENT_TYPE_BOUNCED: name = "hard_bounce"; break;
    case v1::EVENT_TYPE_DROPPED: name = "blocked"; break;
    case v1::EVENT_TYPE_COMPLAINED: name = "spam"; break;
    case v1::EVENT_TYPE_OPENED: name = "unique_opened"; break;
    case v1::EVENT_TYPE_CLICKED: name = "click"; break;
    case v1::EVENT_TYPE_UNSUBSCRIBED: name = "unsubscribed"; break;
    default: return NoSuchEvent("brevo", type);
  }
  json::object e{{"event", name},
                 {"email", to},
                 {"message-id", MessageIdHeader(event_key)},
                 {"ts_epoch", absl::ToUnixMillis(now)},
                 {"subject", kSubject},
                 {"tags", json::array{"switchboardctl"}}};
  if (type == v1::EVENT_TYPE_BOUNCED || type == v1::EVENT_TYPE_DEFERRED) {
    e["reason"] = "550 5.1.1 <recipient>: Recipient address rejected: User unknown";
  }
  if (type == v1::EVENT_TYPE_CLICKED) e["link"] = "https://example.com/clicked";
  return json::serialize(e);
}

absl::StatusOr<std::string> SparkpostSample(v1::EventType type, std::string_view to,
                                            absl::Time now, std::string_view event_key) {
  const std::string key(event_key);
  if (type == v1::EVENT_TYPE_RECEIVED) {
    json::object content{
        {"headers", json::array{json::object{{"Message-ID", MessageIdHeader(event_key)}},
                                json::object{{"Date", Rfc5322(now)}},
                                json::object{{"To", to}}}},
        {"subject", kSubject},
        {"text", "A sample inbound message."},
        {"to", json::array{to}},
    };
    json::object relay{{"content", content}, {"msg_from", kFrom}, {"rcpt_to", to},
                       {"friendly_from", kFrom}, {"webhook_id", key}};
    return json::serialize(json::array{json::object{{"msys", {{"relay_message", relay}}}}});
  }
  const char* event_class = "message_event";
  const char* name = nullptr;
  switch (type) {
    case v1::EVENT_TYPE_SENT: name = "injection"; break;
    case v1::EVENT_TYPE_DELIVERED: name = "delivery"; break;
    case v1::EVENT_TYPE_DEFERRED: name = "delay"; break;
    case v1::EVENT_TYPE_BOUNCED: name = "bounce"; break;
    case v1::EVENT_TYPE_DROPPED: name = "policy_rejection"; break;
    case v1::EVENT_TYPE_COMPLAINED: name = "spam_complaint"; break;
    case v1::EVENT_TYPE_OPENED: event_class = "track_event"; name = "open"; break;
    case v1::EVENT_TYPE_CLICKED: event_class = "track_event"; name = "click"; break;
    case v1::EVENT_TYPE_UNSUBSCRIBED:
      event_class = "unsubscribe_event";
      name = "list_unsubscribe";
      break;
    default: return NoSuchEvent("sparkpost", type);
  }
  json::object e{{"type", name},
                 {"event_id", key},
                 {"message_id", absl::StrCat("ctl.", key)},
                 {"timestamp", absl::StrCat(absl::ToUnixSeconds(now))},
                 {"rcpt_to", to},
                 {"raw_rcpt_to", to},
                 {"friendly_from", kFrom},
                 {"rcpt_tags", json::array{"switchboardctl"}}};
  if (type == v1::EVENT_TYPE_BOUNCED || type == v1::EVENT_TYPE_DEFERRED) {
    e["bounce_class"] = type == v1::EVENT_TYPE_BOUNCED ? "10" : "21";
    e["raw_reason"] = type == v1::EVENT_TYPE_BOUNCED
                          ? "550 5.1.1 Recipient address rejected: User unknown"
                          : "454 4.4.4 [internal] no MX or A for domain";
  }
  if (type == v1::EVENT_TYPE_CLICKED) e["target_link_url"] = "https://example.com/clicked";
  return json::serialize(json::array{json::object{{"msys", {{event_class, e}}}}});
}

absl::StatusOr<std::string> MandrillSample(v1::EventType type, std::string_view to, absl::Time now,
                                           std::string_view event_key) {
  const char* name = nullptr;
  switch (type) {
    case v1::EVENT_TYPE_SENT: name = "send"; break;
    case v1::EVENT_TYPE_DEFERRED: name = "deferral"; break;
    case v1::EVENT_TYPE_BOUNCED: name = "hard_bounce"; break;
    case v1::EVENT_TYPE_DROPPED: name = "reject"; break;
    case v1::EVENT_TYPE_COMPLAINED: name = "spam"; break;
    case v1::EVENT_TYPE_OPENED: name = "open"; break;
    case v1::EVENT_TYPE_CLICKED: name = "click"; break;
    case v1::EVENT_TYPE_UNSUBSCRIBED: name = "unsub"; break;
    case v1::EVENT_TYPE_RECEIVED: name = "inbound"; break;
    default: return NoSuchEvent("mandrill", type);
  }
  json::object msg{{"email", to}, {"subject", kSubject}};
  json::object e{{"event", name}, {"ts", absl::ToUnixSeconds(now)}};
  if (type == v1::EVENT_TYPE_RECEIVED) {
    msg["from_email"] = kFrom;
    msg["to"] = json::array{json::array{to, nullptr}};
    msg["headers"] = json::object{{"Message-Id", MessageIdHeader(event_key)}};
    msg["text"] = "A sample inbound message.\n";
  } else {
    msg["_id"] = event_key;
    msg["sender"] = kFrom;
    msg["tags"] = json::array{"switchboardctl"};
    e["_id"] = event_key;
    if (type == v1::EVENT_TYPE_BOUNCED) {
      msg["bounce_description"] = "bad_mailbox";
      msg["diag"] = "smtp;550 5.1.1 The email account that you tried to reach does not exist.";
    }
    if (type == v1::EVENT_TYPE_CLICKED) e["url"] = "https://example.com/clicked";
  }
  e["msg"] = msg;
  return absl::StrCat("mandrill_events=",
                      providers::FormUrlEncode(json::serialize(json::array{e})));
}

}  // namespace switchboard::ctl
