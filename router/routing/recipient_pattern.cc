#include "router/routing/recipient_pattern.h"

#include <utility>

#include "absl/strings/match.h"
#include "router/routing/domain.h"

namespace switchboard::routing {

absl::StatusOr<RecipientPattern> RecipientPattern::Parse(absl::string_view pattern,
                                                         GlobCase local_case) {
  const size_t at = pattern.find('@');
  if (at == absl::string_view::npos || pattern.find('@', at + 1) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "want an address pattern with exactly one '@': \"user@example.com\", "
        "\"*@example.com\", \"billing+*@example.com\" or a glob");
  }
  const absl::string_view local = pattern.substr(0, at);
  const absl::string_view domain = pattern.substr(at + 1);
  if (local.empty() || domain.empty()) {
    return absl::InvalidArgumentError("the local part and the domain must not be empty");
  }
  absl::StatusOr<std::string> ascii = DomainPatternToAscii(domain);
  if (!ascii.ok()) return ascii.status();
  RecipientPattern out;
  out.text_ = std::string(pattern);
  out.local_ = std::string(local);
  out.domain_ = *std::move(ascii);
  out.local_case_ = local_case;
  if (absl::EndsWith(local, "+*")) {
    const absl::string_view plain = local.substr(0, local.size() - 2);
    if (!plain.empty() && plain.find('+') == absl::string_view::npos) {
      out.plain_local_ = std::string(plain);
    }
  }
  return out;
}

bool RecipientPattern::Matches(const MatchInput& input) const {
  if (!input.has_address() || !GlobMatch(domain_, input.domain())) return false;
  return GlobMatch(local_, input.local(), local_case_) ||
         (!plain_local_.empty() && GlobMatch(plain_local_, input.local(), local_case_));
}

}  // namespace switchboard::routing
