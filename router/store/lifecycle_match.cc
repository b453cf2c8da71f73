#include "router/store/lifecycle_match.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::store {
namespace {

bool IsLocalPartChar(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' ||
         c >= 0x80;
}
bool IsDomainChar(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '.' || c == '-' || c >= 0x80;
}

bool MentionsLowered(const std::string& lowered_body, const std::string& needle) {
  if (needle.empty()) return false;
  for (size_t at = lowered_body.find(needle); at != std::string::npos;
       at = lowered_body.find(needle, at + 1)) {
    const bool start_ok =
        at == 0 || !IsLocalPartChar(static_cast<unsigned char>(lowered_body[at - 1]));
    const size_t end = at + needle.size();
    const bool end_ok =
        end == lowered_body.size() || !IsDomainChar(static_cast<unsigned char>(lowered_body[end]));
    if (start_ok && end_ok) return true;
  }
  return false;
}

}  // namespace

std::string RecipientKey(std::string_view address) {
  return absl::AsciiStrToLower(absl::string_view(address.data(), address.size()));
}

std::string RecipientKeyNeedle(std::string_view key) {
  v1::EmailEvent probe;
  probe.set_recipient_key(std::string(key));
  return probe.SerializeAsString();
}

bool BodyMentionsAddress(std::string_view body, std::string_view address) {
  const std::string lowered_body =
      absl::AsciiStrToLower(absl::string_view(body.data(), body.size()));
  const std::string key = RecipientKey(address);
  if (MentionsLowered(lowered_body, key)) return true;
  return MentionsLowered(lowered_body, absl::StrReplaceAll(key, {{"@", "%40"}}));
}

std::string EncodeHeaderLines(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    std::string clean = value;
    std::replace_if(clean.begin(), clean.end(), [](char c) { return c == '\r' || c == '\n'; },
                    ' ');
    absl::StrAppend(&out, name, ": ", clean, "\n");
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> DecodeHeaderLines(std::string_view lines) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(lines.data(), lines.size()), '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(": ");
    if (colon == absl::string_view::npos) continue;
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  return headers;
}

}  // namespace switchboard::store
