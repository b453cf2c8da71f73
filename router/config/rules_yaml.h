#pragma once

#include <string>
#include <vector>

#include "router/config/config.h"

namespace switchboard::config {

// The canonical YAML text of a rule set, for comparing and diffing two versions (the admin API's
// dry-run diff): the rules document shape that ParseRulesYaml reads, so
// ParseRulesYaml(RulesToYaml(r)) gives r back in canonical form. Canonical means:
// - rules in evaluation order (priority descending, ties in the order given), one block each
//   with the keys name, priority, stop, [case,] match, agents in that order;
// - inside a match, keys in the order recipient, recipient_regex, types, providers, sources,
//   tags, metadata (by key), all, any, not, case; unset predicates left out;
// - the "any of" lists (recipient, recipient_regex, types, providers, sources, tags, metadata
//   `in`) sorted and without duplicates, since their order means nothing; all/any children and
//   agents keep their order; a metadata equality is written as a plain string.
// Two rule sets that route every event the same way can still render differently (e.g. `any`
// children reordered); two renderings that are equal always route the same. No rules: "[]\n".
std::string RulesToYaml(const std::vector<RuleConfig>& rules);

}  // namespace switchboard::config
