#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace switchboard::routing {

// A rule's recipient predicate: "local@domain" where either side may use the glob of glob.h
// ('*' and '?' never match '@'). Covers an exact address ("ops@example.com"), a whole domain
// ("*@example.com") and globs ("bounce-*@*.example.com"). The domain is compared
// case-insensitively (RFC 5321 §2.4); the local part exactly as sent, because only the receiving
// system may interpret its case. Immutable and thread-safe.
class RecipientPattern {
 public:
  // kInvalidArgument unless `pattern` has exactly one '@' with a non-empty side on each part.
  static absl::StatusOr<RecipientPattern> Parse(absl::string_view pattern);

  // `recipient` is EmailEvent.recipient (address as sent; its local part is compared) and
  // `recipient_key` EmailEvent.recipient_key (lower-cased; its domain is compared). An address
  // without '@' never matches.
  bool Matches(absl::string_view recipient, absl::string_view recipient_key) const;

 private:
  RecipientPattern(std::string local, std::string domain)
      : local_(std::move(local)), domain_(std::move(domain)) {}

  std::string local_;   // as written
  std::string domain_;  // lower-cased
};

}  // namespace switchboard::routing
