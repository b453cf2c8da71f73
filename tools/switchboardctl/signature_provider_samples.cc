#include "tools/switchboardctl/signature_provider_samples.h"

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/event_type_names.h"
#include "router/common/status_macros.h"
#include "router/providers/customerio_provider.h"
#include "router/providers/generic_hmac_provider.h"
#include "router/providers/ses_provider.h"

namespace switchboard::ctl {
namespace {

namespace json = boost::json;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::Status NoSuchEvent(std::string_view provider, v1::EventType type) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(provider), " has no event of type ", EventTypeName(type)));
}

absl::StatusOr<std::string> Ses(v1::EventType type, std::string_view to, absl::Time now,
                                std::string_view key) {
  json::object mail{{"timestamp", Rfc3339(now)},
                    {"source", "switchboardctl@example.com"},
                    {"messageId", absl::StrCat("ctl-", std::string(key))},
                    {"destination", json::array{to}},
                    {"commonHeaders", json::object{{"subject", "Sample from switchboardctl"}}},
                    {"tags", json::object{{"source", json::array{"switchboardctl"}}}}};
  json::object record{{"mail", mail}};
  const json::object at{{"timestamp", Rfc3339(now)}};
  switch (type) {
    case v1::EVENT_TYPE_SENT: record["eventType"] = "Send"; record["send"] = json::object{}; break;
    case v1::EVENT_TYPE_DELIVERED:
      record["eventType"] = "Delivery";
      record["delivery"] = json::object{{"timestamp", Rfc3339(now)}, {"recipients", json::array{to}}};
      break;
    case v1::EVENT_TYPE_DEFERRED:
      record["eventType"] = "DeliveryDelay";
      record["deliveryDelay"] = json::object{
          {"timestamp", Rfc3339(now)},
          {"delayType", "TransientCommunicationFailure"},
          {"delayedRecipients", json::array{json::object{{"emailAddress", to}}}}};
      break;
    case v1::EVENT_TYPE_BOUNCED:
      record["eventType"] = "Bounce";
      record["bounce"] = json::object{
          {"bounceType", "Permanent"}, {"bounceSubType", "General"},
          {"timestamp", Rfc3339(now)},
          {"bouncedRecipients",
           json::array{json::object{{"emailAddress", to},
                                    {"status", "5.1.1"},
                                    {"diagnosticCode", "smtp; 550 5.1.1 user unknown"}}}}};
      break;
    case v1::EVENT_TYPE_COMPLAINED:
      record["eventType"] = "Complaint";
      record["complaint"] = json::object{
          {"timestamp", Rfc3339(now)},
          {"complainedRecipients", json::array{json::object{{"emailAddress", to}}}}};
      break;
    case v1::EVENT_TYPE_DROPPED:
      record["eventType"] = "Reject";
      record["reject"] = json::object{{"reason", "Bad content"}};
      break;
    case v1::EVENT_TYPE_OPENED:
      record["eventType"] = "Open";
      record["open"] = json::object{{"timestamp", Rfc3339(now)}, {"ipAddress", "192.0.2.1"}};
      break;
    case v1::EVENT_TYPE_CLICKED:
      record["eventType"] = "Click";
      record["click"] = json::object{{"timestamp", Rfc3339(now)},
                                     {"ipAddress", "192.0.2.1"},
                                     {"link", "https://example.com/clicked"}};
      break;
    case v1::EVENT_TYPE_UNSUBSCRIBED:
      record["eventType"] = "Subscription";
      record["subscription"] = json::object{
          {"timestamp", Rfc3339(now)},
          {"newTopicPreferences", json::object{{"unsubscribeAll", true}}}};
      break;
    case v1::EVENT_TYPE_RECEIVED:
      record["notificationType"] = "Received";
      record["receipt"] = json::object{{"timestamp", Rfc3339(now)}, {"recipients", json::array{to}}};
      break;
    default:
      return NoSuchEvent("ses", type);
  }
  return json::serialize(record);
}

absl::StatusOr<std::string> Postal(v1::EventType type, std::string_view to, absl::Time now,
                                   std::string_view key) {
  const int64_t seconds = absl::ToUnixSeconds(now);  // Boost.JSON would print a double as 1.7E9
  json::object message{{"id", 1},
                       {"token", "ctl"},
                       {"direction", "outgoing"},
                       {"message_id", absl::StrCat("ctl-", std::string(key), "@example.com")},
                       {"to", to},
                       {"from", "switchboardctl@example.com"},
                       {"subject", "Sample from switchboardctl"},
                       {"timestamp", seconds},
                       {"tag", "switchboardctl"}};
  std::string event;
  json::object payload{{"message", message}};
  switch (type) {
    case v1::EVENT_TYPE_DELIVERED:
      event = "MessageSent";
      payload["status"] = "Sent";
      payload["output"] = "250 2.0.0 OK";
      payload["timestamp"] = seconds;
      break;
    case v1::EVENT_TYPE_DEFERRED:
      event = "MessageDelayed";
      payload["status"] = "SoftFail";
      payload["output"] = "451 4.7.1 try again later";
      payload["timestamp"] = seconds;
      break;
    case v1::EVENT_TYPE_BOUNCED:
      event = "MessageDeliveryFailed";
      payload["status"] = "HardFail";
      payload["output"] = "550 5.1.1 user unknown";
      payload["timestamp"] = seconds;
      break;
    case v1::EVENT_TYPE_DROPPED:
      event = "MessageHeld";
      payload["status"] = "Held";
      payload["timestamp"] = seconds;
      break;
    case v1::EVENT_TYPE_CLICKED:
      event = "MessageLinkClicked";
      payload["url"] = "https://example.com/clicked";
      payload["ip_address"] = "192.0.2.1";
      break;
    case v1::EVENT_TYPE_OPENED:
      event = "MessageLoaded";
      payload["ip_address"] = "192.0.2.1";
      break;
    default:
      return NoSuchEvent("postal", type);
  }
  return json::serialize(json::object{
      {"event", event}, {"timestamp", seconds}, {"payload", payload}, {"uuid", key}});
}

absl::StatusOr<std::string> Customerio(v1::EventType type, std::string_view to, absl::Time now,
                                       std::string_view key) {
  static constexpr std::pair<v1::EventType, std::string_view> kMetrics[] = {
      {v1::EVENT_TYPE_SENT, "sent"},         {v1::EVENT_TYPE_DELIVERED, "delivered"},
      {v1::EVENT_TYPE_DEFERRED, "attempted"}, {v1::EVENT_TYPE_BOUNCED, "bounced"},
      {v1::EVENT_TYPE_DROPPED, "dropped"},   {v1::EVENT_TYPE_OPENED, "opened"},
      {v1::EVENT_TYPE_CLICKED, "clicked"},   {v1::EVENT_TYPE_COMPLAINED, "spammed"},
      {v1::EVENT_TYPE_UNSUBSCRIBED, "unsubscribed"},
  };
  for (const auto& [t, metric] : kMetrics) {
    if (t != type) continue;
    json::object data{{"recipient", to},
                      {"delivery_id", absl::StrCat("ctl-", std::string(key))},
                      {"customer_id", "switchboardctl"},
                      {"subject", "Sample from switchboardctl"}};
    if (type == v1::EVENT_TYPE_BOUNCED) data["failure_message"] = "550 5.1.1 user unknown";
    if (type == v1::EVENT_TYPE_CLICKED) data["href"] = "https://example.com/clicked";
    return json::serialize(json::object{{"event_id", key},
                                        {"object_type", "email"},
                                        {"metric", metric},
                                        {"timestamp", absl::ToUnixSeconds(now)},
                                        {"data", data}});
  }
  return NoSuchEvent("customerio", type);
}

// Only one-segment pointers ("/email") can be filled by a sample.
absl::StatusOr<std::string> Generic(const config::SourceConfig& source, v1::EventType type,
                                    std::string_view to, absl::Time now, std::string_view key) {
  if (!source.generic_hmac.has_value()) return absl::InvalidArgumentError("not generic-hmac");
  const auto& o = *source.generic_hmac;
  std::string provider_type;
  for (const auto& [name, type_name] : o.types) {
    if (ParseEventTypeName(type_name) == type) provider_type = name;
  }
  if (provider_type.empty()) return NoSuchEvent(source.name + " (types table)", type);
  json::object event;
  auto put = [&](std::string_view field, json::value value) -> absl::Status {
    const auto it = o.mapping.find(std::string(field));
    if (it == o.mapping.end()) return absl::OkStatus();
    if (it->second.find('/', 1) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("mapping.", std::string(field), ": samples fill one-segment pointers only"));
    }
    event[it->second.substr(1)] = std::move(value);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(put("id", json::string(key)));
  RETURN_IF_ERROR(put("type", json::string(provider_type)));
  RETURN_IF_ERROR(put("recipient", json::string(to)));
  RETURN_IF_ERROR(put("occurred_at", absl::ToUnixSeconds(now)));
  RETURN_IF_ERROR(put("message_id", json::string(absl::StrCat("ctl-", std::string(key)))));
  return json::serialize(event);
}

}  // namespace

bool IsSignatureProvider(std::string_view provider) {
  return provider == "ses" || provider == "postal" || provider == "customerio" ||
         provider == "generic-hmac";
}

absl::Status WriteRsaDevKeys(const std::string& out) {
  const absl::Time now = absl::Now();
  for (const char* name : {"postal", "sns"}) {
    ASSIGN_OR_RETURN(crypto::RsaKeyPair pair,
                     crypto::GenerateRsaKeyPair(2048, absl::StrCat(name, ".switchboard.local"),
                                                now - absl::Hours(1), now + absl::Hours(24 * 365)));
    const std::string key_path = absl::StrCat(out, "/", name, "-private.pem");
    std::ofstream(key_path) << pair.private_key_pem;
    std::filesystem::permissions(key_path, std::filesystem::perms::owner_read |
                                               std::filesystem::perms::owner_write);
    if (std::string_view(name) == "postal") {
      std::ofstream(out + "/postal-public.txt") << pair.public_key_der_base64 << "\n";
    } else {
      std::ofstream(out + "/sns-cert.pem") << pair.certificate_pem;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignatureProviderSample(const config::SourceConfig& source,
                                                    v1::EventType type, std::string_view to,
                                                    absl::Time now, std::string_view event_key) {
  if (source.provider == "ses") return Ses(type, to, now, event_key);
  if (source.provider == "postal") return Postal(type, to, now, event_key);
  if (source.provider == "customerio") return Customerio(type, to, now, event_key);
  if (source.provider == "generic-hmac") return Generic(source, type, to, now, event_key);
  return absl::UnimplementedError(absl::StrCat("no sample for provider ", source.provider));
}

absl::StatusOr<std::string> SnsNotification(const config::SourceConfig& source,
                                            std::string_view message, const SigningInput& input) {
  if (input.private_key_pem.empty() || source.pinned_certs.empty() || source.topic_arns.empty()) {
    return absl::InvalidArgumentError(
        "ses: SNS signs with a private key whose certificate the router pins: pass --private-key "
        "(switchboardctl dev-keys makes sns-private.pem and sns-cert.pem; pin the certificate "
        "under pinned_certs)");
  }
  providers::SesProvider::SnsFields fields;
  fields.message_id = input.id;
  fields.topic_arn = source.topic_arns.front();
  fields.message = std::string(message);
  fields.timestamp = Rfc3339(input.timestamp);
  fields.signing_cert_url = source.pinned_certs.begin()->first;
  return providers::SesProvider::SignedMessage(fields, input.private_key_pem);
}

absl::StatusOr<Headers> SignSignatureProvider(const config::SourceConfig& source,
                                              const SigningInput& input) {
  const std::string ts = absl::StrCat(absl::ToUnixSeconds(input.timestamp));
  if (source.provider == "ses") {
    Headers headers{{"Content-Type", "text/plain; charset=UTF-8"},
                    {"x-amz-sns-message-type", "Notification"},
                    {"x-amz-sns-message-id", input.id}};
    if (!source.topic_arns.empty()) {
      headers.emplace_back("x-amz-sns-topic-arn", source.topic_arns.front());
    }
    return headers;
  }
  if (source.provider == "postal") {
    if (input.private_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "postal signs with a private key the router does not hold: pass --private-key "
          "(switchboardctl dev-keys makes postal-private.pem)");
    }
    ASSIGN_OR_RETURN(std::string sha1,
                     crypto::RsaSign(input.private_key_pem, crypto::RsaDigest::kSha1, input.body));
    ASSIGN_OR_RETURN(std::string sha256, crypto::RsaSign(input.private_key_pem,
                                                         crypto::RsaDigest::kSha256, input.body));
    return Headers{{"Content-Type", "application/json"},
                   {"X-Postal-Signature", crypto::Base64Encode(sha1)},
                   {"X-Postal-Signature-256", crypto::Base64Encode(sha256)}};
  }
  if (source.provider == "customerio") {
    ASSIGN_OR_RETURN(std::string signature,
                     providers::CustomerioProvider::Sign(source.signing_key, ts, input.body));
    return Headers{{"Content-Type", "application/json"},
                   {"X-CIO-Timestamp", ts},
                   {"X-CIO-Signature", signature}};
  }
  if (source.provider == "generic-hmac" && source.generic_hmac.has_value()) {
    const auto& o = *source.generic_hmac;
    ASSIGN_OR_RETURN(std::string signature,
                     providers::GenericHmacProvider::Sign(o, ts, input.id, input.body));
    Headers headers{{"Content-Type", "application/json"}, {o.signature_header, signature}};
    if (!o.timestamp_header.empty()) headers.emplace_back(o.timestamp_header, ts);
    if (!o.id_header.empty()) headers.emplace_back(o.id_header, input.id);
    return headers;
  }
  return absl::UnimplementedError(absl::StrCat("cannot sign for provider ", source.provider));
}

}  // namespace switchboard::ctl
