#include "router/providers/sparkpost_provider.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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

v1::EventType EventTypeOf(std::string_view event_class, std::string_view type) {
  struct Known {
    std::string_view event_class;
    std::string_view type;
    v1::EventType event_type;
  };
  static constexpr Known kTypes[] = {
      {"message_event", "injection", v1::EVENT_TYPE_SENT},
      {"message_event", "delivery", v1::EVENT_TYPE_DELIVERED},
      {"message_event", "delay", v1::EVENT_TYPE_DEFERRED},
      {"message_event", "bounce", v1::EVENT_TYPE_BOUNCED},
      {"message_event", "out_of_band", v1::EVENT_TYPE_BOUNCED},
      {"message_event", "spam_complaint", v1::EVENT_TYPE_COMPLAINED},
      {"message_event", "policy_rejection", v1::EVENT_TYPE_DROPPED},
      {"message_event", "generation_failure", v1::EVENT_TYPE_DROPPED},
      {"message_event", "generation_rejection", v1::EVENT_TYPE_DROPPED},
      {"gen_event", "generation_failure", v1::EVENT_TYPE_DROPPED},
      {"gen_event", "generation_rejection", v1::EVENT_TYPE_DROPPED},
      {"track_event", "open", v1::EVENT_TYPE_OPENED},
      {"track_event", "initial_open", v1::EVENT_TYPE_OPENED},
      {"track_event", "amp_open", v1::EVENT_TYPE_OPENED},
      {"track_event", "amp_initial_open", v1::EVENT_TYPE_OPENED},
      {"track_event", "click", v1::EVENT_TYPE_CLICKED},
      {"track_event", "amp_click", v1::EVENT_TYPE_CLICKED},
      {"unsubscribe_event", "list_unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"unsubscribe_event", "link_unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED},
  };
  for (const Known& known : kTypes) {
    if (known.event_class == event_class && known.type == type) return known.event_type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

v1::BounceClass BounceClassOf(std::string_view code_text) {
  int code = 0;
  if (!absl::SimpleAtoi(absl::string_view(code_text.data(), code_text.size()), &code)) {
    return v1::BOUNCE_CLASS_UNDETERMINED;
  }
  switch (code) {
    case 10: case 30: case 90:
      return v1::BOUNCE_CLASS_HARD;
    case 20: case 21: case 22: case 23: case 24: case 40: case 60: case 70: case 100:
      return v1::BOUNCE_CLASS_SOFT;
    case 25: case 26: case 50: case 51: case 52: case 53: case 54: case 80:
      return v1::BOUNCE_CLASS_BLOCK;
    default:
      return v1::BOUNCE_CLASS_UNDETERMINED;
  }
}

absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(std::string_view text) {
  const bool epoch = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
  return epoch ? ParseEpochSeconds(text) : ParseRfc3339(text);
}

// content.headers is a list of one-member objects, in message order.
std::string_view RelayHeader(const json::object& content, std::string_view name) {
  const json::array* headers = JsonArray(content, "headers");
  if (headers == nullptr) return {};
  for (const json::value& h : *headers) {
    const json::object* header = h.if_object();
    if (header == nullptr) continue;
    for (const auto& member : *header) {
      if (absl::EqualsIgnoreCase(absl::string_view(member.key().data(), member.key().size()),
                                 absl::string_view(name.data(), name.size())) &&
          member.value().is_string()) {
        const json::string& s = member.value().get_string();
        return {s.data(), s.size()};
      }
    }
  }
  return {};
}

absl::StatusOr<v1::EmailEvent> DecodeRelay(const json::object& relay, v1::EmailEvent event) {
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_type("relay_message");
  const json::object empty;
  const json::object* content_ptr = JsonObject(relay, "content");
  const json::object& content = content_ptr != nullptr ? *content_ptr : empty;
  const std::string message_id(RelayHeader(content, "Message-ID"));
  event.set_message_id(message_id);
  event.set_provider_event_key(absl::StrCat("relay_message|", message_id));
  event.set_subject(std::string(JsonString(content, "subject")));
  event.set_sender(std::string(JsonString(relay, "friendly_from")));
  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_from(std::string(JsonString(relay, "msg_from")));
  for (const char* key : {"to", "cc"}) {
    if (const json::array* list = JsonArray(content, key)) {
      for (const json::value& v : *list) {
        if (const json::string* s = v.if_string()) {
          std::string address(s->data(), s->size());
          if (std::string_view(key) == "to") {
            inbound->add_to(std::move(address));
          } else {
            inbound->add_cc(std::move(address));
          }
        }
      }
    }
  }
  inbound->set_subject(event.subject());
  inbound->set_text(std::string(JsonString(content, "text")));
  inbound->set_html(std::string(JsonString(content, "html")));
  inbound->set_in_reply_to(std::string(RelayHeader(content, "In-Reply-To")));
  for (std::string& id : SplitMessageIds(RelayHeader(content, "References"))) {
    inbound->add_references(std::move(id));
  }
  inbound->set_message_key(message_id);
  auto date = ParseRfc5322Date(RelayHeader(content, "Date"));
  *event.mutable_occurred_at() = date.ok() ? *date : event.received_at();
  return ForRecipient(std::move(event), JsonString(relay, "rcpt_to"));
}

absl::StatusOr<v1::EmailEvent> DecodeEvent(std::string_view event_class,
                                           const json::object& fields, v1::EmailEvent event) {
  const std::string type(JsonString(fields, "type"));
  event.set_provider_event_type(type.empty() ? std::string(event_class) : type);
  event.set_type(EventTypeOf(event_class, type));
  const std::string_view timestamp = JsonString(fields, "timestamp");
  if (timestamp.empty()) {
    *event.mutable_occurred_at() = event.received_at();
  } else {
    ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseTimestamp(timestamp));
  }
  const std::string message_id(JsonString(fields, "message_id"));
  event.set_message_id(message_id);
  const std::string_view event_id = JsonString(fields, "event_id");
  event.set_provider_event_key(event_id.empty()
                                   ? absl::StrCat(type, "|", message_id, "|", std::string(timestamp))
                                   : std::string(event_id));
  event.set_subject(std::string(JsonString(fields, "subject")));
  event.set_sender(std::string(JsonString(fields, "friendly_from")));
  event.set_user_agent(std::string(JsonString(fields, "user_agent")));
  event.set_ip(std::string(JsonString(fields, "ip_address")));
  if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    v1::Bounce* bounce = event.mutable_bounce();
    const std::string_view bounce_class = JsonString(fields, "bounce_class");
    bounce->set_provider_type(std::string(bounce_class));
    bounce->set_bounce_class(BounceClassOf(bounce_class));
    std::string_view reason = JsonString(fields, "raw_reason");
    if (reason.empty()) reason = JsonString(fields, "reason");
    bounce->set_diagnostic(std::string(reason));
    SmtpReply reply = ParseSmtpReply(reason);
    bounce->set_smtp_code(reply.code.empty() ? std::string(JsonString(fields, "error_code"))
                                             : std::move(reply.code));
    bounce->set_enhanced_status(std::move(reply.enhanced_status));
  } else if (event.type() == v1::EVENT_TYPE_CLICKED) {
    event.mutable_click()->set_url(std::string(JsonString(fields, "target_link_url")));
  }
  if (const json::array* tags = JsonArray(fields, "rcpt_tags")) {
    for (const json::value& tag : *tags) {
      if (const json::string* s = tag.if_string()) event.add_tags(std::string(s->data(), s->size()));
    }
  }
  if (const json::object* meta = JsonObject(fields, "rcpt_meta")) {
    for (const auto& member : *meta) {
      if (auto text = JsonScalarText(member.value())) {
        (*event.mutable_metadata())[std::string(member.key().data(), member.key().size())] = *text;
      }
    }
  }
  std::string_view recipient = JsonString(fields, "raw_rcpt_to");
  if (recipient.empty()) recipient = JsonString(fields, "rcpt_to");
  return ForRecipient(std::move(event), recipient);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SparkpostProvider>> SparkpostProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, SourceAuth::CreateRequired(source, field_path));
  return std::unique_ptr<SparkpostProvider>(new SparkpostProvider(source.name, std::move(auth)));
}

absl::Status SparkpostProvider::Verify(const WebhookRequest& request) const {
  return auth_.Check(request);
}

absl::StatusOr<DecodeResult> SparkpostProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  if (!body.is_array()) {
    return absl::InvalidArgumentError("sparkpost: the payload is not a JSON array");
  }
  ASSIGN_OR_RETURN(std::vector<JsonEventRef> elements, JsonEvents(body, request.body, "sparkpost"));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("sparkpost");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  DecodeResult result;
  size_t pings = 0;
  for (size_t i = 0; i < elements.size(); ++i) {
    const json::object* msys = JsonObject(*elements[i].object, "msys");
    if (msys == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparkpost: element ", i, " has no \"msys\" object"));
    }
    if (msys->empty()) {
      ++pings;
      continue;
    }
    if (msys->size() != 1 || !msys->begin()->value().is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparkpost: element ", i, ": msys must hold one event object"));
    }
    const std::string_view event_class(msys->begin()->key().data(), msys->begin()->key().size());
    const json::object& fields = msys->begin()->value().get_object();
    v1::EmailEvent event = base;
    event.set_raw(std::string(elements[i].raw));
    auto decoded = event_class == "relay_message" ? DecodeRelay(fields, std::move(event))
                                                  : DecodeEvent(event_class, fields,
                                                                std::move(event));
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sparkpost: element ", i, ": ", decoded.status().message()));
    }
    result.events.push_back(*std::move(decoded));
  }
  if (result.events.empty()) result.control = pings > 0 ? "ping" : "empty-batch";
  return result;
}

}  // namespace switchboard::providers
