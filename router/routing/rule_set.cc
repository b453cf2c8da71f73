#include "router/routing/rule_set.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "router/routing/rule.h"

namespace switchboard::routing {
namespace {

class RuleSetImpl final : public RuleSet {
 public:
  explicit RuleSetImpl(std::vector<Rule> rules) : rules_(std::move(rules)) {}

  std::vector<RouteTarget> Route(const v1::EmailEvent& event) const override {
    std::vector<RouteTarget> targets;
    for (const Rule& rule : rules_) {
      if (!rule.Matches(event)) continue;
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
    return targets;
  }

 private:
  const std::vector<Rule> rules_;
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
  return std::make_shared<const RuleSetImpl>(std::move(compiled));
}

}  // namespace switchboard::routing
