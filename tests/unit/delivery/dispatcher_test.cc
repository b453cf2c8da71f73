#include "router/delivery/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "router/metrics/registry.h"
#include "tests/unit/delivery/fake_store.h"

namespace switchboard::delivery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1764446400);  // 2025-11-29T20:00:00Z

template <typename Predicate>
bool Eventually(Predicate predicate, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return predicate();
}

// Collects what the Dispatcher hands to one stream, as its agent reads it: through the wire
// (the event travels as its stored bytes, which only a parse turns into delivery.event()).
class CollectingSink final : public DeliverySink {
 public:
  bool Send(v1::Delivery delivery) override {
    v1::Delivery received;
    EXPECT_TRUE(received.ParseFromString(delivery.SerializeAsString()));
    absl::MutexLock lock(&mu_);
    deliveries_.push_back(std::move(received));
    return true;
  }
  // Waits for the next delivery (the Dispatcher runs on its own thread).
  std::optional<v1::Delivery> Next(absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto ready = [this] { return !deliveries_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return std::nullopt;
    v1::Delivery d = std::move(deliveries_.front());
    deliveries_.pop_front();
    return d;
  }

 private:
  absl::Mutex mu_;
  std::deque<v1::Delivery> deliveries_ ABSL_GUARDED_BY(mu_);
};

config::DeliveryConfig Settings(absl::Duration ack_deadline, uint32_t max_attempts,
                                absl::Duration initial, absl::Duration max) {
  config::DeliveryConfig c;
  c.ack_deadline = ack_deadline;
  c.max_attempts = max_attempts;
  c.max_in_flight = 8;
  c.backoff.initial = initial;
  c.backoff.max = max;
  c.backoff.multiplier = 2;
  return c;
}

class DispatcherTest : public ::testing::Test {
 protected:
  FakeClock clock_{kStart};
  testing::FakeStore store_{clock_};
};

TEST_F(DispatcherTest, NackWithoutRetryAfterBacksOffWithFullJitterUpToTheCap) {
  // The sinks outlive the dispatcher, whose store thread may still deliver until it is gone.
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(10), absl::Seconds(40)));
  const uint64_t stream = dispatcher.AddStream("audit", 1, &sink);
  store_.Enqueue("audit", "evt-1");
  // Ceilings after attempts 1..4: 10 s, 20 s, 40 s, 40 s (capped).
  const absl::Duration ceilings[] = {absl::Seconds(10), absl::Seconds(20), absl::Seconds(40),
                                     absl::Seconds(40)};
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    // The clock stands still from here: whether the store answers NextVisibleAt before or after
    // the Advance below, the redelivery must come without the clock moving on.
    std::optional<v1::Delivery> delivery = sink.Next();
    ASSERT_TRUE(delivery.has_value()) << "attempt " << attempt;
    EXPECT_EQ(delivery->attempt(), attempt);
    dispatcher.Nack(stream, delivery->delivery_id(), absl::ZeroDuration(), "busy");
    ASSERT_TRUE(Eventually([&] { return store_.nacked().size() == attempt; }));
    const absl::Duration wait = store_.nacked().back().retry_after;
    EXPECT_GE(wait, absl::ZeroDuration());
    EXPECT_LE(wait, ceilings[attempt - 1]) << "attempt " << attempt;
    // Not visible before its backoff ends (unless the draw was 0), visible after it.
    clock_.Advance(ceilings[attempt - 1]);
  }
}

TEST_F(DispatcherTest, AnEntryVisibleBeforeNextVisibleAtAnswersIsClaimedAtOnce) {
  // The store answers NextVisibleAt only after the clock has passed the entry's retry time, and
  // the clock then stands still: only that answer (a time at or before now) can bring the entry
  // back, since the dispatcher's 1 s safety net counts in clock time. Every NextVisibleAt is held
  // from the start, so no earlier answer has left a safety-net check that the Advance would pass.
  store_.HoldNextVisibleAt();
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(1), absl::Seconds(2)));
  const uint64_t stream = dispatcher.AddStream("audit", 1, &sink);
  store_.Enqueue("audit", "evt-1");
  std::optional<v1::Delivery> first = sink.Next();
  const size_t held_before_nack = store_.HeldNextVisibleAt();
  if (first.has_value()) {
    dispatcher.Nack(stream, first->delivery_id(), absl::Seconds(10), "later");
  }
  const bool asked =
      Eventually([&] { return store_.HeldNextVisibleAt() > held_before_nack; });
  clock_.Advance(absl::Seconds(10));
  store_.ReleaseNextVisibleAt();  // before any ASSERT: the dispatcher waits for these answers
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(asked) << "the dispatcher never asked NextVisibleAt after the nack";
  std::optional<v1::Delivery> second = sink.Next(absl::Seconds(5));
  ASSERT_TRUE(second.has_value()) << "left to the safety net";
  EXPECT_EQ(second->attempt(), 2u);
}

// The Claim for a newly committed event starts on the thread that reports the enqueue (the
// store's, right after its commit), not after a hop through the dispatcher's own thread, which
// under load waits for the CPU on every event's way to its agents.
TEST_F(DispatcherTest, ANewEventIsClaimedFromTheThreadThatReportsItsEnqueue) {
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(1), absl::Seconds(2)));
  dispatcher.AddStream("audit", 4, &sink);
  // The stream's first Claim, from the dispatcher thread, finds nothing. The store runs its
  // tasks in order, so that Claim has been answered when the commit below reports its enqueue.
  ASSERT_TRUE(Eventually([&] { return store_.claim_callers().size() == 1; }));
  EXPECT_NE(store_.claim_callers()[0], store_.thread_id());
  store_.Enqueue("audit", "evt-1");
  std::optional<v1::Delivery> delivery = sink.Next();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->event().id(), "evt-1");
  const std::vector<std::thread::id> callers = store_.claim_callers();
  ASSERT_GE(callers.size(), 2u);
  EXPECT_EQ(callers[1], store_.thread_id()) << "claimed from the dispatcher thread";
}

TEST_F(DispatcherTest, ExpiredLeaseBacksOffWithFullJitterUpToTheCap) {
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(10), absl::Seconds(40)));
  dispatcher.AddStream("audit", 1, &sink);
  store_.Enqueue("audit", "evt-1");
  // The agent never answers. Ceilings after attempts 1..4: 10 s, 20 s, 40 s, 40 s (capped).
  const absl::Duration ceilings[] = {absl::Seconds(10), absl::Seconds(20), absl::Seconds(40),
                                     absl::Seconds(40)};
  absl::Duration total;
  for (uint32_t attempt = 1; attempt <= 4; ++attempt) {
    std::optional<v1::Delivery> delivery = sink.Next();
    ASSERT_TRUE(delivery.has_value()) << "attempt " << attempt;
    EXPECT_EQ(delivery->attempt(), attempt);
    const std::vector<testing::FakeStore::Entry> entries = store_.Snapshot();
    ASSERT_EQ(entries.size(), 1u);
    const absl::Duration wait = entries[0].expiry_backoff;
    EXPECT_GE(wait, absl::ZeroDuration());
    EXPECT_LE(wait, ceilings[attempt - 1]) << "attempt " << attempt;
    total += wait;
    if (wait > absl::ZeroDuration()) {
      // Not at the lease end: only once the backoff is over.
      clock_.Advance(absl::Seconds(30) + wait - absl::Microseconds(1));
      EXPECT_FALSE(sink.Next(absl::Milliseconds(300)).has_value()) << "attempt " << attempt;
      clock_.Advance(absl::Microseconds(1));
    } else {
      clock_.Advance(absl::Seconds(30));
    }
  }
  // Four uniform draws from [0, 10 s], [0, 20 s], [0, 40 s], [0, 40 s] all below 1 ms: about
  // 1e-16 if the backoff is applied; certain if it is not.
  EXPECT_GT(total, absl::Milliseconds(1));
}

TEST_F(DispatcherTest, NackRetryAfterIsHonouredAsGiven) {
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(1), absl::Seconds(2)));
  const uint64_t stream = dispatcher.AddStream("audit", 1, &sink);
  store_.Enqueue("audit", "evt-1");
  auto first = sink.Next();
  ASSERT_TRUE(first.has_value());
  dispatcher.Nack(stream, first->delivery_id(), absl::Minutes(7), "rate limited");
  ASSERT_TRUE(Eventually([&] { return store_.nacked().size() == 1; }));
  EXPECT_EQ(store_.nacked()[0].retry_after, absl::Minutes(7));  // above backoff.max: still as given
  EXPECT_EQ(store_.nacked()[0].reason, "rate limited");
  clock_.Advance(absl::Minutes(6));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(dispatcher.Stats().delivered, 1);  // still waiting
  clock_.Advance(absl::Minutes(1));
  auto second = sink.Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempt(), 2u);
}

TEST_F(DispatcherTest, PerAgentSettingsOverrideTheDefaults) {
  std::map<std::string, config::DeliveryConfig> per_agent;
  per_agent["audit"] = Settings(absl::Seconds(5), 2, absl::ZeroDuration(), absl::ZeroDuration());
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::Seconds(1), absl::Seconds(2)),
                        per_agent);
  EXPECT_EQ(dispatcher.SettingsFor("audit").ack_deadline, absl::Seconds(5));
  EXPECT_EQ(dispatcher.SettingsFor("other").ack_deadline, absl::Seconds(30));
  CollectingSink audit;
  CollectingSink other;
  const uint64_t audit_stream = dispatcher.AddStream("audit", 1, &audit);
  dispatcher.AddStream("other", 1, &other);
  store_.Enqueue("audit", "evt-a");
  store_.Enqueue("other", "evt-o");

  auto a = audit.Next();
  auto o = other.Next();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(a->lease_expires_at().seconds(), absl::ToUnixSeconds(kStart + absl::Seconds(5)));
  EXPECT_EQ(o->lease_expires_at().seconds(), absl::ToUnixSeconds(kStart + absl::Seconds(30)));

  // max_attempts 2 for audit: the second nack makes the next claim move it to dead letters.
  dispatcher.Nack(audit_stream, a->delivery_id(), absl::ZeroDuration(), "poison");
  auto again = audit.Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempt(), 2u);
  dispatcher.Nack(audit_stream, again->delivery_id(), absl::ZeroDuration(), "poison");
  ASSERT_TRUE(Eventually([&] {
    for (const auto& e : store_.Snapshot()) {
      if (e.event.id() == "evt-a") return e.dead;
    }
    return false;
  }));
  EXPECT_EQ(dispatcher.Stats().delivered, 3);
}

TEST_F(DispatcherTest, MetricsCountDeliveriesRedeliveriesAndLatencyFromReceipt) {
  metrics::Registry registry;
  CollectingSink sink;
  Dispatcher dispatcher(store_, clock_,
                        Settings(absl::Seconds(30), 10, absl::ZeroDuration(), absl::ZeroDuration()),
                        {}, &registry);
  const uint64_t stream = dispatcher.AddStream("audit", 1, &sink);
  // The event was received 2.5 s before the dispatcher hands it over.
  store::EventToCommit commit;
  commit.event.set_id("evt-1");
  commit.event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(kStart) - 3);
  commit.event.mutable_received_at()->set_nanos(500000000);
  commit.targets.push_back({"audit", {"r"}});
  std::vector<store::EventToCommit> events;
  events.push_back(std::move(commit));
  std::promise<void> committed;
  store_.Commit(std::move(events), [&](auto) { committed.set_value(); });
  committed.get_future().wait();

  auto first = sink.Next();
  ASSERT_TRUE(first.has_value());
  dispatcher.Nack(stream, first->delivery_id(), absl::ZeroDuration(), "again");
  auto second = sink.Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(dispatcher.Stats().redelivered, 1);

  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("switchboard_deliveries_total{agent=\"audit\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_redeliveries_total{agent=\"audit\"} 1\n"));
  // Only the first attempt is a POST-to-agent latency: one observation of 2.5 s.
  EXPECT_THAT(text, HasSubstr("switchboard_delivery_latency_seconds_count{agent=\"audit\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_delivery_latency_seconds_sum{agent=\"audit\"} 2.5\n"));
  EXPECT_THAT(text,
              HasSubstr("switchboard_delivery_latency_seconds_bucket{agent=\"audit\",le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(
                        "switchboard_delivery_latency_seconds_bucket{agent=\"audit\",le=\"2.5\"} 1\n"));

  const auto activity = dispatcher.Activity();
  ASSERT_TRUE(activity.contains("audit"));
  EXPECT_EQ(activity.at("audit").instances, 1);
  EXPECT_EQ(activity.at("audit").in_flight, 1);
  dispatcher.RemoveStream(stream);
  EXPECT_EQ(dispatcher.Activity().at("audit").instances, 0);
}

// The agent parses the event out of the Delivery that MakeDelivery builds from stored bytes, alone
// and in a DeliveryBatch after the move the stream makes (agent_service.cc), with every field
// as it was committed.
TEST(MakeDeliveryTest, TheAgentReadsTheStoredEventFromTheWire) {
  std::vector<v1::EmailEvent> events(2);
  for (int i = 0; i < 2; ++i) {
    events[i].set_id("evt-" + std::to_string(i));
    events[i].set_type(v1::EVENT_TYPE_BOUNCED);
    events[i].mutable_bounce()->set_diagnostic("550 5.1.1 no such user");
    events[i].mutable_received_at()->set_seconds(1700000000 + i);
    (*events[i].mutable_metadata())["customer"] = "42";
    events[i].set_raw(std::string("raw \xff bytes", 11));
  }
  const absl::Time lease_end = absl::FromUnixSeconds(1700000100);
  v1::DeliveryBatch batch;
  for (int i = 0; i < 2; ++i) {
    store::ClaimedDelivery claimed;
    claimed.delivery_id = absl::StrCat(i + 1, ".3");
    claimed.attempt = 3;
    claimed.event_bytes = events[i].SerializeAsString();
    claimed.matched_rules = {"bounces", "audit-all"};
    claimed.lease_expires_at = lease_end;
    v1::Delivery delivery = MakeDelivery(claimed);
    EXPECT_EQ(claimed.delivery_id, absl::StrCat(i + 1, ".3"));  // the dispatcher still needs it
    EXPECT_FALSE(delivery.has_event());  // not parsed in the router
    if (i == 0) {
      v1::Delivery alone;
      ASSERT_TRUE(alone.ParseFromString(delivery.SerializeAsString()));
      EXPECT_EQ(alone.delivery_id(), "1.3");
      EXPECT_EQ(alone.attempt(), 3u);
      EXPECT_EQ(alone.event().SerializeAsString(), events[0].SerializeAsString());
      EXPECT_THAT(alone.matched_rules(), ElementsAre("bounces", "audit-all"));
      EXPECT_EQ(alone.lease_expires_at().seconds(), 1700000100);
      EXPECT_EQ(alone.GetReflection()->GetUnknownFields(alone).field_count(), 0);
    }
    *batch.add_deliveries() = std::move(delivery);
  }
  v1::SubscribeResponse response;
  *response.mutable_deliveries() = std::move(batch);
  v1::SubscribeResponse received;
  ASSERT_TRUE(received.ParseFromString(response.SerializeAsString()));
  ASSERT_EQ(received.deliveries().deliveries_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const v1::Delivery& d = received.deliveries().deliveries(i);
    EXPECT_EQ(d.delivery_id(), absl::StrCat(i + 1, ".3"));
    EXPECT_EQ(d.event().id(), events[i].id());
    EXPECT_EQ(d.event().bounce().diagnostic(), "550 5.1.1 no such user");
    EXPECT_EQ(d.event().metadata().at("customer"), "42");
    EXPECT_EQ(d.event().raw(), events[i].raw());
    EXPECT_EQ(d.event().received_at().seconds(), 1700000000 + i);
  }
}

}  // namespace
}  // namespace switchboard::delivery
