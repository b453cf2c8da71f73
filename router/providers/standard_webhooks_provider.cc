#include "router/providers/standard_webhooks_provider.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/lossless_json.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr std::string_view kSecretPrefix = "whsec_";

// The value of "webhook-<name>", or of the Svix-branded "svix-<name>" that Resend and AgentMail
// send. A repeated header, or both spellings with different values, is refused: which copy the
// signature covers would be ambiguous.
absl::StatusOr<std::string_view> SignedHeader(const WebhookRequest& request, std::string_view name) {
  const std::string standard = absl::StrCat("webhook-", std::string(name));
  const std::string svix = absl::StrCat("svix-", std::string(name));
  const int standard_count = request.CountHeader(standard);
  const int svix_count = request.CountHeader(svix);
  if (standard_count > 1 || svix_count > 1) {
    return absl::UnauthenticatedError(absl::StrCat("duplicated ", standard, " header"));
  }
  std::optional<std::string_view> value = request.Header(standard);
  std::optional<std::string_view> svix_value = request.Header(svix);
  if (value && svix_value && *value != *svix_value) {
    return absl::UnauthenticatedError(absl::StrCat(standard, " and ", svix, " disagree"));
  }
  if (!value) value = svix_value;
  if (!value) return absl::UnauthenticatedError(absl::StrCat("missing ", standard, " header"));
  return *value;
}

std::string_view Text(const json::object& object, std::string_view key) {
  return JsonText(object, key).value_or(std::string_view());
}

// Recipients given as a string, an array of strings, or an array of {"address": ...} objects.
std::vector<std::string> Addresses(const json::object& object, std::string_view key) {
  std::vector<std::string> out;
  if (auto single = JsonText(object, key)) {
    out.emplace_back(*single);
    return out;
  }
  const json::array* array = JsonArray(object, key);
  if (array == nullptr) return out;
  for (const json::value& v : *array) {
    if (const json::string* s = v.if_string()) {
      out.emplace_back(s->data(), s->size());
    } else if (const json::object* o = v.if_object()) {
      if (auto address = JsonText(*o, "address")) out.emplace_back(*address);
    }
  }
  return out;
}

// The bare address when `text` parses as one, else the text as given.
std::string BareAddress(std::string_view text) {
  auto normalized = NormalizeAddress(text);
  return normalized.ok() ? normalized->recipient : std::string(text);
}

v1::BounceClass BounceClassOf(std::string_view type) {
  if (type == "Permanent") return v1::BOUNCE_CLASS_HARD;
  if (type == "Transient") return v1::BOUNCE_CLASS_SOFT;
  return v1::BOUNCE_CLASS_UNDETERMINED;
}

absl::Status SetOccurredAt(std::string_view rfc3339, absl::Time fallback, v1::EmailEvent& event) {
  if (rfc3339.empty()) {
    *event.mutable_occurred_at() = ToProtoTimestamp(fallback);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseRfc3339(rfc3339));
  return absl::OkStatus();
}

v1::EventType ResendType(std::string_view type) {
  static const auto* kTypes = new std::vector<std::pair<std::string_view, v1::EventType>>{
      {"email.sent", v1::EVENT_TYPE_SENT},
      {"email.delivered", v1::EVENT_TYPE_DELIVERED},
      {"email.delivery_delayed", v1::EVENT_TYPE_DEFERRED},
      {"email.bounced", v1::EVENT_TYPE_BOUNCED},
      {"email.complained", v1::EVENT_TYPE_COMPLAINED},
      {"email.opened", v1::EVENT_TYPE_OPENED},
      {"email.clicked", v1::EVENT_TYPE_CLICKED},
      {"email.received", v1::EVENT_TYPE_RECEIVED},
      {"email.failed", v1::EVENT_TYPE_DROPPED},
      {"email.suppressed", v1::EVENT_TYPE_DROPPED},
  };
  for (const auto& [name, value] : *kTypes) {
    if (name == type) return value;
  }
  return v1::EVENT_TYPE_UNKNOWN;  // email.scheduled and anything newer
}

v1::EventType AgentMailType(std::string_view type) {
  static const auto* kTypes = new std::vector<std::pair<std::string_view, v1::EventType>>{
      {"message.sent", v1::EVENT_TYPE_SENT},
      {"message.delivered", v1::EVENT_TYPE_DELIVERED},
      {"message.bounced", v1::EVENT_TYPE_BOUNCED},
      {"message.complained", v1::EVENT_TYPE_COMPLAINED},
      {"message.rejected", v1::EVENT_TYPE_DROPPED},
      {"message.received", v1::EVENT_TYPE_RECEIVED},
  };
  for (const auto& [name, value] : *kTypes) {
    if (name == type) return value;
  }
  // message.received.spam / .blocked / .unauthenticated stay UNKNOWN on purpose: an agent that
  // replies to mail must not treat filtered mail as an ordinary inbound message.
  return v1::EVENT_TYPE_UNKNOWN;
}

// Resend https://resend.com/docs/dashboard/webhooks/event-types: {type, created_at, data{...}}.
absl::Status DecodeResend(const json::object& root, absl::Time signed_at, v1::EmailEvent& event,
                          std::vector<std::string>& recipients) {
  const json::object* data = JsonObject(root, "data");
  if (data == nullptr) return absl::InvalidArgumentError("resend: missing \"data\" object");
  event.set_provider("resend");
  event.set_type(ResendType(event.provider_event_type()));
  // The top-level created_at is when the event happened; data.created_at is when the email was
  // created (the same for every event of one email), so it is only a fallback.
  std::string_view created_at = Text(root, "created_at");
  RETURN_IF_ERROR(SetOccurredAt(created_at.empty() ? Text(*data, "created_at") : created_at,
                                signed_at, event));
  event.set_message_id(std::string(Text(*data, "email_id")));
  event.set_sender(BareAddress(Text(*data, "from")));
  event.set_subject(std::string(Text(*data, "subject")));
  // Tags are {"name": "value"} or [{"name": ..., "value": ...}]; each becomes "name:value".
  if (const json::object* tags = JsonObject(*data, "tags")) {
    for (const auto& member : *tags) {
      if (const json::string* value = member.value().if_string()) {
        event.add_tags(absl::StrCat(std::string(member.key()), ":", std::string(*value)));
      }
    }
  } else if (const json::array* tag_list = JsonArray(*data, "tags")) {
    for (const json::value& tag : *tag_list) {
      if (const json::object* pair = tag.if_object()) {
        auto name = JsonText(*pair, "name");
        if (!name) continue;
        auto value = JsonText(*pair, "value");
        event.add_tags(value ? absl::StrCat(std::string(*name), ":", std::string(*value))
                             : std::string(*name));
      } else if (const json::string* s = tag.if_string()) {
        event.add_tags(std::string(*s));
      }
    }
  }
  if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    const json::object* bounce = JsonObject(*data, "bounce");
    std::string_view message = bounce == nullptr ? "" : Text(*bounce, "message");
    // Resend reports a send it refused because of the account suppression list as email.bounced;
    // the message says so ("Resend has suppressed sending to this address ..."). Nothing was
    // sent, so it is a drop, as django-anymail also maps it.
    if (absl::StrContains(absl::string_view(message.data(), message.size()),
                          "suppressed sending")) {
      event.set_type(v1::EVENT_TYPE_DROPPED);
    } else {
      v1::Bounce* b = event.mutable_bounce();
      std::string_view type = bounce == nullptr ? "" : Text(*bounce, "type");
      b->set_bounce_class(BounceClassOf(type));
      b->set_provider_type(std::string(type));
      b->set_diagnostic(std::string(message));
    }
  }
  for (std::string_view key : {"click", "open"}) {
    const json::object* action = JsonObject(*data, key);
    if (action == nullptr) continue;
    if (key == "click") event.mutable_click()->set_url(std::string(Text(*action, "link")));
    event.set_ip(std::string(Text(*action, "ipAddress")));
    event.set_user_agent(std::string(Text(*action, "userAgent")));
  }
  recipients = Addresses(*data, "to");
  if (event.type() == v1::EVENT_TYPE_RECEIVED) {
    v1::Inbound* inbound = event.mutable_inbound();
    inbound->set_from(std::string(Text(*data, "from")));
    for (const auto& to : recipients) inbound->add_to(to);
    for (const auto& cc : Addresses(*data, "cc")) inbound->add_cc(cc);
    inbound->set_subject(event.subject());
    inbound->set_message_key(event.message_id());
  }
  return absl::OkStatus();
}

// AgentMail https://docs.agentmail.to/webhooks-events: {event_type, event_id, <detail>{...}} where
// the detail object is "send", "delivery", "bounce", "complaint", "reject" or "message".
absl::Status DecodeAgentMail(const json::object& root, absl::Time signed_at,
                             v1::EmailEvent& event, std::vector<std::string>& recipients) {
  event.set_provider("agentmail");
  event.set_provider_event_type(std::string(Text(root, "event_type")));
  event.set_type(AgentMailType(event.provider_event_type()));
  const json::object* detail = nullptr;
  for (std::string_view key : {"send", "delivery", "bounce", "complaint", "reject", "message"}) {
    detail = JsonObject(root, key);
    if (detail != nullptr) break;
  }
  if (detail == nullptr) {  // not a message event (e.g. domain.verified)
    *event.mutable_occurred_at() = ToProtoTimestamp(signed_at);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(SetOccurredAt(Text(*detail, "timestamp"), signed_at, event));
  event.set_message_id(std::string(Text(*detail, "message_id")));
  event.set_subject(std::string(Text(*detail, "subject")));
  recipients = Addresses(*detail, JsonArray(*detail, "recipients") != nullptr ? "recipients" : "to");
  if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    v1::Bounce* b = event.mutable_bounce();
    std::string_view type = Text(*detail, "type");
    std::string_view sub_type = Text(*detail, "sub_type");
    b->set_bounce_class(BounceClassOf(type));
    b->set_provider_type(sub_type.empty() ? std::string(type)
                                          : absl::StrCat(std::string(type), "/", std::string(sub_type)));
  }
  if (JsonObject(root, "message") == detail) {
    event.set_sender(BareAddress(Text(*detail, "from")));
    v1::Inbound* inbound = event.mutable_inbound();
    inbound->set_from(std::string(Text(*detail, "from")));
    for (const auto& to : recipients) inbound->add_to(to);
    for (const auto& cc : Addresses(*detail, "cc")) inbound->add_cc(cc);
    inbound->set_subject(event.subject());
    inbound->set_text(std::string(Text(*detail, "text")));
    inbound->set_html(std::string(Text(*detail, "html")));
    inbound->set_message_key(event.message_id());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> StandardWebhooksProvider::DecodeSecret(std::string_view secret) {
  const bool prefixed = secret.starts_with(kSecretPrefix);
  if (prefixed) secret.remove_prefix(kSecretPrefix.size());
  auto key = crypto::Base64Decode(secret);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid base64", prefixed ? " after whsec_" : "", " (",
                     key.status().message(), ")"));
  }
  if (key->size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the secret decodes to ", key->size(),
                                                   " bytes; at least ", kMinSecretBytes,
                                                   " are required"));
  }
  return key;
}

absl::StatusOr<std::string> StandardWebhooksProvider::Sign(std::string_view key,
                                                           std::string_view id,
                                                           std::string_view timestamp,
                                                           std::string_view body) {
  ASSIGN_OR_RETURN(std::string mac,
                   crypto::HmacSha256(key, absl::StrCat(std::string(id), ".",
                                                        std::string(timestamp), ".",
                                                        std::string(body))));
  return absl::StrCat("v1,", crypto::Base64Encode(mac));
}

absl::StatusOr<std::unique_ptr<StandardWebhooksProvider>> StandardWebhooksProvider::Create(
    const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
    absl::Duration replay_horizon) {
  const std::string path(field_path);
  Vendor vendor;
  if (source.vendor.empty()) {
    vendor = Vendor::kGeneric;
  } else if (source.vendor == "resend") {
    vendor = Vendor::kResend;
  } else if (source.vendor == "agentmail") {
    vendor = Vendor::kAgentMail;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".vendor: unknown vendor \"", source.vendor, "\" (expected resend or agentmail)"));
  }
  if (source.secrets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".secrets: at least one is required"));
  }
  std::vector<std::string> keys;
  for (size_t i = 0; i < source.secrets.size(); ++i) {
    auto key = DecodeSecret(source.secrets[i]);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".secrets[", i, "]: ", key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  const absl::Duration tolerance = source.tolerance.value_or(kDefaultTolerance);
  if (tolerance < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".tolerance: must not be negative"));
  }
  return std::unique_ptr<StandardWebhooksProvider>(
      new StandardWebhooksProvider(source.name, vendor, std::move(keys), tolerance,
                                   replay_horizon, clock));
}

absl::Status StandardWebhooksProvider::Verify(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(std::string_view id, SignedHeader(request, "id"));
  // The id is the idempotency key's provider part: an empty one would make every later event of
  // that recipient a duplicate.
  if (id.empty()) return absl::UnauthenticatedError("empty webhook-id");
  ASSIGN_OR_RETURN(std::string_view timestamp, SignedHeader(request, "timestamp"));
  ASSIGN_OR_RETURN(std::string_view signatures, SignedHeader(request, "signature"));
  ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(timestamp));
  RETURN_IF_ERROR(CheckTimestampWindow(signed_at, clock_.Now(), tolerance_, replay_horizon_));

  std::vector<std::string> macs;
  for (const std::string& key : keys_) {
    ASSIGN_OR_RETURN(std::string mac,
                     crypto::HmacSha256(key, absl::StrCat(std::string(id), ".",
                                                          std::string(timestamp), ".",
                                                          request.body)));
    macs.push_back(std::move(mac));
  }
  for (absl::string_view entry :
       absl::StrSplit(absl::string_view(signatures.data(), signatures.size()), ' ',
                      absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&entry, "v1,") || entry.empty()) continue;
    auto signature = crypto::Base64Decode(std::string_view(entry.data(), entry.size()));
    if (!signature.ok()) continue;
    for (const std::string& mac : macs) {
      if (crypto::ConstantTimeEquals(*signature, mac)) return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError("no webhook-signature entry matches");
}

absl::StatusOr<DecodeResult> StandardWebhooksProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(std::string_view id, SignedHeader(request, "id"));
  ASSIGN_OR_RETURN(std::string_view timestamp, SignedHeader(request, "timestamp"));
  ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(timestamp));
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  const json::object* root = body.if_object();
  if (root == nullptr) return absl::InvalidArgumentError("the payload is not a JSON object");

  v1::EmailEvent event;
  event.set_source(source_);
  event.set_provider("standard-webhooks");
  event.set_provider_event_type(std::string(Text(*root, "type")));
  event.set_provider_event_key(std::string(id));
  *event.mutable_received_at() = ToProtoTimestamp(request.received_at);
  event.set_raw(request.body);
  event.set_raw_format(v1::RAW_FORMAT_JSON);
  event.set_type(v1::EVENT_TYPE_UNKNOWN);

  std::vector<std::string> recipients;
  switch (vendor_) {
    case Vendor::kResend:
      RETURN_IF_ERROR(DecodeResend(*root, signed_at, event, recipients));
      break;
    case Vendor::kAgentMail:
      RETURN_IF_ERROR(DecodeAgentMail(*root, signed_at, event, recipients));
      break;
    case Vendor::kGeneric:  // the spec's envelope: {type, timestamp (RFC 3339), data}
      RETURN_IF_ERROR(SetOccurredAt(Text(*root, "timestamp"), signed_at, event));
      break;
  }
  DecodeResult result;
  RETURN_IF_ERROR(AppendForRecipients(std::move(event), recipients, result.events));
  return result;
}

}  // namespace switchboard::providers
