#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/routing/recipient_pattern.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::routing {

// One validated routing rule (v0): a conjunction of the predicates that are set (recipient
// pattern, event types, metadata key = value); a rule with an empty match matches every event.
// Immutable and thread-safe.
class Rule {
 public:
  // `path` names the rule in errors, e.g. "rules[2]". Agent names are checked by RuleSet.
  // kInvalidArgument naming the field: `rules[2].match.types[1]: unknown event type "bounce"`.
  static absl::StatusOr<Rule> Create(const config::RuleConfig& config, absl::string_view path);

  bool Matches(const v1::EmailEvent& event) const;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& agents() const { return agents_; }

 private:
  Rule() = default;

  std::string name_;
  std::vector<std::string> agents_;
  std::optional<RecipientPattern> recipient_;
  std::set<v1::EventType> types_;  // empty: any type
  std::vector<std::pair<std::string, std::string>> metadata_;
};

}  // namespace switchboard::routing
