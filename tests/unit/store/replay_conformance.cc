// Store contract, operator replays (router/store/store.h "Operator replays"): dead letters
// replayed and purged, archive scanned and re-enqueued. Part of StoreConformanceTest, so every
// backend runs it unchanged.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "tests/unit/store/store_conformance.h"

namespace switchboard::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

template <typename R, typename Start>
R Await(Start start) {
  struct State {
    absl::Notification done;
    std::optional<R> result;
  };
  auto state = std::make_shared<State>();
  start([state](R result) {
    state->result.emplace(std::move(result));
    state->done.Notify();
  });
  if (!state->done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return R(absl::DeadlineExceededError("the store never called back"));
  }
  return std::move(*state->result);
}

EventToCommit Routed(const std::string& id, const std::vector<std::string>& agents) {
  EventToCommit item;
  item.event.set_id(id);
  item.event.set_source("resend");
  item.event.set_type(v1::EVENT_TYPE_BOUNCED);
  item.event.set_recipient("someone@example.com");
  item.event.set_recipient_key("someone@example.com");
  for (const std::string& agent : agents) item.targets.push_back({agent, {"r"}});
  return item;
}

class Replays {
 public:
  explicit Replays(Store& store) : store_(store) {}
  absl::StatusOr<int64_t> ReplayDead(const std::string& agent, std::vector<std::string> ids) {
    return Await<absl::StatusOr<int64_t>>([&](auto done) {
      store_.ReplayDeadLetters(agent, std::move(ids), std::move(done));
    });
  }
  absl::StatusOr<int64_t> PurgeDead(const std::string& agent, std::vector<std::string> ids) {
    return Await<absl::StatusOr<int64_t>>([&](auto done) {
      store_.PurgeDeadLetters(agent, std::move(ids), std::move(done));
    });
  }
  absl::StatusOr<ArchivePage> Scan(absl::Time since, absl::Time until, std::string cursor,
                                   int limit) {
    return Await<absl::StatusOr<ArchivePage>>([&](auto done) {
      store_.ScanArchive(since, until, std::move(cursor), limit, std::move(done));
    });
  }
  // Every archived event in [since, until), page by page.
  absl::StatusOr<std::vector<ArchivedEvent>> ScanAll(absl::Time since, absl::Time until,
                                                     int limit) {
    std::vector<ArchivedEvent> all;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      absl::StatusOr<ArchivePage> page = Scan(since, until, cursor, limit);
      if (!page.ok()) return page.status();
      for (ArchivedEvent& e : page->events) all.push_back(std::move(e));
      if (page->next_cursor.empty()) return all;
      cursor = page->next_cursor;
    }
    return absl::InternalError("the scan never ended");
  }
  absl::StatusOr<int64_t> Enqueue(const std::string& agent, std::vector<std::string> refs) {
    return Await<absl::StatusOr<int64_t>>([&](auto done) {
      store_.EnqueueArchived(agent, std::move(refs), std::move(done));
    });
  }

 private:
  Store& store_;
};

std::vector<std::string> Ids(const std::vector<ArchivedEvent>& events) {
  std::vector<std::string> ids;
  for (const ArchivedEvent& e : events) ids.push_back(e.event.id());
  return ids;
}

}  // namespace

// Claims everything of `agent` with max_attempts 1 and nacks it; the next claim dead-letters it.
#define DeadLetterAll(agent)                                                          \
  do {                                                                                \
    absl::StatusOr<std::vector<ClaimedDelivery>> all = Claim(agent, 100, kLease, 1);  \
    ASSERT_TRUE(all.ok()) << all.status();                                            \
    for (const ClaimedDelivery& d : *all) {                                           \
      ASSERT_TRUE(Nack(d.delivery_id, absl::ZeroDuration(), "boom").ok());            \
    }                                                                                 \
    absl::StatusOr<std::vector<ClaimedDelivery>> none = Claim(agent, 100, kLease, 1); \
    ASSERT_TRUE(none.ok()) << none.status();                                          \
    ASSERT_THAT(*none, IsEmpty());                                                    \
  } while (false)

TEST_P(StoreConformanceTest, ReplayDeadLettersRequeuesThemAsFreshEntries) {
  for (const char* id : {"e1", "e2", "e3"}) CommitNew(Routed(id, {"audit"}));
  DeadLetterAll("audit");
  ASSERT_THAT(*DeadLetters("audit"), SizeIs(3));

  Replays replays(*store_);
  absl::StatusOr<int64_t> moved = replays.ReplayDead("audit", {"e2", "unknown"});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 1);
  absl::StatusOr<std::vector<DeadLetter>> left = DeadLetters("audit");
  ASSERT_TRUE(left.ok()) << left.status();
  std::vector<std::string> left_ids;
  for (const DeadLetter& l : *left) left_ids.push_back(l.event_id);
  EXPECT_THAT(left_ids, ElementsAre("e1", "e3"));
  // The attempt count starts over: the replayed entry is claimed as attempt 1.
  const ClaimedDelivery again = ClaimOne("audit", kLease, 1);
  EXPECT_EQ(again.ParsedEvent().id(), "e2");
  EXPECT_EQ(again.attempt, 1u);
  ASSERT_TRUE(Ack(again.delivery_id).ok());

  moved = replays.ReplayDead("audit", {});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(*moved, 2);
  EXPECT_THAT(*DeadLetters("audit"), IsEmpty());
  absl::StatusOr<QueueStats> stats = Stats("audit");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->ready, 2);
  EXPECT_EQ(stats->dead_letters, 0);
}

TEST_P(StoreConformanceTest, PurgeDeadLettersDeletesOnlyTheNamedOnes) {
  for (const char* id : {"e1", "e2", "e3"}) CommitNew(Routed(id, {"audit", "other"}));
  DeadLetterAll("audit");
  Replays replays(*store_);
  absl::StatusOr<int64_t> purged = replays.PurgeDead("audit", {"e1"});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
  EXPECT_THAT(*DeadLetters("audit"), SizeIs(2));
  purged = replays.PurgeDead("audit", {});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  EXPECT_THAT(*DeadLetters("audit"), IsEmpty());
  ExpectNothingVisible("audit");  // purged, not replayed
  // Another agent's queue is untouched.
  absl::StatusOr<QueueStats> other = Stats("other");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->ready, 3);
  // Nothing left to purge.
  purged = replays.PurgeDead("audit", {});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 0);
}

TEST_P(StoreConformanceTest, ScanArchiveReturnsTheRangeInCommitOrderWithTheAgents) {
  const absl::Time t0 = clock_.Now();
  CommitNew(Routed("early", {"audit"}));
  clock_.Advance(absl::Minutes(10));
  const absl::Time t1 = clock_.Now();
  CommitNew(Routed("unmatched", {}));
  CommitNew(Routed("fanned", {"audit", "support"}));
  clock_.Advance(absl::Minutes(10));
  const absl::Time t2 = clock_.Now();
  CommitNew(Routed("late", {"audit"}));

  Replays replays(*store_);
  absl::StatusOr<std::vector<ArchivedEvent>> all =
      replays.ScanAll(absl::InfinitePast(), absl::InfiniteFuture(), 2);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Ids(*all), ElementsAre("early", "unmatched", "fanned", "late"));

  // [since, until): t1 included, t2 excluded.
  absl::StatusOr<std::vector<ArchivedEvent>> middle = replays.ScanAll(t1, t2, 1);
  ASSERT_TRUE(middle.ok()) << middle.status();
  ASSERT_THAT(Ids(*middle), ElementsAre("unmatched", "fanned"));
  EXPECT_THAT((*middle)[0].agents, IsEmpty());
  EXPECT_THAT((*middle)[1].agents, ElementsAre("audit", "support"));
  EXPECT_EQ((*middle)[0].committed_at, t1);
  EXPECT_EQ((*middle)[0].event.recipient(), "someone@example.com");
  EXPECT_FALSE((*middle)[0].ref.empty());

  absl::StatusOr<std::vector<ArchivedEvent>> none = replays.ScanAll(t0 - absl::Hours(1), t0, 10);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
}

TEST_P(StoreConformanceTest, ScanArchiveRefusesABadCursorAndLimit) {
  Replays replays(*store_);
  EXPECT_EQ(replays.Scan(absl::InfinitePast(), absl::InfiniteFuture(), "not-a-cursor", 10)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(replays.Scan(absl::InfinitePast(), absl::InfiniteFuture(), "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, EnqueueArchivedSkipsEventsTheAgentAlreadyHolds) {
  CommitNew(Routed("unmatched", {}));
  CommitNew(Routed("queued", {"support"}));
  Replays replays(*store_);
  absl::StatusOr<std::vector<ArchivedEvent>> all =
      replays.ScanAll(absl::InfinitePast(), absl::InfiniteFuture(), 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_THAT(*all, SizeIs(2));
  std::vector<std::string> refs = {(*all)[0].ref, (*all)[1].ref, "9999999999-0", "junk"};

  absl::StatusOr<int64_t> enqueued = replays.Enqueue("support", refs);
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  EXPECT_EQ(*enqueued, 1);  // "queued" is already in support's queue; unknown refs are skipped
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("support");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(*claimed, SizeIs(2));
  std::vector<std::string> ids = {(*claimed)[0].ParsedEvent().id(), (*claimed)[1].ParsedEvent().id()};
  EXPECT_THAT(ids, ElementsAre("queued", "unmatched"));
  const ClaimedDelivery& replayed = (*claimed)[1];
  EXPECT_EQ(replayed.attempt, 1u);
  EXPECT_EQ(replayed.ParsedEvent().recipient(), "someone@example.com");

  // Leased entries count as held too; once acked, a replay enqueues again.
  enqueued = replays.Enqueue("support", refs);
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  EXPECT_EQ(*enqueued, 0);
  ASSERT_TRUE(Ack(replayed.delivery_id).ok());
  enqueued = replays.Enqueue("support", {(*all)[0].ref});
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  EXPECT_EQ(*enqueued, 1);
}

// One request that names the same archived event twice enqueues it once.
TEST_P(StoreConformanceTest, EnqueueArchivedTakesAnEventNamedTwiceOnce) {
  CommitNew(Routed("twice", {}));
  Replays replays(*store_);
  absl::StatusOr<std::vector<ArchivedEvent>> all =
      replays.ScanAll(absl::InfinitePast(), absl::InfiniteFuture(), 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_THAT(*all, SizeIs(1));
  absl::StatusOr<int64_t> enqueued = replays.Enqueue("support", {(*all)[0].ref, (*all)[0].ref});
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  EXPECT_EQ(*enqueued, 1);
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("support");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(*claimed, SizeIs(1));
}

}  // namespace switchboard::store
