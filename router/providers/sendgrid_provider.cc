#include "router/providers/sendgrid_provider.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/lossless_json.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr char kSignatureHeader[] = "X-Twilio-Email-Event-Webhook-Signature";
constexpr char kTimestampHeader[] = "X-Twilio-Email-Event-Webhook-Timestamp";

// Keys SendGrid itself sets on events (the event reference's field list and its reserved-keys
// list for custom arguments); every other top-level key is a custom argument.
bool IsReservedKey(std::string_view key) {
  static constexpr std::string_view kReserved[] = {
      "asm_group_id", "attempt", "bounce_classification", "category", "cert_err", "email",
      "event", "ip", "marketing_campaign_id", "marketing_campaign_name",
      "marketing_campaign_split_id", "marketing_campaign_version", "mc_stats", "newsletter",
      "phase_id", "pool", "post_type", "reason", "response", "send_at", "singlesend_id",
      "singlesend_name", "smtp-id", "status", "template_hash", "template_id",
      "template_version_id", "timestamp", "tls", "type", "unique_args", "url", "url_offset",
      "useragent",
  };
  if (key.starts_with("sg_")) return true;
  for (std::string_view reserved : kReserved) {
    if (key == reserved) return true;
  }
  return false;
}

v1::EventType EventTypeOf(std::string_view lower) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"processed", v1::EVENT_TYPE_SENT},
      {"delivered", v1::EVENT_TYPE_DELIVERED},
      {"deferred", v1::EVENT_TYPE_DEFERRED},
      {"bounce", v1::EVENT_TYPE_BOUNCED},
      {"dropped", v1::EVENT_TYPE_DROPPED},
      {"open", v1::EVENT_TYPE_OPENED},
      {"click", v1::EVENT_TYPE_CLICKED},
      {"spamreport", v1::EVENT_TYPE_COMPLAINED},
      {"unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"group_unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"group_resubscribe", v1::EVENT_TYPE_RESUBSCRIBED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == lower) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

std::string Text(const json::object& object, std::string_view key) {
  return std::string(JsonText(object, key).value_or(std::string_view()));
}

// A scalar as metadata text: strings as they are, numbers by their source text, booleans.
std::optional<std::string> ScalarText(const json::value& value) {
  if (const json::string* s = value.if_string()) return std::string(s->data(), s->size());
  if (const bool* b = value.if_bool()) return *b ? "true" : "false";
  return std::nullopt;
}

absl::StatusOr<v1::EmailEvent> DecodeEvent(const json::object& object, std::string_view raw,
                                           const v1::EmailEvent& base) {
  v1::EmailEvent event = base;
  event.set_raw(std::string(raw));
  const std::string event_name = Text(object, "event");
  if (event_name.empty()) return absl::InvalidArgumentError("sendgrid: event without \"event\"");
  event.set_provider_event_type(event_name);
  event.set_type(EventTypeOf(absl::AsciiStrToLower(event_name)));

  const std::string timestamp = Text(object, "timestamp");
  if (timestamp.empty()) {
    return absl::InvalidArgumentError("sendgrid: event without a \"timestamp\"");
  }
  // Seconds, except the Marketing Single Send events, which carry 13-digit milliseconds.
  auto occurred_at = timestamp.size() == 13 && timestamp.find('.') == std::string::npos
                         ? ParseEpochMillis(timestamp)
                         : ParseEpochSeconds(timestamp);
  if (!occurred_at.ok()) return occurred_at.status();
  *event.mutable_occurred_at() = *occurred_at;

  const std::string message_id = Text(object, "sg_message_id");
  const std::string sg_event_id = Text(object, "sg_event_id");
  event.set_provider_event_key(
      !sg_event_id.empty() ? sg_event_id
                           : absl::StrCat(message_id, "|", event_name, "|", timestamp));
  event.set_message_id(!message_id.empty() ? message_id : Text(object, "smtp-id"));
  event.set_ip(Text(object, "ip"));
  event.set_user_agent(Text(object, "useragent"));

  switch (event.type()) {
    case v1::EVENT_TYPE_BOUNCED: {
      v1::Bounce* bounce = event.mutable_bounce();
      const std::string type = Text(object, "type");
      bounce->set_provider_type(type);
      bounce->set_bounce_class(type == "blocked" ? v1::BOUNCE_CLASS_BLOCK : v1::BOUNCE_CLASS_HARD);
      bounce->set_enhanced_status(Text(object, "status"));
      const std::string reason = Text(object, "reason");
      bounce->set_diagnostic(reason);
      if (reason.size() >= 3 && absl::ascii_isdigit(reason[0]) && absl::ascii_isdigit(reason[1]) &&
          absl::ascii_isdigit(reason[2]) && (reason.size() == 3 || !absl::ascii_isdigit(reason[3]))) {
        bounce->set_smtp_code(reason.substr(0, 3));
      }
      break;
    }
    case v1::EVENT_TYPE_OPENED: {
      const json::value* machine_open = object.if_contains("sg_machine_open");
      event.mutable_open()->set_machine_open(machine_open != nullptr && machine_open->is_bool() &&
                                             machine_open->get_bool());
      break;
    }
    case v1::EVENT_TYPE_CLICKED:
      event.mutable_click()->set_url(Text(object, "url"));
      break;
    default:
      break;
  }

  if (auto category = JsonText(object, "category")) {
    event.add_tags(std::string(*category));
  } else if (const json::array* categories = JsonArray(object, "category")) {
    for (const json::value& c : *categories) {
      if (const json::string* s = c.if_string()) event.add_tags(std::string(s->data(), s->size()));
    }
  }
  auto& metadata = *event.mutable_metadata();
  for (const auto& member : object) {
    const std::string_view key(member.key().data(), member.key().size());
    if (IsReservedKey(key)) continue;
    if (auto text = ScalarText(member.value())) metadata[std::string(key)] = *text;
  }
  if (const json::object* unique_args = JsonObject(object, "unique_args")) {
    for (const auto& member : *unique_args) {
      if (auto text = ScalarText(member.value())) {
        metadata[std::string(member.key().data(), member.key().size())] = *text;
      }
    }
  }

  auto email = JsonText(object, "email");
  if (!email || email->empty()) {
    return absl::InvalidArgumentError("sendgrid: event without \"email\"");
  }
  return ForRecipient(std::move(event), *email);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SendgridProvider>> SendgridProvider::Create(
    const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
    absl::Duration replay_horizon) {
  const std::string path(field_path);
  if (source.public_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".public_key: required"));
  }
  auto key = crypto::EcdsaP256PublicKey::Parse(source.public_key);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".public_key: ", key.status().message()));
  }
  const absl::Duration tolerance = source.tolerance.value_or(kDefaultTolerance);
  if (tolerance < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".tolerance: must not be negative"));
  }
  return std::unique_ptr<SendgridProvider>(
      new SendgridProvider(source.name, *std::move(key), tolerance, replay_horizon, clock));
}

absl::Status SendgridProvider::Verify(const WebhookRequest& request) const {
  for (const char* header : {kSignatureHeader, kTimestampHeader}) {
    const int count = request.CountHeader(header);
    if (count == 0) return absl::UnauthenticatedError(absl::StrCat("missing ", header, " header"));
    if (count > 1) return absl::UnauthenticatedError(absl::StrCat("duplicated ", header, " header"));
  }
  const std::string_view signature_text = *request.Header(kSignatureHeader);
  const std::string_view timestamp = *request.Header(kTimestampHeader);
  ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(timestamp));
  RETURN_IF_ERROR(CheckTimestampWindow(signed_at, clock_.Now(), tolerance_, replay_horizon_));
  auto signature = crypto::Base64Decode(signature_text);
  if (!signature.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(kSignatureHeader, " is not strict base64"));
  }
  std::string signed_payload;
  signed_payload.reserve(timestamp.size() + request.body.size());
  signed_payload.append(timestamp).append(request.body);
  return key_.Verify(signed_payload, *signature);
}

absl::StatusOr<DecodeResult> SendgridProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("sendgrid");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);

  DecodeResult result;
  if (const json::object* single = body.if_object()) {
    std::string_view raw = request.body;
    while (!raw.empty() && absl::ascii_isspace(static_cast<unsigned char>(raw.back()))) {
      raw.remove_suffix(1);
    }
    while (!raw.empty() && absl::ascii_isspace(static_cast<unsigned char>(raw.front()))) {
      raw.remove_prefix(1);
    }
    ASSIGN_OR_RETURN(v1::EmailEvent event, DecodeEvent(*single, raw, base));
    result.events.push_back(std::move(event));
    return result;
  }
  const json::array* events = body.if_array();
  if (events == nullptr) {
    return absl::InvalidArgumentError("sendgrid: the payload is not a JSON array of events");
  }
  ASSIGN_OR_RETURN(std::vector<std::string_view> raws, SplitJsonArray(request.body));
  if (raws.size() != events->size()) {
    return absl::InternalError("sendgrid: element split disagrees with the parser");
  }
  for (size_t i = 0; i < raws.size(); ++i) {
    const json::object* object = (*events)[i].if_object();
    if (object == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("sendgrid: element ", i, " is not an object"));
    }
    auto event = DecodeEvent(*object, raws[i], base);
    if (!event.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("element ", i, ": ", event.status().message()));
    }
    result.events.push_back(*std::move(event));
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
