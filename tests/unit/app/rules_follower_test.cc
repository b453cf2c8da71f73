// RulesFollower (router/app/rules_follower.h): reads at once, on Request, again after a failed
// read, and every `recheck`; always on its own thread, never on the store's.
#include "router/app/rules_follower.h"

#include <deque>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/unit/ingress/fakes.h"

namespace switchboard::app {
namespace {

// Answers GetRules from a script of results (the last one repeats), on the calling thread, and
// counts the reads.
class ScriptedRulesStore : public ingress::testing::FakeStore {
 public:
  void Script(std::deque<absl::StatusOr<store::RulesDocument>> answers) {
    absl::MutexLock lock(&mu_);
    answers_ = std::move(answers);
  }
  void GetRules(absl::AnyInvocable<void(absl::StatusOr<store::RulesDocument>) &&> done) override {
    absl::StatusOr<store::RulesDocument> answer;
    {
      absl::MutexLock lock(&mu_);
      ++reads_;
      answer = answers_.front();
      if (answers_.size() > 1) answers_.pop_front();
    }
    std::move(done)(std::move(answer));
  }
  int reads() {
    absl::MutexLock lock(&mu_);
    return reads_;
  }

 private:
  absl::Mutex mu_;
  std::deque<absl::StatusOr<store::RulesDocument>> answers_ ABSL_GUARDED_BY(mu_);
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Applied {
  absl::Mutex mu;
  std::vector<absl::StatusOr<store::RulesDocument>> reads ABSL_GUARDED_BY(mu);
  std::vector<std::thread::id> threads ABSL_GUARDED_BY(mu);
  size_t size() {
    absl::MutexLock lock(&mu);
    return reads.size();
  }
};

RulesFollower::Apply Recorder(Applied& applied) {
  return [&applied](const absl::StatusOr<store::RulesDocument>& document) {
    absl::MutexLock lock(&applied.mu);
    applied.reads.push_back(document);
    applied.threads.push_back(std::this_thread::get_id());
  };
}

bool WaitForReads(Applied& applied, size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (applied.size() < n) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(RulesFollowerTest, ReadsAtOnceAndOnRequestOffTheCallersThread) {
  ScriptedRulesStore store;
  store.Script({store::RulesDocument{"- { name: a, match: {}, agents: [x] }\n", 1}});
  Applied applied;
  RulesFollower follower(store, Recorder(applied), absl::Hours(1), absl::Hours(1));
  ASSERT_TRUE(follower.WaitFirstRead(absl::Seconds(10)));
  ASSERT_TRUE(WaitForReads(applied, 1, absl::Seconds(10)));
  store.Script({store::RulesDocument{"[]\n", 2}});
  follower.Request();
  ASSERT_TRUE(WaitForReads(applied, 2, absl::Seconds(10)));
  follower.Stop();
  absl::MutexLock lock(&applied.mu);
  ASSERT_EQ(applied.reads.size(), 2u);  // no recheck within the hour
  EXPECT_EQ(applied.reads[0]->version, 1);
  EXPECT_EQ(applied.reads[1]->version, 2);
  EXPECT_NE(applied.threads[0], std::this_thread::get_id());
  EXPECT_EQ(applied.threads[0], applied.threads[1]);
}

TEST(RulesFollowerTest, AFailedReadIsRetriedWithoutAnyRequest) {
  // Redis still loading its data after a restart: the first reads fail; nothing announces when
  // it is ready.
  ScriptedRulesStore store;
  store.Script({absl::UnavailableError("LOADING Redis is loading the dataset in memory"),
                absl::UnavailableError("LOADING Redis is loading the dataset in memory"),
                store::RulesDocument{"[]\n", 3}});
  Applied applied;
  RulesFollower follower(store, Recorder(applied), absl::Hours(1), absl::Milliseconds(20));
  ASSERT_TRUE(WaitForReads(applied, 3, absl::Seconds(10)));
  follower.Stop();
  absl::MutexLock lock(&applied.mu);
  EXPECT_FALSE(applied.reads[0].ok());
  EXPECT_FALSE(applied.reads[1].ok());
  ASSERT_TRUE(applied.reads[2].ok());
  EXPECT_EQ(applied.reads[2]->version, 3);
}

TEST(RulesFollowerTest, AnUnannouncedChangeIsReadAtTheNextRecheck) {
  ScriptedRulesStore store;
  store.Script({store::RulesDocument{"[]\n", 4}});
  Applied applied;
  RulesFollower follower(store, Recorder(applied), absl::Milliseconds(20), absl::Hours(1));
  ASSERT_TRUE(WaitForReads(applied, 1, absl::Seconds(10)));
  store.Script({store::RulesDocument{}});  // FLUSHALL: no document, and no announcement
  // Read again by the recheck alone (Request is never called): the last read applied shows it.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool seen = false;
  while (!seen && absl::Now() < deadline) {
    {
      absl::MutexLock lock(&applied.mu);
      seen = applied.reads.back().ok() && applied.reads.back()->version == 0;
    }
    if (!seen) absl::SleepFor(absl::Milliseconds(5));
  }
  follower.Stop();
  EXPECT_TRUE(seen) << "the flushed document was not read";
}

}  // namespace
}  // namespace switchboard::app
