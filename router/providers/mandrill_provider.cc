#include "router/providers/mandrill_provider.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/form_urlencoded.h"
#include "router/providers/json_batch.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mail_fields.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr char kSignatureHeader[] = "X-Mandrill-Signature";
constexpr char kEventsField[] = "mandrill_events";

v1::EventType EventTypeOf(std::string_view event) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"send", v1::EVENT_TYPE_SENT},          {"deferral", v1::EVENT_TYPE_DEFERRED},
      {"hard_bounce", v1::EVENT_TYPE_BOUNCED}, {"soft_bounce", v1::EVENT_TYPE_BOUNCED},
      {"open", v1::EVENT_TYPE_OPENED},        {"click", v1::EVENT_TYPE_CLICKED},
      {"spam", v1::EVENT_TYPE_COMPLAINED},    {"unsub", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"reject", v1::EVENT_TYPE_DROPPED},     {"inbound", v1::EVENT_TYPE_RECEIVED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == event) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

// msg.headers: an object whose values are strings or arrays of strings, or [] when empty.
std::string_view MessageHeader(const json::object& msg, std::string_view name) {
  const json::object* headers = JsonObject(msg, "headers");
  if (headers == nullptr) return {};
  for (const auto& member : *headers) {
    if (!absl::EqualsIgnoreCase(absl::string_view(member.key().data(), member.key().size()),
                                absl::string_view(name.data(), name.size()))) {
      continue;
    }
    if (const json::string* s = member.value().if_string()) return {s->data(), s->size()};
    if (const json::array* values = member.value().if_array();
        values != nullptr && !values->empty() && (*values)[0].is_string()) {
      const json::string& s = (*values)[0].get_string();
      return {s.data(), s.size()};
    }
  }
  return {};
}

// msg.to / msg.cc: [[address, name-or-null], ...].
std::vector<std::string> AddressPairs(const json::object& msg, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* list = JsonArray(msg, key)) {
    for (const json::value& entry : *list) {
      const json::array* pair = entry.if_array();
      if (pair != nullptr && !pair->empty() && (*pair)[0].is_string()) {
        const json::string& s = (*pair)[0].get_string();
        out.emplace_back(s.data(), s.size());
      }
    }
  }
  return out;
}

void DecodeInbound(const json::object& msg, std::string_view ts, v1::EmailEvent& event) {
  const std::string message_id(MessageHeader(msg, "Message-Id"));
  event.set_message_id(message_id);
  event.set_provider_event_key(absl::StrCat("inbound|", message_id, "|", std::string(ts)));
  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_from(std::string(JsonString(msg, "from_email")));
  event.set_sender(inbound->from());
  for (const std::string& address : AddressPairs(msg, "to")) inbound->add_to(address);
  for (const std::string& address : AddressPairs(msg, "cc")) inbound->add_cc(address);
  inbound->set_subject(event.subject());
  inbound->set_text(std::string(JsonString(msg, "text")));
  inbound->set_html(std::string(JsonString(msg, "html")));
  inbound->set_in_reply_to(std::string(MessageHeader(msg, "In-Reply-To")));
  for (std::string& id : SplitMessageIds(MessageHeader(msg, "References"))) {
    inbound->add_references(std::move(id));
  }
  inbound->set_message_key(message_id);
  if (const json::object* spf = JsonObject(msg, "spf")) {
    inbound->set_spf(std::string(JsonString(*spf, "result")));
  }
  if (const json::object* dkim = JsonObject(msg, "dkim")) {
    const json::value* signed_flag = dkim->if_contains("signed");
    const json::value* valid_flag = dkim->if_contains("valid");
    const bool is_signed = signed_flag != nullptr && signed_flag->is_bool() && signed_flag->get_bool();
    const bool is_valid = valid_flag != nullptr && valid_flag->is_bool() && valid_flag->get_bool();
    inbound->set_dkim(!is_signed ? "none" : (is_valid ? "pass" : "fail"));
  }
}

absl::StatusOr<v1::EmailEvent> DecodeEvent(const json::object& object, std::string_view raw,
                                           const v1::EmailEvent& base, absl::Time received_at) {
  v1::EmailEvent event = base;
  event.set_raw(std::string(raw));
  const std::string_view ts = JsonString(object, "ts");
  if (ts.empty()) {
    *event.mutable_occurred_at() = ToProtoTimestamp(received_at);
  } else {
    ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(ts));
  }

  const std::string name(JsonString(object, "event"));
  if (name.empty()) {
    // A sync event: a change to the rejection (blacklist) or allow (whitelist) list.
    const std::string sync = absl::StrCat(std::string(JsonString(object, "type")), ".",
                                          std::string(JsonString(object, "action")));
    event.set_type(v1::EVENT_TYPE_UNKNOWN);
    event.set_provider_event_type(sync);
    event.set_provider_event_key(absl::StrCat(sync, "|", std::string(ts)));
    const json::object* entry = JsonObject(object, "reject");
    if (entry == nullptr) entry = JsonObject(object, "entry");
    return ForRecipient(std::move(event), entry != nullptr ? JsonString(*entry, "email") : "");
  }
  event.set_provider_event_type(name);
  event.set_type(EventTypeOf(name));

  const json::object empty;
  const json::object* msg_ptr = JsonObject(object, "msg");
  const json::object& msg = msg_ptr != nullptr ? *msg_ptr : empty;
  event.set_subject(std::string(JsonString(msg, "subject")));
  event.set_ip(std::string(JsonString(object, "ip")));
  event.set_user_agent(std::string(JsonString(object, "user_agent")));
  if (const json::array* tags = JsonArray(msg, "tags")) {
    for (const json::value& tag : *tags) {
      if (const json::string* s = tag.if_string()) event.add_tags(std::string(s->data(), s->size()));
    }
  }
  if (const json::object* metadata = JsonObject(msg, "metadata")) {
    for (const auto& member : *metadata) {
      if (auto text = JsonScalarText(member.value())) {
        (*event.mutable_metadata())[std::string(member.key().data(), member.key().size())] = *text;
      }
    }
  }

  if (event.type() == v1::EVENT_TYPE_RECEIVED) {
    DecodeInbound(msg, ts, event);
    return ForRecipient(std::move(event), JsonString(msg, "email"));
  }

  const std::string message_id(JsonString(msg, "_id").empty() ? JsonString(object, "_id")
                                                              : JsonString(msg, "_id"));
  event.set_message_id(message_id);
  event.set_sender(std::string(JsonString(msg, "sender")));
  std::string key = absl::StrCat(message_id, "|", name, "|", std::string(ts));
  if (event.type() == v1::EVENT_TYPE_CLICKED) {
    const std::string_view url = JsonString(object, "url");
    event.mutable_click()->set_url(std::string(url));
    absl::StrAppend(&key, "|", std::string(url));
  } else if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    v1::Bounce* bounce = event.mutable_bounce();
    const std::string_view description = JsonString(msg, "bounce_description");
    bounce->set_provider_type(std::string(description));
    if (description == "spam_related" || description == "policy_related") {
      bounce->set_bounce_class(v1::BOUNCE_CLASS_BLOCK);
    } else {
      bounce->set_bounce_class(name == "hard_bounce" ? v1::BOUNCE_CLASS_HARD
                                                     : v1::BOUNCE_CLASS_SOFT);
    }
    const std::string_view diag = JsonString(msg, "diag");
    bounce->set_diagnostic(std::string(diag));
    SmtpReply reply = ParseSmtpReply(diag);
    bounce->set_smtp_code(std::move(reply.code));
    bounce->set_enhanced_status(std::move(reply.enhanced_status));
  }
  event.set_provider_event_key(std::move(key));
  return ForRecipient(std::move(event), JsonString(msg, "email"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MandrillProvider>> MandrillProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  const std::string path(field_path);
  if (source.key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".key: required"));
  }
  if (!absl::StartsWith(source.url, "https://") && !absl::StartsWith(source.url, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".url: must be the absolute http(s) webhook URL exactly as entered in Mandrill"));
  }
  return std::unique_ptr<MandrillProvider>(
      new MandrillProvider(source.name, source.key, source.url));
}

absl::Status MandrillProvider::Verify(const WebhookRequest& request) const {
  const int count = request.CountHeader(kSignatureHeader);
  if (count == 0) return absl::UnauthenticatedError("missing X-Mandrill-Signature header");
  if (count > 1) return absl::UnauthenticatedError("duplicated X-Mandrill-Signature header");
  auto fields = ParseFormUrlEncoded(request.body);
  if (!fields.ok()) return absl::UnauthenticatedError("the body is not a form Mandrill signed");
  // Sorted by name; the sort is stable so repeated names keep their order.
  std::stable_sort(fields->begin(), fields->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string signed_data = url_;
  for (const auto& [name, value] : *fields) absl::StrAppend(&signed_data, name, value);
  ASSIGN_OR_RETURN(std::string mac, crypto::HmacSha1(key_, signed_data));
  if (!crypto::ConstantTimeEquals(crypto::Base64Encode(mac), *request.Header(kSignatureHeader))) {
    return absl::UnauthenticatedError("X-Mandrill-Signature does not match");
  }
  return absl::OkStatus();
}

absl::StatusOr<DecodeResult> MandrillProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(auto fields, ParseFormUrlEncoded(request.body));
  const std::string* events_json = nullptr;
  for (const auto& [name, value] : fields) {
    if (name != kEventsField) continue;
    if (events_json != nullptr) {
      return absl::InvalidArgumentError("mandrill: mandrill_events is repeated");
    }
    events_json = &value;
  }
  if (events_json == nullptr) return absl::InvalidArgumentError("mandrill: no mandrill_events");
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(*events_json));
  if (!body.is_array()) return absl::InvalidArgumentError("mandrill: events are not an array");
  ASSIGN_OR_RETURN(std::vector<JsonEventRef> events, JsonEvents(body, *events_json, "mandrill"));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("mandrill");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  DecodeResult result;
  for (size_t i = 0; i < events.size(); ++i) {
    auto event = DecodeEvent(*events[i].object, events[i].raw, base, request.received_at);
    if (!event.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mandrill: element ", i, ": ", event.status().message()));
    }
    result.events.push_back(*std::move(event));
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
