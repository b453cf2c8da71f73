#include "router/metrics/store_monitor.h"

#include <atomic>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::metrics {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1764446400);

// A store whose Stats and Healthy answers the test sets; every other call is kUnimplemented.
// Callbacks run inline (the contract allows any store thread; the caller's is one).
class StubStore final : public store::Store {
 public:
  std::atomic<bool> healthy{true};
  absl::Mutex mu;
  std::map<std::string, absl::StatusOr<store::QueueStats>> stats ABSL_GUARDED_BY(mu);
  std::atomic<int> stats_calls{0};

  void Stats(std::string agent,
             absl::AnyInvocable<void(absl::StatusOr<store::QueueStats>) &&> done) override {
    ++stats_calls;
    absl::StatusOr<store::QueueStats> answer = absl::NotFoundError("no stats set");
    {
      absl::MutexLock lock(&mu);
      auto it = stats.find(agent);
      if (it != stats.end()) answer = it->second;
    }
    std::move(done)(std::move(answer));
  }
  bool Healthy() const override { return healthy; }

  void Commit(std::vector<store::EventToCommit>, store::CommitCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void Claim(std::string, int, absl::Duration, uint32_t, store::ExpiryBackoff,
             store::ClaimCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void Ack(std::string, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void Nack(std::string, absl::Duration, std::string, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void Extend(std::string, absl::Duration, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void Release(std::vector<std::string>, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void RememberToken(std::string, std::string, absl::Duration,
                     store::TokenCallback done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void NextVisibleAt(std::string,
                     absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void ListDeadLetters(
      std::string, int,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<store::DeadLetter>>) &&> done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void SetEnqueueListener(std::function<void(const std::string&)>) override {}
  void GetRules(absl::AnyInvocable<void(absl::StatusOr<store::RulesDocument>) &&> done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void PutRules(std::string, int64_t,
                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override {
    std::move(done)(absl::UnimplementedError(""));
  }
  void SetRulesListener(std::function<void(int64_t)>) override {}
};

template <typename Predicate>
bool Eventually(Predicate predicate) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return predicate();
}

TEST(StoreMonitorTest, SetsQueueGaugesPerAgentFromStoreStats) {
  StubStore store;
  FakeClock clock(kNow);
  {
    absl::MutexLock lock(&store.mu);
    store::QueueStats audit;
    audit.ready = 499;
    audit.leased = 1;
    audit.delayed = 3;
    audit.dead_letters = 2;
    audit.oldest_leased = kNow - absl::Seconds(90);
    store.stats["audit"] = audit;
    store.stats["reply"] = store::QueueStats{};  // nothing leased: age 0
  }
  Registry registry;
  StoreMonitor monitor(store, clock, registry, {"audit", "reply"}, absl::Milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= 1; }));
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("switchboard_queue_ready{agent=\"audit\"} 499\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_queue_leased{agent=\"audit\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_queue_delayed{agent=\"audit\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_dead_letters{agent=\"audit\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_oldest_unacked_age_seconds{agent=\"audit\"} 90\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_oldest_unacked_age_seconds{agent=\"reply\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_queue_ready{agent=\"reply\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_store_up 1\n"));
}

TEST(StoreMonitorTest, AFailedStatsKeepsThePreviousValues) {
  StubStore store;
  FakeClock clock(kNow);
  store::QueueStats first;
  first.ready = 7;
  {
    absl::MutexLock lock(&store.mu);
    store.stats["audit"] = first;
  }
  Registry registry;
  StoreMonitor monitor(store, clock, registry, {"audit"}, absl::Milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= 1; }));
  {
    absl::MutexLock lock(&store.mu);
    store.stats["audit"] = absl::UnavailableError("down");
  }
  store.healthy = false;
  const int64_t seen = monitor.rounds();
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= seen + 2; }));
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("switchboard_queue_ready{agent=\"audit\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_store_up 0\n"));
}

TEST(StoreMonitorTest, HealthChangesAreReportedOnceEach) {
  StubStore store;
  FakeClock clock(kNow);
  Registry registry;
  absl::Mutex mu;
  std::vector<bool> reports;
  StoreMonitor monitor(store, clock, registry, {}, absl::Milliseconds(1), [&](bool healthy) {
    absl::MutexLock lock(&mu);
    reports.push_back(healthy);
  });
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= 3; }));
  store.healthy = false;
  int64_t seen = monitor.rounds();
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= seen + 3; }));
  store.healthy = true;
  seen = monitor.rounds();
  ASSERT_TRUE(Eventually([&] { return monitor.rounds() >= seen + 3; }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(reports, (std::vector<bool>{true, false, true}));
}

TEST(StoreMonitorTest, OneStatsCallPerAgentPerRoundWhateverTheScrapes) {
  StubStore store;
  FakeClock clock(kNow);
  Registry registry;
  auto monitor = std::make_unique<StoreMonitor>(store, clock, registry,
                                                std::vector<std::string>{"a", "b", "c"},
                                                absl::Hours(1));
  ASSERT_TRUE(Eventually([&] { return monitor->rounds() >= 1; }));
  for (int i = 0; i < 100; ++i) registry.Render();
  monitor.reset();  // stops during the hour's wait
  EXPECT_EQ(store.stats_calls.load(), 3);
}

}  // namespace
}  // namespace switchboard::metrics
