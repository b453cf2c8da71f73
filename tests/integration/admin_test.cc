// The operator API end to end: a real `switchboard` process (embedded store) driven by the real
// `switchboardctl` binary (its exit status, stdout and stderr), webhooks over HTTP signed as Resend
// signs them, agents over gRPC (raw_agent.h). Expected values come from the contract
// (proto/switchboard/v1/admin.proto, README "Operating Switchboard"), not from captured output.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "router/config/config.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tests/integration/signed_webhook.h"
#include "tools/switchboardctl/sample_payloads.h"

namespace switchboard::testing {
namespace {

// A Standard Webhooks secret in the "whsec_" form of the spec's own tests.
constexpr const char* kSecret = kResendSecret;
constexpr char kAdminToken[] = "admin-token-alice-0123456789";
constexpr char kSupportToken[] = "support-token-0123456789";
constexpr char kSuppressionToken[] = "suppression-token-0123456789";
constexpr char kPoisonToken[] = "poison-token-0123456789";

// Agents: support (no rule at start), suppression (bounces), poison (2 attempts, short backoff:
// every bounce to poison@ is nacked into dead letters). `extra` is appended to the config.
std::string Config(const std::string& extra = "") {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
delivery: { ack_deadline: 30s, max_attempts: 10, max_in_flight: 64 }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
agents:
  - { name: support, tokens: ["SUPPORT"] }
  - { name: suppression, tokens: ["SUPPRESSION"] }
  - name: poison
    tokens: ["POISON"]
    max_attempts: 2
    backoff: { initial: 20ms, max: 100ms }
admin:
  tokens:
    - { name: alice, token: "ADMIN" }
)",
                             {{"SECRET", kSecret},
                              {"SUPPORT", kSupportToken},
                              {"SUPPRESSION", kSuppressionToken},
                              {"POISON", kPoisonToken},
                              {"ADMIN", kAdminToken}}) +
         extra;
}

constexpr char kConfigRules[] = R"(rules:
  - { name: bounces, match: { types: [bounced] }, agents: [suppression] }
  - { name: poison-bounces, match: { recipient: "poison@example.org", types: [bounced] }, agents: [poison], priority: 10, stop: true }
)";

// Rules documents (the list form a store holds).
constexpr char kRulesWithSupport[] = R"(- name: bounces
  match: { types: [bounced] }
  agents: [suppression]
- name: poison-bounces
  priority: 10
  stop: true
  match: { recipient: "poison@example.org", types: [bounced] }
  agents: [poison]
- name: support-desk
  match: { recipient: "*@example.com" }
  agents: [support]
)";

constexpr char kRulesOther[] = R"(- name: bounces
  match: { types: [bounced] }
  agents: [suppression]
- name: everything-to-support
  match: {}
  agents: [support]
)";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A failure as the CLI promises it: non-zero exit, exactly one line on stderr, `error: ...`.
void ExpectOneLineError(const CtlResult& r, const std::string& must_contain) {
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: ")) << Describe(r);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line only: " << Describe(r);
  EXPECT_TRUE(absl::StrContains(r.err, must_contain)) << must_contain << "\n" << Describe(r);
}

boost::json::object ParseObject(const CtlResult& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.out, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << Describe(r);
    return {};
  }
  return v.get_object();
}

class AdminTest : public RouterTest {
 protected:
  AdminTest() : RouterTest("switchboard-admin") {}
  void SetUp() override { MakeDir(); }
  void TearDown() override {
    if (HasFailure() && router_) std::cerr << router_->log();
    RouterTest::TearDown();
  }

  // switchboardctl against this router with the admin token.
  std::vector<std::string> WithAdmin(std::vector<std::string> args) {
    args.insert(args.end(), {"--addr", router_->grpc_target(), "--token", kAdminToken});
    return args;
  }
  CtlResult Ctl(std::vector<std::string> args) { return RunCtl(dir_, WithAdmin(std::move(args))); }

  std::string File(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    WriteFile(path, text);
    return path;
  }

  // The stored rules (`rules get -o json`).
  boost::json::object GetRules() {
    CtlResult r = Ctl({"rules", "get", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    return ParseObject(r);
  }

  // Posts a fresh `type` event to `to` every 200 ms until `agent` receives one (a rule change
  // reaches the router's running set within a second; each post is a new event). The delivery.
  std::optional<v1::Delivery> PostUntilDelivered(RawAgent& agent, v1::EventType type,
                                                 const std::string& to) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (int i = 0; absl::Now() < deadline; ++i) {
      if (PostResendEvent(*router_, type, absl::StrCat("msg_live_", i), to) != 200) {
        return std::nullopt;
      }
      if (auto d = agent.Next(absl::Milliseconds(200))) return d;
    }
    return std::nullopt;
  }
};

TEST_F(AdminTest, ApplyTakesEffectLiveDryRunWritesNothingAndAStaleVersionIsRefused) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  RawAgent support(router_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());
  // No rule selects support yet.
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, "msg_before", "help@example.com"),
            200);
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value());

  // Version 0: the config file's rules, nothing stored yet.
  boost::json::object before = GetRules();
  EXPECT_EQ(Int64Field(before, "version"), 0);

  // A dry run validates and diffs (the new rule is an added line) and writes nothing.
  const std::string with_support = File("with-support.yaml", kRulesWithSupport);
  CtlResult dry = Ctl({"rules", "apply", "-f", with_support, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << Describe(dry);
  bool added_line = false;
  for (absl::string_view line : absl::StrSplit(dry.out, '\n')) {
    if (absl::StartsWith(line, "+") && absl::StrContains(line, "support-desk")) added_line = true;
  }
  EXPECT_TRUE(added_line) << Describe(dry);
  EXPECT_TRUE(absl::StrContains(dry.out, "dry run")) << Describe(dry);
  boost::json::object after_dry = GetRules();
  EXPECT_EQ(Int64Field(after_dry, "version"), 0);
  EXPECT_EQ(StringField(after_dry, "yaml"), StringField(before, "yaml"));
  EXPECT_FALSE(support.Next(absl::Milliseconds(300)).has_value());

  // Refused, naming the file: a rule for an agent that does not exist; an empty file (a
  // truncated `rules get > f`), which would drop every rule (that is `[]`). Nothing is stored.
  const std::string unknown_agent =
      File("unknown-agent.yaml", "- { name: x, match: {}, agents: [nobody] }\n");
  CtlResult refused = Ctl({"rules", "apply", "-f", unknown_agent});
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_TRUE(absl::StartsWith(refused.err, absl::StrCat("error: ", unknown_agent, ":1:")))
      << Describe(refused);
  EXPECT_TRUE(absl::StrContains(refused.err, "unknown agent \"nobody\"")) << Describe(refused);
  for (const char* text :
       {"", "\n  \n# only a comment\n", "---\n", "~\n", "null\n", "\xEF\xBB\xBF",
        "%YAML 1.2\n---\n", "--- # c\n...\n"}) {
    const std::string empty_file = File("empty.yaml", text);
    CtlResult empty = Ctl({"rules", "apply", "-f", empty_file});
    EXPECT_EQ(empty.exit_code, 1) << Describe(empty);
    EXPECT_EQ(empty.err,
              absl::StrCat("error: ", empty_file,
                           ": the rules document holds no list (a truncated file?); to remove "
                           "every rule, apply `[]` (INVALID_ARGUMENT)\n"))
        << Describe(empty);
  }
  // A directory or a missing file is named with the reason.
  CtlResult directory = Ctl({"rules", "apply", "-f", dir_});
  EXPECT_EQ(directory.err,
            absl::StrCat("error: \"", dir_, "\" is not a regular file (INVALID_ARGUMENT)\n"))
      << Describe(directory);
  EXPECT_EQ(Int64Field(GetRules(), "version"), 0);

  // Applied for real (the CLI reads version 0 and sends it): version 1, stored.
  CtlResult applied = Ctl({"rules", "apply", "-f", with_support});
  ASSERT_EQ(applied.exit_code, 0) << Describe(applied);
  EXPECT_TRUE(absl::StrContains(applied.out, "applied: version 1")) << Describe(applied);
  boost::json::object stored = GetRules();
  EXPECT_EQ(Int64Field(stored, "version"), 1);
  EXPECT_EQ(StringField(stored, "origin"), "store");
  EXPECT_TRUE(absl::StrContains(StringField(stored, "yaml"), "support-desk"));

  // Without a restart, a webhook sent after the apply reaches support, selected by the new rule.
  std::optional<v1::Delivery> live =
      PostUntilDelivered(support, v1::EVENT_TYPE_DELIVERED, "help@example.com");
  ASSERT_TRUE(live.has_value()) << router_->log();
  EXPECT_EQ(live->event().recipient(), "help@example.com");
  EXPECT_EQ(std::vector<std::string>(live->matched_rules().begin(), live->matched_rules().end()),
            std::vector<std::string>{"support-desk"});
  EXPECT_TRUE(support.Ack(live->delivery_id()));

  // Two operators both started from version 1: the first edit wins, the second is refused with
  // FAILED_PRECONDITION and changes nothing.
  const std::string other = File("other.yaml", kRulesOther);
  CtlResult first = Ctl({"rules", "apply", "-f", other, "--expected-version", "1"});
  ASSERT_EQ(first.exit_code, 0) << Describe(first);
  EXPECT_TRUE(absl::StrContains(first.out, "applied: version 2")) << Describe(first);
  CtlResult second = Ctl({"rules", "apply", "-f", with_support, "--expected-version", "1"});
  ExpectOneLineError(second, "FAILED_PRECONDITION");
  boost::json::object now = GetRules();
  EXPECT_EQ(Int64Field(now, "version"), 2);
  EXPECT_TRUE(absl::StrContains(StringField(now, "yaml"), "everything-to-support"));
  EXPECT_FALSE(absl::StrContains(StringField(now, "yaml"), "support-desk"));

  // A document that does not validate is refused whole, naming the field.
  const std::string bad = File("bad.yaml", "- name: x\n  match: { types: [bounce] }\n  agents: [support]\n");
  ExpectOneLineError(Ctl({"rules", "apply", "-f", bad}), "unknown event type \"bounce\"");
  EXPECT_EQ(Int64Field(GetRules(), "version"), 2);
}

// A document of 5,000 rules: its apply is audited with the diff cut at 64 KiB and a note, so that
// a log pipeline takes the line; deleting one rule of it logs a diff of that rule alone (the
// lines before and after it are common to both versions; 5,000 x 5,000 lines would exceed the
// diff's table).
TEST_F(AdminTest, TheAuditLogKeepsALargeDiffShortAndOneDeletedRuleIsASmallDiff) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  std::string rules;
  for (int i = 0; i < 5000; ++i) {
    absl::StrAppend(&rules, "- { name: r", i, ", match: { recipient: \"u", i,
                    "@example.com\" }, agents: [support] }\n");
  }
  CtlResult applied = Ctl({"rules", "apply", "-f", File("large.yaml", rules)});
  ASSERT_EQ(applied.exit_code, 0) << Describe(applied);
  ASSERT_GT(applied.out.size(), 500u * 1024) << "the answer holds the whole diff";
  CtlResult deleted = Ctl({"rules", "delete", "r2500"});
  ASSERT_EQ(deleted.exit_code, 0) << Describe(deleted);

  std::vector<std::string> audit;
  for (absl::string_view line : absl::StrSplit(router_->log(), '\n')) {
    if (absl::StrContains(line, R"("event":"admin")")) audit.emplace_back(line);
  }
  ASSERT_EQ(audit.size(), 2u) << router_->log().substr(0, 2000);
  EXPECT_LT(audit[0].size(), 70u * 1024);
  EXPECT_TRUE(absl::StrContains(audit[0], R"("rpc":"ApplyRules")")) << audit[0].substr(0, 200);
  EXPECT_TRUE(absl::StrContains(audit[0], R"(more bytes of diff not logged)\n")"))
      << audit[0].substr(audit[0].size() - 200);
  EXPECT_TRUE(absl::StrContains(audit[1], R"("rpc":"DeleteRule")")) << audit[1];
  EXPECT_LT(audit[1].size(), 2048u) << audit[1].substr(0, 400);
  EXPECT_TRUE(absl::StrContains(audit[1], "\\n-- name: r2500\\n")) << audit[1];
  EXPECT_FALSE(absl::StrContains(audit[1], "name: r2400")) << audit[1];
}

TEST_F(AdminTest, ExplainNamesTheMatchingRule) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  ASSERT_EQ(Ctl({"rules", "apply", "-f", File("rules.yaml", kRulesWithSupport)}).exit_code, 0);

  // A raw Resend payload decoded by the `resend` source's provider (its signature is not checked).
  const std::string fixture =
      File("bounce.json", *ctl::SamplePayload("standard-webhooks", "resend", v1::EVENT_TYPE_BOUNCED,
                                              "poison@example.org", absl::Now(), "msg_explain"));
  // Standard Webhooks carries the message id and time in headers: -H passes them (no signature).
  CtlResult raw = Ctl({"rules", "explain", "--source", "resend", "--fixture", fixture, "-H",
                       "webhook-id: msg_explain", "-H",
                       absl::StrCat("webhook-timestamp: ", absl::ToUnixSeconds(absl::Now())),
                       "-o", "json"});
  ASSERT_EQ(raw.exit_code, 0) << Describe(raw);
  boost::json::object response = ParseObject(raw);
  ASSERT_TRUE(response.contains("events")) << Describe(raw);
  const boost::json::array& events = response.at("events").as_array();
  ASSERT_EQ(events.size(), 1u) << Describe(raw);
  const boost::json::object& explained = events[0].as_object();
  // poison-bounces (priority 10) matches and stops: `bounces` is never evaluated.
  std::map<std::string, std::pair<bool, bool>> verdicts;  // rule -> (matched, evaluated)
  for (const auto& v : explained.at("rules").as_array()) {
    const auto& o = v.as_object();
    verdicts[StringField(o, "rule")] = {o.contains("matched") && o.at("matched").as_bool(),
                                        o.contains("evaluated") && o.at("evaluated").as_bool()};
  }
  EXPECT_EQ(verdicts["poison-bounces"], std::make_pair(true, true)) << Describe(raw);
  EXPECT_EQ(verdicts["bounces"], std::make_pair(false, false)) << Describe(raw);
  ASSERT_TRUE(explained.contains("agents")) << Describe(raw);
  EXPECT_EQ(explained.at("agents").as_array(), boost::json::array{"poison"});

  // A normalized event (protobuf JSON), human output: the matching rule's row says "matched".
  const std::string event = File("event.json", R"({"id": "evt_1", "source": "resend",
      "provider": "resend", "type": "EVENT_TYPE_DELIVERED", "recipient": "help@example.com"})");
  CtlResult human = Ctl({"rules", "explain", "-f", event});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  bool support_matched = false;
  for (absl::string_view line : absl::StrSplit(human.out, '\n')) {
    if (absl::StartsWith(line, "support-desk ") && absl::StrContains(line, " matched")) {
      support_matched = true;
    }
  }
  EXPECT_TRUE(support_matched) << Describe(human);
  EXPECT_TRUE(absl::StrContains(human.out, "agents: support\n")) << Describe(human);
}

TEST_F(AdminTest, UnmatchedEventsAreReplayedOnceARuleExists) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  RawAgent support(router_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());
  // One event no rule selects, one that goes to suppression.
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, "msg_lost", "help@example.com"),
            200);
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_routed", "x@example.org"), 200);
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value());

  // An undeclared agent is refused.
  ExpectOneLineError(Ctl({"replay", "--since", "1h", "--unmatched", "--to", "nobody"}),
                     "NOT_FOUND");

  ASSERT_EQ(Ctl({"rules", "apply", "-f", File("rules.yaml", kRulesWithSupport)}).exit_code, 0);
  CtlResult replay = Ctl({"replay", "--since", "1h", "--unmatched", "--to", "support"});
  ASSERT_EQ(replay.exit_code, 0) << Describe(replay);
  EXPECT_EQ(replay.out, "replayed 1 archived event to support\n") << Describe(replay);
  std::optional<v1::Delivery> d = support.Next();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->event().type(), v1::EVENT_TYPE_DELIVERED);
  EXPECT_EQ(d->event().recipient(), "help@example.com");
  // While support still holds it (leased, not acked), replaying again enqueues nothing.
  CtlResult again = Ctl({"replay", "--since", "1h", "--unmatched", "--to", "support"});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(again.out, "replayed 0 archived events to support\n") << Describe(again);
  EXPECT_TRUE(support.Ack(d->delivery_id()));
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value());
}

TEST_F(AdminTest, DeadLettersAreListedReplayedAndPurged) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  RawAgent poison(router_->grpc_target(), "poison", kPoisonToken);
  ASSERT_TRUE(poison.WaitWelcome().ok());
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_poison", "poison@example.org"),
            200);

  // max_attempts 2: two nacks make a dead letter.
  std::string event_id;
  auto nack_twice = [&](const std::string& reason) {
    for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
      std::optional<v1::Delivery> d = poison.Next();
      ASSERT_TRUE(d.has_value()) << "attempt " << attempt;
      EXPECT_EQ(d->attempt(), attempt);
      event_id = d->event().id();
      ASSERT_TRUE(poison.Nack(d->delivery_id(), absl::ZeroDuration(), reason));
    }
    EXPECT_FALSE(poison.Next(absl::Milliseconds(500)).has_value());
  };
  ASSERT_NO_FATAL_FAILURE(nack_twice("cannot parse"));

  // Listed (the dead letter is written right after the last nack; poll briefly).
  auto list = [&] { return Ctl({"dlq", "list", "poison", "-o", "json"}); };
  CtlResult listed = list();
  for (int i = 0; i < 50 && listed.exit_code == 0 && listed.out.find(event_id) == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    listed = list();
  }
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  boost::json::object letters = ParseObject(listed);
  ASSERT_TRUE(letters.contains("entries")) << Describe(listed);
  ASSERT_EQ(letters.at("entries").as_array().size(), 1u) << Describe(listed);
  const boost::json::object& entry = letters.at("entries").as_array()[0].as_object();
  EXPECT_EQ(StringField(entry, "event_id"), event_id);
  EXPECT_EQ(Int64Field(entry, "attempts"), 2);
  EXPECT_TRUE(absl::StrContains(StringField(entry, "reason"), "cannot parse")) << Describe(listed);
  CtlResult table = Ctl({"dlq", "list", "poison"});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_TRUE(absl::StartsWith(table.out, "EVENT-ID")) << Describe(table);
  EXPECT_TRUE(absl::StrContains(table.out, event_id)) << Describe(table);

  // `agents` counts it.
  CtlResult agents = Ctl({"agents", "-o", "json"});
  ASSERT_EQ(agents.exit_code, 0) << Describe(agents);
  bool counted = false;
  const boost::json::object agent_list = ParseObject(agents);
  ASSERT_TRUE(agent_list.contains("agents")) << Describe(agents);
  for (const auto& a : agent_list.at("agents").as_array()) {
    if (StringField(a.as_object(), "name") == "poison") {
      counted = Int64Field(a.as_object(), "dead_letters") == 1;
    }
  }
  EXPECT_TRUE(counted) << Describe(agents);

  // Replayed: delivered again as a fresh entry (attempt 1).
  CtlResult replayed = Ctl({"dlq", "replay", "poison"});
  ASSERT_EQ(replayed.exit_code, 0) << Describe(replayed);
  EXPECT_EQ(replayed.out, "replayed 1 dead letter to poison\n");
  std::optional<v1::Delivery> again = poison.Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->event().id(), event_id);
  EXPECT_EQ(again->attempt(), 1u);
  ASSERT_TRUE(poison.Nack(again->delivery_id(), absl::ZeroDuration(), "still broken"));
  std::optional<v1::Delivery> last = poison.Next();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->attempt(), 2u);
  ASSERT_TRUE(poison.Nack(last->delivery_id(), absl::ZeroDuration(), "still broken"));

  // Dead again, then purged: the list is empty.
  listed = list();
  for (int i = 0; i < 50 && listed.out.find(event_id) == std::string::npos; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    listed = list();
  }
  ASSERT_NE(listed.out.find(event_id), std::string::npos) << Describe(listed);
  // Ids that name no dead letter of the agent are an error, and an empty id is refused; the
  // dead letter stays (the purge below finds it).
  for (const std::string verb : {"replay", "purge"}) {
    CtlResult bogus = Ctl({"dlq", verb, "poison", "--id", "deadbeef"});
    EXPECT_EQ(bogus.exit_code, 1) << Describe(bogus);
    EXPECT_EQ(bogus.err, absl::StrCat("error: no dead letter of poison has the event id deadbeef; "
                                      "nothing was ", verb, verb == "replay" ? "ed" : "d",
                                      " (NOT_FOUND)\n"))
        << Describe(bogus);
    EXPECT_EQ(bogus.out, "") << Describe(bogus);
    CtlResult empty_id = Ctl({"dlq", verb, "poison", "--id", " "});
    EXPECT_EQ(empty_id.exit_code, 1) << Describe(empty_id);
    EXPECT_EQ(empty_id.err, "error: event_ids[0]: empty (INVALID_ARGUMENT)\n")
        << Describe(empty_id);
  }
  // Named ids of which only some are dead letters: those are purged, and the exit code and the
  // message say the rest was not.
  CtlResult purged = Ctl({"dlq", "purge", "poison", "--id", event_id, "--id", "deadbeef"});
  EXPECT_EQ(purged.exit_code, 1) << Describe(purged);
  EXPECT_EQ(purged.out, "purged 1 dead letter of poison\n");
  EXPECT_EQ(purged.err, "error: only 1 of the 2 event ids named are dead letters of poison; the "
                        "others were not purged (NOT_FOUND)\n")
      << Describe(purged);
  CtlResult empty = list();
  ASSERT_EQ(empty.exit_code, 0) << Describe(empty);
  EXPECT_FALSE(ParseObject(empty).contains("entries")) << Describe(empty);
  EXPECT_EQ(Ctl({"dlq", "list", "poison"}).out, "no dead letters for poison\n");
}

TEST_F(AdminTest, ABadOrMissingAdminTokenIsRefusedWithOneLine) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  ExpectOneLineError(RunCtl(dir_, {"agents", "--addr", router_->grpc_target(), "--token",
                                   "not-the-admin-token"}),
                     "UNAUTHENTICATED");
  // An agent's token is not an admin token.
  ExpectOneLineError(RunCtl(dir_, {"rules", "get", "--addr", router_->grpc_target(), "--token",
                                   kSupportToken}),
                     "UNAUTHENTICATED");
  ExpectOneLineError(RunCtl(dir_, {"agents", "--addr", router_->grpc_target()}),
                     "no admin token");
  // The environment works as the flags do.
  CtlResult by_env = RunCtl(dir_, {"agents"},
                            {{"SWITCHBOARD_ADDR", router_->grpc_target()},
                             {"SWITCHBOARD_ADMIN_TOKEN", kAdminToken}});
  ASSERT_EQ(by_env.exit_code, 0) << Describe(by_env);
  EXPECT_TRUE(absl::StartsWith(by_env.out, "AGENT ")) << Describe(by_env);
  for (const char* agent : {"support", "suppression", "poison"}) {
    EXPECT_TRUE(absl::StrContains(by_env.out, absl::StrCat("\n", agent, " "))) << by_env.out;
  }
  // Nothing listens here: one line naming the address.
  ExpectOneLineError(RunCtl(dir_, {"agents", "--addr", "127.0.0.1:1", "--token", kAdminToken,
                                   "--timeout", "2"}),
                     "127.0.0.1:1");
}

TEST_F(AdminTest, GitOpsModeRefusesRuleWrites) {
  const std::string rules_file = File("rules.yaml", kRulesWithSupport);
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config("  rules_file: rules.yaml\n")));
  CtlResult get = Ctl({"rules", "get", "-o", "json"});
  ASSERT_EQ(get.exit_code, 0) << Describe(get);
  boost::json::object rules = ParseObject(get);
  EXPECT_TRUE(rules.contains("read_only") && rules.at("read_only").as_bool()) << Describe(get);
  EXPECT_TRUE(absl::StrContains(StringField(rules, "yaml"), "support-desk")) << Describe(get);

  ExpectOneLineError(Ctl({"rules", "apply", "-f", File("other.yaml", kRulesOther)}), "rules.yaml");
  ExpectOneLineError(Ctl({"rules", "apply", "-f", File("other2.yaml", kRulesOther), "--dry-run"}),
                     "FAILED_PRECONDITION");
  CtlResult after = Ctl({"rules", "get"});
  ASSERT_EQ(after.exit_code, 0) << Describe(after);
  EXPECT_TRUE(absl::StrContains(after.out, "read-only")) << Describe(after);
  EXPECT_TRUE(absl::StrContains(after.out, "support-desk")) << Describe(after);
  EXPECT_FALSE(absl::StrContains(after.out, "everything-to-support")) << Describe(after);

  // The file's rules route.
  RawAgent support(router_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, "msg_gitops", "help@example.com"),
            200);
  std::optional<v1::Delivery> d = support.Next();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->event().recipient(), "help@example.com");
}

TEST_F(AdminTest, TailStreamsCommittedEventsThatPassTheFilterWithTheirAgents) {
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config(kConfigRules)));
  CtlProcess tail =
      SpawnCtl(dir_, WithAdmin({"tail", "--type", "bounced", "--count", "1", "-o", "json"}));
  // The stream may open after the first posts: keep posting (each a new event) until tail has
  // printed its one event and exited. Every delivered event is filtered out.
  std::optional<CtlResult> done;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  for (int i = 0; !done.has_value() && absl::Now() < deadline; ++i) {
    ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, absl::StrCat("msg_d", i),
                              "d@example.org"),
              200);
    ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, absl::StrCat("msg_b", i),
                              "b@example.org"),
              200);
    absl::SleepFor(absl::Milliseconds(200));
    done = CollectCtl(tail, /*block=*/false);
  }
  if (!done.has_value()) {
    kill(tail.pid, SIGKILL);
    done = CollectCtl(tail);
    FAIL() << "tail printed nothing in 15 s: " << Describe(*done);
  }
  ASSERT_EQ(done->exit_code, 0) << Describe(*done);
  // One JSON object on one line: the event and where it was routed.
  ASSERT_EQ(std::count(done->out.begin(), done->out.end(), '\n'), 1) << Describe(*done);
  boost::json::object line = ParseObject(*done);
  ASSERT_TRUE(line.contains("event")) << Describe(*done);
  EXPECT_EQ(StringField(line.at("event").as_object(), "type"), "EVENT_TYPE_BOUNCED");
  EXPECT_EQ(StringField(line.at("event").as_object(), "recipient"), "b@example.org");
  ASSERT_TRUE(line.contains("agents")) << Describe(*done);
  EXPECT_EQ(line.at("agents").as_array(), boost::json::array{"suppression"});
}

}  // namespace
}  // namespace switchboard::testing
