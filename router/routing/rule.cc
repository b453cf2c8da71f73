#include "router/routing/rule.h"

#include "absl/strings/str_cat.h"

namespace switchboard::routing {

absl::StatusOr<Rule> Rule::Create(const config::RuleConfig& config, absl::string_view path) {
  const GlobCase rule_case = config.local_part_case == config::LocalPartCase::kInsensitive
                                 ? GlobCase::kAsciiInsensitive
                                 : GlobCase::kSensitive;
  auto matcher = Matcher::Compile(config.match, absl::StrCat(path, ".match"), rule_case);
  if (!matcher.ok()) return matcher.status();
  Rule rule;
  rule.name_ = config.name;
  rule.agents_ = config.agents;
  rule.priority_ = config.priority;
  rule.stop_ = config.stop;
  rule.matcher_ = *std::move(matcher);
  return rule;
}

}  // namespace switchboard::routing
