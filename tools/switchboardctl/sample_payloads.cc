#include "tools/switchboardctl/sample_payloads.h"

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "router/common/event_type_names.h"
#include "tools/switchboardctl/auth_provider_samples.h"

namespace switchboard::ctl {
namespace {

namespace json = boost::json;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<std::string> SendgridEvent(v1::EventType type) {
  switch (type) {
    case v1::EVENT_TYPE_SENT: return "processed";
    case v1::EVENT_TYPE_DELIVERED: return "delivered";
    case v1::EVENT_TYPE_DEFERRED: return "deferred";
    case v1::EVENT_TYPE_BOUNCED: return "bounce";
    case v1::EVENT_TYPE_DROPPED: return "dropped";
    case v1::EVENT_TYPE_OPENED: return "open";
    case v1::EVENT_TYPE_CLICKED: return "click";
    case v1::EVENT_TYPE_COMPLAINED: return "spamreport";
    case v1::EVENT_TYPE_UNSUBSCRIBED: return "unsubscribe";
    case v1::EVENT_TYPE_RESUBSCRIBED: return "group_resubscribe";
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("sendgrid has no event of type ", EventTypeName(type)));
  }
}

absl::StatusOr<std::string> Sendgrid(v1::EventType type, std::string_view to, absl::Time now,
                                     std::string_view event_key) {
  auto event = SendgridEvent(type);
  if (!event.ok()) return event.status();
  json::object e;
  e["email"] = to;
  e["timestamp"] = absl::ToUnixSeconds(now);
  e["smtp-id"] = "<switchboardctl@example.com>";
  e["event"] = *event;
  e["category"] = json::array{"switchboardctl"};
  e["sg_event_id"] = event_key;
  e["sg_message_id"] = absl::StrCat("ctl.", std::string(event_key));
  if (type == v1::EVENT_TYPE_BOUNCED) {
    e["reason"] = "550 5.1.1 The email account that you tried to reach does not exist.";
    e["status"] = "5.1.1";
    e["type"] = "bounce";
  } else if (type == v1::EVENT_TYPE_DEFERRED) {
    e["response"] = "400 try again later";
    e["attempt"] = "1";
  } else if (type == v1::EVENT_TYPE_DROPPED) {
    e["reason"] = "Bounced Address";
    e["status"] = "5.0.0";
  } else if (type == v1::EVENT_TYPE_OPENED || type == v1::EVENT_TYPE_CLICKED) {
    e["useragent"] = "Mozilla/5.0 (switchboardctl)";
    e["ip"] = "192.0.2.1";
    if (type == v1::EVENT_TYPE_CLICKED) e["url"] = "https://example.com/clicked";
  }
  return json::serialize(json::array{e});
}

absl::StatusOr<std::string> ResendType(v1::EventType type) {
  switch (type) {
    case v1::EVENT_TYPE_SENT: return "email.sent";
    case v1::EVENT_TYPE_DELIVERED: return "email.delivered";
    case v1::EVENT_TYPE_DEFERRED: return "email.delivery_delayed";
    case v1::EVENT_TYPE_BOUNCED: return "email.bounced";
    case v1::EVENT_TYPE_DROPPED: return "email.failed";
    case v1::EVENT_TYPE_OPENED: return "email.opened";
    case v1::EVENT_TYPE_CLICKED: return "email.clicked";
    case v1::EVENT_TYPE_COMPLAINED: return "email.complained";
    case v1::EVENT_TYPE_RECEIVED: return "email.received";
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("resend has no event of type ", EventTypeName(type)));
  }
}

absl::StatusOr<std::string> AgentmailType(v1::EventType type) {
  switch (type) {
    case v1::EVENT_TYPE_SENT: return "message.sent";
    case v1::EVENT_TYPE_DELIVERED: return "message.delivered";
    case v1::EVENT_TYPE_BOUNCED: return "message.bounced";
    case v1::EVENT_TYPE_DROPPED: return "message.rejected";
    case v1::EVENT_TYPE_COMPLAINED: return "message.complained";
    case v1::EVENT_TYPE_RECEIVED: return "message.received";
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("agentmail has no event of type ", EventTypeName(type)));
  }
}

absl::StatusOr<std::string> Resend(v1::EventType type, std::string_view to, absl::Time now,
                                   std::string_view event_key) {
  auto name = ResendType(type);
  if (!name.ok()) return name.status();
  json::object data;
  data["email_id"] = absl::StrCat("ctl-", std::string(event_key));
  data["from"] = "Switchboard <switchboardctl@example.com>";
  data["to"] = json::array{to};
  data["subject"] = "Sample from switchboardctl";
  data["created_at"] = Rfc3339(now);
  if (type == v1::EVENT_TYPE_BOUNCED) {
    data["bounce"] = json::object{{"message", "The recipient's mailbox does not exist."},
                                  {"type", "Permanent"},
                                  {"subType", "General"}};
  } else if (type == v1::EVENT_TYPE_CLICKED) {
    data["click"] = json::object{{"ipAddress", "192.0.2.1"},
                                 {"link", "https://example.com/clicked"},
                                 {"timestamp", Rfc3339(now)},
                                 {"userAgent", "Mozilla/5.0 (switchboardctl)"}};
  }
  json::object body{{"type", *name}, {"created_at", Rfc3339(now)}, {"data", data}};
  return json::serialize(body);
}

absl::StatusOr<std::string> Agentmail(v1::EventType type, std::string_view to, absl::Time now,
                                      std::string_view event_key) {
  auto name = AgentmailType(type);
  if (!name.ok()) return name.status();
  json::object message{{"inbox_id", "switchboardctl@agentmail.to"},
                       {"thread_id", absl::StrCat("thd-", std::string(event_key))},
                       {"message_id", absl::StrCat("<", std::string(event_key), "@example.com>")},
                       {"timestamp", Rfc3339(now)},
                       {"from", "Switchboard <switchboardctl@example.com>"},
                       {"std::string(to)", json::array{to}},
                       {"subject", "Sample from switchboardctl"}};
  json::object body{{"type", "event"},
                    {"event_type", *name},
                    {"event_id", event_key}};
  if (type == v1::EVENT_TYPE_RECEIVED) {
    body["message"] = message;
  } else {
    std::string key = *name == "message.sent" ? "send" : name->substr(name->find('.') + 1);
    body[key] = json::object{{"inbox_id", "switchboardctl@agentmail.to"},
                             {"message_id", absl::StrCat("<", std::string(event_key), "@example.com>")},
                             {"timestamp", Rfc3339(now)},
                             {"recipients", json::array{std::string(to)}}};
  }
  return json::serialize(body);
}

// SendGrid Inbound Parse, default mode: the multipart/form-data fields SendGrid posts
// (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email), CRLF line
// breaks, boundary xYzZY (SendGrid's; webhook_signer.cc reads it from the first line).
absl::StatusOr<std::string> SendgridInboundSample(v1::EventType type, std::string_view to,
                                                  absl::Time now, std::string_view event_key) {
  if (type != v1::EVENT_TYPE_RECEIVED) {
    return absl::InvalidArgumentError(
        absl::StrCat("sendgrid-inbound has no event of type ", EventTypeName(type)));
  }
  const std::string date = absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", now, absl::UTCTimeZone());
  const std::string recipient(to);
  const std::string headers = absl::StrCat(
      "Received: by mx.sendgrid.net with SMTP id sample; ", date, "\r\n",
      "From: Sample Sender <sender@example.com>\r\n", "To: ", recipient, "\r\n",
      "Subject: Re: switchboardctl sample\r\n", "Date: ", date, "\r\n",
      "Message-ID: <", std::string(event_key), "@example.com>\r\n",
      "In-Reply-To: <original@example.com>\r\n", "References: <original@example.com>\r\n",
      "MIME-Version: 1.0\r\n", "Content-Type: text/plain; charset=UTF-8\r\n");
  const std::pair<std::string, std::string> fields[] = {
      {"headers", headers},
      {"dkim", "{@example.com : pass}"},
      {"to", recipient},
      {"from", "Sample Sender <sender@example.com>"},
      {"text", "Thanks, that works for me.\r\n"},
      {"html", "<p>Thanks, that works for me.</p>\r\n"},
      {"sender_ip", "192.0.2.1"},
      {"envelope", json::serialize(json::object{{"to", json::array{recipient}},
                                                {"from", "sender@example.com"}})},
      {"attachments", "0"},
      {"subject", "Re: switchboardctl sample"},
      {"spam_score", "0.1"},
      {"charsets", R"({"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"})"},
      {"SPF", "pass"},
  };
  std::string body;
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&body, "--xYzZY\r\nContent-Disposition: form-data; name=\"", name,
                    "\"\r\n\r\n", value, "\r\n");
  }
  absl::StrAppend(&body, "--xYzZY--\r\n");
  return body;
}

// Mailgun: {"event-data":{...}} shaped like the documented webhook event-data
// (https://documentation.mailgun.com/docs/mailgun/user-manual/events/); the "signature" object is
// added when the body is signed (MailgunSignedBody, webhook_signer.h).
absl::StatusOr<std::string> MailgunSample(v1::EventType type, std::string_view to, absl::Time now,
                                          std::string_view event_key) {
  const std::string recipient(to);
  json::object e{{"id", event_key}, {"timestamp", "__TIMESTAMP__"}, {"log-level", "info"}};
  json::object message{
      {"headers", json::object{{"to", recipient},
                               {"message-id", absl::StrCat("ctl.", std::string(event_key),
                                                           "@example.com")},
                               {"from", "Switchboard <switchboardctl@example.com>"},
                               {"subject", "Sample from switchboardctl"}}}};
  e["envelope"] = json::object{{"sender", "switchboardctl@example.com"}, {"targets", recipient}};
  e["tags"] = json::array{"switchboardctl"};
  e["user-variables"] = json::object{{"source", "switchboardctl"}};
  auto failed = [&](std::string_view severity, std::string_view reason, int code,
                    std::string_view enhanced, std::string_view text) {
    e["event"] = "failed";
    e["severity"] = severity;
    e["reason"] = reason;
    e["delivery-status"] = json::object{
        {"code", code}, {"enhanced-code", enhanced}, {"message", text}, {"attempt-no", 1}};
  };
  switch (type) {
    case v1::EVENT_TYPE_SENT: e["event"] = "accepted"; break;
    case v1::EVENT_TYPE_DELIVERED:
      e["event"] = "delivered";
      e["delivery-status"] = json::object{{"code", 250}, {"message", "OK"}, {"attempt-no", 1}};
      break;
    case v1::EVENT_TYPE_DEFERRED:
      failed("temporary", "generic", 451, "4.7.1", "451 4.7.1 try again later");
      break;
    case v1::EVENT_TYPE_BOUNCED:
      failed("permanent", "bounce", 550, "5.1.1",
             "550 5.1.1 The email account that you tried to reach does not exist.");
      break;
    case v1::EVENT_TYPE_DROPPED:
      failed("permanent", "suppress-bounce", 605, "",
             "Not delivering to previously bounced address");
      break;
    case v1::EVENT_TYPE_OPENED:
    case v1::EVENT_TYPE_CLICKED:
      e["event"] = type == v1::EVENT_TYPE_OPENED ? "opened" : "clicked";
      e["ip"] = "192.0.2.1";
      e["client-info"] = json::object{{"user-agent", "Mozilla/5.0 (switchboardctl)"}};
      if (type == v1::EVENT_TYPE_CLICKED) e["url"] = "https://example.com/clicked";
      break;
    case v1::EVENT_TYPE_UNSUBSCRIBED: e["event"] = "unsubscribed"; break;
    case v1::EVENT_TYPE_COMPLAINED: e["event"] = "complained"; break;
    case v1::EVENT_TYPE_RECEIVED:  // a message a route stored: recipients in message.recipients
      e["event"] = "stored";
      message["recipients"] = json::array{recipient};
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("mailgun has no event of type ", EventTypeName(type)));
  }
  if (type != v1::EVENT_TYPE_RECEIVED) e["recipient"] = recipient;
  e["message"] = message;
  // Mailgun's timestamp is float seconds; Boost.JSON would print a double as 1.7E9.
  const absl::Duration since_epoch = now - absl::UnixEpoch();
  const int64_t micros = absl::ToInt64Microseconds(since_epoch) % 1000000;
  const std::string timestamp = absl::StrCat(absl::ToUnixSeconds(now), ".",
                                             absl::StrFormat("%06d", micros));
  return absl::StrReplaceAll(json::serialize(json::object{{"event-data", e}}),
                             {{"\"__TIMESTAMP__\"", timestamp}});
}

}  // namespace

absl::StatusOr<std::string> SamplePayload(std::string_view provider, std::string_view vendor,
                                          v1::EventType type, std::string_view to, absl::Time now,
                                          std::string_view event_key) {
  if (provider == "sendgrid") return Sendgrid(type, to, now, event_key);
  if (provider == "sendgrid-inbound") return SendgridInboundSample(type, to, now, event_key);
  if (provider == "standard-webhooks") {
    if (vendor == "agentmail") return Agentmail(type, to, now, event_key);
    return Resend(type, to, now, event_key);
  }
  if (provider == "postmark") return PostmarkSample(type, to, now, event_key);
  if (provider == "mailjet") return MailjetSample(type, to, now, event_key);
  if (provider == "brevo") return BrevoSample(type, to, now, event_key);
  if (provider == "sparkpost") return SparkpostSample(type, to, now, event_key);
  if (provider == "mandrill") return MandrillSample(type, to, now, event_key);
  if (provider == "mailgun") return MailgunSample(type, to, now, event_key);
  return absl::UnimplementedError(
      absl::StrCat("switchboardctl send: no sample payloads for provider ", std::string(provider), " yet"));
}

}  // namespace switchboard::ctl
