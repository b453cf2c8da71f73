#include "router/providers/mailjet_provider.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
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
      {"sent", v1::EVENT_TYPE_DELIVERED},     {"open", v1::EVENT_TYPE_OPENED},
      {"click", v1::EVENT_TYPE_CLICKED},      {"bounce", v1::EVENT_TYPE_BOUNCED},
      {"blocked", v1::EVENT_TYPE_DROPPED},    {"spam", v1::EVENT_TYPE_COMPLAINED},
      {"unsub", v1::EVENT_TYPE_UNSUBSCRIBED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == event) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

std::optional<bool> Bool(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

v1::BounceClass BounceClassOf(const json::object& event) {
  const std::optional<bool> hard = Bool(event, "hard_bounce");
  if (hard.value_or(false)) return v1::BOUNCE_CLASS_HARD;
  const std::string_view related = JsonString(event, "error_related_to");
  if (related == "spam" || related == "content") return v1::BOUNCE_CLASS_BLOCK;
  if (hard.has_value()) return v1::BOUNCE_CLASS_SOFT;
  return v1::BOUNCE_CLASS_UNDETERMINED;
}

// A header of the Parse API's Headers object: a string or an array of strings (the first).
std::string_view ParseHeader(const json::object& message, std::string_view name) {
  const json::object* headers = JsonObject(message, "Headers");
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

// "20150410T160638" as UTC.
std::optional<google::protobuf::Timestamp> ParseCompactDate(std::string_view text) {
  if (text.size() != 15 || text[8] != 'T') return std::nullopt;
  int fields[6];
  const size_t starts[] = {0, 4, 6, 9, 11, 13};
  const size_t lengths[] = {4, 2, 2, 2, 2, 2};
  for (int i = 0; i < 6; ++i) {
    int value = 0;
    for (size_t j = 0; j < lengths[i]; ++j) {
      const char c = text[starts[i] + j];
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      value = value * 10 + (c - '0');
    }
    fields[i] = value;
  }
  const absl::CivilSecond civil(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
  if (civil.month() != fields[1] || civil.day() != fields[2] || civil.hour() != fields[3] ||
      civil.minute() != fields[4] || civil.second() != fields[5]) {
    return std::nullopt;
  }
  return ToProtoTimestamp(absl::FromCivil(civil, absl::UTCTimeZone()));
}

absl::StatusOr<v1::EmailEvent> DecodeInbound(const json::object& message, v1::EmailEvent event) {
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_type("parse");
  const std::string message_id(ParseHeader(message, "Message-ID"));
  event.set_provider_event_key(absl::StrCat("inbound|", message_id));
  event.set_message_id(message_id);
  event.set_subject(std::string(JsonString(message, "Subject")));
  event.set_sender(std::string(JsonString(message, "Sender")));
  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_from(std::string(JsonString(message, "From")));
  if (const std::string_view to = ParseHeader(message, "To"); !to.empty()) {
    inbound->add_to(std::string(to));
  }
  if (const std::string_view cc = ParseHeader(message, "Cc"); !cc.empty()) {
    inbound->add_cc(std::string(cc));
  }
  inbound->set_subject(event.subject());
  inbound->set_text(std::string(JsonString(message, "Text-part")));
  inbound->set_html(std::string(JsonString(message, "Html-part")));
  inbound->set_in_reply_to(std::string(ParseHeader(message, "In-Reply-To")));
  for (std::string& id : SplitMessageIds(ParseHeader(message, "References"))) {
    inbound->add_references(std::move(id));
  }
  inbound->set_message_key(message_id);
  if (auto date = ParseCompactDate(JsonString(message, "Date"))) {
    *event.mutable_occurred_at() = *date;
  } else if (auto header_date = ParseRfc5322Date(ParseHeader(message, "Date")); header_date.ok()) {
    *event.mutable_occurred_at() = *header_date;
  } else {
    *event.mutable_occurred_at() = event.received_at();
  }
  for (const char* key : {"CustomID", "Payload"}) {
    if (const std::string_view value = JsonString(message, key); !value.empty()) {
      (*event.mutable_metadata())[key] = std::string(value);
    }
  }
  return ForRecipient(std::move(event), JsonString(message, "Recipient"));
}

absl::StatusOr<v1::EmailEvent> DecodeEvent(const json::object& object, std::string_view raw,
                                           const v1::EmailEvent& base) {
  v1::EmailEvent event = base;
  event.set_raw(std::string(raw));
  const std::string name(JsonString(object, "event"));
  if (name.empty()) {
    if (object.contains("Recipient") && object.contains("Headers")) {
      return DecodeInbound(object, std::move(event));
    }
    return absl::InvalidArgumentError("mailjet: an event without \"event\"");
  }
  event.set_provider_event_type(name);
  event.set_type(EventTypeOf(name));
  const std::string_view time = JsonString(object, "time");
  if (time.empty()) return absl::InvalidArgumentError("mailjet: an event without \"time\"");
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(time));
  const std::string message_id(JsonString(object, "MessageID"));
  event.set_message_id(message_id);
  event.set_ip(std::string(JsonString(object, "ip")));
  event.set_user_agent(std::string(JsonString(object, "agent")));
  std::string key = absl::StrCat(message_id, "|", name, "|", std::string(time));
  if (event.type() == v1::EVENT_TYPE_CLICKED) {
    const std::string_view url = JsonString(object, "url");
    event.mutable_click()->set_url(std::string(url));
    absl::StrAppend(&key, "|", std::string(url));
  }
  event.set_provider_event_key(std::move(key));
  if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    v1::Bounce* bounce = event.mutable_bounce();
    bounce->set_bounce_class(BounceClassOf(object));
    const std::string_view error = JsonString(object, "error");
    const std::string_view comment = JsonString(object, "comment");
    bounce->set_provider_type(std::string(error));
    bounce->set_diagnostic(std::string(comment.empty() ? error : comment));
    SmtpReply reply = ParseSmtpReply(JsonString(object, "smtp_reply"));
    bounce->set_smtp_code(std::move(reply.code));
    bounce->set_enhanced_status(std::move(reply.enhanced_status));
  }
  if (const std::string_view campaign = JsonString(object, "customcampaign"); !campaign.empty()) {
    event.add_tags(std::string(campaign));
  }
  for (const char* key_name : {"CustomID", "Payload"}) {
    if (const std::string_view value = JsonString(object, key_name); !value.empty()) {
      (*event.mutable_metadata())[key_name] = std::string(value);
    }
  }
  return ForRecipient(std::move(event), JsonString(object, "email"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MailjetProvider>> MailjetProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, SourceAuth::CreateRequired(source, field_path));
  return std::unique_ptr<MailjetProvider>(new MailjetProvider(source.name, std::move(auth)));
}

absl::Status MailjetProvider::Verify(const WebhookRequest& request) const {
  return auth_.Check(request);
}

absl::StatusOr<DecodeResult> MailjetProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  ASSIGN_OR_RETURN(std::vector<JsonEventRef> events, JsonEvents(body, request.body, "mailjet"));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("mailjet");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  DecodeResult result;
  for (size_t i = 0; i < events.size(); ++i) {
    auto event = DecodeEvent(*events[i].object, events[i].raw, base);
    if (!event.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mailjet: element ", i, ": ", event.status().message()));
    }
    result.events.push_back(*std::move(event));
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
