// End to end with real processes: the `switchboard` binary on its embedded store, webhooks over
// HTTP signed as the providers sign them, agents over gRPC (tests/integration/raw_agent.h).
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tests/integration/signed_webhook.h"

namespace switchboard::testing {
namespace {

// A Standard Webhooks secret of the spec's own tests (standard-webhooks libraries, "whsec_" form);
// kAuditToken is the harness's (signed_webhook.h).
constexpr const char* kSecret = kResendSecret;
constexpr char kSuppressionToken[] = "suppression-token-0123456789";

std::string Config(const std::string& ack_deadline = "30s") {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
dedupe: { window: 72h }
delivery: { ack_deadline: ACK, max_attempts: 10, max_in_flight: 64 }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
agents:
  - { name: audit, tokens: ["AUDIT"] }
  - { name: suppression, tokens: ["SUPPRESSION"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
  - { name: bounces, match: { types: [bounced, complained] }, agents: [suppression] }
)",
                             {{"ACK", ack_deadline},
                              {"SECRET", kSecret},
                              {"AUDIT", kAuditToken},
                              {"SUPPRESSION", kSuppressionToken}});
}

// A Resend event of `type` to `to`, signed now (or at `signed_at`) with message id `id`.
SignedWebhook MakeWebhook(v1::EventType type, const std::string& id, const std::string& to,
                          absl::Time signed_at = absl::Now()) {
  return *SignResendEvent(kSecret, type, id, to, signed_at);
}

class WalkingSkeletonTest : public RouterTest {
 protected:
  WalkingSkeletonTest() : RouterTest("switchboard-it") {}
};

TEST_F(WalkingSkeletonTest, SameWebhookTwiceIsDeliveredOnce) {
  StartRouter(Config());
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  SignedWebhook w = MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_twice", "to@example.org");
  EXPECT_EQ(PostWebhook(*router_, w), 200);
  // The provider's retry: answered 200, not delivered again.
  EXPECT_EQ(PostWebhook(*router_, w), 200);
  auto first = agent.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->event().type(), v1::EVENT_TYPE_DELIVERED);
  EXPECT_EQ(first->event().recipient(), "to@example.org");
  EXPECT_EQ(first->attempt(), 1u);
  EXPECT_TRUE(agent.Ack(first->delivery_id()));
  EXPECT_FALSE(agent.Next(absl::Seconds(1)).has_value());
}

TEST_F(WalkingSkeletonTest, BadRequestsAreRefusedWithTheDocumentedStatus) {
  StartRouter(Config());
  SignedWebhook tampered = MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_tampered", "to@example.org");
  tampered.body = absl::StrReplaceAll(tampered.body, {{"to@example.org", "evil@example.org"}});
  EXPECT_EQ(PostWebhook(*router_, tampered), 401);

  SignedWebhook stale = MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_stale", "to@example.org",
                                    absl::Now() - absl::Minutes(10));
  EXPECT_EQ(PostWebhook(*router_, stale), 401);

  SignedWebhook future = MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_future", "to@example.org",
                                     absl::Now() + absl::Minutes(10));
  EXPECT_EQ(PostWebhook(*router_, future), 401);

  SignedWebhook unsigned_hook =
      MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_nosig", "to@example.org");
  std::erase_if(unsigned_hook.headers, [](const auto& h) { return h.first == "webhook-signature"; });
  EXPECT_EQ(PostWebhook(*router_, unsigned_hook), 401);

  SignedWebhook good = MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_good", "to@example.org");
  EXPECT_EQ(PostWebhook(*router_, good, "no-such-source"), 404);

  // None of the refused requests reached an agent; the good one, sent after them, does.
  EXPECT_EQ(PostWebhook(*router_, good), 200);
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
  auto d = agent.Next();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->event().provider_event_key(), "msg_good");
  EXPECT_FALSE(agent.Next(absl::Milliseconds(500)).has_value());
}

TEST_F(WalkingSkeletonTest, AgentAuthentication) {
  StartRouter(Config());
  RawAgent bad_token(router_->grpc_target(), "audit", "not-a-token");
  EXPECT_EQ(bad_token.WaitWelcome().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  RawAgent other_agents_token(router_->grpc_target(), "audit", kSuppressionToken);
  EXPECT_EQ(other_agents_token.WaitWelcome().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(WalkingSkeletonTest, TwoAgentNamesMatchedByRulesEachGetACopy) {
  StartRouter(Config());
  RawAgent audit(router_->grpc_target(), "audit", kAuditToken);
  RawAgent suppression(router_->grpc_target(), "suppression", kSuppressionToken);
  ASSERT_EQ(
      PostWebhook(*router_, MakeWebhook(v1::EVENT_TYPE_BOUNCED, "msg_bounce", "b@example.org")),
      200);
  auto a = audit.Next();
  auto s = suppression.Next();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(a->event().id(), s->event().id());
  EXPECT_EQ(a->event().type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(std::vector<std::string>(a->matched_rules().begin(), a->matched_rules().end()),
            std::vector<std::string>{"audit-all"});
  EXPECT_EQ(std::vector<std::string>(s->matched_rules().begin(), s->matched_rules().end()),
            std::vector<std::string>{"bounces"});
  // A delivered event matches only audit-all.
  ASSERT_EQ(
      PostWebhook(*router_, MakeWebhook(v1::EVENT_TYPE_DELIVERED, "msg_dlv", "b@example.org")),
      200);
  EXPECT_TRUE(audit.Next().has_value());
  EXPECT_FALSE(suppression.Next(absl::Milliseconds(500)).has_value());
}

TEST_F(WalkingSkeletonTest, InstancesOfOneAgentNameShareItsQueue) {
  StartRouter(Config());
  constexpr int kEvents = 200;
  RawAgent one(router_->grpc_target(), "audit", kAuditToken, /*max_in_flight=*/1);
  RawAgent two(router_->grpc_target(), "audit", kAuditToken, /*max_in_flight=*/1);
  ASSERT_TRUE(one.WaitWelcome().ok());
  ASSERT_TRUE(two.WaitWelcome().ok());
  EXPECT_EQ(one.welcome().max_in_flight(), 1u);
  const SharedConsumption got =
      ConsumeShared({&one, &two}, kEvents, absl::Milliseconds(5), [&] {
        for (int i = 0; i < kEvents; ++i) {
          SignedWebhook w = MakeWebhook(v1::EVENT_TYPE_DELIVERED, absl::StrCat("msg_share_", i),
                                        absl::StrCat("user", i, "@example.org"));
          ASSERT_EQ(PostWebhook(*router_, w), 200);
        }
      });
  EXPECT_EQ(got.total, kEvents);
  EXPECT_EQ(got.times_by_event_id.size(), static_cast<size_t>(kEvents));
  for (const auto& [id, n] : got.times_by_event_id) EXPECT_EQ(n, 1) << id;
  EXPECT_GE(got.per_instance[0], kEvents / 4);
  EXPECT_GE(got.per_instance[1], kEvents / 4);
}

TEST_F(WalkingSkeletonTest, UnackedDeliveryComesBackAfterTheLease) {
  StartRouter(Config("1s"));
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
  ASSERT_EQ(PostWebhook(*router_, MakeWebhook(v1::EVENT_TYPE_OPENED, "msg_lease", "l@example.org")),
            200);
  auto first = agent.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->attempt(), 1u);
  auto second = agent.Next(absl::Seconds(5));  // not acked: back after the 1 s lease
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->event().id(), first->event().id());
  EXPECT_NE(second->delivery_id(), first->delivery_id());
  EXPECT_EQ(second->attempt(), 2u);
  // The late ack of attempt 1 is ignored and does not end the stream.
  EXPECT_TRUE(agent.Ack(first->delivery_id()));
  EXPECT_TRUE(agent.Ack(second->delivery_id()));
  EXPECT_FALSE(agent.Next(absl::Milliseconds(2500)).has_value());
  EXPECT_FALSE(agent.Ended());
}

TEST_F(WalkingSkeletonTest, ExtendKeepsASlowHandlersDeliveryLeased) {
  StartRouter(Config("1s"));
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
  ASSERT_EQ(PostWebhook(*router_, MakeWebhook(v1::EVENT_TYPE_OPENED, "msg_slow", "s@example.org")),
            200);
  auto d = agent.Next();
  ASSERT_TRUE(d.has_value());
  // Work for 3 s (three leases), extending every 400 ms.
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(agent.Extend(d->delivery_id(), absl::Seconds(1)));
    EXPECT_FALSE(agent.Next(absl::Milliseconds(400)).has_value()) << "redelivered while extended";
  }
  EXPECT_TRUE(agent.Ack(d->delivery_id()));
  EXPECT_FALSE(agent.Next(absl::Milliseconds(2000)).has_value());
}

TEST_F(WalkingSkeletonTest, KillNineLosesNoAcknowledgedEvent) {
  StartRouter(Config());
  constexpr int kEvents = 60;
  std::set<std::string> ledger;  // event ids the ingress answered 200 for
  std::set<std::string> delivered_before_kill;
  {
    RawAgent agent(router_->grpc_target(), "audit", kAuditToken);  // never acks
    ASSERT_TRUE(agent.WaitWelcome().ok());
    std::atomic<bool> stop{false};
    std::atomic<int> answered_200{0};
    std::thread load([&] {
      for (int i = 0; i < kEvents && !stop; ++i) {
        std::string id = absl::StrCat("msg_kill_", i);
        std::string to = absl::StrCat("k", i, "@example.org");
        if (PostWebhook(*router_, MakeWebhook(v1::EVENT_TYPE_DELIVERED, id, to)) == 200) {
          auto hash = crypto::Sha256(absl::StrCat("resend", std::string(1, '\0'), id,
                                                  std::string(1, '\0'), to));
          ledger.insert(crypto::HexEncode(*hash));
          answered_200.fetch_add(1);
        }
      }
    });
    // Take deliveries while the load runs; kill the router mid-way.
    while (delivered_before_kill.size() < kEvents / 2) {
      auto d = agent.Next(absl::Seconds(10));
      if (!d) break;
      delivered_before_kill.insert(d->event().id());
    }
    // A delivery can reach the agent before the load thread has read its 200, so wait for the
    // answers too: the kill must land after half the events were acknowledged to the sender.
    for (absl::Time deadline = absl::Now() + absl::Seconds(10);
         answered_200.load() < kEvents / 2 && absl::Now() < deadline;) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    router_->Kill();
    stop = true;
    load.join();
  }
  ASSERT_GE(ledger.size(), static_cast<size_t>(kEvents / 2));
  ASSERT_TRUE(router_->Restart().ok()) << router_->log();
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
  // Events committed at the moment of the kill may arrive too (their 200 was lost): wait for every
  // ledger id, not for a count.
  std::set<std::string> received;
  auto missing = [&] {
    return std::any_of(ledger.begin(), ledger.end(),
                       [&](const std::string& id) { return !received.count(id); });
  };
  while (missing()) {
    auto d = agent.Next(absl::Seconds(10));
    if (!d) break;
    if (delivered_before_kill.count(d->event().id())) {
      EXPECT_GE(d->attempt(), 2u) << d->event().id();
    }
    received.insert(d->event().id());
    agent.Ack(d->delivery_id());
  }
  for (const auto& id : ledger) EXPECT_TRUE(received.count(id)) << "lost " << id;
}

}  // namespace
}  // namespace switchboard::testing
