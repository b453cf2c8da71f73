#include "router/providers/gmime_util.h"

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace switchboard::providers::gmime {

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Text(const char* text) { return text == nullptr ? std::string() : std::string(text); }

std::string Trimmed(const char* text) {
  return std::string(absl::StripAsciiWhitespace(Text(text)));
}

GPtr<GMimeParser> ParserOver(std::string_view prefix, std::string_view body) {
  GByteArray* bytes = g_byte_array_sized_new(static_cast<guint>(prefix.size() + body.size()));
  g_byte_array_append(bytes, reinterpret_cast<const guint8*>(prefix.data()),
                      static_cast<guint>(prefix.size()));
  g_byte_array_append(bytes, reinterpret_cast<const guint8*>(body.data()),
                      static_cast<guint>(body.size()));
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_byte_array(bytes));
  return GPtr<GMimeParser>(g_mime_parser_new_with_stream(stream.get()));
}

namespace {

std::string StreamBytes(GMimeStream* stream) {
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

}  // namespace

std::string PartBytes(GMimeObject* object) {
  GPtr<GMimeStream> out(g_mime_stream_mem_new());
  if (GMIME_IS_PART(object)) {
    if (GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(object))) {
      g_mime_data_wrapper_write_to_stream(content, out.get());
    }
  } else if (GMIME_IS_MESSAGE_PART(object)) {
    if (GMimeMessage* message = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object))) {
      g_mime_object_write_to_stream(GMIME_OBJECT(message), nullptr, out.get());
    }
  } else {
    g_mime_object_write_content_to_stream(object, nullptr, out.get());
  }
  return StreamBytes(out.get());
}

std::string MediaType(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return {};
  GString text(g_mime_content_type_get_mime_type(type));
  return absl::AsciiStrToLower(Text(text.get()));
}

std::string ToUtf8(std::string_view bytes, std::string_view charset) {
  std::string converted(bytes);
  if (!charset.empty()) {
    const char* name = g_mime_charset_iconv_name(std::string(charset).c_str());
    if (name != nullptr && g_ascii_strcasecmp(name, "UTF-8") != 0) {
      gsize written = 0;
      GString out(g_convert(bytes.data(), static_cast<gssize>(bytes.size()), "UTF-8", name,
                            nullptr, &written, nullptr));
      if (out != nullptr) converted.assign(out.get(), written);
    }
  }
  if (!g_utf8_validate(converted.data(), static_cast<gssize>(converted.size()), nullptr)) {
    GString valid(g_utf8_make_valid(converted.data(), static_cast<gssize>(converted.size())));
    converted = Text(valid.get());
  }
  return absl::StrReplaceAll(converted, {{"\r\n", "\n"}});
}

namespace {

void WalkParts(GMimeObject* object, MimeContent& content) {
  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(object);
    const int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; ++i) WalkParts(g_mime_multipart_get_part(multipart, i), content);
    return;
  }
  const std::string media_type = MediaType(object);
  std::string filename;
  if (GMIME_IS_PART(object)) {
    GMimePart* part = GMIME_PART(object);
    filename = Text(g_mime_part_get_filename(part));
    const bool attachment = g_mime_part_is_attachment(part) || !filename.empty();
    if (!attachment && GMIME_IS_TEXT_PART(object)) {
      std::string* body = media_type == "text/plain"  ? &content.text
                          : media_type == "text/html" ? &content.html
                                                      : nullptr;
      if (body != nullptr && body->empty()) {
        GString text(g_mime_text_part_get_text(GMIME_TEXT_PART(object)));
        *body = ToUtf8(Text(text.get()), "");
        return;
      }
    }
  }
  content.files.push_back(
      {filename, media_type, Text(g_mime_object_get_content_id(object)), PartBytes(object)});
}

}  // namespace

MimeContent ReadContent(GMimeMessage* message) {
  MimeContent content;
  if (GMimeObject* body = g_mime_message_get_mime_part(message)) WalkParts(body, content);
  return content;
}

void AppendMailboxes(InternetAddressList* list, std::vector<std::string>& out) {
  if (list == nullptr) return;
  const int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_MAILBOX(address)) {
      const std::string addr =
          Trimmed(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)));
      if (!addr.empty()) out.push_back(addr);
    } else if (INTERNET_ADDRESS_IS_GROUP(address)) {
      AppendMailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out);
    }
  }
}

std::vector<std::string> ParseAddresses(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  GPtr<InternetAddressList> list(internet_address_list_parse(nullptr, std::string(text).c_str()));
  AppendMailboxes(list.get(), out);
  return out;
}

std::string_view HeaderBlock(std::string_view message) {
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '\n') continue;
    const size_t next = i + 1;
    if (next < message.size() && message[next] == '\n') return message.substr(0, next);
    if (next + 1 < message.size() && message[next] == '\r' && message[next + 1] == '\n') {
      return message.substr(0, next);
    }
  }
  return message;
}

absl::StatusOr<GPtr<GMimeMessage>> ParseMessage(std::string_view text, std::string_view what) {
  GPtr<GMimeParser> parser = ParserOver({}, text);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (message == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": the mail's headers are not readable"));
  }
  return message;
}

}  // namespace switchboard::providers::gmime
