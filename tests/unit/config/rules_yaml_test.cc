// The rules document: what ParseRulesYaml refuses (each error names the full path) and the
// canonical rendering of RulesToYaml (rules_yaml.h). Matching semantics are tested in
// tests/unit/routing/rule_language_test.cc.
#include "router/config/rules_yaml.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/config/config_loader.h"

namespace switchboard::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kAgents = {"audit", "suppression", "support"};

std::string Error(const std::string& yaml) {
  auto rules = ParseRulesYaml(yaml, kAgents);
  if (rules.ok()) return "OK";
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(rules.status().message());
}

// One rule around `match`.
std::string MatchError(const std::string& match) {
  return Error("- { name: r, match: " + match + ", agents: [audit] }\n");
}

TEST(RulesYamlParseTest, UnknownKeysAreErrorsAtEveryLevel) {
  // A typo must never turn into "no predicate", which would match every event.
  EXPECT_THAT(MatchError("{ recipents: \"*@x.com\" }"),
              HasSubstr("<rules>:1:23: rules[0].match.recipents: unknown key"));
  EXPECT_THAT(MatchError("{ any: [ { types: [bounced] }, { tpyes: [opened] } ] }"),
              HasSubstr("rules[0].match.any[1].tpyes: unknown key"));
  EXPECT_THAT(MatchError("{ not: { metadata: { k: { equal: v } } } }"),
              HasSubstr("rules[0].match.not.metadata.k.equal: unknown key"));
  EXPECT_THAT(Error("- { name: r, match: {}, agents: [audit], priorty: 3 }\n"),
              HasSubstr("rules[0].priorty: unknown key"));
  EXPECT_THAT(Error("- { name: r, match: {}, match: {}, agents: [audit] }\n"),
              HasSubstr("rules[0].match: duplicate key"));
}

TEST(RulesYamlParseTest, EmptyListsAreErrors) {
  EXPECT_THAT(MatchError("{ any: [] }"), HasSubstr("rules[0].match.any: must not be an empty list"));
  EXPECT_THAT(MatchError("{ all: [ { any: [] } ] }"),
              HasSubstr("rules[0].match.all[0].any: must not be an empty list"));
  EXPECT_THAT(MatchError("{ all: [] }"), HasSubstr("rules[0].match.all: must not be an empty list"));
  EXPECT_THAT(MatchError("{ types: [] }"),
              HasSubstr("rules[0].match.types: must not be an empty list"));
  EXPECT_THAT(MatchError("{ tags: [] }"), HasSubstr("rules[0].match.tags: must not be an empty list"));
  EXPECT_THAT(MatchError("{ metadata: { k: { in: [] } } }"),
              HasSubstr("rules[0].match.metadata.k.in: must not be an empty list"));
  EXPECT_THAT(MatchError("{ recipient: [\"*@x.com\", \"\"] }"),
              HasSubstr("rules[0].match.recipient[1]: must not be empty"));
}

TEST(RulesYamlParseTest, ShapesAreChecked) {
  EXPECT_THAT(MatchError("{ any: { types: [bounced] } }"),
              HasSubstr("rules[0].match.any: must be a list of matches"));
  EXPECT_THAT(MatchError("{ any: [ bounced ] }"), HasSubstr("rules[0].match.any[0]: must be a mapping"));
  EXPECT_THAT(MatchError("{ not: [ { types: [bounced] } ] }"),
              HasSubstr("rules[0].match.not: must be a mapping"));
  EXPECT_THAT(MatchError("{ metadata: [a] }"), HasSubstr("rules[0].match.metadata: must be a mapping"));
  EXPECT_THAT(MatchError("{ metadata: { k: {} } }"),
              HasSubstr("rules[0].match.metadata.k: want a string or exactly one of"));
  EXPECT_THAT(MatchError("{ metadata: { k: { equals: a, prefix: b } } }"),
              HasSubstr("rules[0].match.metadata.k: want a string or exactly one of"));
  EXPECT_THAT(MatchError("{ metadata: { k: { exists: maybe } } }"),
              HasSubstr("rules[0].match.metadata.k.exists: want true or false"));
  EXPECT_THAT(MatchError("{ types: [[bounced]] }"), HasSubstr("rules[0].match.types[0]: must be a string"));
  EXPECT_THAT(MatchError("{ case: upper }"),
              HasSubstr("rules[0].match.case: want sensitive or insensitive, got \"upper\""));
  EXPECT_THAT(Error("- { name: r, agents: [audit] }\n"), HasSubstr("rules[0].match: required"));
  EXPECT_THAT(Error("- { name: r, match: {}, agents: [audit], stop: yes }\n"),
              HasSubstr("rules[0].stop: want true or false, got \"yes\""));
}

TEST(RulesYamlParseTest, PriorityMustBeAWholeNumber) {
  for (const char* bad : {"high", "1.5", "\"\"", "0x10", "2147483648", "-2147483649", "1e3"}) {
    EXPECT_THAT(Error(std::string("- { name: r, priority: ") + bad + ", match: {}, agents: [audit] }\n"),
                HasSubstr("rules[0].priority: must be a whole number from -2147483648 to 2147483647"))
        << bad;
  }
  EXPECT_THAT(Error("- { name: r, priority: [1], match: {}, agents: [audit] }\n"),
              HasSubstr("rules[0].priority: must be a whole number"));
  auto rules = ParseRulesYaml(
      "- { name: a, priority: -7, match: {}, agents: [audit] }\n"
      "- { name: b, priority: +2147483647, match: {}, agents: [audit] }\n"
      "- { name: c, match: {}, agents: [audit] }\n",
      kAgents);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)[0].priority, -7);
  EXPECT_EQ((*rules)[1].priority, 2147483647);
  EXPECT_EQ((*rules)[2].priority, 0);
}

TEST(RulesYamlParseTest, SemanticErrorsComeWithTheRuleLine) {
  // RuleSet::Create's errors (unknown agent, duplicate name, bad regex, unknown type) get the
  // line of the rule they name.
  EXPECT_EQ(Error("- { name: a, match: {}, agents: [audit] }\n"
                  "- { name: a, match: {}, agents: [audit] }\n"),
            "<rules>:2:3: rules[1].name: duplicate rule name \"a\"");
  EXPECT_EQ(Error("- { name: a, match: {}, agents: [nobody] }\n"),
            "<rules>:1:3: rules[0].agents[0]: unknown agent \"nobody\"");
  EXPECT_EQ(MatchError("{ types: [bounce] }"),
            "<rules>:1:3: rules[0].match.types[0]: unknown event type \"bounce\"");
  EXPECT_EQ(MatchError("{ any: [ {}, { recipient_regex: \"a[\" } ] }"),
            "<rules>:1:3: rules[0].match.any[1].recipient_regex: invalid RE2 \"a[\": missing ]: [");
}

TEST(RulesYamlParseTest, DeepNestingIsRefusedNotACrash) {
  std::string match = "{}";
  for (int i = 0; i < 40; ++i) match = "{ not: " + match + " }";
  EXPECT_THAT(MatchError(match), HasSubstr("nest deeper than 32"));
}

TEST(RulesYamlParseTest, ReadsEveryKey) {
  auto rules = ParseRulesYaml(R"(
- name: full
  priority: 4
  stop: true
  case: insensitive
  agents: [suppression, audit]
  match:
    recipient: ["billing+*@example.com", "*@bücher.example"]
    recipient_regex: "bounce-[0-9]+@.*"
    types: bounced
    providers: [sendgrid]
    sources: [sg-prod]
    tags: [t1, t2]
    metadata: { a: x, b: { in: [p, q] }, c: { prefix: pre }, d: { exists: false } }
    all: [ { types: [bounced] } ]
    any: [ { tags: [t1] }, { tags: [t2], case: sensitive } ]
    not: { metadata: { e: { equals: y } } }
    case: sensitive
)",
                              kAgents);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const RuleConfig& r = (*rules)[0];
  EXPECT_EQ(r.priority, 4);
  EXPECT_TRUE(r.stop);
  EXPECT_EQ(r.local_part_case, LocalPartCase::kInsensitive);
  EXPECT_THAT(r.agents, ElementsAre("suppression", "audit"));
  EXPECT_THAT(r.match.recipient, ElementsAre("billing+*@example.com", "*@bücher.example"));
  EXPECT_THAT(r.match.recipient_regex, ElementsAre("bounce-[0-9]+@.*"));
  EXPECT_THAT(r.match.types, ElementsAre("bounced"));
  EXPECT_THAT(r.match.providers, ElementsAre("sendgrid"));
  EXPECT_THAT(r.match.sources, ElementsAre("sg-prod"));
  EXPECT_THAT(r.match.tags, ElementsAre("t1", "t2"));
  using Op = MetadataMatchConfig::Op;
  EXPECT_EQ(r.match.metadata.at("a"), (MetadataMatchConfig{Op::kEquals, {"x"}, true}));
  EXPECT_EQ(r.match.metadata.at("b"), (MetadataMatchConfig{Op::kIn, {"p", "q"}, true}));
  EXPECT_EQ(r.match.metadata.at("c"), (MetadataMatchConfig{Op::kPrefix, {"pre"}, true}));
  EXPECT_EQ(r.match.metadata.at("d"), (MetadataMatchConfig{Op::kExists, {}, false}));
  ASSERT_EQ(r.match.all.size(), 1u);
  ASSERT_EQ(r.match.any.size(), 2u);
  EXPECT_EQ(r.match.any[1].local_part_case, LocalPartCase::kSensitive);
  ASSERT_EQ(r.match.negated.size(), 1u);
  EXPECT_EQ(r.match.negated[0].metadata.at("e"), (MetadataMatchConfig{Op::kEquals, {"y"}, true}));
  EXPECT_EQ(r.match.local_part_case, LocalPartCase::kSensitive);
}

TEST(RulesToYamlTest, CanonicalForm) {
  // Written from the contract in rules_yaml.h: evaluation order, fixed key order, sorted and
  // de-duplicated "any of" lists, defaults spelled out.
  auto rules = ParseRulesYaml(R"(
- { name: low, match: {}, agents: [audit] }
- name: high
  agents: [suppression, audit]
  match:
    metadata: { team: billing, plan: { in: [pro, free, pro] } }
    types: [complained, bounced, bounced]
    recipient: "billing+*@example.com"
  priority: 10
  stop: true
)",
                              kAgents);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(RulesToYaml(*rules),
            "- name: high\n"
            "  priority: 10\n"
            "  stop: true\n"
            "  match:\n"
            "    recipient: [billing+*@example.com]\n"
            "    types: [bounced, complained]\n"
            "    metadata:\n"
            "      plan: {in: [free, pro]}\n"
            "      team: billing\n"
            "  agents: [suppression, audit]\n"
            "- name: low\n"
            "  priority: 0\n"
            "  stop: false\n"
            "  match: {}\n"
            "  agents: [audit]\n");
  EXPECT_EQ(RulesToYaml({}), "[]\n");
}

TEST(RulesToYamlTest, RoundTripsThroughTheParser) {
  const std::string yaml = R"(
- name: "odd: name"
  case: insensitive
  agents: [support]
  match:
    recipient: ["*@bücher.example", "null@x.org"]
    recipient_regex: ["a.*\\.com", "'quoted'"]
    providers: ["true", "~"]
    sources: ["", "x"]
    tags: ["#tag", "- dash"]
    metadata: { "": x, k: { exists: true }, p: { prefix: "" }, "null": "null" }
    all: [ { types: [opened] }, { not: { tags: [z] }, case: sensitive } ]
    any: [ {}, { metadata: { q: { in: ["no", "yes"] } } } ]
- { name: b, priority: -3, match: { not: {} }, agents: [audit] }
)";
  // Two values above are refused by RuleSet ("" source, "" metadata key); the rest must come back.
  std::string valid = yaml;
  valid.replace(valid.find("[\"\", \"x\"]"), 9, "[\"y\", \"x\"]");
  valid.replace(valid.find("\"\": x"), 5, "\"e\": x");
  auto first = ParseRulesYaml(valid, kAgents);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string canonical = RulesToYaml(*first);
  auto second = ParseRulesYaml(canonical, kAgents);
  ASSERT_TRUE(second.ok()) << second.status() << "\n" << canonical;
  EXPECT_EQ(RulesToYaml(*second), canonical);
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0].name, "odd: name");
  EXPECT_THAT((*second)[0].match.providers, ElementsAre("true", "~"));
  EXPECT_EQ((*second)[0].match.metadata.at("null").values, std::vector<std::string>{"null"});
  EXPECT_EQ((*second)[0].match.all, (*first)[0].match.all);
  EXPECT_EQ((*second)[0].match.any, (*first)[0].match.any);
  EXPECT_EQ((*second)[0].match.negated, (*first)[0].match.negated);
  EXPECT_EQ((*second)[1], (*first)[1]);
}

}  // namespace
}  // namespace switchboard::config
