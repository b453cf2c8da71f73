#include "router/routing/match_input.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/routing/domain.h"

namespace switchboard::routing {

MatchInput::MatchInput(const v1::EmailEvent& event) : event_(event) {
  const absl::string_view recipient = event.recipient();
  address_ = recipient;
  const size_t at = recipient.rfind('@');
  if (at == absl::string_view::npos) return;
  has_address_ = true;
  const absl::string_view domain = recipient.substr(at + 1);
  // Providers' recipients already have a lower-cased ASCII domain (NormalizeAddress): the views
  // point into the event and nothing is allocated.
  if (IsLowerAscii(domain)) {
    local_ = recipient.substr(0, at);
    domain_ = domain;
    return;
  }
  absl::StatusOr<std::string> ascii = DomainToAscii(domain);
  std::string normalized = ascii.ok() ? *std::move(ascii) : absl::AsciiStrToLower(domain);
  storage_ = absl::StrCat(recipient.substr(0, at + 1), normalized);
  address_ = storage_;
  local_ = address_.substr(0, at);
  domain_ = address_.substr(at + 1);
}

}  // namespace switchboard::routing
