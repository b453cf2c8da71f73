// Two real `switchboard` processes sharing one real redis-server (tests/redis_util): what a user
// running N replicas behind a load balancer relies on. Webhooks are signed as Resend signs them
// (Standard Webhooks); agents are raw gRPC streams (tests/integration/raw_agent.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/store/redis_store.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/signed_webhook.h"
#include "tests/redis_util/redis_server.h"

namespace switchboard::testing {
namespace {

// The Standard Webhooks secret and the audit token of the harness (signed_webhook.h).
constexpr const char* kSecret = kResendSecret;

constexpr char kBillingToken[] = "billing-token-0123456789";
constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kAuditAllRules[] = "  - { name: audit-all, match: {}, agents: [audit] }\n";

std::string Config(const std::string& redis_url, const std::string& ack_deadline,
                   const std::string& rules = kAuditAllRules) {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: redis, url: "URL" }
dedupe: { window: 72h }
delivery: { ack_deadline: ACK, max_attempts: 10, max_in_flight: 64 }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
agents:
  - { name: audit, tokens: ["AUDIT"] }
  - { name: billing, tokens: ["BILLING"] }
admin:
  tokens:
    - { name: alice, token: "ADMIN" }
rules:
RULES)",
                             {{"URL", redis_url},
                              {"RULES", rules},
                              {"BILLING", kBillingToken},
                              {"ACK", ack_deadline},
                              {"SECRET", kSecret},
                              {"AUDIT", kAuditToken},
                              {"ADMIN", kAdminToken}});
}

// One rule `name` sending billing@example.org to the agent billing.
std::string BillingRules(const std::string& name) {
  return absl::StrCat("- name: ", name,
                      "\n  match: { recipient: billing@example.org }\n  agents: [billing]\n");
}

// Waits (up to `timeout`) until the router's log holds `text` `times` times.
bool WaitForLog(const RouterProcess& router, const std::string& text, absl::Duration timeout,
                int times = 1) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const std::string log = router.log();
    int found = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++found;
    if (found >= times) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// A signed Resend "delivered" webhook (PostWebhook posts it) and the EmailEvent id the router
// derives from it.
struct Webhook : SignedWebhook {
  std::string event_id;  // the EmailEvent id the router derives (README "Idempotency key")
};

Webhook MakeWebhook(const std::string& message_id, const std::string& to) {
  Webhook w{*SignResendEvent(kSecret, v1::EVENT_TYPE_DELIVERED, message_id, to), ""};
  const std::string nul(1, '\0');
  w.event_id = crypto::HexEncode(*crypto::Sha256(absl::StrCat("resend", nul, message_id, nul, to)));
  return w;
}

// GET http://127.0.0.1:<port><path>: the status code, -1 if there is no answer.
int Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int status = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[64] = {};
      const ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
      // "HTTP/1.1 200 ..."
      if (n >= 12) status = std::atoi(buffer + 9);
    }
  }
  close(fd);
  return status;
}

class RedisReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }
  void StartReplicas(const std::string& ack_deadline = "30s",
                     const std::string& rules = kAuditAllRules) {
    for (auto* replica : {&a_, &b_}) {
      const std::string dir = MakeTempDir("switchboard-redis-it");
      ASSERT_FALSE(dir.empty());
      dirs_.push_back(dir);
      auto router = RouterProcess::Start(dir, Config(redis_->url(), ack_deadline, rules));
      ASSERT_TRUE(router.ok()) << router.status();
      *replica = *std::move(router);
    }
  }
  void TearDown() override {
    for (auto* replica : {&a_, &b_}) {
      if (*replica && HasFailure()) ADD_FAILURE() << "router log:\n" << (*replica)->log();
      if (*replica) (*replica)->Kill();
    }
    redis_.reset();
    if (!HasFailure()) {
      for (const std::string& dir : dirs_) std::filesystem::remove_all(dir);
    }
  }

  // Stores a rules document as an operator's `rules apply` through any replica does (PutRules on
  // the shared Redis); answers its version.
  absl::StatusOr<int64_t> PutRules(const std::string& yaml, int64_t expected_version) {
    SystemClock clock;
    store::RedisStore::Options options;
    options.url = redis_->url();
    auto store = store::RedisStore::Create(options, clock);
    if (!store.ok()) return store.status();
    absl::Notification put;
    absl::StatusOr<int64_t> version;
    (*store)->PutRules(yaml, expected_version, [&](absl::StatusOr<int64_t> v) {
      version = std::move(v);
      put.Notify();
    });
    if (!put.WaitForNotificationWithTimeout(absl::Seconds(10))) {
      return absl::DeadlineExceededError("PutRules");
    }
    return version;
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<RouterProcess> a_;
  std::unique_ptr<RouterProcess> b_;
  std::vector<std::string> dirs_;
};

TEST_F(RedisReplicasTest, WebhookIngestedByAReachesAnAgentConnectedOnlyToB) {
  StartReplicas();
  RawAgent agent(b_->grpc_target(), "audit", kAuditToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  absl::Duration fastest = absl::InfiniteDuration();
  Webhook w;
  for (int i = 0; i < 3; ++i) {
    w = MakeWebhook(absl::StrCat("msg_cross_", i), "cross@example.org");
    const absl::Time posted = absl::Now();
    ASSERT_EQ(PostWebhook(*a_, w), 200);
    auto d = agent.Next(absl::Seconds(10));
    ASSERT_TRUE(d.has_value());
    fastest = std::min(fastest, absl::Now() - posted);
    EXPECT_EQ(d->event().id(), w.event_id);
    EXPECT_EQ(d->event().recipient(), "cross@example.org");
    EXPECT_EQ(d->attempt(), 1u);
    EXPECT_TRUE(agent.Ack(d->delivery_id()));
  }
  // Woken by pub/sub, not by the Dispatcher's one-second safety net (the fastest of three, so a
  // busy machine does not fail it).
  EXPECT_LT(fastest, absl::Milliseconds(900));
  // The provider's retry through B is a duplicate: 200, not delivered again.
  EXPECT_EQ(PostWebhook(*b_, w), 200);
  EXPECT_FALSE(agent.Next(absl::Milliseconds(1500)).has_value());
}

// Issue 4: a rule change written to the shared store (Store::PutRules, what the admin API will
// call) takes effect on every replica within a second, without a restart.
TEST_F(RedisReplicasTest, RulesChangedInTheStoreTakeEffectOnBothReplicasWithinASecond) {
  StartReplicas("30s", "  - { name: audit-domain, match: {recipient: \"*@audit.example.org\"}, "
                       "agents: [audit] }\n");
  RawAgent billing(b_->grpc_target(), "billing", kBillingToken);
  ASSERT_TRUE(billing.WaitWelcome().ok());
  // No rule matches billing@example.org yet: archived only, delivered to nobody.
  ASSERT_EQ(PostWebhook(*a_, MakeWebhook("msg_rules_before", "billing@example.org")), 200);
  EXPECT_FALSE(billing.Next(absl::Milliseconds(1500)).has_value());

  // What an operator's change through replica A amounts to: a new rules document in Redis.
  absl::StatusOr<int64_t> version = PutRules(BillingRules("billing"), 0);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1);

  // One second later both replicas route by the new document.
  absl::SleepFor(absl::Seconds(1));
  const Webhook via_a = MakeWebhook("msg_rules_after_a", "billing@example.org");
  const Webhook via_b = MakeWebhook("msg_rules_after_b", "billing@example.org");
  ASSERT_EQ(PostWebhook(*a_, via_a), 200);
  ASSERT_EQ(PostWebhook(*b_, via_b), 200);
  std::set<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto d = billing.Next(absl::Seconds(10));
    ASSERT_TRUE(d.has_value()) << "delivered so far: " << got.size();
    EXPECT_EQ(d->event().recipient(), "billing@example.org");
    ASSERT_EQ(d->matched_rules_size(), 1);
    EXPECT_EQ(d->matched_rules(0), "billing");
    got.insert(d->event().id());
    EXPECT_TRUE(billing.Ack(d->delivery_id()));
  }
  EXPECT_EQ(got, (std::set<std::string>{via_a.event_id, via_b.event_id}));
  // The event committed before the change stays archived only.
  EXPECT_FALSE(billing.Next(absl::Milliseconds(500)).has_value());
}

// The stored document is the truth on every replica. Redis restarted empty (or restored from an
// older backup) holds no rules document: both replicas go back to the config file's rules, as
// `rules get` then shows; and the operator's next document, version 1 again, applies although its
// version is not above the one they ran.
TEST_F(RedisReplicasTest, RulesFollowTheStoreWhenRedisLosesThemAndStartsAgainAtVersionOne) {
  StartReplicas("30s", "  - { name: audit-domain, match: {recipient: \"*@audit.example.org\"}, "
                       "agents: [audit] }\n");
  RawAgent billing(b_->grpc_target(), "billing", kBillingToken);
  ASSERT_TRUE(billing.WaitWelcome().ok());
  const auto delivered_by = [&](const std::string& message_id) -> std::string {
    const Webhook webhook = MakeWebhook(message_id, "billing@example.org");
    if (PostWebhook(*a_, webhook) != 200) return "(not 200)";
    std::optional<v1::Delivery> d = billing.Next(absl::Seconds(5));
    if (!d.has_value()) return "(none)";
    billing.Ack(d->delivery_id());
    return d->matched_rules_size() == 1 ? d->matched_rules(0) : "(several rules)";
  };

  ASSERT_EQ(PutRules(BillingRules("billing"), 0).value_or(-1), 1);
  for (RouterProcess* replica : {a_.get(), b_.get()}) {
    ASSERT_TRUE(WaitForLog(*replica, R"("event":"rules","version":1,)", absl::Seconds(10)));
  }
  EXPECT_EQ(delivered_by("msg_wipe_1"), "billing");

  // Redis loses its data: restarted on an empty folder.
  redis_->Kill();
  std::filesystem::remove_all(std::filesystem::path(redis_->dir()) / "appendonlydir");
  ASSERT_TRUE(redis_->Restart().ok());
  for (RouterProcess* replica : {a_.get(), b_.get()}) {
    ASSERT_TRUE(WaitForLog(*replica, "the config file's rules apply", absl::Seconds(15)))
        << replica->log();
  }
  ASSERT_EQ(PostWebhook(*a_, MakeWebhook("msg_wipe_2", "billing@example.org")), 200);
  ASSERT_EQ(PostWebhook(*b_, MakeWebhook("msg_wipe_3", "billing@example.org")), 200);
  EXPECT_FALSE(billing.Next(absl::Milliseconds(1500)).has_value())
      << "the config file's rules send billing@example.org nowhere";

  // The operator's next apply stores version 1 again; both replicas take it.
  ASSERT_EQ(PutRules(BillingRules("billing-again"), 0).value_or(-1), 1);
  for (RouterProcess* replica : {a_.get(), b_.get()}) {
    ASSERT_TRUE(WaitForLog(*replica, R"("event":"rules","version":1,"rules":1})",
                           absl::Seconds(10), /*times=*/2))
        << replica->log();
  }
  const Webhook via_b = MakeWebhook("msg_wipe_4", "billing@example.org");
  ASSERT_EQ(PostWebhook(*b_, via_b), 200);
  std::optional<v1::Delivery> d = billing.Next(absl::Seconds(5));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->event().id(), via_b.event_id);
  ASSERT_EQ(d->matched_rules_size(), 1);
  EXPECT_EQ(d->matched_rules(0), "billing-again");
  EXPECT_TRUE(billing.Ack(d->delivery_id()));
  EXPECT_EQ(delivered_by("msg_wipe_5"), "billing-again");
}

// A FLUSHALL announces nothing: each replica finds the document gone at its next recheck and goes
// back to the config file's rules, as `rules get` then shows.
TEST_F(RedisReplicasTest, RulesFlushedWithoutAnnouncementAreFollowedAtTheNextRecheck) {
  StartReplicas();
  ASSERT_EQ(PutRules(BillingRules("billing"), 0).value_or(-1), 1);
  for (RouterProcess* replica : {a_.get(), b_.get()}) {
    ASSERT_TRUE(WaitForLog(*replica, R"("event":"rules","version":1,)", absl::Seconds(10)));
  }
  ASSERT_TRUE(redis_->Command({"FLUSHALL"}).ok());
  for (RouterProcess* replica : {a_.get(), b_.get()}) {
    ASSERT_TRUE(WaitForLog(*replica, "the config file's rules apply", absl::Seconds(15)))
        << replica->log();
  }
}

// A Redis that evicts keys when full instead of refusing writes is named at start in an error
// line: allkeys-* can lose acknowledged events, volatile-* the keys with a TTL (dedupe keys and
// out-of-line bytes); noeviction, or no maxmemory at all, says nothing.
TEST_F(RedisReplicasTest, AnEvictingMaxmemoryPolicyIsNamedAtStart) {
  struct Case {
    const char* maxmemory;
    const char* policy;
    const char* expected;  // empty: no eviction line
  };
  for (const Case& c : {
           Case{"100mb", "allkeys-lru", "events already acknowledged with 200 can be lost"},
           Case{"100mb", "volatile-ttl", "the out-of-line bytes of attachments"},
           Case{"100mb", "noeviction", ""},
           Case{"0", "allkeys-lru", ""},
       }) {
    SCOPED_TRACE(absl::StrCat(c.maxmemory, " ", c.policy));
    ASSERT_TRUE(redis_->Command({"CONFIG", "SET", "maxmemory", c.maxmemory}).ok());
    ASSERT_TRUE(redis_->Command({"CONFIG", "SET", "maxmemory-policy", c.policy}).ok());
    const std::string dir = MakeTempDir("switchboard-redis-eviction");
    auto router = RouterProcess::Start(dir, Config(redis_->url(), "30s"));
    ASSERT_TRUE(router.ok()) << router.status();
    const std::string log = (*router)->log();
    (*router)->Kill();
    const bool named = log.find(absl::StrCat("maxmemory-policy=", c.policy)) != std::string::npos;
    if (c.expected[0] == '\0') {
      EXPECT_FALSE(named) << log;
    } else {
      EXPECT_TRUE(named) << log;
      EXPECT_NE(log.find(c.expected), std::string::npos) << log;
      EXPECT_NE(log.find(absl::StrCat("maxmemory=", 100 * 1024 * 1024)), std::string::npos) << log;
    }
  }
}

// A Redis user who may log in but whose ACL keys or channels are another prefix's ends the start
// (exit 1, with Redis' reason), instead of a router that reports ready and answers every webhook
// 503, or one that never hears of rules changes.
TEST_F(RedisReplicasTest, AUserWhoMayNotTouchTheStoresKeysEndsTheStart) {
  ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", "on", ">limited-pw", "~other:*",
                               "+@all"}).ok());
  const std::string url =
      absl::StrCat("redis://limited:limited-pw@127.0.0.1:", redis_->port(), "/0");
  auto router = RouterProcess::Start(MakeTempDir("switchboard-redis-acl"), Config(url, "30s"));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find("the user may not run EVAL on the keys switchboard:*"),
            std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find("NOPERM"), std::string::npos) << router.status();

  // With the store's keys but none of its pub/sub channels (what Redis 7 gives a new user by
  // default), rules changes and other replicas' enqueues would go unannounced: refused too.
  ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", "~switchboard:*"}).ok());
  router = RouterProcess::Start(MakeTempDir("switchboard-redis-acl"), Config(url, "30s"));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find(
                "the user may not subscribe to the channels switchboard:*"),
            std::string::npos)
      << router.status();

  // Keys and channels, but a command every commit runs denied: refused naming it.
  ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", "&switchboard:*"}).ok());
  struct Denied {
    const char* acl;
    const char* named;
  };
  for (const Denied& d : {Denied{"-evalsha", "may not run the commands the store's scripts run"},
                          Denied{"-xadd", "may not run XADD (ACL;"},
                          Denied{"-@sortedset", "may not run ZADD, ZREM, ZSCORE"},
                          Denied{"-publish", "may not run PUBLISH (ACL;"}}) {
    ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", d.acl}).ok());
    router = RouterProcess::Start(MakeTempDir("switchboard-redis-acl"), Config(url, "30s"));
    ASSERT_FALSE(router.ok()) << d.acl;
    EXPECT_NE(router.status().message().find(d.named), std::string::npos)
        << d.acl << ": " << router.status();
    ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", "+@all"}).ok());
  }

  // With keys, channels and commands the same user starts, also under the common hardening
  // "-@dangerous" (no INFO: the version check is skipped with a warning).
  ASSERT_TRUE(redis_->Command({"ACL", "SETUSER", "limited", "-@dangerous"}).ok());
  auto started = RouterProcess::Start(MakeTempDir("switchboard-redis-acl"), Config(url, "30s"));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_NE((*started)->log().find("INFO is not allowed to this user (ACL)"), std::string::npos)
      << (*started)->log();
  EXPECT_EQ(PostWebhook(**started, MakeWebhook("msg_acl", "ops@example.org")), 200);
}

TEST_F(RedisReplicasTest, InstancesOfOneAgentOnAAndBSplitTheEventsNoneTwice) {
  StartReplicas();
  constexpr int kEvents = 200;
  RawAgent on_a(a_->grpc_target(), "audit", kAuditToken, /*max_in_flight=*/1);
  RawAgent on_b(b_->grpc_target(), "audit", kAuditToken, /*max_in_flight=*/1);
  ASSERT_TRUE(on_a.WaitWelcome().ok());
  ASSERT_TRUE(on_b.WaitWelcome().ok());
  std::set<std::string> sent;
  const SharedConsumption got =
      ConsumeShared({&on_a, &on_b}, kEvents, absl::Milliseconds(5), [&] {
        for (int i = 0; i < kEvents; ++i) {
          const Webhook w =
              MakeWebhook(absl::StrCat("msg_split_", i), absl::StrCat("u", i, "@example.org"));
          sent.insert(w.event_id);
          ASSERT_EQ(PostWebhook(i % 2 == 0 ? *a_ : *b_, w), 200);  // a load balancer alternates
        }
      });
  EXPECT_EQ(got.total, kEvents);
  EXPECT_EQ(got.times_by_event_id.size(), static_cast<size_t>(kEvents));
  for (const auto& [id, n] : got.times_by_event_id) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_TRUE(sent.count(id)) << id;
  }
  EXPECT_GE(got.per_instance[0], kEvents / 4);
  EXPECT_GE(got.per_instance[1], kEvents / 4);
}

TEST_F(RedisReplicasTest, KillNineOfAWhileItsAgentHoldsDeliveriesRedeliversThroughBAfterTheLease) {
  StartReplicas("3s");
  constexpr int kEvents = 5;
  std::set<std::string> sent;
  std::map<std::string, absl::Time> lease_ends;  // as A told its agent
  {
    RawAgent on_a(a_->grpc_target(), "audit", kAuditToken);  // never acks
    ASSERT_TRUE(on_a.WaitWelcome().ok());
    for (int i = 0; i < kEvents; ++i) {
      const Webhook w = MakeWebhook(absl::StrCat("msg_kill_", i), absl::StrCat("k", i, "@example.org"));
      ASSERT_EQ(PostWebhook(*a_, w), 200);
      sent.insert(w.event_id);
    }
    while (lease_ends.size() < kEvents) {
      auto d = on_a.Next(absl::Seconds(10));
      ASSERT_TRUE(d.has_value()) << "A delivered " << lease_ends.size();
      EXPECT_EQ(d->attempt(), 1u);
      lease_ends[d->event().id()] = absl::FromUnixSeconds(d->lease_expires_at().seconds()) +
                                    absl::Nanoseconds(d->lease_expires_at().nanos());
    }
    a_->Kill();  // SIGKILL: no shutdown, the leases stay with the dead replica until they end
  }
  RawAgent on_b(b_->grpc_target(), "audit", kAuditToken);
  ASSERT_TRUE(on_b.WaitWelcome().ok());
  std::set<std::string> redelivered;
  while (redelivered.size() < kEvents) {
    auto d = on_b.Next(absl::Seconds(10));
    ASSERT_TRUE(d.has_value()) << "B redelivered " << redelivered.size();
    const absl::Time now = absl::Now();
    ASSERT_TRUE(lease_ends.count(d->event().id())) << d->event().id();
    EXPECT_GE(now, lease_ends[d->event().id()]) << "redelivered before the lease ended";
    EXPECT_EQ(d->attempt(), 2u);
    redelivered.insert(d->event().id());
    EXPECT_TRUE(on_b.Ack(d->delivery_id()));
  }
  EXPECT_EQ(redelivered, sent);
  EXPECT_FALSE(on_b.Next(absl::Seconds(4)).has_value());  // acked: never again
}

// Redis (appendfsync always) is killed mid-load and restarted: the ingress answers 503 and /readyz
// is not ready meanwhile, the agent stream stays open, and every event ever answered 200 reaches
// the agent. The "provider" retries every 503, as providers do.
TEST_F(RedisReplicasTest, RedisStoppedMidLoadThenRestartedLosesNoAcknowledgedEvent) {
  // A claim in flight when Redis dies may have leased entries whose answer never came back
  // (README "Redis down"): they are delivered when that lease ends. A 3 s deadline keeps that
  // inside the wait below; the agent acks at once, so no delivery outlives it otherwise.
  StartReplicas("3s");
  EXPECT_EQ(Get(a_->http_port(), "/readyz"), 200);
  RawAgent agent(b_->grpc_target(), "audit", kAuditToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  absl::Mutex mu;
  std::set<std::string> received;
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    while (!stop) {
      auto d = agent.Next(absl::Milliseconds(200));
      if (!d) continue;
      {
        absl::MutexLock lock(&mu);
        received.insert(d->event().id());
      }
      agent.Ack(d->delivery_id());
    }
  });

  constexpr int kEvents = 60;
  std::set<std::string> ledger;  // event ids answered 200
  int refused_503 = 0;
  for (int i = 0; i < kEvents; ++i) {
    if (i == kEvents / 3) {
      redis_->Kill();
      // Both replicas notice without traffic of their own (idle ping).
      for (RouterProcess* r : {a_.get(), b_.get()}) {
        const absl::Time deadline = absl::Now() + absl::Seconds(10);
        while (Get(r->http_port(), "/readyz") != 503 && absl::Now() < deadline) {
          absl::SleepFor(absl::Milliseconds(50));
        }
        EXPECT_EQ(Get(r->http_port(), "/readyz"), 503);
        EXPECT_EQ(Get(r->http_port(), "/healthz"), 200);  // alive, just not ready
      }
    }
    const Webhook w = MakeWebhook(absl::StrCat("msg_outage_", i), absl::StrCat("o", i, "@example.org"));
    for (int tries = 0;; ++tries) {
      const int status = PostWebhook(i % 2 == 0 ? *a_ : *b_, w);
      if (status == 200) {
        ledger.insert(w.event_id);
        break;
      }
      ASSERT_EQ(status, 503) << "event " << i;
      ++refused_503;
      if (refused_503 == 5) {
        ASSERT_TRUE(redis_->Restart().ok());  // Redis returns
      }
      ASSERT_LT(tries, 200) << "never accepted again";
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_GE(refused_503, 5);
  EXPECT_EQ(Get(a_->http_port(), "/readyz"), 200);
  EXPECT_EQ(Get(b_->http_port(), "/readyz"), 200);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    {
      absl::MutexLock lock(&mu);
      if (received.size() >= ledger.size() || absl::Now() > deadline) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  consumer.join();
  EXPECT_FALSE(agent.Ended());  // the stream stayed open through the outage
  absl::MutexLock lock(&mu);
  EXPECT_EQ(ledger.size(), static_cast<size_t>(kEvents));
  for (const std::string& id : ledger) EXPECT_TRUE(received.count(id)) << "lost " << id;
}

// Polls `probe` every 50 ms until it answers `expected` (up to 10 s); the last answer.
template <typename Probe>
int WaitFor(int expected, Probe probe) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int got = probe();
  while (got != expected && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    got = probe();
  }
  return got;
}

TEST_F(RedisReplicasTest, GrpcHealthAndReadyzFollowRedisDownAndBackOnTheSamePort) {
  StartReplicas();
  for (RouterProcess* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(GrpcHealthStatus(r->grpc_target()), kGrpcServing);
    EXPECT_EQ(Get(r->http_port(), "/readyz"), 200);
  }
  const int port = redis_->port();
  redis_->Kill();
  // Both replicas notice without traffic of their own (idle ping, store monitor).
  for (RouterProcess* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(WaitFor(kGrpcNotServing, [r] { return GrpcHealthStatus(r->grpc_target()); }),
              kGrpcNotServing);
    EXPECT_EQ(Get(r->http_port(), "/readyz"), 503);
    EXPECT_EQ(Get(r->http_port(), "/healthz"), 200);  // alive, just not ready
  }
  // switchboardctl reaches the router, and says that its store is what is down.
  const CtlResult agents = RunCtl(a_->dir(), {"agents", "--addr", a_->grpc_target(), "--token",
                                              kAdminToken});
  EXPECT_EQ(agents.exit_code, 1) << Describe(agents);
  EXPECT_TRUE(absl::StartsWith(agents.err, "error: the router's store is unavailable: redis "))
      << Describe(agents);
  EXPECT_TRUE(absl::EndsWith(agents.err, " (UNAVAILABLE)\n")) << Describe(agents);
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_EQ(redis_->port(), port);
  for (RouterProcess* r : {a_.get(), b_.get()}) {
    EXPECT_EQ(WaitFor(kGrpcServing, [r] { return GrpcHealthStatus(r->grpc_target()); }),
              kGrpcServing);
    EXPECT_EQ(WaitFor(200, [r] { return Get(r->http_port(), "/readyz"); }), 200);
  }
  // And it serves again: a webhook through A is committed.
  EXPECT_EQ(PostWebhook(*a_, MakeWebhook("msg_after_outage", "back@example.org")), 200);
}

TEST_F(RedisReplicasTest, NackWithRetryAfterTwoSecondsIsNotRedeliveredSooner) {
  StartReplicas();
  RawAgent agent(b_->grpc_target(), "audit", kAuditToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  ASSERT_EQ(PostWebhook(*a_, MakeWebhook("msg_nack", "n@example.org")), 200);
  auto first = agent.Next();
  ASSERT_TRUE(first.has_value());
  const absl::Time nacked = absl::Now();
  ASSERT_TRUE(agent.Nack(first->delivery_id(), absl::Seconds(2), "mailbox busy"));
  auto second = agent.Next(absl::Seconds(10));
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(absl::Now() - nacked, absl::Seconds(2));
  EXPECT_LT(absl::Now() - nacked, absl::Seconds(4));
  EXPECT_EQ(second->event().id(), first->event().id());
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_TRUE(agent.Ack(second->delivery_id()));
}

}  // namespace
}  // namespace switchboard::testing
