// libFuzzer target: the rule parser and matcher (issue 6, Must show 3). Every input is a rules
// document (YAML text) read by config::ParseRulesYaml, compiled by routing::RuleSet::Create, then
// routed and explained for a few fixed events. Crashes, sanitizer reports, uncaught exceptions and
// Route disagreeing with Explain are the findings; every Status is a normal outcome.
// Seeds: tests/fuzz/seeds/rules/ (example rule files); regressions: tests/fuzz/regressions/rules/.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "router/config/config_loader.h"
#include "router/config/rules_yaml.h"
#include "router/routing/rule_set.h"
#include "switchboard/v1/email_event.pb.h"

namespace {

const std::vector<std::string>& Agents() {
  static const auto* agents =
      new std::vector<std::string>{"audit", "suppression", "support", "billing", "ops"};
  return *agents;
}

const std::vector<switchboard::v1::EmailEvent>& Events() {
  static const auto* events = [] {
    auto* out = new std::vector<switchboard::v1::EmailEvent>();
    switchboard::v1::EmailEvent bounce;
    bounce.set_type(switchboard::v1::EVENT_TYPE_BOUNCED);
    bounce.set_provider("sendgrid");
    bounce.set_source("sendgrid");
    bounce.set_recipient("Billing+Invoice@example.com");
    bounce.set_recipient_key("billing+invoice@example.com");
    bounce.add_tags("invoice");
    (*bounce.mutable_metadata())["team"] = "billing";
    out->push_back(bounce);
    switchboard::v1::EmailEvent reply;
    reply.set_type(switchboard::v1::EVENT_TYPE_RECEIVED);
    reply.set_provider("resend");
    reply.set_recipient("support@Bücher.example");  // a non-ASCII domain takes the IDN path
    reply.set_recipient_key("support@bücher.example");
    out->push_back(reply);
    out->push_back(switchboard::v1::EmailEvent());  // no recipient at all
    return out;
  }();
  return *events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto rules = switchboard::config::ParseRulesYaml(yaml, Agents());
  if (!rules.ok()) return 0;
  auto rule_set = switchboard::routing::RuleSet::Create(*rules, Agents());
  // ParseRulesYaml validates through RuleSet::Create: the two must agree.
  if (!rule_set.ok()) std::abort();
  for (const auto& event : Events()) {
    const auto targets = (*rule_set)->Route(event);
    const auto explained = (*rule_set)->Explain(event);
    if (explained.targets.size() != targets.size() || explained.rules.size() != rules->size()) {
      std::abort();
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (targets[i].agent != explained.targets[i].agent ||
          targets[i].matched_rules != explained.targets[i].matched_rules) {
        std::abort();
      }
    }
  }
  // The canonical rendering reads back to itself.
  const std::string canonical = switchboard::config::RulesToYaml(*rules);
  auto again = switchboard::config::ParseRulesYaml(canonical, Agents());
  if (!again.ok() || switchboard::config::RulesToYaml(*again) != canonical) std::abort();
  return 0;
}
