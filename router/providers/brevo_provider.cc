#include "router/providers/brevo_provider.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/json_batch.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mail_fields.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

v1::EventType EventTypeOf(std::string_view event) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"request", v1::EVENT_TYPE_SENT},
      {"delivered", v1::EVENT_TYPE_DELIVERED},
      {"deferred", v1::EVENT_TYPE_DEFERRED},
      {"hard_bounce", v1::EVENT_TYPE_BOUNCED},
      {"soft_bounce", v1::EVENT_TYPE_BOUNCED},
      {"blocked", v1::EVENT_TYPE_DROPPED},
      {"invalid_email", v1::EVENT_TYPE_DROPPED},
      {"invalid", v1::EVENT_TYPE_DROPPED},
      {"error", v1::EVENT_TYPE_DROPPED},
      {"spam", v1::EVENT_TYPE_COMPLAINED},
      {"complaint", v1::EVENT_TYPE_COMPLAINED},
      {"opened", v1::EVENT_TYPE_OPENED},
      {"unique_opened", v1::EVENT_TYPE_OPENED},
      {"proxy_open", v1::EVENT_TYPE_OPENED},
      {"unique_proxy_open", v1::EVENT_TYPE_OPENED},
      {"click", v1::EVENT_TYPE_CLICKED},
      {"unsubscribed", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == event) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

// Milliseconds as documented, except that 11 digits or fewer are seconds: 10^11 ms is 1973,
// 10^11 s is the year 5138, so the two readings cannot be confused for real events.
absl::StatusOr<google::protobuf::Timestamp> ParseEpoch(std::string_view text) {
  if (text.size() >= 12 && text.find('.') == std::string_view::npos) {
    return ParseEpochMillis(text);
  }
  return ParseEpochSeconds(text);
}

void AddTags(const json::object& event, v1::EmailEvent& out) {
  const json::array* tags = JsonArray(event, "tags");
  if (tags == nullptr) tags = JsonArray(event, "tag");
  if (tags != nullptr) {
    for (const json::value& tag : *tags) {
      if (const json::string* s = tag.if_string()) out.add_tags(std::string(s->data(), s->size()));
    }
    return;
  }
  if (const std::string_view tag = JsonString(event, "tag"); !tag.empty()) {
    out.add_tags(std::string(tag));
  }
}

absl::StatusOr<v1::EmailEvent> DecodeEvent(const json::object& object, std::string_view raw,
                                           const v1::EmailEvent& base, absl::Time received_at) {
  v1::EmailEvent event = base;
  event.set_raw(std::string(raw));
  const std::string name(JsonString(object, "event"));
  if (name.empty()) return absl::InvalidArgumentError("brevo: an event without \"event\"");
  event.set_provider_event_type(name);
  event.set_type(EventTypeOf(name));

  std::string_view timestamp;
  for (const char* key : {"ts_epoch", "s_epoch"}) {
    if (timestamp.empty() && !(timestamp = JsonString(object, key)).empty()) {
      ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpoch(timestamp));
    }
  }
  for (const char* key : {"ts_event", "ts"}) {
    if (timestamp.empty() && !(timestamp = JsonString(object, key)).empty()) {
      ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(timestamp));
    }
  }
  if (timestamp.empty()) *event.mutable_occurred_at() = ToProtoTimestamp(received_at);

  const std::string message_id(JsonString(object, "message-id"));
  event.set_message_id(message_id);
  event.set_subject(std::string(JsonString(object, "subject")));
  std::string key = absl::StrCat(message_id, "|", name, "|", std::string(timestamp));
  switch (event.type()) {
    case v1::EVENT_TYPE_BOUNCED: {
      v1::Bounce* bounce = event.mutable_bounce();
      bounce->set_provider_type(name);
      bounce->set_bounce_class(name == "hard_bounce" ? v1::BOUNCE_CLASS_HARD
                                                     : v1::BOUNCE_CLASS_SOFT);
      const std::string_view reason = JsonString(object, "reason");
      bounce->set_diagnostic(std::string(reason));
      SmtpReply reply = ParseSmtpReply(reason);
      bounce->set_smtp_code(std::move(reply.code));
      bounce->set_enhanced_status(std::move(reply.enhanced_status));
      break;
    }
    case v1::EVENT_TYPE_OPENED:
      event.mutable_open()->set_machine_open(absl::StrContains(name, "proxy_open"));
      break;
    case v1::EVENT_TYPE_CLICKED: {
      const std::string_view link = JsonString(object, "link");
      event.mutable_click()->set_url(std::string(link));
      absl::StrAppend(&key, "|", std::string(link));
      break;
    }
    default:
      break;
  }
  event.set_provider_event_key(std::move(key));
  AddTags(object, event);
  if (const std::string_view custom = JsonString(object, "X-Mailin-custom"); !custom.empty()) {
    (*event.mutable_metadata())["X-Mailin-custom"] = std::string(custom);
  }
  return ForRecipient(std::move(event), JsonString(object, "email"));
}

std::vector<std::string> Addresses(const json::object& item, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* list = JsonArray(item, key)) {
    for (const json::value& v : *list) {
      if (const json::object* entry = v.if_object()) {
        const std::string_view address = JsonString(*entry, "Address");
        if (!address.empty()) out.emplace_back(address);
      }
    }
  }
  return out;
}

absl::Status DecodeInbound(const json::object& item, const v1::EmailEvent& base,
                           absl::Time received_at, std::vector<v1::EmailEvent>& out) {
  v1::EmailEvent event = base;
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_type("inbound");
  const std::string message_id(JsonString(item, "MessageId"));
  event.set_message_id(message_id);
  event.set_provider_event_key(absl::StrCat("inbound|", message_id));
  event.set_subject(std::string(JsonString(item, "Subject")));
  v1::Inbound* inbound = event.mutable_inbound();
  if (const json::object* from = JsonObject(item, "From")) {
    inbound->set_from(std::string(JsonString(*from, "Address")));
    event.set_sender(inbound->from());
  }
  const std::vector<std::string> to = Addresses(item, "To");
  const std::vector<std::string> cc = Addresses(item, "Cc");
  for (const std::string& address : to) inbound->add_to(address);
  for (const std::string& address : cc) inbound->add_cc(address);
  inbound->set_subject(event.subject());
  inbound->set_text(std::string(JsonString(item, "RawTextBody")));
  inbound->set_html(std::string(JsonString(item, "RawHtmlBody")));
  inbound->set_in_reply_to(std::string(JsonString(item, "InReplyTo")));
  if (const json::object* headers = JsonObject(item, "Headers")) {
    for (std::string& id : SplitMessageIds(JsonString(*headers, "References"))) {
      inbound->add_references(std::move(id));
    }
  }
  inbound->set_message_key(message_id);
  auto date = ParseRfc5322Date(JsonString(item, "SentAtDate"));
  *event.mutable_occurred_at() = date.ok() ? *date : ToProtoTimestamp(received_at);

  std::set<std::string> seen;  // one event per recipient even if listed in To and Cc
  for (const std::vector<std::string>* list : {&to, &cc}) {
    for (const std::string& address : *list) {
      ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(event, address));
      if (seen.insert(one.recipient_key()).second) out.push_back(std::move(one));
    }
  }
  if (to.empty() && cc.empty()) {
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(std::move(event), ""));
    out.push_back(std::move(one));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrevoProvider>> BrevoProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, SourceAuth::CreateRequired(source, field_path));
  return std::unique_ptr<BrevoProvider>(new BrevoProvider(source.name, std::move(auth)));
}

absl::Status BrevoProvider::Verify(const WebhookRequest& request) const {
  return auth_.Check(request);
}

absl::StatusOr<DecodeResult> BrevoProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("brevo");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  DecodeResult result;

  if (const json::object* object = body.if_object(); object != nullptr && object->contains("items")) {
    const json::array* items = JsonArray(*object, "items");
    if (items == nullptr) return absl::InvalidArgumentError("brevo: \"items\" is not an array");
    v1::EmailEvent inbound_base = base;
    inbound_base.set_raw(request.body);
    for (size_t i = 0; i < items->size(); ++i) {
      const json::object* item = (*items)[i].if_object();
      if (item == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("brevo: items[", i, "] is not an object"));
      }
      absl::Status decoded = DecodeInbound(*item, inbound_base, request.received_at, result.events);
      if (!decoded.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("brevo: items[", i, "]: ", decoded.message()));
      }
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<JsonEventRef> events, JsonEvents(body, request.body, "brevo"));
    for (size_t i = 0; i < events.size(); ++i) {
      auto event = DecodeEvent(*events[i].object, events[i].raw, base, request.received_at);
      if (!event.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("brevo: element ", i, ": ", event.status().message()));
      }
      result.events.push_back(*std::move(event));
    }
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
