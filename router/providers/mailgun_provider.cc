#include "router/providers/mailgun_provider.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/form_urlencoded.h"
#include "router/providers/gmime_util.h"
#include "router/providers/json_batch.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mail_fields.h"
#include "router/providers/multipart_form.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr char kProvider[] = "mailgun";

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

enum class Shape { kJson, kForm, kMultipart };

// The fields of a urlencoded or multipart form, in order. Names compare case-insensitively
// (legacy webhooks send "Message-Id" next to lower-case names).
struct FormFields {
  std::vector<std::pair<std::string, std::string>> pairs;

  int Count(std::string_view name) const {
    return static_cast<int>(std::count_if(pairs.begin(), pairs.end(), [&](const auto& p) {
      return absl::EqualsIgnoreCase(p.first, Absl(name));
    }));
  }
  std::string Get(std::string_view name) const {
    for (const auto& [n, v] : pairs) {
      if (absl::EqualsIgnoreCase(n, Absl(name))) return v;
    }
    return "";
  }
};

// One parsed body and its signature fields ("" when absent; Verify refuses that).
struct Parsed {
  Shape shape = Shape::kJson;
  json::value json;   // kJson
  FormFields fields;  // kForm, kMultipart
  std::string timestamp;
  std::string token;
  std::string signature;
  bool duplicated = false;  // a signature field given more than once (forms)
  std::vector<MultipartPart> files;  // kMultipart: the parts with a filename (views into the body)
};

std::string Text(const json::object* object, std::string_view key) {
  if (object == nullptr) return "";
  return std::string(JsonText(*object, key).value_or(std::string_view()));
}

const json::object* Object(const json::object* object, std::string_view key) {
  return object == nullptr ? nullptr : JsonObject(*object, key);
}

absl::StatusOr<Parsed> Parse(const WebhookRequest& request) {
  Parsed parsed;
  const std::string_view content_type = request.Header("content-type").value_or("");
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  const absl::string_view media_lower = absl::StripAsciiWhitespace(Absl(media));
  if (absl::EqualsIgnoreCase(media_lower, "multipart/form-data")) {
    parsed.shape = Shape::kMultipart;
  } else if (absl::EqualsIgnoreCase(media_lower, "application/x-www-form-urlencoded")) {
    parsed.shape = Shape::kForm;
  } else if (absl::EqualsIgnoreCase(media_lower, "application/json")) {
    parsed.shape = Shape::kJson;
  } else {
    const absl::string_view body = absl::StripLeadingAsciiWhitespace(Absl(request.body));
    parsed.shape = absl::StartsWith(body, "{") ? Shape::kJson : Shape::kForm;
  }

  if (parsed.shape == Shape::kJson) {
    ASSIGN_OR_RETURN(parsed.json, ParseJsonLossless(request.body));
    const json::object* root = parsed.json.if_object();
    if (root == nullptr) return absl::InvalidArgumentError("mailgun: the body is not an object");
    const json::object* signature = JsonObject(*root, "signature");
    parsed.timestamp = Text(signature, "timestamp");
    parsed.token = Text(signature, "token");
    parsed.signature = Text(signature, "signature");
    return parsed;
  }
  if (parsed.shape == Shape::kForm) {
    ASSIGN_OR_RETURN(parsed.fields.pairs, ParseFormUrlEncoded(request.body));
  } else {
    ASSIGN_OR_RETURN(std::string boundary, MultipartBoundary(content_type));
    ASSIGN_OR_RETURN(std::vector<MultipartPart> parts,
                     ParseMultipartForm(request.body, boundary));
    for (MultipartPart& part : parts) {
      if (!part.filename.empty()) {  // a file upload: an attachment, not a field
        parsed.files.push_back(std::move(part));
        continue;
      }
      parsed.fields.pairs.emplace_back(std::move(part.name), std::string(part.body));
    }
  }
  for (const char* name : {"timestamp", "token", "signature"}) {
    if (parsed.fields.Count(name) > 1) parsed.duplicated = true;
  }
  parsed.timestamp = parsed.fields.Get("timestamp");
  parsed.token = parsed.fields.Get("token");
  parsed.signature = parsed.fields.Get("signature");
  return parsed;
}

v1::EventType TypeOf(std::string_view event, std::string_view severity, std::string_view reason) {
  if (event == "failed") {
    if (severity == "temporary") return v1::EVENT_TYPE_DEFERRED;
    if (reason.starts_with("suppress-")) return v1::EVENT_TYPE_DROPPED;
    return v1::EVENT_TYPE_BOUNCED;
  }
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"accepted", v1::EVENT_TYPE_SENT},
      {"delivered", v1::EVENT_TYPE_DELIVERED},
      {"rejected", v1::EVENT_TYPE_DROPPED},
      {"opened", v1::EVENT_TYPE_OPENED},
      {"clicked", v1::EVENT_TYPE_CLICKED},
      {"unsubscribed", v1::EVENT_TYPE_UNSUBSCRIBED},
      {"complained", v1::EVENT_TYPE_COMPLAINED},
      {"stored", v1::EVENT_TYPE_RECEIVED},
      // Legacy webhook event names.
      {"dropped", v1::EVENT_TYPE_DROPPED},
      {"bounced", v1::EVENT_TYPE_BOUNCED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == event) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

bool HasBounce(v1::EventType type) {
  return type == v1::EVENT_TYPE_BOUNCED || type == v1::EVENT_TYPE_DROPPED ||
         type == v1::EVENT_TYPE_DEFERRED;
}

v1::EmailEvent BaseEvent(std::string_view source, const WebhookRequest& request,
                         v1::RawFormat raw_format) {
  v1::EmailEvent event;
  event.set_source(std::string(source));
  event.set_provider(kProvider);
  *event.mutable_received_at() = ToProtoTimestamp(request.received_at);
  event.set_raw(request.body);
  event.set_raw_format(raw_format);
  return event;
}

// The non-empty, trimmed addresses of a comma list.
std::vector<std::string> SplitAddresses(std::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view piece : absl::StrSplit(Absl(list), ',')) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(piece);
    if (!trimmed.empty()) out.emplace_back(trimmed);
  }
  return out;
}

// event-data (JSON webhooks): one event per recipient.
absl::Status DecodeEventData(std::string_view source, const WebhookRequest& request,
                             const json::object& data, std::vector<v1::EmailEvent>* out) {
  const std::string name = Text(&data, "event");
  const std::string timestamp = Text(&data, "timestamp");
  if (name.empty() || timestamp.empty()) {
    return absl::InvalidArgumentError("mailgun: event-data needs event and timestamp");
  }
  v1::EmailEvent event = BaseEvent(source, request, v1::RAW_FORMAT_JSON);
  event.set_provider_event_type(name);
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(timestamp));
  const std::string severity = Text(&data, "severity");
  const std::string reason = Text(&data, "reason");
  event.set_type(TypeOf(name, severity, reason));

  const json::object* message = Object(&data, "message");
  const json::object* headers = Object(message, "headers");
  event.set_message_id(Text(headers, "message-id"));
  event.set_subject(Text(headers, "subject"));
  event.set_sender(Text(Object(&data, "envelope"), "sender"));
  std::string key = Text(&data, "id");
  if (key.empty()) key = absl::StrCat(event.message_id(), "|", name, "|", timestamp);
  event.set_provider_event_key(key);

  event.set_ip(Text(&data, "ip"));
  event.set_user_agent(Text(Object(&data, "client-info"), "user-agent"));
  if (event.type() == v1::EVENT_TYPE_CLICKED) event.mutable_click()->set_url(Text(&data, "url"));
  if (const json::array* tags = JsonArray(data, "tags")) {
    for (const json::value& tag : *tags) {
      if (const json::string* s = tag.if_string()) event.add_tags(std::string(s->data(), s->size()));
    }
  }
  if (const json::object* variables = JsonObject(data, "user-variables")) {
    for (const auto& member : *variables) {
      std::optional<std::string> text = JsonScalarText(member.value());
      (*event.mutable_metadata())[std::string(member.key())] =
          text.has_value() ? *std::move(text) : json::serialize(member.value());
    }
  }
  if (HasBounce(event.type())) {
    const json::object* status = Object(&data, "delivery-status");
    v1::Bounce* bounce = event.mutable_bounce();
    bounce->set_smtp_code(Text(status, "code"));
    std::string enhanced = Text(status, "enhanced-code");
    if (enhanced.empty()) enhanced = Text(status, "bounce-code");
    bounce->set_enhanced_status(enhanced);
    std::string diagnostic = Text(status, "message");
    if (diagnostic.empty()) diagnostic = Text(status, "description");
    if (diagnostic.empty()) diagnostic = Text(Object(&data, "reject"), "reason");
    bounce->set_diagnostic(diagnostic);
    bounce->set_provider_type(reason);
    // Mailgun "permanent" is its hard-bounce verdict (the address is added to the bounce list).
    if (event.type() == v1::EVENT_TYPE_BOUNCED) bounce->set_bounce_class(v1::BOUNCE_CLASS_HARD);
  }

  std::vector<std::string> recipients;
  if (const std::string recipient = Text(&data, "recipient"); !recipient.empty()) {
    recipients.push_back(recipient);
  } else if (const json::array* list = message == nullptr ? nullptr
                                                          : JsonArray(*message, "recipients")) {
    for (const json::value& r : *list) {
      if (const json::string* s = r.if_string()) recipients.emplace_back(s->data(), s->size());
    }
  }
  return AppendForRecipients(std::move(event), recipients, *out);
}

// message-headers: a JSON array of [name, value] pairs. Value of the first `name`, "" if none.
std::string MessageHeader(const json::value& headers, std::string_view name) {
  const json::array* list = headers.if_array();
  if (list == nullptr) return "";
  for (const json::value& pair : *list) {
    const json::array* p = pair.if_array();
    if (p == nullptr || p->size() != 2) continue;
    const json::string* n = (*p)[0].if_string();
    const json::string* v = (*p)[1].if_string();
    if (n != nullptr && v != nullptr && absl::EqualsIgnoreCase(Absl(*n), Absl(name))) {
      return std::string(v->data(), v->size());
    }
  }
  return "";
}

// The first word of an authentication verdict header ("Pass", "Fail ...") lower-cased.
std::string Verdict(std::string_view value) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(Absl(value));
  return absl::AsciiStrToLower(trimmed.substr(0, trimmed.find(' ')));
}

// content-id-map: a JSON object {"<content id>": "attachment-x"}. Attachment field name -> the
// content id without angle brackets; unreadable text maps nothing (the ids are optional).
std::map<std::string, std::string> ContentIds(std::string_view text) {
  std::map<std::string, std::string> ids;
  if (text.empty()) return ids;
  absl::StatusOr<json::value> map = ParseJsonLossless(text);
  if (!map.ok() || !map->is_object()) return ids;
  for (const auto& [cid, field] : map->get_object()) {
    const json::string* name = field.if_string();
    if (name == nullptr) continue;
    std::string id(cid.data(), cid.size());
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
    ids[absl::AsciiStrToLower(std::string(name->data(), name->size()))] = std::move(id);
  }
  return ids;
}

// Describes one attachment in `inbound`: its bytes inline up to `inline_max`, else kept for the
// store in `stored` (by sha256).
absl::Status AddAttachment(std::string filename, std::string content_type, std::string content_id,
                           std::string_view bytes, uint64_t inline_max, v1::Inbound* inbound,
                           std::map<std::string, std::string>* stored) {
  ASSIGN_OR_RETURN(const std::string digest, crypto::Sha256(bytes));
  v1::Inbound::Attachment* attachment = inbound->add_attachments();
  attachment->set_filename(std::move(filename));
  attachment->set_content_type(std::move(content_type));
  attachment->set_size(bytes.size());
  attachment->set_sha256(crypto::HexEncode(digest));
  attachment->set_content_id(std::move(content_id));
  if (bytes.size() <= inline_max) {
    attachment->set_content(std::string(bytes));
  } else {
    attachment->set_stored(true);
    (*stored)[attachment->sha256()] = std::string(bytes);
  }
  return absl::OkStatus();
}

// The attachment-x file parts of an inbound route post or a legacy webhook, described in
// `inbound` (AddAttachment).
absl::Status DescribeAttachments(const Parsed& parsed, uint64_t inline_max, v1::Inbound* inbound,
                                 std::map<std::string, std::string>* stored) {
  const std::map<std::string, std::string> content_ids =
      ContentIds(parsed.fields.Get("content-id-map"));
  for (const MultipartPart& file : parsed.files) {
    const std::string name = absl::AsciiStrToLower(file.name);
    if (!absl::StartsWith(name, "attachment-")) continue;
    auto cid = content_ids.find(name);
    RETURN_IF_ERROR(AddAttachment(file.filename, file.content_type,
                                  cid == content_ids.end() ? "" : cid->second, file.body,
                                  inline_max, inbound, stored));
  }
  return absl::OkStatus();
}

// The body-mime of a raw MIME route post (a field, or a file part of that name); nullopt if none.
std::optional<std::string> BodyMime(const Parsed& parsed) {
  if (parsed.fields.Count("body-mime") > 0) return parsed.fields.Get("body-mime");
  for (const MultipartPart& file : parsed.files) {
    if (absl::EqualsIgnoreCase(file.name, "body-mime")) return std::string(file.body);
  }
  return std::nullopt;
}

// Legacy webhooks and inbound routes: form fields. occurred_at is the signed timestamp.
absl::Status DecodeForm(std::string_view source, const WebhookRequest& request,
                        const Parsed& parsed, uint64_t inline_attachments_max,
                        DecodeResult* result) {
  std::vector<v1::EmailEvent>* out = &result->events;
  const FormFields& fields = parsed.fields;
  if (parsed.timestamp.empty()) return absl::InvalidArgumentError("mailgun: no timestamp field");
  v1::EmailEvent event = BaseEvent(source, request, v1::RAW_FORMAT_FORM);
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(parsed.timestamp));
  json::value headers;  // null unless message-headers is valid JSON
  if (const std::string text = fields.Get("message-headers"); !text.empty()) {
    auto parsed_headers = ParseJsonLossless(text);
    if (parsed_headers.ok()) headers = *std::move(parsed_headers);
  }
  const std::string name = fields.Get("event");
  // A route whose URL ends in "mime" posts the whole message as body-mime instead of the parsed
  // fields (body-plain, message-headers, attachment-x): its headers and parts are read from it.
  const std::optional<std::string> body_mime = name.empty() ? BodyMime(parsed) : std::nullopt;
  gmime::GPtr<GMimeMessage> mime;
  if (body_mime.has_value()) {
    if (body_mime->empty()) return absl::InvalidArgumentError("mailgun: body-mime is empty");
    ASSIGN_OR_RETURN(mime, gmime::ParseMessage(*body_mime, "mailgun: body-mime"));
  }
  // The value of a header of the mail: from body-mime, else from message-headers.
  const auto header = [&](std::string_view header_name) -> std::string {
    if (mime == nullptr) return MessageHeader(headers, header_name);
    return gmime::ToUtf8(gmime::Trimmed(g_mime_object_get_header(
                             GMIME_OBJECT(mime.get()), std::string(header_name).c_str())),
                         "");
  };
  std::string message_id = fields.Get("Message-Id");
  if (message_id.empty()) message_id = header("Message-Id");
  event.set_message_id(message_id);

  if (name.empty()) {
    // An inbound route: the posted message, one RECEIVED per envelope recipient.
    if (fields.Count("recipient") == 0 && fields.Count("body-plain") == 0 && mime == nullptr) {
      return absl::InvalidArgumentError("mailgun: a form without event nor inbound message fields");
    }
    event.set_type(v1::EVENT_TYPE_RECEIVED);
    event.set_provider_event_type("inbound");
    event.set_provider_event_key(
        message_id.empty() ? absl::StrCat("inbound|", parsed.timestamp, "|", parsed.token)
                           : message_id);
    event.set_sender(fields.Get("sender"));
    event.set_subject(fields.Get("subject"));
    v1::Inbound* inbound = event.mutable_inbound();
    inbound->set_from(fields.Get("from"));
    inbound->set_subject(fields.Get("subject"));
    for (std::string& to : SplitAddresses(header("To"))) inbound->add_to(to);
    for (std::string& cc : SplitAddresses(header("Cc"))) inbound->add_cc(cc);
    inbound->set_in_reply_to(header("In-Reply-To"));
    for (std::string& id : SplitMessageIds(header("References"))) {
      inbound->add_references(std::move(id));
    }
    inbound->set_spf(Verdict(header("X-Mailgun-Spf")));
    inbound->set_dkim(Verdict(header("X-Mailgun-Dkim-Check-Result")));
    inbound->set_message_key(event.provider_event_key());
    if (mime == nullptr) {
      inbound->set_text(fields.Get("body-plain"));
      inbound->set_html(fields.Get("body-html"));
      RETURN_IF_ERROR(DescribeAttachments(parsed, inline_attachments_max, inbound,
                                          &result->stored_attachments));
    } else {
      gmime::MimeContent content = gmime::ReadContent(mime.get());
      inbound->set_text(std::move(content.text));
      inbound->set_html(std::move(content.html));
      for (gmime::MimeFile& file : content.files) {
        RETURN_IF_ERROR(AddAttachment(gmime::ToUtf8(file.filename, ""),
                                      gmime::ToUtf8(file.content_type, ""),
                                      gmime::ToUtf8(file.content_id, ""), file.bytes,
                                      inline_attachments_max, inbound,
                                      &result->stored_attachments));
      }
    }
    return AppendForRecipients(std::move(event), SplitAddresses(fields.Get("recipient")), *out);
  }

  event.set_provider_event_type(name);
  event.set_type(TypeOf(name, "", ""));
  event.set_provider_event_key(absl::StrCat(message_id, "|", name, "|", parsed.timestamp));
  event.set_ip(fields.Get("ip"));
  event.set_user_agent(fields.Get("user-agent"));
  event.set_subject(MessageHeader(headers, "Subject"));
  if (event.type() == v1::EVENT_TYPE_CLICKED) event.mutable_click()->set_url(fields.Get("url"));
  for (const auto& [n, v] : fields.pairs) {
    if (absl::EqualsIgnoreCase(n, "tag") || absl::EqualsIgnoreCase(n, "X-Mailgun-Tag")) {
      event.add_tags(v);
    }
  }
  if (HasBounce(event.type())) {
    v1::Bounce* bounce = event.mutable_bounce();
    std::string diagnostic = fields.Get("error");
    if (diagnostic.empty()) diagnostic = fields.Get("description");
    if (diagnostic.empty()) diagnostic = fields.Get("notification");
    const SmtpReply reply = ParseSmtpReply(diagnostic);
    std::string code = fields.Get("code");
    bounce->set_smtp_code(code.empty() ? reply.code : code);
    bounce->set_enhanced_status(reply.enhanced_status);
    bounce->set_diagnostic(diagnostic);
    bounce->set_provider_type(fields.Get("reason"));
    // Legacy "bounced" is Mailgun's permanent failure (the address joins the bounce list).
    if (event.type() == v1::EVENT_TYPE_BOUNCED) bounce->set_bounce_class(v1::BOUNCE_CLASS_HARD);
  }
  // Legacy webhooks with attachment-x file parts (a bounce's attachments make the post multipart):
  // described like a route's, so nothing posted is dropped.
  v1::Inbound files;
  RETURN_IF_ERROR(DescribeAttachments(parsed, inline_attachments_max, &files,
                                      &result->stored_attachments));
  if (files.attachments_size() > 0) {
    event.mutable_inbound()->mutable_attachments()->Swap(files.mutable_attachments());
  }
  // Every other field is a custom variable (legacy webhooks post them as fields).
  static constexpr std::string_view kKnown[] = {
      "event",  "recipient",       "domain",      "message-headers", "Message-Id", "timestamp",
      "token",  "signature",       "ip",          "user-agent",      "url",        "tag",
      "X-Mailgun-Tag", "code",     "error",       "description",     "notification", "reason",
      "country", "region",         "city",        "device-type",     "client-type", "client-name",
      "client-os", "campaign-id",  "campaign-name", "mailing-list",  "attachment-count",
      "body-plain"};
  for (const auto& field : fields.pairs) {
    const std::string& field_name = field.first;
    const bool known = std::any_of(std::begin(kKnown), std::end(kKnown), [&](std::string_view k) {
      return absl::EqualsIgnoreCase(field_name, Absl(k));
    });
    if (!known && !absl::StartsWith(field_name, "attachment-")) {
      (*event.mutable_metadata())[field_name] = field.second;
    }
  }
  return AppendForRecipients(std::move(event), SplitAddresses(fields.Get("recipient")), *out);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MailgunProvider>> MailgunProvider::Create(
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
  gmime::InitGMime();
  return std::unique_ptr<MailgunProvider>(new MailgunProvider(
      source.name, source.signing_key, tolerance, replay_horizon, source.inline_attachments_max,
      clock));
}

absl::StatusOr<std::string> MailgunProvider::Sign(std::string_view signing_key,
                                                  std::string_view timestamp,
                                                  std::string_view token) {
  ASSIGN_OR_RETURN(std::string mac,
                   crypto::HmacSha256(signing_key, absl::StrCat(Absl(timestamp), Absl(token))));
  return crypto::HexEncode(mac);
}

absl::Duration MailgunProvider::TokenTtl() const {
  absl::Duration window = replay_horizon_;
  if (tolerance_ > absl::ZeroDuration()) window = std::min(window, tolerance_);
  // No window at all (tolerance off, no dedupe horizon): remember tokens for a week.
  if (window == absl::InfiniteDuration()) window = absl::Hours(24 * 7);
  return 2 * window;
}

absl::Status MailgunProvider::Verify(const WebhookRequest& request) const {
  absl::StatusOr<Parsed> parsed = Parse(request);
  if (!parsed.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("mailgun: signature fields unreadable: ", parsed.status().message()));
  }
  if (parsed->duplicated) {
    return absl::UnauthenticatedError("mailgun: a signature field is repeated");
  }
  if (parsed->timestamp.empty() || parsed->token.empty() || parsed->signature.empty()) {
    return absl::UnauthenticatedError("mailgun: missing timestamp, token or signature");
  }
  ASSIGN_OR_RETURN(absl::Time signed_at, ParseSignedTimestamp(parsed->timestamp));
  RETURN_IF_ERROR(CheckTimestampWindow(signed_at, clock_.Now(), tolerance_, replay_horizon_));
  auto given = crypto::HexDecode(parsed->signature);
  if (!given.ok()) return absl::UnauthenticatedError("mailgun: signature is not hex");
  ASSIGN_OR_RETURN(std::string expected,
                   crypto::HmacSha256(key_, parsed->timestamp + parsed->token));
  if (!crypto::ConstantTimeEquals(*given, expected)) {
    return absl::UnauthenticatedError("mailgun: signature does not match");
  }
  return absl::OkStatus();
}

absl::StatusOr<DecodeResult> MailgunProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(Parsed parsed, Parse(request));
  DecodeResult result;
  if (!parsed.token.empty()) {
    ASSIGN_OR_RETURN(std::string key_hash,
                     crypto::Sha256(absl::StrCat(source_, std::string(1, '\0'), parsed.token)));
    ASSIGN_OR_RETURN(std::string body_hash, crypto::Sha256(request.body));
    result.replay_guard = ReplayGuard{absl::StrCat("mailgun:", crypto::HexEncode(key_hash)),
                                      crypto::HexEncode(body_hash), TokenTtl()};
  }
  if (parsed.shape == Shape::kJson) {
    const json::object& root = parsed.json.get_object();
    const json::object* data = JsonObject(root, "event-data");
    if (data == nullptr) {
      if (root.contains("event-data")) {
        return absl::InvalidArgumentError("mailgun: event-data is not an object");
      }
      if (JsonObject(root, "signature") == nullptr) {
        return absl::InvalidArgumentError("mailgun: neither event-data nor signature");
      }
      result.control = "signature-only";
      return result;
    }
    RETURN_IF_ERROR(DecodeEventData(source_, request, *data, &result.events));
    return result;
  }
  if (parsed.fields.Count("event") == 0 && parsed.fields.Count("recipient") == 0 &&
      parsed.fields.Count("body-plain") == 0 && parsed.fields.Count("signature") > 0) {
    result.control = "signature-only";
    return result;
  }
  RETURN_IF_ERROR(DecodeForm(source_, request, parsed, inline_attachments_max_, &result));
  return result;
}

}  // namespace switchboard::providers
