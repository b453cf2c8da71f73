#include "router/routing/domain.h"

#include <idn2.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace switchboard::routing {
namespace {

bool IsAscii(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

bool IsLowerAscii(absl::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || absl::ascii_isupper(u)) return false;
  }
  return true;
}

absl::StatusOr<std::string> DomainToAscii(absl::string_view domain) {
  if (IsAscii(domain)) return absl::AsciiStrToLower(std::string(domain));
  // idn2 reads a NUL-terminated string; NONTRANSITIONAL applies the UTS #46 mapping (case folding,
  // NFC) before the IDNA 2008 checks, as browsers and mail clients do.
  const std::string input(domain);
  char* output = nullptr;
  const int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("domain \"", input, "\" is not a valid IDN: ", idn2_strerror(rc)));
  }
  std::string ascii = absl::AsciiStrToLower(output);
  idn2_free(output);
  return ascii;
}

absl::StatusOr<std::string> DomainPatternToAscii(absl::string_view pattern) {
  if (IsAscii(pattern)) return absl::AsciiStrToLower(std::string(pattern));
  std::vector<std::string> labels;
  for (const absl::string_view label : absl::StrSplit(pattern, '.')) {
    const bool wildcard = label.find_first_of("*?") != absl::string_view::npos;
    if (wildcard && !IsAscii(label)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "domain label \"", std::string(label),
          "\" mixes a wildcard with non-ASCII letters: write that label in punycode"));
    }
    if (wildcard || label.empty()) {
      labels.push_back(absl::AsciiStrToLower(std::string(label)));
      continue;
    }
    auto ascii = DomainToAscii(label);
    if (!ascii.ok()) return ascii.status();
    labels.push_back(*std::move(ascii));
  }
  return absl::StrJoin(labels, ".");
}

}  // namespace switchboard::routing
