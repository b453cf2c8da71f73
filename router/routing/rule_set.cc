#include "router/routing/rule_set.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "router/routing/match_input.h"
#include "router/routing/rule.h"

namespace switchboard::routing {
namespace {

void AddTargets(const Rule& rule, std::vector<RouteTarget>& targets) {
  for (const std::string& agent : rule.agents()) {
    auto it = std::find_if(targets.begin(), targets.end(),
                           [&](const RouteTarget& t) { return t.agent == agent; });
    if (it == targets.end()) {
      targets.push_back(RouteTarget{agent, {}});
      it = targets.end() - 1;
    }
    // A rule naming one agent twice still lists the rule once.
    if (it->matched_rules.empty() || it->matched_rules.back() != rule.name()) {
      it->matched_rules.push_back(rule.name());
    }
  }
}

class RuleSetImpl final : public RuleSet {
 public:
  RuleSetImpl(std::vector<Rule> rules, std::vector<config::RuleConfig> configs)
      : rules_(std::move(rules)), configs_(std::move(configs)) {}

  std::vector<RouteTarget> Route(const v1::EmailEvent& event) const override {
    const MatchInput input(event);
    std::vector<RouteTarget> targets;
    for (const Rule& rule : rules_) {
      if (!rule.Matches(input)) continue;
      AddTargets(rule, targets);
      if (rule.stop()) break;
    }
    return targets;
  }

  RouteExplanation Explain(const v1::EmailEvent& event) const override {
    const MatchInput input(event);
    RouteExplanation out;
    const Rule* stopped_by = nullptr;
    for (const Rule& rule : rules_) {
      RuleVerdict verdict;
      verdict.rule = rule.name();
      if (stopped_by != nullptr) {
        verdict.evaluated = false;
        verdict.reason = absl::StrCat("not evaluated: rule \"", stopped_by->name(),
                                      "\" (priority ", stopped_by->priority(),
                                      ") matched and stops evaluation");
      } else {
        verdict.matched = rule.Explain(input, &verdict.reason);
        if (verdict.matched) {
          AddTargets(rule, out.targets);
          if (rule.stop()) stopped_by = &rule;
        }
      }
      out.rules.push_back(std::move(verdict));
    }
    return out;
  }

  const std::vector<config::RuleConfig>& rules() const override { return configs_; }

 private:
  const std::vector<Rule> rules_;                   // evaluation order
  const std::vector<config::RuleConfig> configs_;  // the same order
};

}  // namespace

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Create(
    const std::vector<config::RuleConfig>& rules, const std::vector<std::string>& agents) {
  const std::set<std::string, std::less<>> known_agents(agents.begin(), agents.end());
  std::set<std::string, std::less<>> names;
  std::vector<Rule> compiled;
  compiled.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const config::RuleConfig& config = rules[i];
    const std::string path = absl::StrCat("rules[", i, "]");
    if (config.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".name: required"));
    }
    if (!names.insert(config.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".name: duplicate rule name \"", config.name, "\""));
    }
    if (config.agents.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".agents: at least one agent required"));
    }
    for (size_t j = 0; j < config.agents.size(); ++j) {
      if (!known_agents.contains(config.agents[j])) {
        return absl::InvalidArgumentError(absl::StrCat(path, ".agents[", j, "]: unknown agent \"",
                                                       config.agents[j], "\""));
      }
    }
    auto rule = Rule::Create(config, path);
    if (!rule.ok()) return rule.status();
    compiled.push_back(*std::move(rule));
  }
  // Evaluation order: priority descending; stable, so ties keep the order given.
  std::vector<size_t> order(rules.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rules[a].priority > rules[b].priority;
  });
  std::vector<Rule> sorted;
  std::vector<config::RuleConfig> configs;
  sorted.reserve(order.size());
  configs.reserve(order.size());
  for (const size_t i : order) {
    sorted.push_back(std::move(compiled[i]));
    configs.push_back(rules[i]);
  }
  return std::make_shared<const RuleSetImpl>(std::move(sorted), std::move(configs));
}

}  // namespace switchboard::routing
