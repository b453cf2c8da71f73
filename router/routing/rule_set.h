#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::routing {

// One agent an event goes to, with the names of the rules that selected it (evaluation order).
struct RouteTarget {
  std::string agent;
  std::vector<std::string> matched_rules;
};

// What one rule did for one event (RuleSet::Explain); the shape of admin.proto's RuleVerdict.
struct RuleVerdict {
  std::string rule;
  bool evaluated = true;  // false: an earlier matching `stop` rule ended evaluation
  bool matched = false;
  // Why, e.g. `recipient "a@x.com" does not match "*@y.com"`, `type bounced is one of [bounced,
  // complained]; recipient "billing+q@example.com" matches "billing+*@example.com"`, or for a rule
  // not evaluated `not evaluated: rule "x" (priority 10) matched and stops evaluation`.
  std::string reason;
};

struct RouteExplanation {
  std::vector<RuleVerdict> rules;    // every rule, in evaluation order
  std::vector<RouteTarget> targets;  // exactly what Route returns for the same event
};

// An immutable, validated set of routing rules (README "Routing rules"). Rules are evaluated by
// priority, highest first, ties in the order given; every matching rule's agents get a copy
// (fan-out); an agent named by several matching rules gets one copy listing all of them; a
// matching rule with `stop` ends evaluation. Thread-safe (immutable).
class RuleSet {
 public:
  // `rules` in file order; `agents` the declared agent names. kInvalidArgument naming the field:
  //   `rules[2].name: required`, `rules[2].name: duplicate rule name "x"`,
  //   `rules[2].agents: at least one agent required`, `rules[2].agents[0]: unknown agent "x"`,
  //   and the match errors of Matcher::Compile (`rules[3].match.any[1].recipient: ...`).
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Create(
      const std::vector<config::RuleConfig>& rules, const std::vector<std::string>& agents);

  // The agents `event` goes to, in the order rules first selected them; empty if no rule
  // matches. The hot path: no allocation besides the result for ASCII-domain recipients.
  virtual std::vector<RouteTarget> Route(const v1::EmailEvent& event) const = 0;

  // Route with the reasons: each rule's verdict in evaluation order and the final targets.
  virtual RouteExplanation Explain(const v1::EmailEvent& event) const = 0;

  // The rules as given to Create, in evaluation order (priority desc, then file order).
  virtual const std::vector<config::RuleConfig>& rules() const = 0;

  virtual ~RuleSet() = default;
};

}  // namespace switchboard::routing
