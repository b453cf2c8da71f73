#include "router/routing/rule_set.h"

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

::testing::Matcher<const RouteTarget&> Target(std::string agent, std::vector<std::string> rules) {
  return ::testing::AllOf(::testing::Field(&RouteTarget::agent, agent),
                          ::testing::Field(&RouteTarget::matched_rules, rules));
}

config::RuleConfig MakeRule(std::string name, std::vector<std::string> agents,
                            config::MatchConfig match = {}) {
  return config::RuleConfig{std::move(name), std::move(match), std::move(agents), 0, false,
                            config::LocalPartCase::kInherit};
}

v1::EmailEvent MakeEvent(v1::EventType type, std::string recipient,
                         std::map<std::string, std::string> metadata = {}) {
  v1::EmailEvent event;
  event.set_type(type);
  std::string key = recipient;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  event.set_recipient(std::move(recipient));
  event.set_recipient_key(std::move(key));
  for (auto& [k, v] : metadata) (*event.mutable_metadata())[k] = v;
  return event;
}

std::shared_ptr<const RuleSet> MustCreate(const std::vector<config::RuleConfig>& rules,
                                          const std::vector<std::string>& agents) {
  auto rule_set = RuleSet::Create(rules, agents);
  EXPECT_TRUE(rule_set.ok()) << rule_set.status();
  return rule_set.ok() ? *rule_set : nullptr;
}

std::string CreateError(const std::vector<config::RuleConfig>& rules,
                        const std::vector<std::string>& agents = {"audit", "suppression"}) {
  auto rule_set = RuleSet::Create(rules, agents);
  if (rule_set.ok()) return "OK";
  EXPECT_EQ(rule_set.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(rule_set.status().message());
}

// The two rules of the issue 2 sample config.
std::vector<config::RuleConfig> SampleRules() {
  config::MatchConfig bounces;
  bounces.types = {"bounced", "dropped", "complained"};
  bounces.recipient = {"*@example.com"};
  bounces.metadata = {{"team", config::MetadataMatchConfig{{}, {"billing"}}}};
  return {MakeRule("audit-all", {"audit"}), MakeRule("bounces", {"suppression"}, bounces)};
}

TEST(RuleSetTest, EmptyMatchMatchesEverything) {
  auto rules = MustCreate({MakeRule("all", {"audit"})}, {"audit"});
  EXPECT_THAT(rules->Route(v1::EmailEvent()), ElementsAre(Target("audit", {"all"})));
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_UNKNOWN, "x@y.org")),
              ElementsAre(Target("audit", {"all"})));
}

TEST(RuleSetTest, SampleConfigFansOutInRuleOrder) {
  auto rules = MustCreate(SampleRules(), {"audit", "suppression"});
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_BOUNCED, "Pat@example.com",
                                     {{"team", "billing"}, {"plan", "pro"}})),
              ElementsAre(Target("audit", {"audit-all"}), Target("suppression", {"bounces"})));
}

TEST(RuleSetTest, EveryPredicateMustHold) {
  auto rules = MustCreate(SampleRules(), {"audit", "suppression"});
  const auto only_audit = ElementsAre(Target("audit", {"audit-all"}));
  // Wrong type.
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_DELIVERED, "pat@example.com",
                                     {{"team", "billing"}})),
              only_audit);
  // Wrong domain.
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_BOUNCED, "pat@example.org",
                                     {{"team", "billing"}})),
              only_audit);
  // Metadata value differs, is missing, or differs only in case.
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_BOUNCED, "pat@example.com",
                                     {{"team", "sales"}})),
              only_audit);
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_COMPLAINED, "pat@example.com")), only_audit);
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_DROPPED, "pat@example.com",
                                     {{"team", "Billing"}})),
              only_audit);
  // All hold, for each listed type.
  for (v1::EventType type :
       {v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED}) {
    EXPECT_THAT(rules->Route(MakeEvent(type, "pat@example.com", {{"team", "billing"}})),
                ElementsAre(Target("audit", {"audit-all"}), Target("suppression", {"bounces"})));
  }
}

TEST(RuleSetTest, NoMatchGivesNoTargets) {
  config::MatchConfig match;
  match.types = {"clicked"};
  auto rules = MustCreate({MakeRule("clicks", {"audit"}, match)}, {"audit"});
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_OPENED, "a@b.com")), IsEmpty());
  auto none = MustCreate({}, {"audit"});
  EXPECT_THAT(none->Route(MakeEvent(v1::EVENT_TYPE_OPENED, "a@b.com")), IsEmpty());
}

TEST(RuleSetTest, RecipientPredicateUsesAddressRules) {
  config::MatchConfig exact;
  exact.recipient = {"Pat@EXAMPLE.com"};
  config::MatchConfig glob;
  glob.recipient = {"*@*.example.com"};
  auto rules = MustCreate({MakeRule("exact", {"audit"}, exact), MakeRule("sub", {"audit"}, glob)},
                          {"audit"});
  // recipient keeps the local part's case; recipient_key is lower-case.
  v1::EmailEvent event;
  event.set_recipient("Pat@example.com");
  event.set_recipient_key("pat@example.com");
  EXPECT_THAT(rules->Route(event), ElementsAre(Target("audit", {"exact"})));
  event.set_recipient("pat@example.com");
  EXPECT_THAT(rules->Route(event), IsEmpty());
  event.set_recipient("pat@mail.example.com");
  event.set_recipient_key("pat@mail.example.com");
  EXPECT_THAT(rules->Route(event), ElementsAre(Target("audit", {"sub"})));
  // An event without a recipient never matches a recipient predicate.
  EXPECT_THAT(rules->Route(v1::EmailEvent()), IsEmpty());
}

TEST(RuleSetTest, OneTargetPerAgentListingEveryMatchedRule) {
  config::MatchConfig bounced;
  bounced.types = {"bounced"};
  auto rules = MustCreate({MakeRule("first", {"b", "a"}), MakeRule("second", {"c"}, bounced),
                           MakeRule("third", {"a", "c", "a"})},
                          {"a", "b", "c"});
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_BOUNCED, "x@y.com")),
              ElementsAre(Target("b", {"first"}), Target("a", {"first", "third"}),
                          Target("c", {"second", "third"})));
  EXPECT_THAT(rules->Route(MakeEvent(v1::EVENT_TYPE_OPENED, "x@y.com")),
              ElementsAre(Target("b", {"first"}), Target("a", {"first", "third"}),
                          Target("c", {"third"})));
}

TEST(RuleSetTest, UnknownAgentNamesTheField) {
  EXPECT_EQ(CreateError({MakeRule("ok", {"audit"}), MakeRule("r", {"suppression", "x"})}),
            "rules[1].agents[1]: unknown agent \"x\"");
}

TEST(RuleSetTest, UnknownEventTypeNamesTheField) {
  config::MatchConfig match;
  match.types = {"bounced", "bounce"};
  EXPECT_EQ(CreateError({MakeRule("ok", {"audit"}), MakeRule("r", {"audit"}, match)}),
            "rules[1].match.types[1]: unknown event type \"bounce\"");
  // Only the documented lowercase suffixes; not the enum spelling, not UNSPECIFIED.
  for (const char* name : {"BOUNCED", "EVENT_TYPE_BOUNCED", "unspecified", ""}) {
    match.types = {name};
    EXPECT_EQ(CreateError({MakeRule("r", {"audit"}, match)}),
              absl::StrCat("rules[0].match.types[0]: unknown event type \"", name, "\""));
  }
  match.types = {"sent",    "delivered",    "deferred",     "bounced",  "dropped",
                 "opened",  "clicked",      "complained",   "unsubscribed",
                 "resubscribed", "received", "unknown"};
  EXPECT_EQ(CreateError({MakeRule("r", {"audit"}, match)}), "OK");
}

TEST(RuleSetTest, BadRecipientPatternNamesTheField) {
  config::MatchConfig match;
  match.recipient = {"example.com"};
  const std::string error = CreateError({MakeRule("r", {"audit"}, match)});
  EXPECT_THAT(error, ::testing::StartsWith("rules[0].match.recipient: "));
}

TEST(RuleSetTest, RuleNamesAreRequiredAndUnique) {
  EXPECT_EQ(CreateError({MakeRule("", {"audit"})}), "rules[0].name: required");
  EXPECT_EQ(CreateError({MakeRule("a", {"audit"}), MakeRule("a", {"audit"})}),
            "rules[1].name: duplicate rule name \"a\"");
}

TEST(RuleSetTest, RuleNeedsAnAgent) {
  EXPECT_EQ(CreateError({MakeRule("a", {})}), "rules[0].agents: at least one agent required");
}

TEST(RuleSetTest, EmptyMetadataKeyIsRefused) {
  config::MatchConfig match;
  match.metadata = {{"", config::MetadataMatchConfig{{}, {"x"}}}};
  EXPECT_EQ(CreateError({MakeRule("a", {"audit"}, match)}), "rules[0].match.metadata: empty key");
}

}  // namespace
}  // namespace switchboard::routing
