#include "router/routing/recipient_pattern.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "router/routing/glob.h"

namespace switchboard::routing {

absl::StatusOr<RecipientPattern> RecipientPattern::Parse(absl::string_view pattern) {
  const size_t at = pattern.find('@');
  if (at == absl::string_view::npos || pattern.find('@', at + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "want an address pattern with exactly one '@': \"user@example.com\", "
        "\"*@example.com\" or a glob");
  }
  const absl::string_view local = pattern.substr(0, at);
  const absl::string_view domain = pattern.substr(at + 1);
  if (local.empty() || domain.empty()) {
    return absl::InvalidArgumentError("the local part and the domain must not be empty");
  }
  return RecipientPattern(std::string(local), absl::AsciiStrToLower(domain));
}

bool RecipientPattern::Matches(absl::string_view recipient, absl::string_view recipient_key) const {
  // The last '@' separates the domain; a quoted local part may itself contain '@', and the glob
  // then refuses to match it (its '*' and '?' never match '@').
  const size_t local_end = recipient.rfind('@');
  const size_t domain_at = recipient_key.rfind('@');
  if (local_end == absl::string_view::npos || domain_at == absl::string_view::npos) return false;
  return GlobMatch(domain_, recipient_key.substr(domain_at + 1)) &&
         GlobMatch(local_, recipient.substr(0, local_end));
}

}  // namespace switchboard::routing
