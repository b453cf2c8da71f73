// The rule language of README "Routing rules" (issue 5), written as operators write it: YAML
// through config::ParseRulesYaml, then RuleSet::Route / Explain.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/config/config_loader.h"
#include "router/routing/rule_set.h"

namespace switchboard::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::vector<std::string> kAgents = {"audit", "suppression", "support", "billing", "ops"};

std::shared_ptr<const RuleSet> Rules(const std::string& yaml) {
  auto configs = config::ParseRulesYaml(yaml, kAgents);
  EXPECT_TRUE(configs.ok()) << configs.status();
  if (!configs.ok()) return nullptr;
  auto rule_set = RuleSet::Create(*configs, kAgents);
  EXPECT_TRUE(rule_set.ok()) << rule_set.status();
  return rule_set.ok() ? *rule_set : nullptr;
}

struct Event {
  v1::EventType type = v1::EVENT_TYPE_DELIVERED;
  std::string recipient = "someone@example.com";
  std::string provider = "sendgrid";
  std::string source = "sendgrid";
  std::vector<std::string> tags;
  std::map<std::string, std::string> metadata;

  v1::EmailEvent Proto() const {
    v1::EmailEvent event;
    event.set_type(type);
    event.set_recipient(recipient);
    event.set_provider(provider);
    event.set_source(source);
    for (const auto& tag : tags) event.add_tags(tag);
    for (const auto& [k, v] : metadata) (*event.mutable_metadata())[k] = v;
    return event;
  }
};

// The agents an event goes to, in order.
std::vector<std::string> Agents(const RuleSet& rules, const Event& event) {
  std::vector<std::string> out;
  for (const RouteTarget& target : rules.Route(event.Proto())) out.push_back(target.agent);
  return out;
}

// The names of the rules that matched (any agent), in evaluation order.
std::vector<std::string> Matched(const RuleSet& rules, const Event& event) {
  std::vector<std::string> out;
  for (const RuleVerdict& verdict : rules.Explain(event.Proto()).rules) {
    if (verdict.matched) out.push_back(verdict.rule);
  }
  return out;
}

bool Hits(const std::string& match_yaml, const Event& event) {
  auto rules = Rules("- { name: r, match: " + match_yaml + ", agents: [audit] }\n");
  return rules != nullptr && !rules->Route(event.Proto()).empty();
}

Event To(std::string recipient) {
  Event e;
  e.recipient = std::move(recipient);
  return e;
}

TEST(RuleLanguageTest, RecipientForms) {
  EXPECT_TRUE(Hits("{ recipient: ops@example.com }", To("ops@example.com")));
  EXPECT_FALSE(Hits("{ recipient: ops@example.com }", To("ops2@example.com")));
  EXPECT_TRUE(Hits("{ recipient: \"*@example.com\" }", To("anyone@example.com")));
  EXPECT_FALSE(Hits("{ recipient: \"*@example.com\" }", To("anyone@mail.example.com")));
  EXPECT_TRUE(Hits("{ recipient: \"bounce-*@*.example.com\" }", To("bounce-7@mx.example.com")));
  // '*' never crosses '@'.
  EXPECT_FALSE(Hits("{ recipient: \"*@example.com\" }", To("\"a@evil.org\"@example.com")));
  EXPECT_FALSE(Hits("{ recipient: \"a*@example.com\" }", To("a@b@example.com")));
  // A list is "any of".
  EXPECT_TRUE(Hits("{ recipient: [a@x.org, \"*@example.com\"] }", To("q@example.com")));
  EXPECT_TRUE(Hits("{ recipient: [a@x.org, \"*@example.com\"] }", To("a@x.org")));
  EXPECT_FALSE(Hits("{ recipient: [a@x.org, \"*@example.com\"] }", To("b@x.org")));
  // No address, no recipient match.
  EXPECT_FALSE(Hits("{ recipient: \"*@*\" }", To("")));
}

TEST(RuleLanguageTest, PlusTag) {
  const std::string match = "{ recipient: \"billing+*@example.com\" }";
  EXPECT_TRUE(Hits(match, To("billing+x@example.com")));
  EXPECT_TRUE(Hits(match, To("billing@example.com")));
  EXPECT_FALSE(Hits(match, To("billingx@example.com")));
  EXPECT_FALSE(Hits(match, To("billing+x@example.org")));
}

TEST(RuleLanguageTest, InternationalDomainsCompareInPunycode) {
  EXPECT_TRUE(Hits("{ recipient: \"*@bücher.example\" }", To("a@xn--bcher-kva.example")));
  EXPECT_TRUE(Hits("{ recipient: \"*@xn--bcher-kva.example\" }", To("a@bücher.example")));
  EXPECT_TRUE(Hits("{ recipient: \"*@XN--BCHER-KVA.example\" }", To("a@BÜCHER.example")));
  EXPECT_FALSE(Hits("{ recipient: \"*@bücher.example\" }", To("a@bucher.example")));
  // The regex sees the ASCII form of the domain.
  EXPECT_TRUE(Hits("{ recipient_regex: \".*@xn--bcher-kva\\\\.example\" }", To("a@bücher.example")));
}

TEST(RuleLanguageTest, CaseOfTheLocalPart) {
  // As sent by default; the domain is always case-insensitive.
  EXPECT_TRUE(Hits("{ recipient: Pat@EXAMPLE.com }", To("Pat@example.com")));
  EXPECT_FALSE(Hits("{ recipient: Pat@example.com }", To("pat@example.com")));
  // `case: insensitive` on the match, on the rule, or inherited by nested matches.
  EXPECT_TRUE(Hits("{ recipient: Pat@example.com, case: insensitive }", To("PAT@example.com")));
  EXPECT_TRUE(Hits("{ any: [ { recipient: Pat@example.com } ], case: insensitive }",
                   To("pat@example.com")));
  EXPECT_FALSE(Hits("{ any: [ { recipient: Pat@example.com, case: sensitive } ], "
                    "case: insensitive }",
                    To("pat@example.com")));
  auto rule_level = Rules(
      "- { name: r, case: insensitive, match: { recipient: \"Billing+*@example.com\" }, "
      "agents: [audit] }\n");
  EXPECT_THAT(Agents(*rule_level, To("BILLING+Q@example.com")), ElementsAre("audit"));
  // Regexes follow the same mode.
  EXPECT_FALSE(Hits("{ recipient_regex: \"pat@example\\\\.com\" }", To("Pat@example.com")));
  EXPECT_TRUE(Hits("{ recipient_regex: \"pat@example\\\\.com\", case: insensitive }",
                   To("Pat@example.com")));
}

TEST(RuleLanguageTest, RecipientRegexIsAFullMatchWithRe2) {
  EXPECT_TRUE(Hits("{ recipient_regex: \"bounce-[0-9]+@example\\\\.com\" }",
                   To("bounce-42@example.com")));
  EXPECT_FALSE(Hits("{ recipient_regex: \"bounce-[0-9]+@example\\\\.com\" }",
                    To("bounce-42@example.com.evil.org")));
  EXPECT_FALSE(Hits("{ recipient_regex: \"bounce\" }", To("bounce-42@example.com")));
  EXPECT_TRUE(Hits("{ recipient_regex: [\"x@.*\", \"bounce.*\"] }", To("bounce-42@example.com")));
}

TEST(RuleLanguageTest, TypesProvidersSourcesAreAnyOf) {
  Event bounce;
  bounce.type = v1::EVENT_TYPE_BOUNCED;
  EXPECT_TRUE(Hits("{ types: [bounced, complained] }", bounce));
  EXPECT_TRUE(Hits("{ types: bounced }", bounce));  // a single value reads as a list of one
  EXPECT_FALSE(Hits("{ types: [delivered] }", bounce));
  Event e;
  e.provider = "resend";
  e.source = "resend-prod";
  EXPECT_TRUE(Hits("{ providers: [sendgrid, resend] }", e));
  EXPECT_FALSE(Hits("{ providers: [sendgrid] }", e));
  EXPECT_TRUE(Hits("{ sources: [resend-prod] }", e));
  EXPECT_FALSE(Hits("{ sources: [resend] }", e));
}

TEST(RuleLanguageTest, TagsMatchWhenTheEventCarriesOneOfThem) {
  Event e;
  e.tags = {"newsletter", "weekly"};
  EXPECT_TRUE(Hits("{ tags: [weekly] }", e));
  EXPECT_TRUE(Hits("{ tags: [invoice, newsletter] }", e));
  EXPECT_FALSE(Hits("{ tags: [invoice] }", e));
  EXPECT_FALSE(Hits("{ tags: [invoice] }", Event{}));
  EXPECT_FALSE(Hits("{ tags: [Weekly] }", e));  // exact
}

TEST(RuleLanguageTest, MetadataOperators) {
  Event e;
  e.metadata = {{"team", "billing"}, {"plan", "pro-annual"}, {"empty", ""}};
  EXPECT_TRUE(Hits("{ metadata: { team: billing } }", e));
  EXPECT_TRUE(Hits("{ metadata: { team: { equals: billing } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { team: Billing } }", e));
  EXPECT_FALSE(Hits("{ metadata: { owner: billing } }", e));
  EXPECT_TRUE(Hits("{ metadata: { team: { in: [sales, billing] } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { team: { in: [sales] } } }", e));
  EXPECT_TRUE(Hits("{ metadata: { plan: { prefix: pro- } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { plan: { prefix: free- } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { owner: { prefix: \"\" } } }", e));
  EXPECT_TRUE(Hits("{ metadata: { empty: { exists: true } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { owner: { exists: true } } }", e));
  EXPECT_TRUE(Hits("{ metadata: { owner: { exists: false } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { team: { exists: false } } }", e));
  // Every key must hold.
  EXPECT_TRUE(Hits("{ metadata: { team: billing, plan: { prefix: pro } } }", e));
  EXPECT_FALSE(Hits("{ metadata: { team: billing, plan: { prefix: free } } }", e));
}

TEST(RuleLanguageTest, PredicatesInOneMatchAreAllRequired) {
  Event e;
  e.type = v1::EVENT_TYPE_BOUNCED;
  e.recipient = "pat@example.com";
  EXPECT_TRUE(Hits("{ types: [bounced], recipient: \"*@example.com\" }", e));
  EXPECT_FALSE(Hits("{ types: [bounced], recipient: \"*@example.org\" }", e));
  EXPECT_FALSE(Hits("{ types: [opened], recipient: \"*@example.com\" }", e));
  EXPECT_TRUE(Hits("{}", e));  // an empty match matches every event
}

TEST(RuleLanguageTest, AllAnyNotCombineAndNest) {
  Event e;
  e.type = v1::EVENT_TYPE_COMPLAINED;
  e.recipient = "pat@example.com";
  e.metadata = {{"team", "billing"}};
  EXPECT_TRUE(Hits("{ any: [ { types: [bounced] }, { types: [complained] } ] }", e));
  EXPECT_FALSE(Hits("{ any: [ { types: [bounced] }, { types: [opened] } ] }", e));
  EXPECT_TRUE(Hits("{ all: [ { types: [complained] }, { metadata: { team: billing } } ] }", e));
  EXPECT_FALSE(Hits("{ all: [ { types: [complained] }, { metadata: { team: ops } } ] }", e));
  EXPECT_TRUE(Hits("{ not: { recipient: \"*@test.example\" } }", e));
  EXPECT_FALSE(Hits("{ not: { recipient: \"*@example.com\" } }", e));
  // Nested: (bounced or complained) and not (team ops or a test domain).
  const std::string nested =
      "{ all: [ { any: [ { types: [bounced] }, { types: [complained] } ] },"
      "         { not: { any: [ { metadata: { team: ops } }, { recipient: \"*@test.example\" } ] } } ] }";
  EXPECT_TRUE(Hits(nested, e));
  e.metadata = {{"team", "ops"}};
  EXPECT_FALSE(Hits(nested, e));
  e.metadata = {};
  e.recipient = "pat@test.example";
  EXPECT_FALSE(Hits(nested, e));
  e.recipient = "pat@example.com";
  e.type = v1::EVENT_TYPE_OPENED;
  EXPECT_FALSE(Hits(nested, e));
}

TEST(RuleLanguageTest, HigherPriorityFirstTiesInFileOrder) {
  auto rules = Rules(R"(
- { name: low, match: {}, agents: [audit] }
- { name: high, priority: 10, match: {}, agents: [ops] }
- { name: tie-a, priority: 5, match: {}, agents: [billing] }
- { name: negative, priority: -1, match: {}, agents: [support] }
- { name: tie-b, priority: 5, match: {}, agents: [suppression, audit] }
)");
  const auto targets = rules->Route(Event{}.Proto());
  std::vector<std::string> order;
  for (const auto& t : targets) order.push_back(t.agent);
  EXPECT_THAT(order, ElementsAre("ops", "billing", "suppression", "audit", "support"));
  // audit was selected by tie-b (evaluated first) and low, in evaluation order.
  EXPECT_THAT(targets[3].matched_rules, ElementsAre("tie-b", "low"));
  std::vector<std::string> evaluated;
  for (const auto& v : rules->Explain(Event{}.Proto()).rules) evaluated.push_back(v.rule);
  EXPECT_THAT(evaluated, ElementsAre("high", "tie-a", "tie-b", "low", "negative"));
  std::vector<std::string> listed;
  for (const auto& r : rules->rules()) listed.push_back(r.name);
  EXPECT_EQ(listed, evaluated);
}

TEST(RuleLanguageTest, StopEndsEvaluationOnlyWhenItMatches) {
  auto rules = Rules(R"(
- { name: audit-all, match: {}, agents: [audit] }
- name: vip-bounces
  priority: 10
  stop: true
  match: { types: [bounced], metadata: { tier: vip } }
  agents: [ops]
- { name: bounces, priority: 5, match: { types: [bounced] }, agents: [suppression] }
- { name: tie-after-stop, priority: 10, match: {}, agents: [billing] }
)");
  Event vip;
  vip.type = v1::EVENT_TYPE_BOUNCED;
  vip.metadata = {{"tier", "vip"}};
  EXPECT_THAT(Agents(*rules, vip), ElementsAre("ops"));
  Event plain;
  plain.type = v1::EVENT_TYPE_BOUNCED;
  EXPECT_THAT(Agents(*rules, plain), ElementsAre("billing", "suppression", "audit"));

  const RouteExplanation why = rules->Explain(vip.Proto());
  ASSERT_EQ(why.rules.size(), 4u);
  EXPECT_EQ(why.rules[0].rule, "vip-bounces");
  EXPECT_TRUE(why.rules[0].evaluated);
  EXPECT_TRUE(why.rules[0].matched);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_FALSE(why.rules[i].evaluated) << why.rules[i].rule;
    EXPECT_FALSE(why.rules[i].matched) << why.rules[i].rule;
    EXPECT_EQ(why.rules[i].reason,
              "not evaluated: rule \"vip-bounces\" (priority 10) matched and stops evaluation");
  }
  ASSERT_EQ(why.targets.size(), 1u);
  EXPECT_EQ(why.targets[0].agent, "ops");
  EXPECT_THAT(why.targets[0].matched_rules, ElementsAre("vip-bounces"));
}

TEST(RuleLanguageTest, ExplainGivesAReasonPerRule) {
  auto rules = Rules(R"(
- name: billing-bounces
  match: { types: [bounced, complained], recipient: "billing+*@example.com" }
  agents: [suppression]
- { name: other-domain, match: { recipient: "*@y.com" }, agents: [audit] }
- { name: vip, match: { metadata: { tier: { in: [gold, vip] } } }, agents: [ops] }
- { name: not-test, match: { not: { tags: [test] } }, agents: [billing] }
)");
  Event e;
  e.type = v1::EVENT_TYPE_BOUNCED;
  e.recipient = "billing+q@example.com";
  e.tags = {"test"};
  const RouteExplanation why = rules->Explain(e.Proto());
  ASSERT_EQ(why.rules.size(), 4u);
  EXPECT_TRUE(why.rules[0].matched);
  EXPECT_EQ(why.rules[0].reason,
            "type bounced is one of [bounced, complained]; recipient \"billing+q@example.com\" "
            "matches \"billing+*@example.com\"");
  EXPECT_FALSE(why.rules[1].matched);
  EXPECT_TRUE(why.rules[1].evaluated);
  EXPECT_EQ(why.rules[1].reason, "recipient \"billing+q@example.com\" does not match \"*@y.com\"");
  EXPECT_EQ(why.rules[2].reason, "metadata.tier is absent (wanted one of [\"gold\", \"vip\"])");
  EXPECT_FALSE(why.rules[3].matched);
  EXPECT_EQ(why.rules[3].reason, "not: but tag \"test\" is one of [\"test\"]");
  ASSERT_EQ(why.targets.size(), 1u);
  EXPECT_EQ(why.targets[0].agent, "suppression");

  e.type = v1::EVENT_TYPE_OPENED;
  EXPECT_EQ(rules->Explain(e.Proto()).rules[0].reason,
            "type opened is not one of [bounced, complained]");
}

TEST(RuleLanguageTest, ExplainAgreesWithRoute) {
  auto rules = Rules(R"(
- { name: a, priority: 3, match: { any: [ { types: [bounced] }, { tags: [x] } ] }, agents: [audit, ops] }
- { name: b, match: { all: [ { recipient: "*@example.com" }, { not: { metadata: { k: { exists: true } } } } ] }, agents: [ops] }
- { name: c, priority: 3, stop: true, match: { providers: [resend] }, agents: [support] }
- { name: d, priority: -2, match: { recipient_regex: ".*@example\\.com" }, agents: [billing] }
)");
  for (v1::EventType type : {v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_OPENED}) {
    for (const char* provider : {"resend", "sendgrid"}) {
      for (const char* recipient : {"a@example.com", "a@example.org"}) {
        for (bool tagged : {false, true}) {
          Event e;
          e.type = type;
          e.provider = provider;
          e.recipient = recipient;
          if (tagged) e.tags = {"x"};
          const auto route = rules->Route(e.Proto());
          const auto why = rules->Explain(e.Proto());
          ASSERT_EQ(route.size(), why.targets.size());
          for (size_t i = 0; i < route.size(); ++i) {
            EXPECT_EQ(route[i].agent, why.targets[i].agent);
            EXPECT_EQ(route[i].matched_rules, why.targets[i].matched_rules);
          }
        }
      }
    }
  }
}

// README "Routing rules", worked example (issue 5, Must show 3).
TEST(RuleLanguageTest, ReadmeWorkedExample) {
  auto rules = Rules(R"(
- name: billing-suppression
  priority: 10
  match:
    recipient: "billing+*@example.com"
    types: [bounced, complained]
  agents: [suppression]
  stop: true
- name: replies
  match: { types: [received] }
  agents: [support]
- { name: audit-all, priority: -100, match: {}, agents: [audit] }
)");
  Event bounce;
  bounce.type = v1::EVENT_TYPE_BOUNCED;
  bounce.recipient = "billing+invoice-42@example.com";
  EXPECT_THAT(Agents(*rules, bounce), ElementsAre("suppression"));
  Event complaint = bounce;
  complaint.type = v1::EVENT_TYPE_COMPLAINED;
  complaint.recipient = "billing@example.com";
  EXPECT_THAT(Agents(*rules, complaint), ElementsAre("suppression"));
  Event other = bounce;
  other.recipient = "sales@example.com";
  EXPECT_THAT(Agents(*rules, other), ElementsAre("audit"));
  Event reply;
  reply.type = v1::EVENT_TYPE_RECEIVED;
  reply.recipient = "billing+invoice-42@example.com";
  EXPECT_THAT(Agents(*rules, reply), ElementsAre("support", "audit"));
  EXPECT_THAT(Matched(*rules, reply), ElementsAre("replies", "audit-all"));
}

TEST(RuleLanguageTest, NoRuleNoTargets) {
  auto rules = Rules("[]");
  EXPECT_THAT(rules->Route(Event{}.Proto()), IsEmpty());
  EXPECT_THAT(rules->Explain(Event{}.Proto()).rules, IsEmpty());
}

// Validation that RuleSet::Create itself does (the YAML reader's own errors are in
// tests/unit/config/rules_yaml_test.cc).
std::string Error(const std::string& yaml) {
  auto configs = config::ParseRulesYaml(yaml, kAgents);
  if (!configs.ok()) return std::string(configs.status().message());
  auto rule_set = RuleSet::Create(*configs, kAgents);
  return rule_set.ok() ? "OK" : std::string(rule_set.status().message());
}

TEST(RuleLanguageTest, SemanticErrorsNameTheFullPath) {
  EXPECT_THAT(Error("- { name: a, match: {}, agents: [audit] }\n"
                    "- { name: b, match: {}, agents: [audit] }\n"
                    "- { name: c, match: {}, agents: [audit] }\n"
                    "- { name: d, match: { any: [ { types: [bounced] }, { recipient: nope } ] },"
                    " agents: [audit] }\n"),
              HasSubstr("rules[3].match.any[1].recipient: want an address pattern"));
  EXPECT_THAT(Error("- { name: a, match: { recipient_regex: \"(a\" }, agents: [audit] }"),
              HasSubstr("rules[0].match.recipient_regex: invalid RE2 \"(a\": missing ): (a"));
  EXPECT_THAT(Error("- { name: a, match: { not: { types: [bounce] } }, agents: [audit] }"),
              HasSubstr("rules[0].match.not.types[0]: unknown event type \"bounce\""));
  EXPECT_THAT(Error("- { name: a, match: {}, agents: [audit, nobody] }"),
              HasSubstr("rules[0].agents[1]: unknown agent \"nobody\""));
  EXPECT_THAT(Error("- { name: a, match: {}, agents: [audit] }\n"
                    "- { name: a, match: {}, agents: [ops] }\n"),
              HasSubstr("rules[1].name: duplicate rule name \"a\""));
  EXPECT_THAT(Error("- { name: a, match: { all: [ { recipient: \"x@bü*.example\" } ] },"
                    " agents: [audit] }"),
              HasSubstr("rules[0].match.all[0].recipient: domain label"));
}

}  // namespace
}  // namespace switchboard::routing
