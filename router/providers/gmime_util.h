#pragma once

#include <gmime/gmime.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// GMime 3 (https://github.com/jstedfast/gmime) helpers shared by the providers that read mail:
// SendGrid Inbound Parse (forms and raw MIME), Mailgun's raw MIME route posts (body-mime) and
// Postal's raw-format inbound. Internal to the
// providers library (GMime is linked privately). Thread-safe: GMime objects are created per call
// and g_mime_init runs once per process (InitGMime).
namespace switchboard::providers::gmime {

// GMime/GLib objects are reference counted; these hold one reference each.
struct ObjectUnref {
  void operator()(void* object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, ObjectUnref>;
struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GString = std::unique_ptr<char, GFree>;

// g_mime_init, once per process (its GTypes and charset tables live until exit).
void InitGMime();

// `text` as a string ("" for null), and with ASCII whitespace stripped.
std::string Text(const char* text);
std::string Trimmed(const char* text);

// A GMime parser over `prefix` + `body`, copied once into a byte array the stream owns.
GPtr<GMimeParser> ParserOver(std::string_view prefix, std::string_view body);

// The bytes a part carries, Content-Transfer-Encoding undone; a message part as its message.
std::string PartBytes(GMimeObject* object);

// The lower-case media type of an object ("text/plain"), "" when it has none.
std::string MediaType(GMimeObject* object);

// `bytes` as UTF-8: converted from `charset` when one is named, and in any case made valid
// (invalid sequences become U+FFFD), since protobuf strings must be UTF-8. Line breaks become LF:
// form fields arrive with CRLF on the wire (RFC 7578) and with LF from some relays, and the event
// must not depend on which.
std::string ToUtf8(std::string_view bytes, std::string_view charset);

// A part of a mail that carries content but is not one of its bodies: an attachment, an inline
// image, a nested message. Strings as the part names them; bytes with the Content-Transfer-Encoding
// undone.
struct MimeFile {
  std::string filename;      // "" when unnamed
  std::string content_type;  // lower-case media type
  std::string content_id;    // without angle brackets, "" if none
  std::string bytes;
};

// The bodies and files of a message: the first text/plain and first text/html parts that are not
// attachments (as UTF-8, LF line breaks: ToUtf8), and every other part that carries content, in
// order.
struct MimeContent {
  std::string text;
  std::string html;
  std::vector<MimeFile> files;
};
MimeContent ReadContent(GMimeMessage* message);

// The mailbox addresses of a list (bare addr-spec, display names dropped), groups flattened, in
// order.
void AppendMailboxes(InternetAddressList* list, std::vector<std::string>& out);

// The mailbox addresses of an RFC 5322 address-list text ("A <a@x>, b@y").
std::vector<std::string> ParseAddresses(std::string_view text);

// The header block of an RFC 5322 message: everything before the first empty line.
std::string_view HeaderBlock(std::string_view message);

// `text` parsed as an RFC 5322 message. kInvalidArgument "<what>: the mail's headers are not
// readable" when GMime builds no message from it.
absl::StatusOr<GPtr<GMimeMessage>> ParseMessage(std::string_view text, std::string_view what);

}  // namespace switchboard::providers::gmime
