#include "router/providers/postal_provider.h"

#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"
#include "router/common/crypto.h"
#include "router/providers/event_id.h"
#include "router/providers/gmime_util.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mail_fields.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

constexpr char kSha256Header[] = "X-Postal-Signature-256";
constexpr char kSha1Header[] = "X-Postal-Signature";

std::string Text(const json::object* object, std::string_view key) {
  if (object == nullptr) return "";
  return std::string(JsonText(*object, key).value_or(std::string_view()));
}

v1::EventType TypeOf(std::string_view event) {
  static constexpr std::pair<std::string_view, v1::EventType> kTypes[] = {
      {"MessageSent", v1::EVENT_TYPE_DELIVERED},
      {"MessageDelayed", v1::EVENT_TYPE_DEFERRED},
      {"MessageDeliveryFailed", v1::EVENT_TYPE_BOUNCED},
      {"MessageHeld", v1::EVENT_TYPE_DROPPED},
      {"MessageBounced", v1::EVENT_TYPE_BOUNCED},
      {"MessageLinkClicked", v1::EVENT_TYPE_CLICKED},
      {"MessageLoaded", v1::EVENT_TYPE_OPENED},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == event) return type;
  }
  return v1::EVENT_TYPE_UNKNOWN;
}

// The leading 3-digit SMTP reply code of Postal's "output" ("250 2.0.0 OK\n").
std::string ReplyCode(std::string_view output) {
  if (output.size() >= 3 && (output[0] == '2' || output[0] == '4' || output[0] == '5') &&
      absl::ascii_isdigit(output[1]) && absl::ascii_isdigit(output[2]) &&
      (output.size() == 3 || !absl::ascii_isdigit(output[3]))) {
    return std::string(output.substr(0, 3));
  }
  return "";
}

std::string BareOrText(std::string_view text) {
  auto bare = NormalizeAddress(text);
  return bare.ok() ? bare->recipient : std::string(text);
}

absl::StatusOr<DecodeResult> DecodeWebhook(const json::object& root, v1::EmailEvent event) {
  const std::string name = Text(&root, "event");
  const json::object* payload = JsonObject(root, "payload");
  event.set_provider_event_type(name);
  event.set_provider_event_key(Text(&root, "uuid"));
  if (event.provider_event_key().empty()) {
    return absl::InvalidArgumentError("postal: webhook without \"uuid\"");
  }
  event.set_type(TypeOf(name));
  const json::object* message = nullptr;
  if (payload != nullptr) {
    message = JsonObject(*payload, "message");
    if (message == nullptr) message = JsonObject(*payload, "original_message");
    if (JsonObject(*payload, "bounce") != nullptr) event.set_type(v1::EVENT_TYPE_BOUNCED);
  }
  std::string when = Text(payload, "timestamp");
  if (when.empty()) when = Text(&root, "timestamp");
  if (when.empty()) return absl::InvalidArgumentError("postal: webhook without \"timestamp\"");
  ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(when));

  event.set_message_id(Text(message, "message_id"));
  event.set_sender(BareOrText(Text(message, "from")));
  event.set_subject(Text(message, "subject"));
  if (const std::string tag = Text(message, "tag"); !tag.empty()) event.add_tags(tag);
  event.set_ip(Text(payload, "ip_address"));
  event.set_user_agent(Text(payload, "user_agent"));
  if (event.type() == v1::EVENT_TYPE_CLICKED) event.mutable_click()->set_url(Text(payload, "url"));
  if (event.type() == v1::EVENT_TYPE_BOUNCED) {
    v1::Bounce* bounce = event.mutable_bounce();
    const std::string status = Text(payload, "status");
    bounce->set_provider_type(status.empty() ? name : status);
    bounce->set_bounce_class(status == "HardFail" ? v1::BOUNCE_CLASS_HARD
                                                  : v1::BOUNCE_CLASS_UNDETERMINED);
    bounce->set_diagnostic(Text(payload, "output"));
    bounce->set_smtp_code(ReplyCode(bounce->diagnostic()));
  }
  DecodeResult result;
  const std::string to = event.type() == v1::EVENT_TYPE_UNKNOWN ? "" : Text(message, "to");
  ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(std::move(event), to));
  result.events.push_back(std::move(one));
  return result;
}

// The MIME text of a raw-format post: "message", base64-decoded when "base64" is true (line
// breaks allowed: Ruby's Base64.encode64 wraps at 60 columns). nullopt when it does not decode.
std::optional<std::string> RawMime(const json::object& root) {
  const std::string message = Text(&root, "message");
  const json::value* base64 = root.if_contains("base64");
  if (base64 == nullptr || !base64->is_bool() || !base64->get_bool()) return message;
  std::string compact;
  for (char c : message) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  auto decoded = crypto::Base64Decode(compact);
  if (!decoded.ok()) return std::nullopt;
  return *std::move(decoded);
}

// Fills `event` from the headers of a raw-format message (GMime) and returns its To and Cc
// mailboxes, in order. Nothing when GMime reads no message.
std::vector<std::string> ReadRawMime(std::string_view mime, v1::EmailEvent& event) {
  std::vector<std::string> recipients;
  auto message = gmime::ParseMessage(mime, "postal");
  if (!message.ok()) return recipients;
  GMimeMessage* m = message->get();
  GMimeObject* headers = GMIME_OBJECT(m);
  v1::Inbound* inbound = event.mutable_inbound();
  std::vector<std::string> from;
  gmime::AppendMailboxes(g_mime_message_get_from(m), from);
  if (!from.empty()) {
    inbound->set_from(gmime::ToUtf8(from.front(), ""));
    event.set_sender(inbound->from());
  }
  std::vector<std::string> to;
  std::vector<std::string> cc;
  gmime::AppendMailboxes(g_mime_message_get_to(m), to);
  gmime::AppendMailboxes(g_mime_message_get_cc(m), cc);
  for (const std::string& a : to) inbound->add_to(gmime::ToUtf8(a, ""));
  for (const std::string& a : cc) inbound->add_cc(gmime::ToUtf8(a, ""));
  event.set_subject(gmime::ToUtf8(gmime::Text(g_mime_message_get_subject(m)), ""));
  inbound->set_subject(event.subject());
  inbound->set_in_reply_to(
      gmime::ToUtf8(gmime::Trimmed(g_mime_object_get_header(headers, "In-Reply-To")), ""));
  for (std::string& id :
       SplitMessageIds(gmime::Trimmed(g_mime_object_get_header(headers, "References")))) {
    inbound->add_references(gmime::ToUtf8(id, ""));
  }
  const std::string message_id =
      gmime::ToUtf8(gmime::Trimmed(g_mime_object_get_header(headers, "Message-ID")), "");
  if (!message_id.empty()) {
    event.set_message_id(message_id);
    inbound->set_message_key(message_id);
  }
  auto date = ParseRfc5322Date(gmime::Trimmed(g_mime_object_get_header(headers, "Date")));
  if (date.ok()) *event.mutable_occurred_at() = *date;
  recipients = std::move(to);
  recipients.insert(recipients.end(), cc.begin(), cc.end());
  return recipients;
}

absl::StatusOr<DecodeResult> DecodeInbound(const json::object& root, v1::EmailEvent event) {
  const std::string id = Text(&root, "id");
  if (id.empty()) return absl::InvalidArgumentError("postal: inbound message without \"id\"");
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_key(absl::StrCat("inbound:", id));
  const bool raw_format = root.contains("base64");
  event.set_provider_event_type(raw_format ? "inbound.raw" : "inbound.processed");
  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_message_key(id);
  std::vector<std::string> recipients;
  if (raw_format) {
    if (std::optional<std::string> mime = RawMime(root)) recipients = ReadRawMime(*mime, event);
    // The envelope recipient, when the post names it, is who the mail was delivered to.
    if (const std::string rcpt = Text(&root, "rcpt_to"); !rcpt.empty()) recipients = {rcpt};
  } else {
    const std::string when = Text(&root, "timestamp");
    if (!when.empty()) {
      ASSIGN_OR_RETURN(*event.mutable_occurred_at(), ParseEpochSeconds(when));
    }
    event.set_message_id(Text(&root, "message_id"));
    event.set_subject(Text(&root, "subject"));
    event.set_sender(BareOrText(Text(&root, "mail_from")));
    inbound->set_from(Text(&root, "from"));
    if (const std::string v = Text(&root, "to"); !v.empty()) inbound->add_to(v);
    if (const std::string v = Text(&root, "cc"); !v.empty()) inbound->add_cc(v);
    inbound->set_subject(event.subject());
    inbound->set_text(Text(&root, "plain_body"));
    inbound->set_html(Text(&root, "html_body"));
    inbound->set_in_reply_to(Text(&root, "in_reply_to"));
    if (const std::string refs = Text(&root, "references"); !refs.empty()) {
      inbound->add_references(refs);
    }
    inbound->set_message_key(event.message_id().empty() ? id : event.message_id());
    recipients = {Text(&root, "rcpt_to")};
  }
  DecodeResult result;
  if (recipients.empty()) recipients.emplace_back();  // one event without recipient
  std::set<std::string> seen;  // one event per recipient, even if To and Cc repeat one
  for (const std::string& recipient : recipients) {
    ASSIGN_OR_RETURN(v1::EmailEvent one, ForRecipient(event, recipient));
    if (!seen.insert(one.recipient_key()).second) continue;
    result.events.push_back(std::move(one));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostalProvider>> PostalProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  const std::string path(field_path);
  if (source.public_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".public_key: required"));
  }
  auto key = crypto::RsaPublicKey::Parse(source.public_key);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".public_key: ", key.status().message()));
  }
  gmime::InitGMime();
  return std::unique_ptr<PostalProvider>(new PostalProvider(source.name, *std::move(key)));
}

absl::Status PostalProvider::Verify(const WebhookRequest& request) const {
  for (const char* header : {kSha256Header, kSha1Header}) {
    if (request.CountHeader(header) > 1) {
      return absl::UnauthenticatedError(absl::StrCat("duplicated ", header, " header"));
    }
  }
  const bool sha256 = request.CountHeader(kSha256Header) == 1;
  const char* header = sha256 ? kSha256Header : kSha1Header;
  const std::optional<std::string_view> value = request.Header(header);
  if (!value) return absl::UnauthenticatedError("missing X-Postal-Signature(-256) header");
  auto signature = crypto::Base64Decode(*value);
  if (!signature.ok() || signature->empty()) {
    return absl::UnauthenticatedError(absl::StrCat(header, " is not strict base64"));
  }
  return key_.Verify(sha256 ? crypto::RsaDigest::kSha256 : crypto::RsaDigest::kSha1,
                     request.body, *signature);
}

absl::StatusOr<DecodeResult> PostalProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(json::value body, ParseJsonLossless(request.body));
  const json::object* root = body.if_object();
  if (root == nullptr) return absl::InvalidArgumentError("postal: the body is not a JSON object");
  v1::EmailEvent base;
  base.set_source(source_);
  base.set_provider("postal");
  *base.mutable_received_at() = ToProtoTimestamp(request.received_at);
  *base.mutable_occurred_at() = ToProtoTimestamp(request.received_at);
  base.set_raw(request.body);
  base.set_raw_format(v1::RAW_FORMAT_JSON);
  if (root->contains("event") && root->contains("payload")) return DecodeWebhook(*root, base);
  if (root->contains("rcpt_to") || (root->contains("message") && root->contains("base64"))) {
    return DecodeInbound(*root, base);
  }
  return absl::InvalidArgumentError("postal: neither a webhook nor an inbound message");
}

}  // namespace switchboard::providers
