#include "router/providers/customerio_provider.h"

#include <utility>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/lossless_json.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr char kSignatureHeader[] = "X-CIO-Signature";
constexpr char kTimestampHeader[] = "X-CIO-Timestamp";

v1::EventType TypeOf(std::string_view metric) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"sent", v1::EVENT_TYPE_SENT},           {"delivered", v1::EVENT_TYPE_DELIVERED},
      {"attempted", v1::EVENT_TYPE_DEFERRED},  {"deferred", v1::EVENT_TYPE_DEFERRED},
      {"bounced", v1::EVENT_TYPE_BOUNCED},     {"dropped", v1::EVENT_TYPE_DROPPED},
      {"failed", v1::EVENT_TYPE_DROPPED},      {"undeliverable", v1::EVENT_TYPE_DROPPED},
      {"opened", v1::EVENT_TYPE_OPENED},       {"clicked", v1::EVENT_TYPE_CLICKED},
      {"human_clicked", v1::EVENT_TYPE_CLICKED}, {"spammed", v1::EVENT_TYPE_COMPLAINED},
      {"unsubscribed", v1::EVENT_TYPE_UNSUBSCRIBED}, {"subscribed", v1::EVENT_TYPE_RESUBSCRIBED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == metric) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

std::string Text(const json::object* object, std::string_view key) {
  if (object == nullptr) return "";
  return std::string(JsonText(*object, key).value_or(std::string_view()));
}

// The first 3-digit SMTP reply code in a failure message ("550 5.1.1 ..." / "... 421 ...").
std::string ReplyCode(std::string_view text) {
  for (size_t i = 0; i + 3 <= text.size(); ++i) {
    const bool starts = i == 0 || !absl::ascii_isalnum(static_cast<unsigned char>(text[i - 1]));
    const bool ends = i + 3 == text.size() ||
                      !absl::ascii_isalnum(static_cast<unsigned char>(text[i + 3]));
    if (starts && ends && (text[i] == '4' || text[i] == '5') && absl::ascii_isdigit(text[i + 1]) &&
        absl::ascii_isdigit(text[i + 2])) {
      return std::string(text.substr(i, 3));
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<CustomerioProvider>> CustomerioProvider::Create(
    const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
    absl::Duration replay_horizon) {
  const std::string path(field_path);
  if (source.signing_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".signing_key: required"));
  }
  const absl::Duration tolerance = source.tolerance.value_or(kDefaultTolerance);
  if (tolerance < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".tolerance: must not be negative"));
  }
  return std::unique_ptr<CustomerioProvider>(
      new CustomerioProvider(source.name, source.signing_key, tolerance, replay_horizon, clock));
}

absl::StatusOr<std::string> CustomerioProvider::Sign(std::string_view signing_key,
                                                     std::string_view timestamp,
                                                     std::string_view body) {
  std::string content = "v0:";
  content.append(timestamp).append(":").append(body);
  ASSIGN_OR_RETURN(std::string mac, crypto::HmacSha256(signing_key, content));
  return crypto::HexEncode(mac);
}

absl::Status CustomerioProvider::Verify(const WebhookRequest& request) const {
  for (const char* header : {kSignatureHeader, kTimestampHeader}) {
    const int count = request.CountHeader(header);
    if (count == 0) return absl::UnauthenticatedError(absl::StrCat("missing ", header, " header"));
    if (count > 1) return absl::UnauthenticatedError(absl::StrCat("duplicated ", header, " header"));
  }
  const std::string_view timestamp = *request.Header(kTimestampHeader);
  ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(timestamp));
  RETURN_IF_ERROR(CheckTimestampWindow(signed_at, clock_.Now(), tolerance_, replay_horizon_));
  std::string_view signature = *request.Header(kSignatureHeader);
  if (signature.starts_with("v0=")) signature.remove_prefix(3);
  auto given = crypto::HexDecode(signature);
  if (!given.ok()) return absl::UnauthenticatedError("X-CIO-Signature is not hex");
  ASSIGN_OR_RETURN(std::string expected_hex, Sign(key_, timestamp, request.body));
  ASSIGN_OR_RETURN(std::string expected, crypto::HexDecode(expected_hex));
  if (!crypto::ConstantTimeEquals(*given, expected)) {
    return absl::UnauthenticatedError("X-CIO-Signature does not match");
  }
  return absl::OkStatus();
}

absl::StatusOr<DecodeResult> CustomerioProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  const json::object* root = body.if_object();
  if (root == nullptr) return absl::InvalidArgumentError("customerio: the body is not an object");
  const std::string event_id = Text(root, "event_id");
  const std::string metric = Text(root, "metric");
  const std::string timestamp = Text(root, "timestamp");
  if (event_id.empty() || metric.empty() || timestamp.empty()) {
    return absl::InvalidArgumentError("customerio: event_id, metric and timestamp are required");
  }
  v1::EmailEvent event;
  event.set_source(source_);
  event.set_provider("customerio");
  *event.mutable_received_at() = ToProtoTimestamp(request.received_at);
  event.set_raw(request.body);
  event.set_raw_format(v1::RAW_FORMAT_JSON);
  event.set_provider_event_key(event_id);
  event.set_provider_event_type(metric);
  event.set_type(TypeOf(metric));
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(timestamp));

  const json::object* data = JsonObject(*root, "data");
  auto& metadata = *event.mutable_metadata();
  if (const std::string type = Text(root, "object_type"); !type.empty()) {
    metadata["object_type"] = type;
  }
  if (data != nullptr) {
    for (const auto& member : *data) {
      const std::string_view key(member.key().data(), member.key().size());
      if (key == "content" || key == "subject" || key == "recipient" ||
          key == "failure_message" || key == "href" || key == "link_id") {
        continue;
      }
      if (const json::string* s = member.value().if_string()) {
        metadata[std::string(key)] = std::string(s->data(), s->size());
      }
    }
    if (const json::object* ids = JsonObject(*data, "identifiers")) {
      for (const auto& member : *ids) {
        if (const json::string* s = member.value().if_string()) {
          metadata[absl::StrCat("identifiers.", std::string(member.key()))] =
              std::string(s->data(), s->size());
        }
      }
    }
  }
  event.set_message_id(Text(data, "delivery_id"));
  event.set_subject(Text(data, "subject"));
  if (event.type() == v1::EVENT_TYPE_CLICKED) event.mutable_click()->set_url(Text(data, "href"));
  if (event.type() == v1::EVENT_TYPE_BOUNCED || event.type() == v1::EVENT_TYPE_DROPPED) {
    const std::string failure = Text(data, "failure_message");
    if (event.type() == v1::EVENT_TYPE_BOUNCED || !failure.empty()) {
      v1::Bounce* bounce = event.mutable_bounce();
      bounce->set_diagnostic(failure);
      bounce->set_smtp_code(ReplyCode(failure));
      if (event.type() == v1::EVENT_TYPE_BOUNCED) {
        bounce->set_bounce_class(bounce->smtp_code().starts_with('5')   ? v1::BOUNCE_CLASS_HARD
                                 : bounce->smtp_code().starts_with('4') ? v1::BOUNCE_CLASS_SOFT
                                                                        : v1::BOUNCE_CLASS_UNDETERMINED);
      }
    }
  }
  std::string recipient = Text(data, "recipient");
  if (recipient.empty()) recipient = Text(data, "email_address");
  if (!recipient.empty() && !NormalizeAddress(recipient).ok()) {
    metadata["recipient"] = recipient;  // a phone number or device token
    recipient.clear();
  }
  DecodeResult result;
  ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(std::move(event), recipient));
  result.events.push_back(std::move(one));
  return result;
}

}  // namespace switchboard::providers
