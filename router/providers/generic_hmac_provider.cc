#include "router/providers/generic_hmac_provider.h"

#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "router/common/crypto.h"
#include "router/common/event_type_names.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/lossless_json.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr std::string_view kMappingKeys[] = {"id",          "type",       "recipient",
                                             "occurred_at", "message_id", "metadata"};

absl::StatusOr<std::string> Mac(std::string_view algorithm, std::string_view key,
                                std::string_view data) {
  if (algorithm == "sha1") return crypto::HmacSha1(key, data);
  if (algorithm == "sha512") return crypto::HmacSha512(key, data);
  return crypto::HmacSha256(key, data);
}

std::string Expand(std::string_view templ, std::string_view timestamp, std::string_view id,
                   std::string_view body) {
  return absl::StrReplaceAll(absl::string_view(templ.data(), templ.size()),
                             {{"{body}", absl::string_view(body.data(), body.size())},
                              {"{timestamp}", absl::string_view(timestamp.data(), timestamp.size())},
                              {"{id}", absl::string_view(id.data(), id.size())}});
}

// The value at `pointer` in `event`, nullptr when unmapped or absent.
const json::value* At(const json::object& event, const std::map<std::string, std::string>& mapping,
                      std::string_view field) {
  const auto it = mapping.find(std::string(field));
  if (it == mapping.end()) return nullptr;
  const std::string_view pointer = it->second;  // starts with '/' (checked by Create)
  // Walk the first segment on the object, the rest with find_pointer.
  const size_t next = pointer.find('/', 1);
  std::string first(pointer.substr(1, next == std::string_view::npos ? std::string_view::npos
                                                                     : next - 1));
  first = absl::StrReplaceAll(first, {{"~1", "/"}, {"~0", "~"}});
  const json::value* head = event.if_contains(first);
  if (head == nullptr || next == std::string_view::npos) return head;
  boost::system::error_code ec;
  const json::value* found =
      head->find_pointer(json::string_view(pointer.data() + next, pointer.size() - next), ec);
  return ec ? nullptr : found;
}

std::string Scalar(const json::value* v) {
  if (v == nullptr) return "";
  if (const json::string* s = v->if_string()) return std::string(s->data(), s->size());
  if (const bool* b = v->if_bool()) return *b ? "true" : "false";
  return "";
}

absl::StatusOr<google::protobuf::Timestamp> ParseWhen(const std::string& text) {
  if (!text.empty() && absl::ascii_isdigit(static_cast<unsigned char>(text[0])) &&
      text.find('-') == std::string::npos) {
    if (text.size() == 13 && text.find('.') == std::string::npos) return ParseEpochMillis(text);
    return ParseEpochSeconds(text);
  }
  return ParseRfc3339(text);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GenericHmacProvider>> GenericHmacProvider::Create(
    const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
    absl::Duration replay_horizon) {
  const std::string path(field_path);
  if (!source.generic_hmac.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".secret: required"));
  }
  const config::SourceConfig::GenericHmac& o = *source.generic_hmac;
  if (o.secret.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ".secret: required"));
  if (o.signature_header.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".header: required"));
  }
  if (o.algorithm != "sha1" && o.algorithm != "sha256" && o.algorithm != "sha512") {
    return absl::InvalidArgumentError(absl::StrCat(path, ".algorithm: want sha1, sha256 or sha512"));
  }
  if (o.encoding != "hex" && o.encoding != "base64") {
    return absl::InvalidArgumentError(absl::StrCat(path, ".encoding: want hex or base64"));
  }
  // Every '{' must open one of the three placeholders.
  for (size_t i = o.signed_template.find('{'); i != std::string::npos;
       i = o.signed_template.find('{', i + 1)) {
    const std::string_view rest = std::string_view(o.signed_template).substr(i);
    if (!rest.starts_with("{body}") && !rest.starts_with("{timestamp}") &&
        !rest.starts_with("{id}")) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".signed: unknown placeholder (want {body}, {timestamp}, {id})"));
    }
  }
  if (o.signed_template.find("{body}") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".signed: must contain {body}"));
  }
  if (o.signed_template.find("{timestamp}") != std::string::npos && o.timestamp_header.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".timestamp_header: required by {timestamp} in signed"));
  }
  if (o.signed_template.find("{id}") != std::string::npos && o.id_header.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".id_header: required by {id} in signed"));
  }
  for (const auto& [key, pointer] : o.mapping) {
    if (std::find(std::begin(kMappingKeys), std::end(kMappingKeys), key) ==
        std::end(kMappingKeys)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".mapping.", key,
          ": unknown field (want id, type, recipient, occurred_at, message_id, metadata)"));
    }
    if (!pointer.starts_with('/')) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".mapping.", key, ": \"", pointer, "\" is not a JSON Pointer (starts with /)"));
    }
  }
  std::map<std::string, v1::EventType, std::less<>> types;
  for (const auto& [name, type_name] : o.types) {
    const auto type = ParseEventTypeName(type_name);
    if (!type) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".types.", name, ": \"", type_name,
                                                     "\" is not an event type (e.g. bounced)"));
    }
    types.emplace(name, *type);
  }
  const absl::Duration tolerance = source.tolerance.value_or(kDefaultTolerance);
  if (tolerance < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".tolerance: must not be negative"));
  }
  return std::unique_ptr<GenericHmacProvider>(new GenericHmacProvider(
      source.name, o, std::move(types), tolerance, replay_horizon, clock));
}

absl::StatusOr<std::string> GenericHmacProvider::Sign(
    const config::SourceConfig::GenericHmac& options, std::string_view timestamp,
    std::string_view id, std::string_view body) {
  ASSIGN_OR_RETURN(std::string mac, Mac(options.algorithm, options.secret,
                                        Expand(options.signed_template, timestamp, id, body)));
  return absl::StrCat(options.prefix, options.encoding == "base64" ? crypto::Base64Encode(mac)
                                                                   : crypto::HexEncode(mac));
}

absl::Status GenericHmacProvider::Verify(const WebhookRequest& request) const {
  std::string_view timestamp;
  std::string_view id;
  for (const std::string* header :
       {&options_.signature_header, &options_.timestamp_header, &options_.id_header}) {
    if (header->empty()) continue;
    const int count = request.CountHeader(*header);
    if (count == 0) return absl::UnauthenticatedError(absl::StrCat("missing ", *header, " header"));
    if (count > 1) return absl::UnauthenticatedError(absl::StrCat("duplicated ", *header, " header"));
  }
  if (!options_.timestamp_header.empty()) {
    timestamp = *request.Header(options_.timestamp_header);
    ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(timestamp));
    RETURN_IF_ERROR(CheckTimestampWindow(signed_at, clock_.Now(), tolerance_, replay_horizon_));
  }
  if (!options_.id_header.empty()) id = *request.Header(options_.id_header);
  std::string_view value = *request.Header(options_.signature_header);
  if (!value.starts_with(options_.prefix)) {
    return absl::UnauthenticatedError(absl::StrCat(options_.signature_header, " lacks its prefix"));
  }
  value.remove_prefix(options_.prefix.size());
  auto given = options_.encoding == "base64" ? crypto::Base64Decode(value) : crypto::HexDecode(value);
  if (!given.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat(options_.signature_header, " is not ", options_.encoding));
  }
  ASSIGN_OR_RETURN(std::string expected,
                   Mac(options_.algorithm, options_.secret,
                       Expand(options_.signed_template, timestamp, id, request.body)));
  if (!crypto::ConstantTimeEquals(*given, expected)) {
    return absl::UnauthenticatedError(absl::StrCat(options_.signature_header, " does not match"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DecodeResult> GenericHmacProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  std::vector<std::pair<const json::object*, std::string_view>> events;
  if (const json::object* single = body.if_object()) {
    events.emplace_back(single, request.body);
  } else if (const json::array* batch = body.if_array()) {
    ASSIGN_OR_RETURN(std::vector<std::string_view> raws, SplitJsonArray(request.body));
    if (raws.size() != batch->size()) return absl::InternalError("batch split disagrees");
    for (size_t i = 0; i < batch->size(); ++i) {
      const json::object* object = (*batch)[i].if_object();
      if (object == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("generic-hmac: element ", i,
                                                       " is not an object"));
      }
      events.emplace_back(object, raws[i]);
    }
  } else {
    return absl::InvalidArgumentError("generic-hmac: the body is not a JSON object or array");
  }
  const std::string id_header =
      options_.id_header.empty() ? "" : std::string(request.Header(options_.id_header).value_or(""));
  absl::Time default_time = request.received_at;
  if (!options_.timestamp_header.empty()) {
    if (auto header = request.Header(options_.timestamp_header)) {
      if (auto signed_at = ParseSignedTimestamp(*header); signed_at.ok()) default_time = *signed_at;
    }
  }
  DecodeResult result;
  for (size_t i = 0; i < events.size(); ++i) {
    const json::object& object = *events[i].first;
    v1::EmailEvent event;
    event.set_source(source_);
    event.set_provider("generic-hmac");
    *event.mutable_received_at() = ToProtoTimestamp(request.received_at);
    event.set_raw(std::string(events[i].second));
    event.set_raw_format(v1::RAW_FORMAT_JSON);
    std::string key = Scalar(At(object, options_.mapping, "id"));
    if (key.empty() && !id_header.empty()) {
      key = events.size() == 1 ? id_header : absl::StrCat(id_header, "#", i);
    }
    if (key.empty()) {
      ASSIGN_OR_RETURN(std::string digest, crypto::Sha256(events[i].second));
      key = crypto::HexEncode(digest);
    }
    event.set_provider_event_key(key);
    const std::string type = Scalar(At(object, options_.mapping, "type"));
    event.set_provider_event_type(type);
    const auto it = types_.find(type);
    event.set_type(it == types_.end() ? v1::EVENT_TYPE_UNKNOWN : it->second);
    const std::string when = Scalar(At(object, options_.mapping, "occurred_at"));
    if (when.empty()) {
      *event.mutable_occurred_at() = ToProtoTimestamp(default_time);
    } else {
      auto parsed = ParseWhen(when);
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("generic-hmac: occurred_at \"", when.substr(0, 40), "\" is not a time"));
      }
      *event.mutable_occurred_at() = *parsed;
    }
    event.set_message_id(Scalar(At(object, options_.mapping, "message_id")));
    if (const json::value* metadata = At(object, options_.mapping, "metadata")) {
      if (const json::object* members = metadata->if_object()) {
        for (const auto& member : *members) {
          const std::string text = Scalar(&member.value());
          if (!text.empty()) (*event.mutable_metadata())[std::string(member.key())] = text;
        }
      }
    }
    std::vector<std::string> recipients;
    if (const json::value* to = At(object, options_.mapping, "recipient")) {
      if (const json::array* list = to->if_array()) {
        for (const json::value& v : *list) {
          if (const std::string s = Scalar(&v); !s.empty()) recipients.push_back(s);
        }
      } else if (const std::string s = Scalar(to); !s.empty()) {
        recipients.push_back(s);
      }
    }
    RETURN_IF_ERROR(AppendForRecipients(std::move(event), recipients, result.events));
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
