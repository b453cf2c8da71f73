#include "router/providers/postmark_provider.h"

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

struct BounceType {
  std::string_view name;
  v1::EventType type;
  v1::BounceClass bounce_class;
};

// Postmark's bounce types by name (bounce-api#bounce-types); the rest are BOUNCED UNDETERMINED.
constexpr BounceType kBounceTypes[] = {
    {"HardBounce", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_HARD},
    {"BadEmailAddress", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_HARD},
    {"ManuallyDeactivated", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_HARD},
    {"SoftBounce", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_SOFT},
    {"Transient", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_SOFT},
    {"DnsError", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_SOFT},
    {"Blocked", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_BLOCK},
    {"SpamNotification", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_BLOCK},
    {"DMARCPolicy", v1::EVENT_TYPE_BOUNCED, v1::BOUNCE_CLASS_BLOCK},
    {"Unsubscribe", v1::EVENT_TYPE_UNSUBSCRIBED, v1::BOUNCE_CLASS_UNSPECIFIED},
    {"Subscribe", v1::EVENT_TYPE_RESUBSCRIBED, v1::BOUNCE_CLASS_UNSPECIFIED},
    {"SpamComplaint", v1::EVENT_TYPE_COMPLAINED, v1::BOUNCE_CLASS_UNSPECIFIED},
};

absl::Status SetTimestamp(std::string_view rfc3339, absl::Time fallback, v1::EmailEvent& event) {
  if (rfc3339.empty()) {
    *event.mutable_occurred_at() = ToProtoTimestamp(fallback);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseRfc3339(rfc3339));
  return absl::OkStatus();
}

void SetBounce(const json::object& record, v1::BounceClass bounce_class, v1::EmailEvent& event) {
  v1::Bounce* bounce = event.mutable_bounce();
  bounce->set_bounce_class(bounce_class);
  bounce->set_provider_type(std::string(JsonString(record, "Type")));
  const std::string_view details = JsonString(record, "Details");
  bounce->set_diagnostic(std::string(details));
  SmtpReply reply = ParseSmtpReply(details);
  bounce->set_smtp_code(std::move(reply.code));
  bounce->set_enhanced_status(std::move(reply.enhanced_status));
}

// The value of the first header named `name` in Postmark's [{"Name":..,"Value":..}] list.
std::string_view HeaderValue(const json::object& record, std::string_view name) {
  const json::array* headers = JsonArray(record, "Headers");
  if (headers == nullptr) return {};
  for (const json::value& h : *headers) {
    const json::object* header = h.if_object();
    if (header == nullptr) continue;
    const std::string_view n = JsonString(*header, "Name");
    if (absl::EqualsIgnoreCase(absl::string_view(n.data(), n.size()),
                               absl::string_view(name.data(), name.size()))) {
      return JsonString(*header, "Value");
    }
  }
  return {};
}

std::vector<std::string> FullAddresses(const json::object& record, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* list = JsonArray(record, key)) {
    for (const json::value& v : *list) {
      if (const json::object* entry = v.if_object()) {
        const std::string_view email = JsonString(*entry, "Email");
        if (!email.empty()) out.emplace_back(email);
      }
    }
  }
  return out;
}

bool IsInbound(const json::object& record) {
  return record.contains("FromFull") || record.contains("OriginalRecipient");
}

absl::StatusOr<v1::EmailEvent> DecodeInbound(const json::object& record, v1::EmailEvent event) {
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_type("Inbound");
  const std::string message_id(JsonString(record, "MessageID"));
  event.set_provider_event_key(absl::StrCat("Inbound|", message_id));
  event.set_message_id(message_id);
  event.set_subject(std::string(JsonString(record, "Subject")));
  v1::Inbound* inbound = event.mutable_inbound();
  std::string_view from;
  if (const json::object* from_full = JsonObject(record, "FromFull")) {
    from = JsonString(*from_full, "Email");
  }
  if (from.empty()) from = JsonString(record, "From");
  inbound->set_from(std::string(from));
  event.set_sender(std::string(from));
  std::vector<std::string> to = FullAddresses(record, "ToFull");
  for (const std::string& address : to) inbound->add_to(address);
  for (const std::string& address : FullAddresses(record, "CcFull")) inbound->add_cc(address);
  inbound->set_subject(event.subject());
  inbound->set_text(std::string(JsonString(record, "TextBody")));
  inbound->set_html(std::string(JsonString(record, "HtmlBody")));
  inbound->set_in_reply_to(std::string(HeaderValue(record, "In-Reply-To")));
  for (std::string& id : SplitMessageIds(HeaderValue(record, "References"))) {
    inbound->add_references(std::move(id));
  }
  inbound->set_message_key(message_id);
  // Date is the sender's header; an unreadable one falls back to received_at (it is the
  // sender's text, not Postmark's, so it does not make the payload malformed).
  auto date = ParseRfc5322Date(JsonString(record, "Date"));
  if (date.ok()) {
    *event.mutable_occurred_at() = *date;
  } else {
    *event.mutable_occurred_at() = event.received_at();
  }
  if (const std::string_view tag = JsonString(record, "Tag"); !tag.empty()) {
    event.add_tags(std::string(tag));
  }
  std::string_view recipient = JsonString(record, "OriginalRecipient");
  if (recipient.empty() && !to.empty()) recipient = to.front();
  return ForRecipient(std::move(event), recipient);
}

absl::StatusOr<v1::EmailEvent> DecodeRecord(const json::object& record, std::string_view raw,
                                            const v1::EmailEvent& base, absl::Time received_at) {
  v1::EmailEvent event = base;
  event.set_raw(std::string(raw));
  const std::string record_type(JsonString(record, "RecordType"));
  if (record_type.empty() || record_type == "Inbound") {
    if (!IsInbound(record)) {
      return absl::InvalidArgumentError("postmark: an object with neither RecordType nor inbound "
                                        "fields");
    }
    return DecodeInbound(record, std::move(event));
  }
  event.set_provider_event_type(record_type);
  const std::string message_id(JsonString(record, "MessageID"));
  event.set_message_id(message_id);
  event.set_subject(std::string(JsonString(record, "Subject")));
  event.set_user_agent(std::string(JsonString(record, "UserAgent")));
  if (const json::object* geo = JsonObject(record, "Geo")) {
    event.set_ip(std::string(JsonString(*geo, "IP")));
  }
  if (const std::string_view tag = JsonString(record, "Tag"); !tag.empty()) {
    event.add_tags(std::string(tag));
  }
  if (const json::object* metadata = JsonObject(record, "Metadata")) {
    for (const auto& member : *metadata) {
      if (auto text = JsonScalarText(member.value())) {
        (*event.mutable_metadata())[std::string(member.key().data(), member.key().size())] = *text;
      }
    }
  }

  std::string_view recipient = JsonString(record, "Recipient");
  std::string_view timestamp;
  if (record_type == "Delivery") {
    event.set_type(v1::EVENT_TYPE_DELIVERED);
    timestamp = JsonString(record, "DeliveredAt");
  } else if (record_type == "Bounce" || record_type == "SpamComplaint") {
    recipient = JsonString(record, "Email");
    timestamp = JsonString(record, "BouncedAt");
    event.set_sender(std::string(JsonString(record, "From")));
    if (record_type == "SpamComplaint") {
      event.set_type(v1::EVENT_TYPE_COMPLAINED);
    } else {
      const std::string_view type_name = JsonString(record, "Type");
      event.set_type(v1::EVENT_TYPE_BOUNCED);
      v1::BounceClass bounce_class = v1::BOUNCE_CLASS_UNDETERMINED;
      for (const BounceType& known : kBounceTypes) {
        if (known.name == type_name) {
          event.set_type(known.type);
          bounce_class = known.bounce_class;
        }
      }
      if (event.type() == v1::EVENT_TYPE_BOUNCED) SetBounce(record, bounce_class, event);
    }
  } else if (record_type == "Open" || record_type == "Click") {
    timestamp = JsonString(record, "ReceivedAt");
    if (record_type == "Open") {
      event.set_type(v1::EVENT_TYPE_OPENED);
    } else {
      event.set_type(v1::EVENT_TYPE_CLICKED);
      event.mutable_click()->set_url(std::string(JsonString(record, "OriginalLink")));
    }
  } else if (record_type == "SubscriptionChange") {
    timestamp = JsonString(record, "ChangedAt");
    const json::value* suppress = record.if_contains("SuppressSending");
    const std::string_view reason = JsonString(record, "SuppressionReason");
    if (suppress != nullptr && suppress->is_bool() && !suppress->get_bool()) {
      event.set_type(v1::EVENT_TYPE_RESUBSCRIBED);
    } else if (reason == "HardBounce") {
      event.set_type(v1::EVENT_TYPE_BOUNCED);
      event.mutable_bounce()->set_bounce_class(v1::BOUNCE_CLASS_HARD);
      event.mutable_bounce()->set_provider_type(std::string(reason));
    } else if (reason == "SpamComplaint") {
      event.set_type(v1::EVENT_TYPE_COMPLAINED);
    } else {
      event.set_type(v1::EVENT_TYPE_UNSUBSCRIBED);
    }
  } else {
    event.set_type(v1::EVENT_TYPE_UNKNOWN);
    if (recipient.empty()) recipient = JsonString(record, "Email");
  }
  RETURN_IF_ERROR(SetTimestamp(timestamp, received_at, event));

  if (record_type == "Bounce" || record_type == "SpamComplaint") {
    event.set_provider_event_key(absl::StrCat(record_type, "|", std::string(JsonString(record, "ID"))));
  } else if (record_type == "Click") {
    event.set_provider_event_key(absl::StrCat("Click|", message_id, "|", std::string(timestamp), "|",
                                              std::string(JsonString(record, "OriginalLink"))));
  } else {
    event.set_provider_event_key(absl::StrCat(record_type, "|", message_id, "|", std::string(timestamp)));
  }
  return ForRecipient(std::move(event), recipient);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostmarkProvider>> PostmarkProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, SourceAuth::CreateRequired(source, field_path));
  return std::unique_ptr<PostmarkProvider>(new PostmarkProvider(source.name, std::move(auth)));
}

absl::Status PostmarkProvider::Verify(const WebhookRequest& request) const {
  return auth_.Check(request);
}

absl::StatusOr<DecodeResult> PostmarkProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  ASSIGN_OR_RETURN(std::vector<JsonEventRef> records, JsonEvents(body, request.body, "postmark"));
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("postmark");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  DecodeResult result;
  for (size_t i = 0; i < records.size(); ++i) {
    auto event = DecodeRecord(*records[i].object, records[i].raw, base, request.received_at);
    if (!event.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("postmark: element ", i, ": ",
                                                     event.status().message()));
    }
    result.events.push_back(*std::move(event));
  }
  if (result.events.empty()) result.control = "empty-batch";
  return result;
}

}  // namespace switchboard::providers
