#include "router/providers/sendgrid_inbound_provider.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/event_id.h"
#include "router/providers/gmime_util.h"
#include "router/providers/json_batch.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mail_fields.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

using gmime::AppendMailboxes;
using gmime::GPtr;
using gmime::HeaderBlock;
using gmime::InitGMime;
using gmime::MediaType;
using gmime::ParseAddresses;
using gmime::ParserOver;
using gmime::PartBytes;
using gmime::Text;
using gmime::ToUtf8;
using gmime::Trimmed;

// One form-data field: its name, the filename of a file part, and its bytes.
struct FormField {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string content_id;
  std::string bytes;
  bool is_file = false;
};

absl::StatusOr<std::vector<FormField>> ParseForm(const WebhookRequest& request) {
  const std::optional<std::string_view> content_type = request.Header("content-type");
  if (!content_type.has_value()) {
    return absl::InvalidArgumentError("sendgrid-inbound: no Content-Type");
  }
  const std::string type_text(*content_type);
  GPtr<GMimeContentType> type(g_mime_content_type_parse(nullptr, type_text.c_str()));
  if (type == nullptr || !g_mime_content_type_is_type(type.get(), "multipart", "form-data")) {
    return absl::InvalidArgumentError(
        absl::StrCat("sendgrid-inbound: Content-Type ", type_text, " is not multipart/form-data"));
  }
  if (Text(g_mime_content_type_get_parameter(type.get(), "boundary")).empty()) {
    return absl::InvalidArgumentError("sendgrid-inbound: multipart/form-data without boundary");
  }
  // The HTTP Content-Type becomes the entity's header so that GMime reads the body as its content.
  GPtr<GMimeParser> parser = ParserOver(absl::StrCat("Content-Type: ", type_text, "\r\n\r\n"),
                                        request.body);
  GPtr<GMimeObject> root(g_mime_parser_construct_part(parser.get(), nullptr));
  if (root == nullptr || !GMIME_IS_MULTIPART(root.get())) {
    return absl::InvalidArgumentError("sendgrid-inbound: the body is not readable as multipart");
  }
  GMimeMultipart* multipart = GMIME_MULTIPART(root.get());
  std::vector<FormField> fields;
  const int count = g_mime_multipart_get_count(multipart);
  for (int i = 0; i < count; ++i) {
    GMimeObject* part = g_mime_multipart_get_part(multipart, i);
    GMimeContentDisposition* disposition = g_mime_object_get_content_disposition(part);
    FormField field;
    if (disposition != nullptr) {
      field.name = Text(g_mime_content_disposition_get_parameter(disposition, "name"));
      field.filename = Text(g_mime_content_disposition_get_parameter(disposition, "filename"));
      field.is_file = g_mime_content_disposition_get_parameter(disposition, "filename") != nullptr;
    }
    if (field.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sendgrid-inbound: form part ", i, " has no form-data name"));
    }
    field.content_type = MediaType(part);
    field.content_id = Text(g_mime_object_get_content_id(part));
    field.bytes = PartBytes(part);
    fields.push_back(std::move(field));
  }
  return fields;
}

const FormField* Find(const std::vector<FormField>& fields, std::string_view name) {
  for (const FormField& field : fields) {
    if (!field.is_file && field.name == name) return &field;
  }
  return nullptr;
}

std::string_view Value(const std::vector<FormField>& fields, std::string_view name) {
  const FormField* field = Find(fields, name);
  return field == nullptr ? std::string_view() : std::string_view(field->bytes);
}

// One attachment: its description and its decoded bytes (placed by Decode: inline or stored).
struct MailAttachment {
  v1::Inbound::Attachment description;
  std::string bytes;
};

MailAttachment Describe(std::string filename, std::string content_type, std::string content_id,
                        std::string bytes) {
  v1::Inbound::Attachment attachment;
  attachment.set_filename(ToUtf8(filename, ""));
  attachment.set_content_type(ToUtf8(content_type, ""));
  attachment.set_content_id(ToUtf8(content_id, ""));
  attachment.set_size(bytes.size());
  auto digest = crypto::Sha256(bytes);
  if (digest.ok()) attachment.set_sha256(crypto::HexEncode(*digest));
  return {std::move(attachment), std::move(bytes)};
}

// What the mail itself says, from either mode.
struct Mail {
  GPtr<GMimeMessage> message;  // the parsed headers (default mode) or whole message (raw mode)
  std::string header_block;    // for the key of a mail without Message-ID
  std::string from;
  std::vector<std::string> to;
  std::vector<std::string> cc;
  std::string subject;
  std::string text;
  std::string html;
  std::vector<MailAttachment> attachments;
};

absl::StatusOr<GPtr<GMimeMessage>> ParseMessage(std::string_view text) {
  return gmime::ParseMessage(text, "sendgrid-inbound");
}

absl::StatusOr<Mail> ReadRawMode(std::string_view email) {
  Mail mail;
  ASSIGN_OR_RETURN(mail.message, ParseMessage(email));
  mail.header_block = std::string(HeaderBlock(email));
  std::vector<std::string> from;
  AppendMailboxes(g_mime_message_get_from(mail.message.get()), from);
  if (!from.empty()) mail.from = from.front();
  AppendMailboxes(g_mime_message_get_to(mail.message.get()), mail.to);
  AppendMailboxes(g_mime_message_get_cc(mail.message.get()), mail.cc);
  mail.subject = ToUtf8(Text(g_mime_message_get_subject(mail.message.get())), "");
  // Raw mode: the body parts of the message and a description of everything else that carries
  // content.
  gmime::MimeContent content = gmime::ReadContent(mail.message.get());
  mail.text = std::move(content.text);
  mail.html = std::move(content.html);
  for (gmime::MimeFile& file : content.files) {
    mail.attachments.push_back(Describe(std::move(file.filename), std::move(file.content_type),
                                        std::move(file.content_id), std::move(file.bytes)));
  }
  return mail;
}

absl::StatusOr<Mail> ReadDefaultMode(const std::vector<FormField>& fields,
                                     std::string_view headers) {
  Mail mail;
  // The field is the header block alone; the empty line makes it a message without body.
  ASSIGN_OR_RETURN(mail.message, ParseMessage(absl::StrCat(std::string(headers), "\n\n")));
  mail.header_block = std::string(headers);
  std::map<std::string, std::string, std::less<>> charsets;
  if (auto parsed = ParseJsonLossless(Value(fields, "charsets")); parsed.ok() && parsed->is_object()) {
    for (const auto& member : parsed->get_object()) {
      if (member.value().is_string()) {
        charsets[std::string(member.key())] = std::string(member.value().get_string());
      }
    }
  }
  const auto field_text = [&](std::string_view name) {
    const auto charset = charsets.find(name);
    return ToUtf8(Value(fields, name), charset == charsets.end() ? "" : charset->second);
  };
  std::vector<std::string> from = ParseAddresses(field_text("from"));
  if (!from.empty()) mail.from = from.front();
  mail.to = ParseAddresses(field_text("to"));
  mail.cc = ParseAddresses(field_text("cc"));
  mail.subject = field_text("subject");
  mail.text = field_text("text");
  mail.html = field_text("html");

  // attachment-info: {"attachment1": {"filename": ..., "type": ..., "content-id": ...}, ...}
  json::value info;
  if (auto parsed = ParseJsonLossless(Value(fields, "attachment-info")); parsed.ok()) {
    info = *std::move(parsed);
  }
  for (const FormField& field : fields) {
    if (!field.is_file) continue;
    std::string filename = field.filename;
    std::string content_type = field.content_type;
    std::string content_id = field.content_id;
    if (const json::object* all = info.if_object()) {
      if (const json::object* entry = JsonObject(*all, field.name)) {
        if (filename.empty()) filename = std::string(JsonString(*entry, "filename"));
        if (const std::string_view t = JsonString(*entry, "type"); !t.empty()) {
          content_type = std::string(t);
        }
        if (const std::string_view id = JsonString(*entry, "content-id"); !id.empty()) {
          content_id = std::string(id);
        }
      }
    }
    mail.attachments.push_back(Describe(std::move(filename), std::move(content_type),
                                        std::move(content_id), std::string(field.bytes)));
  }
  return mail;
}

struct Envelope {
  std::string from;
  std::vector<std::string> to;
};

absl::StatusOr<Envelope> ReadEnvelope(std::string_view text) {
  Envelope envelope;
  if (text.empty()) return envelope;
  auto parsed = ParseJsonLossless(text);
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::InvalidArgumentError("sendgrid-inbound: envelope is not a JSON object");
  }
  const json::object& object = parsed->get_object();
  envelope.from = std::string(JsonString(object, "from"));
  if (const json::array* to = JsonArray(object, "to")) {
    for (const json::value& v : *to) {
      if (v.is_string()) envelope.to.emplace_back(v.get_string());
    }
  }
  return envelope;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SendgridInboundProvider>> SendgridInboundProvider::Create(
    const config::SourceConfig& source, std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, SourceAuth::CreateRequired(source, field_path));
  InitGMime();
  return std::unique_ptr<SendgridInboundProvider>(
      new SendgridInboundProvider(source.name, std::move(auth), source.inline_attachments_max));
}

absl::Status SendgridInboundProvider::Verify(const WebhookRequest& request) const {
  return auth_.Check(request);
}

absl::StatusOr<DecodeResult> SendgridInboundProvider::Decode(const WebhookRequest& request) const {
  ASSIGN_OR_RETURN(const std::vector<FormField> fields, ParseForm(request));
  Mail mail;
  if (const FormField* email = Find(fields, "email")) {
    ASSIGN_OR_RETURN(mail, ReadRawMode(email->bytes));
  } else if (const FormField* headers = Find(fields, "headers")) {
    ASSIGN_OR_RETURN(mail, ReadDefaultMode(fields, headers->bytes));
  } else {
    return absl::InvalidArgumentError("sendgrid-inbound: neither a headers nor an email field");
  }
  ASSIGN_OR_RETURN(const Envelope envelope, ReadEnvelope(Value(fields, "envelope")));

  GMimeObject* headers = GMIME_OBJECT(mail.message.get());
  std::string message_id = Trimmed(g_mime_object_get_header(headers, "Message-ID"));
  if (message_id.empty()) {
    ASSIGN_OR_RETURN(const std::string digest, crypto::Sha256(mail.header_block));
    message_id = absl::StrCat("sha256:", crypto::HexEncode(digest));
  }

  v1::EmailEvent event;
  event.set_source(source_);
  event.set_provider("sendgrid-inbound");
  event.set_type(v1::EVENT_TYPE_RECEIVED);
  event.set_provider_event_type("inbound");
  event.set_provider_event_key(message_id);
  event.set_message_id(message_id);
  *event.mutable_received_at() = ToProtoTimestamp(request.received_at);
  auto date = ParseRfc5322Date(Trimmed(g_mime_object_get_header(headers, "Date")));
  *event.mutable_occurred_at() = date.ok() ? *date : event.received_at();
  event.set_sender(ToUtf8(envelope.from, ""));
  event.set_subject(mail.subject);
  event.set_raw(request.body);
  event.set_raw_format(v1::RAW_FORMAT_MIME);

  v1::Inbound* inbound = event.mutable_inbound();
  inbound->set_from(mail.from);
  for (const std::string& address : mail.to) inbound->add_to(ToUtf8(address, ""));
  for (const std::string& address : mail.cc) inbound->add_cc(ToUtf8(address, ""));
  inbound->set_subject(mail.subject);
  inbound->set_text(std::move(mail.text));
  inbound->set_html(std::move(mail.html));
  const std::string in_reply_to = Trimmed(g_mime_object_get_header(headers, "In-Reply-To"));
  inbound->set_in_reply_to(ToUtf8(in_reply_to, ""));
  for (std::string& id : SplitMessageIds(Trimmed(g_mime_object_get_header(headers, "References")))) {
    inbound->add_references(ToUtf8(id, ""));
  }
  inbound->set_spf(ToUtf8(Trimmed(std::string(Value(fields, "SPF")).c_str()), ""));
  inbound->set_dkim(ToUtf8(Trimmed(std::string(Value(fields, "dkim")).c_str()), ""));
  inbound->set_message_key(ToUtf8(message_id, ""));
  DecodeResult result;
  for (MailAttachment& attachment : mail.attachments) {
    v1::Inbound::Attachment* described = inbound->add_attachments();
    *described = std::move(attachment.description);
    if (attachment.bytes.size() <= inline_attachments_max_) {
      described->set_content(std::move(attachment.bytes));
    } else {
      described->set_stored(true);
      result.stored_attachments[described->sha256()] = std::move(attachment.bytes);
    }
  }
  event.set_message_id(inbound->message_key());
  event.set_provider_event_key(inbound->message_key());

  std::vector<std::string> recipients = envelope.to;
  if (recipients.empty()) {
    recipients = mail.to;
    recipients.insert(recipients.end(), mail.cc.begin(), mail.cc.end());
  }
  if (recipients.empty()) {
    ASSIGN_OR_RETURN(v1::EmailEvent single, ForRecipient(std::move(event), ""));
    result.events.push_back(std::move(single));
    return result;
  }
  std::set<std::string> seen;  // one event per recipient, even if the envelope repeats one
  for (const std::string& recipient : recipients) {
    auto one = ForRecipient(event, ToUtf8(recipient, ""));
    if (!one.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sendgrid-inbound: recipient: ", one.status().message()));
    }
    if (!seen.insert(one->recipient_key()).second) continue;
    result.events.push_back(*std::move(one));
  }
  return result;
}

}  // namespace switchboard::providers
