#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::routing {

// One agent an event goes to, with the names of the rules that selected it.
struct RouteTarget {
  std::string agent;
  std::vector<std::string> matched_rules;
};

// An immutable, validated set of routing rules (v0: recipient exact / "*@domain" / glob, event
// types, metadata key = value). Every matching rule's agents get a copy (fan-out); an agent named
// by several matching rules gets one copy listing all of them. Thread-safe (immutable).
class RuleSet {
 public:
  // kInvalidArgument naming the field, e.g. `rules[2].agents[0]: unknown agent "x"`,
  // `rules[0].match.types[1]: unknown event type "bounce"`.
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Create(
      const std::vector<config::RuleConfig>& rules, const std::vector<std::string>& agents);

  // The agents `event` goes to, in rule order; empty if no rule matches.
  virtual std::vector<RouteTarget> Route(const v1::EmailEvent& event) const = 0;
  virtual ~RuleSet() = default;
};

}  // namespace switchboard::routing
