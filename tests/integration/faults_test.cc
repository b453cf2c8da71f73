// Fault injection against a real `switchboard` process (embedded store), for the delivery
// guarantees of issue 6. What other suites already prove is not repeated here:
// - kill -9 under load loses no acknowledged event, an agent killed before acking gets its
//   delivery again after the lease: walking_skeleton_test (KillNineLosesNoAcknowledgedEvent,
//   UnackedDeliveryComesBackAfterTheLease);
// - store unavailable answers 503, never 200, and loses nothing: redis_replicas_test
//   (RedisStoppedMidLoadThenRestartedLosesNoAcknowledgedEvent);
// - dead letters keep the last error (Nack reason / "lease expired") on both stores:
//   tests/unit/store/store_conformance.cc;
// - an expired lease waits out the expiry backoff, exactly, by a fake clock on both stores:
//   tests/unit/store/store_conformance.cc (ExpiredLeaseWaitsOutItsExpiryBackoff).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/store/embedded_store.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tests/integration/signed_webhook.h"

namespace switchboard::testing {
namespace {

using ::testing::HasSubstr;

// A Standard Webhooks secret of the spec's own tests (standard-webhooks libraries, "whsec_" form);
// kAuditToken is the harness's (signed_webhook.h).
constexpr const char* kSecret = kResendSecret;
constexpr char kPoisonToken[] = "poison-token-0123456789";
constexpr char kHungToken[] = "hung-token-0123456789";

// audit: a window of 1 (it never acks in the backpressure test); poison: 3 attempts, short
// backoff, and only bounces; hung: opens, a 1 s lease and a backoff of up to 2 s.
std::string Config() {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
delivery: { ack_deadline: 30s, max_attempts: 10, max_in_flight: 64 }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
agents:
  - { name: audit, tokens: ["AUDIT"], max_in_flight: 1 }
  - name: poison
    tokens: ["POISON"]
    max_attempts: 3
    backoff: { initial: 20ms, max: 100ms }
  - { name: hung, tokens: ["HUNG"], ack_deadline: 1s, max_in_flight: 20,
      backoff: { initial: 2s, max: 2s } }
rules:
  - { name: audit-all, match: { types: [delivered] }, agents: [audit] }
  - { name: bounces, match: { types: [bounced] }, agents: [poison] }
  - { name: opens, match: { types: [opened] }, agents: [hung] }
)",
                             {{"SECRET", kSecret},
                              {"AUDIT", kAuditToken},
                              {"POISON", kPoisonToken},
                              {"HUNG", kHungToken}});
}

// GET http://127.0.0.1:port/path over a plain socket (HTTP/1.1, Connection: close); the status
// and body, or nullopt on any I/O error. 5 s socket timeouts.
std::optional<std::pair<int, std::string>> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  const size_t header_end = response.find("\r\n\r\n");
  int status = 0;
  if (header_end == std::string::npos || response.size() < 12 ||
      !absl::SimpleAtoi(response.substr(9, 3), &status)) {
    return std::nullopt;
  }
  return std::make_pair(status, response.substr(header_end + 4));
}

// The value of the series `name{labels}` (exact label text) in a /metrics body, if present.
std::optional<double> Sample(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
    }
  }
  return std::nullopt;
}

// Polls /metrics until `series` reads `expected` (the store gauges refresh every 2 s).
bool MetricReaches(int port, const std::string& series, double expected,
                   absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto got = HttpGet(port, "/metrics");
    if (got && got->first == 200 && Sample(got->second, series) == expected) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

class FaultsTest : public RouterTest {
 protected:
  FaultsTest() : RouterTest("switchboard-faults") {}
  void SetUp() override { StartRouter(Config()); }
};

TEST_F(FaultsTest, PoisonEventNackedEveryTimeEndsInDeadLettersWithItsLastError) {
  RawAgent agent(router_->grpc_target(), "poison", kPoisonToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_poison", "p@example.org"),
            200);

  std::string event_id;
  for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
    auto d = agent.Next();
    ASSERT_TRUE(d.has_value()) << "attempt " << attempt;
    EXPECT_EQ(d->attempt(), attempt);
    if (attempt == 1) event_id = d->event().id();
    EXPECT_EQ(d->event().id(), event_id);
    // No retry_after: the agent's backoff (<= 100 ms) applies.
    ASSERT_TRUE(agent.Nack(d->delivery_id(), absl::ZeroDuration(),
                           absl::StrCat("cannot parse, attempt ", attempt)));
  }
  // max_attempts 3: no fourth delivery; the entry is a dead letter.
  EXPECT_FALSE(agent.Next(absl::Seconds(2)).has_value());
  EXPECT_TRUE(MetricReaches(router_->http_port(), "switchboard_dead_letters{agent=\"poison\"}", 1));
  EXPECT_TRUE(
      MetricReaches(router_->http_port(), "switchboard_redeliveries_total{agent=\"poison\"}", 2));

  // The dead letter keeps the last Nack reason: read it through the Store contract from the
  // router's own database once the router is gone.
  router_->Kill();
  store::EmbeddedStore::Options options;
  options.path = dir_ + "/data/switchboard.db";
  auto store = store::EmbeddedStore::Create(options, SystemClock::Get());
  ASSERT_TRUE(store.ok()) << store.status();
  std::promise<absl::StatusOr<std::vector<store::DeadLetter>>> listed;
  (*store)->ListDeadLetters("poison", 10, [&](auto letters) { listed.set_value(letters); });
  auto letters = listed.get_future().get();
  ASSERT_TRUE(letters.ok()) << letters.status();
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].event_id, event_id);
  EXPECT_EQ((*letters)[0].attempts, 3u);
  EXPECT_THAT((*letters)[0].reason, HasSubstr("cannot parse, attempt 3"));
}

TEST_F(FaultsTest, ExpiredLeasesComeBackAfterTheLeaseAndTheAgentsJitteredBackoff) {
  // hung takes deliveries and never answers. Each comes back no earlier than its 1 s lease, and
  // then after a backoff uniform in [0, 2 s] (attempt 1's ceiling: initial = max = 2 s), so the
  // 20 redeliveries spread over about 2 s instead of arriving together at the lease end.
  constexpr int kEvents = 20;
  constexpr absl::Duration kLease = absl::Seconds(1);
  constexpr absl::Duration kCeiling = absl::Seconds(2);
  // Delivery to the agent happens after the lease starts: allow for that much transit.
  constexpr absl::Duration kTransit = absl::Milliseconds(100);
  RawAgent agent(router_->grpc_target(), "hung", kHungToken, kEvents);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_OPENED, absl::StrCat("msg_hung_", i),
                              absl::StrCat("hung", i, "@example.org")),
              200);
  }
  std::map<std::string, absl::Time> first_seen;
  std::map<std::string, absl::Duration> came_back_after;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (came_back_after.size() < kEvents && absl::Now() < deadline) {
    // When the stream delivered it, not when this loop reads it: the first deliveries arrive
    // while the POSTs above are still being answered.
    absl::Time now;
    std::optional<v1::Delivery> d = agent.Next(absl::Seconds(1), &now);
    if (!d) continue;
    if (d->attempt() == 1) {
      first_seen[d->event().id()] = now;
    } else if (d->attempt() == 2 && first_seen.contains(d->event().id())) {
      came_back_after[d->event().id()] = now - first_seen[d->event().id()];
    }
  }
  ASSERT_EQ(came_back_after.size(), static_cast<size_t>(kEvents)) << router_->log();
  absl::Duration earliest = absl::InfiniteDuration();
  absl::Duration latest;
  for (const auto& [id, after] : came_back_after) {
    EXPECT_GE(after, kLease - kTransit) << id;  // never before the lease ends
    EXPECT_LE(after, kLease + kCeiling + absl::Seconds(1)) << id;
    earliest = std::min(earliest, after);
    latest = std::max(latest, after);
  }
  // All at the lease end (no backoff) would spread over milliseconds. 20 uniform draws from
  // [0, 2 s] all within 0.5 s of each other: about 20 * 0.25^19, i.e. never.
  EXPECT_GE(latest - earliest, absl::Milliseconds(500));
}

TEST_F(FaultsTest, AgentThatNeverAcksDoesNotSlowTheIngressAndItsQueueDepthShows) {
  constexpr int kWebhooks = 500;
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken, /*max_in_flight=*/1);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  EXPECT_EQ(agent.welcome().max_in_flight(), 1u);

  // /healthz is polled the whole time the webhooks arrive; every answer must be 200.
  std::atomic<bool> posting{true};
  std::atomic<int> health_checks{0};
  std::atomic<int> health_failures{0};
  std::thread health([&] {
    while (posting) {
      auto got = HttpGet(router_->http_port(), "/healthz");
      ++health_checks;
      if (!got || got->first != 200) ++health_failures;
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  std::atomic<int> accepted{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&, t] {
      for (int i = t; i < kWebhooks; i += 4) {
        if (PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, absl::StrCat("msg_bp_", i),
                            absl::StrCat("bp", i, "@example.org")) == 200) {
          ++accepted;
        }
      }
    });
  }
  for (auto& p : posters) p.join();
  posting = false;
  health.join();

  EXPECT_EQ(accepted.load(), kWebhooks);
  EXPECT_GT(health_checks.load(), 0);
  EXPECT_EQ(health_failures.load(), 0);
  // One delivery is held (never acked, 30 s lease); the other 499 wait in the queue.
  auto held = agent.Next();
  ASSERT_TRUE(held.has_value());
  EXPECT_FALSE(agent.Next(absl::Milliseconds(500)).has_value()) << "window of 1 exceeded";
  const int port = router_->http_port();
  EXPECT_TRUE(MetricReaches(port, "switchboard_queue_ready{agent=\"audit\"}", kWebhooks - 1));
  EXPECT_TRUE(MetricReaches(port, "switchboard_queue_leased{agent=\"audit\"}", 1));
  EXPECT_TRUE(MetricReaches(port, "switchboard_agent_instances{agent=\"audit\"}", 1));
  EXPECT_TRUE(MetricReaches(port, "switchboard_agent_in_flight{agent=\"audit\"}", 1));
  EXPECT_TRUE(MetricReaches(
      port,
      "switchboard_webhook_requests_total{source=\"resend\",provider=\"standard-webhooks\","
      "result=\"accepted\"}",
      kWebhooks));
  EXPECT_TRUE(
      MetricReaches(port, "switchboard_events_total{source=\"resend\",type=\"delivered\"}",
                    kWebhooks));
  EXPECT_TRUE(MetricReaches(port, "switchboard_store_up", 1));
}

TEST_F(FaultsTest, DisconnectsUnderLoadNeverTouchAFinishedStream) {
  // Streams of one agent name come and go (cancelled by the client) while deliveries are being
  // written to them: the reactor registry must keep every write away from a finished stream.
  // A use-after-free would crash the router (the ASan build shows it at once).
  constexpr int kWebhooks = 200;
  std::atomic<bool> posting{true};
  std::thread poster([&] {
    for (int i = 0; i < kWebhooks; ++i) {
      PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, absl::StrCat("msg_dc_", i),
                      absl::StrCat("dc", i, "@example.org"));
    }
    posting = false;
  });
  int streams = 0;
  while (posting || streams < 20) {
    RawAgent agent(router_->grpc_target(), "audit", kAuditToken, 1);
    agent.WaitWelcome();
    agent.Next(absl::Milliseconds(20));
    agent.Cancel();
    ++streams;
  }
  poster.join();
  // Still serving: a last agent drains the queue, acking, and sees every event.
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken, 64);
  ASSERT_TRUE(agent.WaitWelcome().ok()) << router_->log();
  std::set<std::string> seen;
  while (seen.size() < kWebhooks) {
    auto d = agent.Next(absl::Seconds(40));  // a held lease of a cancelled stream is released
    if (!d) break;
    seen.insert(d->event().id());
    agent.Ack(d->delivery_id());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kWebhooks));
  auto health = HttpGet(router_->http_port(), "/healthz");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->first, 200);
}

// Lowers (or restores) the soft RLIMIT_FSIZE of process `pid`: with 0, every write that would
// extend a file fails with EFBIG (SIGXFSZ ignored): the embedded store's WAL appends fail as on a
// full disk. The caller is the same user, so no privilege is needed.
bool SetFileSizeLimit(pid_t pid, rlim_t soft) {
  rlimit current{};
  if (prlimit(pid, RLIMIT_FSIZE, nullptr, &current) != 0) return false;
  rlimit wanted{soft, current.rlim_max};
  return prlimit(pid, RLIMIT_FSIZE, &wanted, nullptr) == 0;
}

TEST_F(FaultsTest, EmbeddedStoreThatCannotWriteAnswers503NeverAnd200LosesNothingOnceItCan) {
  // The router must ignore SIGXFSZ to see EFBIG instead of dying: an ignored disposition is
  // inherited through fork and exec, so restart it with SIGXFSZ ignored here.
  router_->Kill();
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous{};
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &previous), 0);
  const absl::Status restarted = router_->Restart();
  sigaction(SIGXFSZ, &previous, nullptr);
  ASSERT_TRUE(restarted.ok()) << restarted;

  constexpr int kEvents = 30;
  std::set<std::string> ledger;  // message ids answered 200
  int refused_503 = 0;
  bool limited = false;
  for (int i = 0; i < kEvents; ++i) {
    if (i == kEvents / 3) {
      ASSERT_TRUE(SetFileSizeLimit(router_->pid(), 0)) << strerror(errno);
      limited = true;
    }
    const std::string id = absl::StrCat("msg_full_", i);
    for (int tries = 0;; ++tries) {
      const int status = PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, id,
                                         absl::StrCat("full", i, "@example.org"));
      if (status == 200) {
        ledger.insert(id);
        break;
      }
      ASSERT_EQ(status, 503) << "event " << i << "\n" << router_->log();
      ++refused_503;
      if (refused_503 == 1) {
        auto ready = HttpGet(router_->http_port(), "/readyz");
        ASSERT_TRUE(ready.has_value());
        EXPECT_EQ(ready->first, 503);
        auto alive = HttpGet(router_->http_port(), "/healthz");
        ASSERT_TRUE(alive.has_value());
        EXPECT_EQ(alive->first, 200);  // alive, just not ready
      }
      if (refused_503 == 5 && limited) {
        ASSERT_TRUE(SetFileSizeLimit(router_->pid(), RLIM_INFINITY));  // space again
        limited = false;
      }
      ASSERT_LT(tries, 100) << "never accepted again";
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_GE(refused_503, 5);
  EXPECT_EQ(ledger.size(), static_cast<size_t>(kEvents));
  auto ready = HttpGet(router_->http_port(), "/readyz");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->first, 200);

  // Every event answered 200 reaches the agent (audit has a window of 1: ack each).
  RawAgent agent(router_->grpc_target(), "audit", kAuditToken, 1);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  std::set<std::string> received;
  while (received.size() < ledger.size()) {
    std::optional<v1::Delivery> d = agent.Next(absl::Seconds(10));
    if (!d) break;
    received.insert(d->event().provider_event_key());
    agent.Ack(d->delivery_id());
  }
  for (const std::string& id : ledger) EXPECT_TRUE(received.contains(id)) << "lost " << id;
  EXPECT_EQ(received.size(), ledger.size());
}

TEST_F(FaultsTest, GrpcHealthIsServingWithAHealthyStore) {
  EXPECT_EQ(GrpcHealthStatus(router_->grpc_target()), kGrpcServing);
}

}  // namespace
}  // namespace switchboard::testing
