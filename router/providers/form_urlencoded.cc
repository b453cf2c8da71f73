#include "router/providers/form_urlencoded.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace switchboard::providers {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const bool complete = i + 2 < text.size();
      const int high = complete ? HexValue(text[i + 1]) : -1;
      const int low = complete ? HexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return absl::InvalidArgumentError("form body: '%' not followed by two hex digits");
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseFormUrlEncoded(
    std::string_view body) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '&', absl::SkipEmpty())) {
    const std::string_view part(piece.data(), piece.size());
    const size_t eq = part.find('=');
    const std::string_view name = part.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view()
                                                                 : part.substr(eq + 1);
    absl::StatusOr<std::string> decoded_name = Decode(name);
    if (!decoded_name.ok()) return decoded_name.status();
    absl::StatusOr<std::string> decoded_value = Decode(value);
    if (!decoded_value.ok()) return decoded_value.status();
    pairs.emplace_back(*std::move(decoded_name), *std::move(decoded_value));
  }
  return pairs;
}

std::string FormUrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '*' || c == '-' || c == '.' || c == '_') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

}  // namespace switchboard::providers
