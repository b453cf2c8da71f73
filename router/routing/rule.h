#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/routing/match_input.h"
#include "router/routing/matcher.h"

namespace switchboard::routing {

// One validated routing rule: name, priority, compiled match, target agents, stop.
// Immutable and thread-safe.
class Rule {
 public:
  // `path` names the rule in errors, e.g. "rules[2]". Agent names and name uniqueness are
  // checked by RuleSet. kInvalidArgument naming the field (see Matcher::Compile).
  static absl::StatusOr<Rule> Create(const config::RuleConfig& config, absl::string_view path);

  bool Matches(const MatchInput& input) const { return matcher_->Matches(input); }
  bool Explain(const MatchInput& input, std::string* reason) const {
    return matcher_->Explain(input, reason);
  }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& agents() const { return agents_; }
  int32_t priority() const { return priority_; }
  bool stop() const { return stop_; }

 private:
  Rule() = default;

  std::string name_;
  std::vector<std::string> agents_;
  int32_t priority_ = 0;
  bool stop_ = false;
  std::shared_ptr<const Matcher> matcher_;  // shared: Rule is copied into RuleSet's vector
};

}  // namespace switchboard::routing
