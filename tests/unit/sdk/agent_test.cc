#include "switchboard/agent.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "tests/unit/delivery/fake_store.h"
#include "tests/unit/delivery/test_server.h"

namespace switchboard::sdk {
namespace {

using testing::FakeStore;
using testing::kAuditToken;
using testing::TestServer;
using testing::TestServerOptions;

template <typename Predicate>
bool Eventually(Predicate predicate, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return predicate();
}

// Runs an Agent on a thread; Stop() and joins on destruction.
class RunningAgent {
 public:
  explicit RunningAgent(Agent& agent) : agent_(agent), thread_([this] { status_ = agent_.Run(); }) {}
  ~RunningAgent() { Join().IgnoreError(); }
  absl::Status Join() {
    agent_.Stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  Agent& agent_;
  absl::Status status_;
  std::thread thread_;
};

// Records what handlers saw.
struct Seen {
  absl::Mutex mu;
  std::vector<std::string> event_ids ABSL_GUARDED_BY(mu);
  std::vector<DeliveryContext> contexts ABSL_GUARDED_BY(mu);
  void Add(const v1::EmailEvent& event, const DeliveryContext& context) {
    absl::MutexLock lock(&mu);
    event_ids.push_back(event.id());
    contexts.push_back(context);
  }
  size_t size() {
    absl::MutexLock lock(&mu);
    return event_ids.size();
  }
};

class AgentTest : public ::testing::Test {
 protected:
  void Start(TestServerOptions options = {}) {
    server_ = std::make_unique<TestServer>(store_, std::move(options));
    ASSERT_TRUE(server_->ok());
  }
  AgentOptions Options() {
    AgentOptions options;
    options.target = server_->target();
    options.agent = "audit";
    options.token = kAuditToken;
    options.max_in_flight = 2;
    options.instance = "sdk-test";
    options.reconnect_backoff_min = absl::Milliseconds(20);
    options.reconnect_backoff_max = absl::Milliseconds(200);
    return options;
  }

  FakeStore store_{SystemClock::Get()};
  std::unique_ptr<TestServer> server_;
};

TEST_F(AgentTest, HandlerReceivesTheEventAndOkAcks) {
  Start();
  Seen seen;
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_BOUNCED, [&](const v1::EmailEvent& event, const DeliveryContext& ctx) {
    seen.Add(event, ctx);
    return absl::OkStatus();
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-1", v1::EVENT_TYPE_BOUNCED);

  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  absl::MutexLock lock(&seen.mu);
  ASSERT_EQ(seen.event_ids, std::vector<std::string>{"evt-1"});
  EXPECT_EQ(seen.contexts[0].attempt, 1u);
  EXPECT_EQ(seen.contexts[0].matched_rules, std::vector<std::string>{"rule-audit"});
  EXPECT_EQ(store_.acked()[0], seen.contexts[0].delivery_id);
  EXPECT_TRUE(store_.nacked().empty());
}

TEST_F(AgentTest, RunReturnsOkAfterStop) {
  Start();
  Agent agent(Options());
  RunningAgent running(agent);
  ASSERT_TRUE(Eventually([&] { return server_->dispatcher().Stats().claims > 0; }));
  EXPECT_TRUE(running.Join().ok());
}

TEST_F(AgentTest, ErrorNacksWithReasonAndTheRetryComesBack) {
  Start();
  std::atomic<int> calls{0};
  Seen seen;
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_DELIVERED, [&](const v1::EmailEvent& event, const DeliveryContext& ctx) {
    seen.Add(event, ctx);
    if (calls++ == 0) return absl::UnavailableError("crm is down");
    return absl::OkStatus();
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-1");

  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  const auto nacked = store_.nacked();
  ASSERT_EQ(nacked.size(), 1u);
  EXPECT_NE(nacked[0].reason.find("crm is down"), std::string::npos);
  // No retry_after from the agent: the router's backoff applies, full jitter within
  // [0, delivery.backoff.initial] (1 s by default) after the first attempt.
  EXPECT_GE(nacked[0].retry_after, absl::ZeroDuration());
  EXPECT_LE(nacked[0].retry_after, absl::Seconds(1));
  absl::MutexLock lock(&seen.mu);
  ASSERT_EQ(seen.contexts.size(), 2u);
  EXPECT_EQ(nacked[0].delivery_id, seen.contexts[0].delivery_id);
  EXPECT_EQ(seen.contexts[1].attempt, 2u);
}

TEST_F(AgentTest, RetryAfterTravelsWithTheNack) {
  Start();
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_DELIVERED, [](const v1::EmailEvent&, const DeliveryContext&) {
    return Result::RetryAfter(absl::ResourceExhaustedError("rate limited"), absl::Minutes(2));
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-1");

  ASSERT_TRUE(Eventually([&] { return store_.nacked().size() == 1; }));
  EXPECT_EQ(store_.nacked()[0].retry_after, absl::Minutes(2));
}

TEST_F(AgentTest, NoAckLeavesTheDeliveryToItsLease) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Milliseconds(200);
  Start(options);
  Seen seen;
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_DELIVERED, [&](const v1::EmailEvent& e, const DeliveryContext& c) {
    seen.Add(e, c);
    return seen.size() == 1 ? Result::NoAck() : Result(absl::OkStatus());
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-1");
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  EXPECT_TRUE(store_.nacked().empty());
  absl::MutexLock lock(&seen.mu);
  ASSERT_EQ(seen.contexts.size(), 2u);
  EXPECT_EQ(seen.contexts[1].attempt, 2u);
  EXPECT_EQ(store_.acked()[0], seen.contexts[1].delivery_id);
}

TEST_F(AgentTest, ThrowingHandlerNacks) {
  Start();
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_DELIVERED, [](const v1::EmailEvent&, const DeliveryContext&) -> Result {
    throw std::runtime_error("boom");
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-1");
  ASSERT_TRUE(Eventually([&] { return !store_.nacked().empty(); }));
  EXPECT_NE(store_.nacked()[0].reason.find("boom"), std::string::npos);
}

TEST_F(AgentTest, HandlersAreChosenByTypeThenWildcardAndUnhandledTypesAreAcked) {
  Start();
  Seen bounced;
  Seen other;
  Agent agent(Options());
  ASSERT_TRUE(agent.On("bounced", [&](const v1::EmailEvent& e, const DeliveryContext& c) {
    bounced.Add(e, c);
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(agent.On("bounce", nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agent.On("BOUNCED", nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agent.On("unspecified", nullptr).code(), absl::StatusCode::kInvalidArgument);
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-opened", v1::EVENT_TYPE_OPENED);  // no handler: acked
  store_.Enqueue("audit", "evt-bounced", v1::EVENT_TYPE_BOUNCED);
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 2; }));
  EXPECT_EQ(bounced.size(), 1u);

  Agent wildcard(Options());
  ASSERT_TRUE(wildcard.On("*", [&](const v1::EmailEvent& e, const DeliveryContext& c) {
    other.Add(e, c);
    return absl::OkStatus();
  }).ok());
  running.Join().IgnoreError();
  RunningAgent running_wildcard(wildcard);
  store_.Enqueue("audit", "evt-clicked", v1::EVENT_TYPE_CLICKED);
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 3; }));
  absl::MutexLock lock(&other.mu);
  EXPECT_EQ(other.event_ids, std::vector<std::string>{"evt-clicked"});
}

TEST_F(AgentTest, SlowHandlerExtendsItsLease) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Milliseconds(600);
  Start(options);
  Seen seen;
  Agent agent(Options());
  agent.On(v1::EVENT_TYPE_DELIVERED, [&](const v1::EmailEvent& e, const DeliveryContext& c) {
    seen.Add(e, c);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the handler's slow work
    return absl::OkStatus();
  });
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-slow");

  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  EXPECT_GE(store_.extended().size(), 2u);
  EXPECT_EQ(seen.size(), 1u);  // never redelivered meanwhile
}

TEST_F(AgentTest, BadTokenEndsRunWithUnauthenticated) {
  Start();
  AgentOptions options = Options();
  options.token = "wrong";
  Agent agent(options);
  EXPECT_EQ(agent.Run().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AgentTest, InvalidOptionsAreRefused) {
  Start();
  AgentOptions options = Options();
  options.max_in_flight = 0;
  Agent agent(options);
  EXPECT_EQ(agent.Run().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AgentTest, ReconnectsAfterTheServerRestarts) {
  Start();
  Seen seen;
  Agent agent(Options());
  agent.On("*", [&](const v1::EmailEvent& e, const DeliveryContext& c) {
    seen.Add(e, c);
    return absl::OkStatus();
  }).IgnoreError();
  RunningAgent running(agent);
  store_.Enqueue("audit", "evt-before");
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));

  const int port = server_->port();
  server_.reset();  // streams end with UNAVAILABLE
  TestServerOptions options;
  options.port = port;
  Start(options);
  store_.Enqueue("audit", "evt-after");

  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 2; }));
  absl::MutexLock lock(&seen.mu);
  EXPECT_EQ(seen.event_ids, (std::vector<std::string>{"evt-before", "evt-after"}));
}

}  // namespace
}  // namespace switchboard::sdk

namespace switchboard::sdk {
namespace {

TEST_F(AgentTest, ABurstIsHandledOnceEachAndEveryDeliveryIsAckedThroughBatches) {
  // A backlog reaches the agent in DeliveryBatch messages and 32 workers ack concurrently, so
  // their acks leave together (Ack.more_delivery_ids): every one must still reach the store.
  constexpr int kEvents = 300;
  Start();
  for (int i = 0; i < kEvents; ++i) store_.Enqueue("audit", "evt-" + std::to_string(i));
  Seen seen;
  AgentOptions options = Options();
  options.max_in_flight = 32;
  Agent agent(options);
  ASSERT_TRUE(agent.On("*", [&](const v1::EmailEvent& event, const DeliveryContext& ctx) {
    seen.Add(event, ctx);
    return absl::OkStatus();
  }).ok());
  RunningAgent running(agent);

  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == kEvents; }));
  EXPECT_TRUE(store_.nacked().empty());
  EXPECT_EQ(server_->dispatcher().Stats().unknown_ids, 0);
  absl::MutexLock lock(&seen.mu);
  EXPECT_EQ(seen.event_ids.size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(std::set<std::string>(seen.event_ids.begin(), seen.event_ids.end()).size(),
            static_cast<size_t>(kEvents));
  std::vector<std::string> acked = store_.acked();
  std::vector<std::string> handled;
  for (const auto& context : seen.contexts) handled.push_back(context.delivery_id);
  std::sort(acked.begin(), acked.end());
  std::sort(handled.begin(), handled.end());
  EXPECT_EQ(acked, handled);
}

}  // namespace
}  // namespace switchboard::sdk
