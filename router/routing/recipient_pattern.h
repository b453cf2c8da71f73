#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/routing/glob.h"
#include "router/routing/match_input.h"

namespace switchboard::routing {

// A rule's `recipient` pattern: "local@domain" where either side may use the glob of glob.h
// ('*' and '?' never match '@'). Covers an exact address ("ops@example.com"), a whole domain
// ("*@example.com") and globs ("bounce-*@*.example.com").
// - Plus tags: a local part "P+*" (P without '+') also matches the plain "P": "billing+*@x"
//   matches "billing+invoice@x" and "billing@x", not "billingx@x".
// - The domain compares case-insensitively in its ASCII (punycode) form (domain.h), so
//   "*@bücher.example" and "*@XN--BCHER-KVA.example" are the same pattern.
// - The local part compares exactly as sent (RFC 5321 §2.4: only the receiving system may
//   interpret its case), or ASCII case-insensitively with GlobCase::kAsciiInsensitive.
// Immutable and thread-safe.
class RecipientPattern {
 public:
  // kInvalidArgument unless `pattern` has exactly one '@' with a non-empty side on each part and
  // a valid (IDN) domain.
  static absl::StatusOr<RecipientPattern> Parse(absl::string_view pattern, GlobCase local_case);

  // An input without an address never matches. No allocation.
  bool Matches(const MatchInput& input) const;

  const std::string& text() const { return text_; }  // as written in the rule

 private:
  RecipientPattern() = default;

  std::string text_;
  std::string local_;        // as written
  std::string plain_local_;  // "P" for a local part "P+*", else empty
  std::string domain_;       // lower-case ASCII
  GlobCase local_case_ = GlobCase::kSensitive;
};

}  // namespace switchboard::routing
