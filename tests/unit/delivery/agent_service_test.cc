#include "router/delivery/agent_service.h"

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/unit/delivery/fake_store.h"
#include "tests/unit/delivery/test_server.h"

namespace switchboard::delivery {
namespace {

using testing::FakeStore;
using testing::kAuditToken;
using testing::kSuppressionToken;
using testing::TestServer;
using testing::TestServerOptions;

// Waits for an asynchronous outcome (store callbacks, stream teardown); not a time-logic sleep.
template <typename Predicate>
bool Eventually(Predicate predicate, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return predicate();
}

// A bare agent stream over the generated stub, to drive the protocol message by message.
class RawAgent {
 public:
  RawAgent(const std::string& target, const std::string& token) {
    // A fixed 64 KiB flow-control window (no BDP growth): the router's write of a larger
    // delivery completes only once this agent reads, so tests can keep deliveries queued.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    stub_ = v1::AgentService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    if (!token.empty()) context_.AddMetadata("authorization", "Bearer " + token);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stream_ = stub_->Subscribe(&context_);
  }

  bool Hello(const std::string& agent, uint32_t max_in_flight = 0, bool batches = false) {
    v1::SubscribeRequest request;
    request.mutable_hello()->set_agent(agent);
    request.mutable_hello()->set_max_in_flight(max_in_flight);
    request.mutable_hello()->set_instance("test");
    request.mutable_hello()->set_batches(batches);
    return stream_->Write(request);
  }
  // One Ack for all of `ids` (delivery_id plus more_delivery_ids).
  bool AckAll(const std::vector<std::string>& ids) {
    v1::SubscribeRequest request;
    request.mutable_ack()->set_delivery_id(ids.front());
    for (size_t i = 1; i < ids.size(); ++i) request.mutable_ack()->add_more_delivery_ids(ids[i]);
    return stream_->Write(request);
  }
  bool Ack(const std::string& delivery_id) {
    v1::SubscribeRequest request;
    request.mutable_ack()->set_delivery_id(delivery_id);
    return stream_->Write(request);
  }
  bool Nack(const std::string& delivery_id, absl::Duration retry_after, const std::string& reason) {
    v1::SubscribeRequest request;
    request.mutable_nack()->set_delivery_id(delivery_id);
    request.mutable_nack()->mutable_retry_after()->set_seconds(
        absl::ToInt64Seconds(retry_after));
    request.mutable_nack()->set_reason(reason);
    return stream_->Write(request);
  }
  std::optional<v1::SubscribeResponse> Read() {
    v1::SubscribeResponse response;
    if (!stream_->Read(&response)) return std::nullopt;
    return response;
  }
  std::optional<v1::Delivery> ReadDelivery() {
    auto response = Read();
    if (!response || !response->has_delivery()) return std::nullopt;
    return response->delivery();
  }
  // Hello, then the Welcome.
  std::optional<v1::Welcome> Subscribe(const std::string& agent, uint32_t max_in_flight = 0,
                                       bool batches = false) {
    if (!Hello(agent, max_in_flight, batches)) return std::nullopt;
    auto response = Read();
    if (!response || !response->has_welcome()) return std::nullopt;
    return response->welcome();
  }
  // Reads until the server ends the stream, then returns its status.
  grpc::Status Finish() {
    v1::SubscribeResponse response;
    while (stream_->Read(&response)) {
    }
    return stream_->Finish();
  }
  void Cancel() { context_.TryCancel(); }

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>> stream_;
};

// Reads messages until `count` deliveries arrived (single or batched), in arrival order.
// `messages` gets the number of messages they came in, `batch_sizes` the size of each batch.
std::vector<v1::Delivery> ReadDeliveries(RawAgent& agent, size_t count, int* messages,
                                         std::vector<int>* batch_sizes = nullptr) {
  std::vector<v1::Delivery> deliveries;
  *messages = 0;
  while (deliveries.size() < count) {
    auto response = agent.Read();
    if (!response) break;
    ++*messages;
    if (response->has_delivery()) {
      deliveries.push_back(response->delivery());
    } else if (response->has_deliveries()) {
      if (batch_sizes != nullptr) batch_sizes->push_back(response->deliveries().deliveries_size());
      for (const auto& d : response->deliveries().deliveries()) deliveries.push_back(d);
    }
  }
  return deliveries;
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void Start(TestServerOptions options = {}) {
    server_ = std::make_unique<TestServer>(store_, std::move(options));
    ASSERT_TRUE(server_->ok());
  }
  void TearDown() override { server_.reset(); }

  FakeStore store_{SystemClock::Get()};
  std::unique_ptr<TestServer> server_;
};

TEST_F(AgentServiceTest, HelloGetsWelcomeWithConfiguredDeadlineAndWindow) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Seconds(30);
  options.delivery.max_in_flight = 64;
  Start(options);

  RawAgent agent(server_->target(), kAuditToken);
  auto welcome = agent.Subscribe("audit", 5);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->ack_deadline().seconds(), 30);
  EXPECT_EQ(welcome->ack_deadline().nanos(), 0);
  EXPECT_EQ(welcome->max_in_flight(), 5u);
  EXPECT_EQ(welcome->server_id(), "test-server");
}

TEST_F(AgentServiceTest, WindowZeroMeansDefaultAndIsCappedByConfig) {
  TestServerOptions options;
  options.delivery.max_in_flight = 64;
  Start(options);

  RawAgent zero(server_->target(), kAuditToken);
  auto welcome = zero.Subscribe("audit", 0);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->max_in_flight(), 64u);

  RawAgent large(server_->target(), kAuditToken);
  welcome = large.Subscribe("audit", 1000);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->max_in_flight(), 64u);
}

TEST_F(AgentServiceTest, RotatedTokensBothAuthenticate) {
  Start();
  RawAgent agent(server_->target(), "old-rotated-token");
  EXPECT_TRUE(agent.Subscribe("audit").has_value());
}

TEST_F(AgentServiceTest, SetAgentsSwapsTokensForNewStreams) {
  Start();
  RawAgent before(server_->target(), kAuditToken);
  ASSERT_TRUE(before.Subscribe("audit").has_value());

  server_->service().SetAgents({{.name = "audit", .tokens = {"rotated-audit-token"}, .delivery = {}}});
  RawAgent old_token(server_->target(), kAuditToken);
  old_token.Hello("audit");
  EXPECT_EQ(old_token.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  RawAgent new_token(server_->target(), "rotated-audit-token");
  EXPECT_TRUE(new_token.Subscribe("audit").has_value());

  new_token.Cancel();

  // The stream that authenticated before the swap keeps working.
  store_.Enqueue("audit", "evt-1");
  auto delivery = before.ReadDelivery();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->event().id(), "evt-1");
}

TEST_F(AgentServiceTest, MissingTokenIsUnauthenticated) {
  Start();
  RawAgent agent(server_->target(), "");
  agent.Hello("audit");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AgentServiceTest, BadTokenIsUnauthenticated) {
  Start();
  RawAgent agent(server_->target(), "audit-token-0123456788");
  agent.Hello("audit");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AgentServiceTest, TokenWithoutBearerSchemeIsUnauthenticated) {
  Start();
  auto stub = v1::AgentService::NewStub(
      grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", kAuditToken);
  auto stream = stub->Subscribe(&context);
  v1::SubscribeResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AgentServiceTest, AnotherAgentsTokenIsPermissionDenied) {
  Start();
  RawAgent agent(server_->target(), kSuppressionToken);
  agent.Hello("audit");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentServiceTest, UnknownAgentIsUnauthenticated) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  agent.Hello("nobody");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AgentServiceTest, MissingHelloTimesOutWithInvalidArgument) {
  TestServerOptions options;
  options.hello_timeout = absl::Milliseconds(200);
  Start(options);
  RawAgent agent(server_->target(), kAuditToken);
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, AckBeforeHelloIsInvalidArgument) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  agent.Ack("d-0-1");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, SecondHelloIsInvalidArgument) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit").has_value());
  agent.Hello("audit");
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentServiceTest, DeliveryCarriesEventAttemptRulesAndLease) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Seconds(30);
  Start(options);
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit").has_value());
  const absl::Time before = absl::Now();
  store_.Enqueue("audit", "evt-1", v1::EVENT_TYPE_BOUNCED);

  auto delivery = agent.ReadDelivery();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_FALSE(delivery->delivery_id().empty());
  EXPECT_EQ(delivery->attempt(), 1u);
  EXPECT_EQ(delivery->event().id(), "evt-1");
  EXPECT_EQ(delivery->event().type(), v1::EVENT_TYPE_BOUNCED);
  ASSERT_EQ(delivery->matched_rules_size(), 1);
  EXPECT_EQ(delivery->matched_rules(0), "rule-audit");
  const absl::Time lease = absl::FromUnixSeconds(delivery->lease_expires_at().seconds());
  EXPECT_GE(lease, before + absl::Seconds(29));
  EXPECT_LE(lease, absl::Now() + absl::Seconds(30));
}

TEST_F(AgentServiceTest, DeliveriesAreBoundedByMaxInFlightAndAckFreesASlot) {
  Start();
  for (int i = 0; i < 5; ++i) store_.Enqueue("audit", "evt-" + std::to_string(i));
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit", 2).has_value());

  auto first = agent.ReadDelivery();
  auto second = agent.ReadDelivery();
  ASSERT_TRUE(first && second);
  // Oldest first (best-effort FIFO for first attempts).
  EXPECT_EQ(first->event().id(), "evt-0");
  EXPECT_EQ(second->event().id(), "evt-1");
  EXPECT_EQ(server_->dispatcher().Stats().delivered, 2);

  ASSERT_TRUE(agent.Ack(first->delivery_id()));
  auto third = agent.ReadDelivery();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->event().id(), "evt-2");
  ASSERT_TRUE(agent.Ack(second->delivery_id()));
  ASSERT_TRUE(agent.Ack(third->delivery_id()));
  for (int i = 3; i < 5; ++i) {
    auto next = agent.ReadDelivery();
    ASSERT_TRUE(next.has_value());
    ASSERT_TRUE(agent.Ack(next->delivery_id()));
  }
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 5; }));
  EXPECT_EQ(store_.max_leased("audit"), 2);
}

TEST_F(AgentServiceTest, UnknownAckIsIgnoredAndTheStreamStaysOpen) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit").has_value());
  ASSERT_TRUE(agent.Ack("no-such-delivery"));
  ASSERT_TRUE(Eventually([&] { return server_->dispatcher().Stats().unknown_ids == 1; }));

  store_.Enqueue("audit", "evt-after");
  auto delivery = agent.ReadDelivery();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->event().id(), "evt-after");
  // Acking twice: the second one is unknown, still not an error.
  ASSERT_TRUE(agent.Ack(delivery->delivery_id()));
  ASSERT_TRUE(agent.Ack(delivery->delivery_id()));
  ASSERT_TRUE(Eventually([&] { return server_->dispatcher().Stats().unknown_ids == 2; }));
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  EXPECT_EQ(store_.acked()[0], delivery->delivery_id());
}

TEST_F(AgentServiceTest, NackGoesToTheStoreAndTheEventComesBackWithTheNextAttempt) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit", 1).has_value());
  store_.Enqueue("audit", "evt-1");
  auto first = agent.ReadDelivery();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(agent.Nack(first->delivery_id(), absl::ZeroDuration(), "temporary failure"));

  auto second = agent.ReadDelivery();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->event().id(), "evt-1");
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_NE(second->delivery_id(), first->delivery_id());
  auto nacked = store_.nacked();
  ASSERT_EQ(nacked.size(), 1u);
  EXPECT_EQ(nacked[0].delivery_id, first->delivery_id());
  EXPECT_EQ(nacked[0].reason, "temporary failure");
}

TEST_F(AgentServiceTest, StreamEndReleasesUnackedAtOnce) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Hours(1);  // only the release can bring them back
  Start(options);
  store_.Enqueue("audit", "evt-a");
  store_.Enqueue("audit", "evt-b");
  std::set<std::string> first_ids;
  {
    RawAgent agent(server_->target(), kAuditToken);
    ASSERT_TRUE(agent.Subscribe("audit", 2).has_value());
    for (int i = 0; i < 2; ++i) {
      auto delivery = agent.ReadDelivery();
      ASSERT_TRUE(delivery.has_value());
      first_ids.insert(delivery->delivery_id());
    }
    agent.Cancel();
  }
  ASSERT_TRUE(Eventually([&] { return store_.released().size() == 2; }));
  const std::vector<std::string> released = store_.released();
  EXPECT_EQ(std::set<std::string>(released.begin(), released.end()), first_ids);

  RawAgent again(server_->target(), kAuditToken);
  ASSERT_TRUE(again.Subscribe("audit", 2).has_value());
  std::set<std::string> events;
  for (int i = 0; i < 2; ++i) {
    auto delivery = again.ReadDelivery();
    ASSERT_TRUE(delivery.has_value());
    EXPECT_EQ(delivery->attempt(), 2u);
    events.insert(delivery->event().id());
  }
  EXPECT_EQ(events, (std::set<std::string>{"evt-a", "evt-b"}));
}

TEST_F(AgentServiceTest, TwoInstancesOfOneNameShareOneQueueFairly) {
  Start();
  constexpr int kEvents = 100;
  for (int i = 0; i < kEvents; ++i) store_.Enqueue("audit", "evt-" + std::to_string(i));

  std::mutex mu;
  std::map<std::string, int> seen;  // event id -> deliveries
  std::atomic<int> total{0};
  auto run_instance = [&](RawAgent* agent, int* count) {
    if (!agent->Subscribe("audit", 1)) return;
    while (auto delivery = agent->ReadDelivery()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the handler's work
      {
        std::lock_guard lock(mu);
        ++seen[delivery->event().id()];
      }
      ++*count;
      ++total;
      agent->Ack(delivery->delivery_id());
    }
  };
  RawAgent agent_a(server_->target(), kAuditToken);
  RawAgent agent_b(server_->target(), kAuditToken);
  int count_a = 0;
  int count_b = 0;
  std::thread a(run_instance, &agent_a, &count_a);
  std::thread b(run_instance, &agent_b, &count_b);
  EXPECT_TRUE(Eventually([&] { return total.load() >= kEvents; }));
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == kEvents; }));
  agent_a.Cancel();
  agent_b.Cancel();
  a.join();
  b.join();

  EXPECT_EQ(count_a + count_b, kEvents);
  EXPECT_GE(count_a, kEvents / 4);
  EXPECT_GE(count_b, kEvents / 4);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEvents));
  for (const auto& [id, deliveries] : seen) EXPECT_EQ(deliveries, 1) << id;
}

TEST_F(AgentServiceTest, ExpiredLeaseFreesTheSlotAndTheLateAckIsIgnored) {
  TestServerOptions options;
  options.delivery.ack_deadline = absl::Milliseconds(300);
  Start(options);
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit", 1).has_value());
  store_.Enqueue("audit", "evt-1");
  auto first = agent.ReadDelivery();
  ASSERT_TRUE(first.has_value());
  // No ack: after the lease the same event comes back on the same (window 1) stream.
  auto second = agent.ReadDelivery();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->event().id(), "evt-1");
  EXPECT_EQ(second->attempt(), 2u);
  EXPECT_NE(second->delivery_id(), first->delivery_id());

  ASSERT_TRUE(agent.Ack(first->delivery_id()));  // late: ignored and counted
  ASSERT_TRUE(agent.Ack(second->delivery_id()));
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 1; }));
  EXPECT_EQ(store_.acked()[0], second->delivery_id());
  EXPECT_GE(server_->dispatcher().Stats().unknown_ids, 1);
}

TEST_F(AgentServiceTest, ShutdownEndsStreamsWithUnavailable) {
  Start();
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit").has_value());
  std::thread stopper([&] { server_->Stop(); });
  EXPECT_EQ(agent.Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  stopper.join();
}

}  // namespace
}  // namespace switchboard::delivery

namespace switchboard::delivery {
namespace {

TEST_F(AgentServiceTest, AnAgentWithoutBatchesGetsOneDeliveryPerMessage) {
  Start();
  for (int i = 0; i < 20; ++i) store_.Enqueue("audit", "evt-" + std::to_string(i));
  RawAgent agent(server_->target(), kAuditToken);
  auto welcome = agent.Subscribe("audit", 64);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_TRUE(welcome->batches());  // the server can batch; this agent did not ask
  for (int i = 0; i < 20; ++i) {
    auto delivery = agent.ReadDelivery();  // nullopt on a DeliveryBatch
    ASSERT_TRUE(delivery.has_value()) << "message " << i;
    EXPECT_EQ(delivery->event().id(), "evt-" + std::to_string(i));
    ASSERT_TRUE(agent.Ack(delivery->delivery_id()));
  }
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == 20; }));
}

TEST_F(AgentServiceTest, ABatchingAgentGetsQueuedDeliveriesTogetherInOrderAndAcksThemInOne) {
  constexpr int kEvents = 50;
  Start();
  for (int i = 0; i < kEvents; ++i) store_.Enqueue("audit", "evt-" + std::to_string(i));
  RawAgent agent(server_->target(), kAuditToken);
  auto welcome = agent.Subscribe("audit", 64, /*batches=*/true);
  ASSERT_TRUE(welcome.has_value());
  ASSERT_TRUE(welcome->batches());

  int messages = 0;
  std::vector<v1::Delivery> deliveries = ReadDeliveries(agent, kEvents, &messages);
  ASSERT_EQ(deliveries.size(), static_cast<size_t>(kEvents));
  // All 50 were claimed at once and queued behind the first write: they cannot have needed a
  // message each.
  EXPECT_LT(messages, kEvents);
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_EQ(deliveries[i].event().id(), "evt-" + std::to_string(i));
    EXPECT_EQ(deliveries[i].attempt(), 1u);
    ids.push_back(deliveries[i].delivery_id());
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  // One Ack settles them all; an unknown id among them is counted and changes nothing else.
  ids.insert(ids.begin() + 10, "no-such-delivery");
  ASSERT_TRUE(agent.AckAll(ids));
  ASSERT_TRUE(Eventually([&] { return store_.acked().size() == kEvents; }));
  ASSERT_TRUE(Eventually([&] { return server_->dispatcher().Stats().unknown_ids == 1; }));
  EXPECT_EQ(server_->dispatcher().Stats().acks, kEvents);

  // The window is free again: the next event comes at once.
  store_.Enqueue("audit", "evt-after");
  int more = 0;
  auto after = ReadDeliveries(agent, 1, &more);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].event().id(), "evt-after");
}

TEST_F(AgentServiceTest, ABatchStaysWithinItsByteLimitAndALargeDeliveryGoesAlone) {
  // 1 MiB per batch (agent.proto): 300 KiB events fit three to a batch; a 1.5 MiB one never
  // shares a message.
  constexpr int kEvents = 12;
  constexpr size_t kLarge = 1536 * 1024;
  Start();
  for (int i = 0; i < kEvents; ++i) {
    const size_t size = i == 5 ? kLarge : 300 * 1024;
    store_.Enqueue("audit", "evt-" + std::to_string(i), v1::EVENT_TYPE_DELIVERED,
                   std::string(size, 'x'));
  }
  RawAgent agent(server_->target(), kAuditToken);
  ASSERT_TRUE(agent.Subscribe("audit", 64, /*batches=*/true).has_value());
  // Read nothing until all twelve are handed to the stream: the first write (300 KiB, past the
  // agent's 64 KiB flow-control window) then waits for this reader and the rest queue behind
  // it. Reading at once let a slow hand-off (a loaded machine) send each one alone.
  ASSERT_TRUE(Eventually(
      [&] { return server_->dispatcher().Activity()["audit"].in_flight == kEvents; }));

  std::vector<std::string> order;
  int batches = 0;
  while (order.size() < kEvents) {
    auto response = agent.Read();
    ASSERT_TRUE(response.has_value());
    if (response->has_delivery()) {
      order.push_back(response->delivery().event().id());
      continue;
    }
    ASSERT_TRUE(response->has_deliveries());
    ++batches;
    const auto& batch = response->deliveries().deliveries();
    EXPECT_GE(batch.size(), 2) << "a lone delivery goes as a plain delivery";
    EXPECT_LE(batch.size(), 3);
    EXPECT_LE(response->deliveries().ByteSizeLong(), size_t{1} << 20);
    for (const auto& d : batch) {
      EXPECT_NE(d.event().id(), "evt-5");
      order.push_back(d.event().id());
    }
  }
  EXPECT_GT(batches, 0);
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(order[i], "evt-" + std::to_string(i));
}

}  // namespace
}  // namespace switchboard::delivery
