#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/config/config.h"
#include "router/routing/glob.h"
#include "router/routing/match_input.h"

namespace switchboard::routing {

// One predicate of a compiled match (recipient, recipient_regex, types, ..., all/any/not).
class Predicate {
 public:
  virtual ~Predicate() = default;
  // The hot path: no allocation except inside RE2 for large inputs.
  virtual bool Matches(const MatchInput& input) const = 0;
  // As Matches, and sets `*reason` to a human sentence saying why, e.g.
  // `recipient "a@x.com" does not match "*@y.com"`.
  virtual bool Explain(const MatchInput& input, std::string* reason) const = 0;
};

// A compiled `match` mapping (config::MatchConfig): the conjunction of its predicates, cheapest
// first; an empty match matches every event. Immutable and thread-safe.
class Matcher {
 public:
  // `path` names the mapping in errors ("rules[3].match", "rules[3].match.any[1]");
  // `inherited_case` is the enclosing mapping's (or rule's) local-part case mode.
  // kInvalidArgument naming the field, e.g.
  //   `rules[3].match.any[1].recipient: want an address pattern with exactly one '@': ...`
  //   `rules[0].match.recipient_regex: invalid RE2 "(a": missing ): (a`
  //   `rules[0].match.types[1]: unknown event type "bounce"`
  static absl::StatusOr<std::unique_ptr<const Matcher>> Compile(const config::MatchConfig& config,
                                                                absl::string_view path,
                                                                GlobCase inherited_case);

  bool Matches(const MatchInput& input) const;
  // Matched: every predicate's reason joined by "; ". Not matched: the first failing predicate's.
  bool Explain(const MatchInput& input, std::string* reason) const;

 private:
  Matcher() = default;
  static absl::StatusOr<std::unique_ptr<const Matcher>> CompileAt(const config::MatchConfig& config,
                                                                  absl::string_view path,
                                                                  GlobCase inherited_case,
                                                                  int depth);

  std::vector<std::unique_ptr<const Predicate>> predicates_;
};

}  // namespace switchboard::routing
