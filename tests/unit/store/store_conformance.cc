#include "tests/unit/store/store_conformance.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"

namespace switchboard::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

constexpr absl::Duration kCallbackTimeout = absl::Seconds(30);

EventToCommit Event(const std::string& id, const std::vector<std::string>& agents = {"audit"}) {
  EventToCommit item;
  v1::EmailEvent& event = item.event;
  event.set_id(id);
  event.set_source("resend");
  event.set_provider("resend");
  event.set_type(v1::EVENT_TYPE_BOUNCED);
  event.set_provider_event_type("email.bounced");
  event.set_recipient("Someone@example.com");
  event.set_recipient_key("someone@example.com");
  event.mutable_occurred_at()->set_seconds(1700000000);
  event.mutable_occurred_at()->set_nanos(123456700);
  (*event.mutable_metadata())["team"] = "billing";
  // Raw bytes are kept exactly: CRLF and an embedded NUL included.
  event.set_raw(std::string("{\"type\":\"email.bounced\"}\r\n\0end", 31));
  event.set_raw_format(v1::RAW_FORMAT_JSON);
  for (const std::string& agent : agents) {
    item.targets.push_back({agent, {"rule-for-" + agent, "audit-all"}});
  }
  return item;
}

std::vector<std::string> EventIds(const std::vector<ClaimedDelivery>& deliveries) {
  std::vector<std::string> ids;
  for (const ClaimedDelivery& delivery : deliveries) ids.push_back(delivery.ParsedEvent().id());
  return ids;
}

bool SameEvent(const v1::EmailEvent& a, const v1::EmailEvent& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// Starts an asynchronous store call and waits for its callback. R is absl::Status or StatusOr.
// The state is shared, so a callback arriving after a timed-out wait writes to valid memory.
template <typename R, typename Start>
R Wait(Start start) {
  struct State {
    absl::Notification done;
    std::optional<R> result;
  };
  auto state = std::make_shared<State>();
  start([state](R result) {
    state->result.emplace(std::move(result));
    state->done.Notify();
  });
  if (!state->done.WaitForNotificationWithTimeout(kCallbackTimeout)) {
    return R(absl::DeadlineExceededError("the store never called back"));
  }
  return std::move(*state->result);
}

}  // namespace

void StoreConformanceTest::SetUp() {
  store_ = GetParam()(clock_, kDedupeWindow);
  ASSERT_NE(store_, nullptr);
}

void StoreConformanceTest::TearDown() { store_.reset(); }

void StoreConformanceTest::Reopen() {
  store_.reset();
  store_ = GetParam()(clock_, kDedupeWindow);
  ASSERT_NE(store_, nullptr);
}

absl::StatusOr<std::vector<CommitOutcome>> StoreConformanceTest::Commit(
    std::vector<EventToCommit> events) {
  return Wait<absl::StatusOr<std::vector<CommitOutcome>>>(
      [&](auto done) { store_->Commit(std::move(events), std::move(done)); });
}

absl::StatusOr<std::vector<ClaimedDelivery>> StoreConformanceTest::Claim(
    const std::string& agent, int max, absl::Duration lease, uint32_t max_attempts,
    ExpiryBackoff expiry_backoff) {
  return Wait<absl::StatusOr<std::vector<ClaimedDelivery>>>(
      [&](auto done) {
        store_->Claim(agent, max, lease, max_attempts, expiry_backoff, std::move(done));
      });
}

absl::Status StoreConformanceTest::Ack(const std::string& delivery_id) {
  return Wait<absl::Status>([&](auto done) { store_->Ack(delivery_id, std::move(done)); });
}

absl::StatusOr<TokenOutcome> StoreConformanceTest::RememberToken(const std::string& key,
                                                                 const std::string& body_hash,
                                                                 absl::Duration ttl) {
  return Wait<absl::StatusOr<TokenOutcome>>(
      [&](auto done) { store_->RememberToken(key, body_hash, ttl, std::move(done)); });
}

absl::Status StoreConformanceTest::Nack(const std::string& delivery_id,
                                        absl::Duration retry_after, const std::string& reason) {
  return Wait<absl::Status>(
      [&](auto done) { store_->Nack(delivery_id, retry_after, reason, std::move(done)); });
}

absl::Status StoreConformanceTest::Extend(const std::string& delivery_id,
                                          absl::Duration extension) {
  return Wait<absl::Status>(
      [&](auto done) { store_->Extend(delivery_id, extension, std::move(done)); });
}

absl::Status StoreConformanceTest::Release(std::vector<std::string> delivery_ids) {
  return Wait<absl::Status>(
      [&](auto done) { store_->Release(std::move(delivery_ids), std::move(done)); });
}

absl::StatusOr<absl::Time> StoreConformanceTest::NextVisibleAt(const std::string& agent) {
  return Wait<absl::StatusOr<absl::Time>>(
      [&](auto done) { store_->NextVisibleAt(agent, std::move(done)); });
}

absl::StatusOr<QueueStats> StoreConformanceTest::Stats(const std::string& agent) {
  return Wait<absl::StatusOr<QueueStats>>(
      [&](auto done) { store_->Stats(agent, std::move(done)); });
}

absl::StatusOr<std::vector<DeadLetter>> StoreConformanceTest::DeadLetters(const std::string& agent,
                                                                          int limit) {
  return Wait<absl::StatusOr<std::vector<DeadLetter>>>(
      [&](auto done) { store_->ListDeadLetters(agent, limit, std::move(done)); });
}

void StoreConformanceTest::CommitNew(const EventToCommit& item) {
  absl::StatusOr<std::vector<CommitOutcome>> outcomes = Commit({item});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(CommitOutcome::kCommitted)) << item.event.id();
}

ClaimedDelivery StoreConformanceTest::ClaimOne(const std::string& agent, absl::Duration lease,
                                               uint32_t max_attempts,
                                               ExpiryBackoff expiry_backoff) {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed =
      Claim(agent, 100, lease, max_attempts, std::move(expiry_backoff));
  EXPECT_TRUE(claimed.ok()) << claimed.status();
  if (!claimed.ok()) return ClaimedDelivery{};
  EXPECT_THAT(*claimed, SizeIs(1));
  if (claimed->size() != 1) return ClaimedDelivery{};
  return std::move(claimed->front());
}

void StoreConformanceTest::ExpectNothingVisible(const std::string& agent) {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim(agent);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(EventIds(*claimed), IsEmpty());
}

// --- Commit and dedupe ---------------------------------------------------------------------------

// The replay cache of signatures that leave the body uncovered (Mailgun tokens).
TEST_P(StoreConformanceTest, TokenFirstSeenThenSameBodyThenOtherBody) {
  EXPECT_EQ(RememberToken("mailgun:t1", "hash-a", absl::Minutes(10)).value(), TokenOutcome::kNew);
  EXPECT_EQ(RememberToken("mailgun:t1", "hash-a", absl::Minutes(10)).value(),
            TokenOutcome::kSameBody);
  EXPECT_EQ(RememberToken("mailgun:t1", "hash-b", absl::Minutes(10)).value(),
            TokenOutcome::kOtherBody);
  // The refused body did not replace the remembered one.
  EXPECT_EQ(RememberToken("mailgun:t1", "hash-a", absl::Minutes(10)).value(),
            TokenOutcome::kSameBody);
  // Keys are independent.
  EXPECT_EQ(RememberToken("mailgun:t2", "hash-b", absl::Minutes(10)).value(), TokenOutcome::kNew);
}

TEST_P(StoreConformanceTest, TokenExpiresAfterItsTtlByTheStoreClock) {
  ASSERT_EQ(RememberToken("k", "hash-a", absl::Minutes(10)).value(), TokenOutcome::kNew);
  clock_.Advance(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_EQ(RememberToken("k", "hash-b", absl::Minutes(10)).value(), TokenOutcome::kOtherBody);
  clock_.Advance(absl::Seconds(1));  // now == expiry: forgotten
  EXPECT_EQ(RememberToken("k", "hash-b", absl::Minutes(10)).value(), TokenOutcome::kNew);
  EXPECT_EQ(RememberToken("k", "hash-a", absl::Minutes(10)).value(), TokenOutcome::kOtherBody);
}

TEST_P(StoreConformanceTest, TokenSurvivesAReopen) {
  ASSERT_EQ(RememberToken("k", "hash-a", absl::Hours(1)).value(), TokenOutcome::kNew);
  Reopen();
  EXPECT_EQ(RememberToken("k", "hash-b", absl::Hours(1)).value(), TokenOutcome::kOtherBody);
}

TEST_P(StoreConformanceTest, CommitThenDuplicate) {
  CommitNew(Event("e1"));
  absl::StatusOr<std::vector<CommitOutcome>> again = Commit({Event("e1")});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ElementsAre(CommitOutcome::kDuplicate));

  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(EventIds(*claimed), ElementsAre("e1"));  // the duplicate enqueued nothing
}

TEST_P(StoreConformanceTest, DuplicateWithinTheWindowAndNewAfterIt) {
  CommitNew(Event("e1"));
  clock_.Advance(kDedupeWindow - absl::Seconds(1));
  absl::StatusOr<std::vector<CommitOutcome>> inside = Commit({Event("e1")});
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_THAT(*inside, ElementsAre(CommitOutcome::kDuplicate));

  clock_.Advance(absl::Seconds(2));  // the window counts from the first commit
  CommitNew(Event("e1"));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(EventIds(*claimed), ElementsAre("e1", "e1"));
}

TEST_P(StoreConformanceTest, DuplicateInsideOneBatch) {
  absl::StatusOr<std::vector<CommitOutcome>> outcomes =
      Commit({Event("a"), Event("b"), Event("a")});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(CommitOutcome::kCommitted, CommitOutcome::kCommitted,
                                     CommitOutcome::kDuplicate));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(EventIds(*claimed), ElementsAre("a", "b"));
}

TEST_P(StoreConformanceTest, EventWithoutTargetsIsCommittedButNotEnqueued) {
  CommitNew(Event("unmatched", {}));
  ExpectNothingVisible("audit");
  absl::StatusOr<std::vector<CommitOutcome>> again = Commit({Event("unmatched", {})});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ElementsAre(CommitOutcome::kDuplicate));
}

TEST_P(StoreConformanceTest, EmptyBatchCommits) {
  absl::StatusOr<std::vector<CommitOutcome>> outcomes = Commit({});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, IsEmpty());
}

// --- Claim ---------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ClaimedDeliveryCarriesTheCommittedEvent) {
  const EventToCommit item = Event("e1");
  CommitNew(item);
  const absl::Time claimed_at = clock_.Now();
  const ClaimedDelivery delivery = ClaimOne("audit");
  EXPECT_TRUE(SameEvent(delivery.ParsedEvent(), item.event)) << delivery.ParsedEvent().DebugString();
  EXPECT_EQ(delivery.attempt, 1u);
  EXPECT_FALSE(delivery.delivery_id.empty());
  EXPECT_THAT(delivery.matched_rules, ElementsAre("rule-for-audit", "audit-all"));
  EXPECT_EQ(delivery.lease_expires_at, claimed_at + kLease);
}

TEST_P(StoreConformanceTest, FanOutGivesEachAgentItsOwnCopy) {
  CommitNew(Event("e1", {"audit", "suppression"}));
  const ClaimedDelivery audit = ClaimOne("audit");
  const ClaimedDelivery suppression = ClaimOne("suppression");
  EXPECT_EQ(audit.ParsedEvent().id(), "e1");
  EXPECT_EQ(suppression.ParsedEvent().id(), "e1");
  EXPECT_NE(audit.delivery_id, suppression.delivery_id);
  EXPECT_THAT(audit.matched_rules, ElementsAre("rule-for-audit", "audit-all"));
  EXPECT_THAT(suppression.matched_rules, ElementsAre("rule-for-suppression", "audit-all"));

  // Acking one copy leaves the other leased: its lease expiry still redelivers it.
  EXPECT_TRUE(Ack(audit.delivery_id).ok());
  clock_.Advance(kLease);
  ExpectNothingVisible("audit");
  const ClaimedDelivery again = ClaimOne("suppression");
  EXPECT_EQ(again.ParsedEvent().id(), "e1");
  EXPECT_EQ(again.attempt, 2u);
}

TEST_P(StoreConformanceTest, AgentsDoNotSeeEachOthersQueues) {
  CommitNew(Event("e1", {"audit"}));
  ExpectNothingVisible("suppression");
  ExpectNothingVisible("");
}

TEST_P(StoreConformanceTest, ClaimIsFifo) {
  for (const char* id : {"e1", "e2", "e3", "e4", "e5"}) CommitNew(Event(id));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_THAT(EventIds(*claimed), ElementsAre("e1", "e2", "e3", "e4", "e5"));
}

TEST_P(StoreConformanceTest, ClaimReturnsAtMostMax) {
  for (const char* id : {"e1", "e2", "e3", "e4", "e5"}) CommitNew(Event(id));
  absl::StatusOr<std::vector<ClaimedDelivery>> first = Claim("audit", 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(EventIds(*first), ElementsAre("e1", "e2"));
  absl::StatusOr<std::vector<ClaimedDelivery>> second = Claim("audit", 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(EventIds(*second), ElementsAre("e3", "e4"));
  absl::StatusOr<std::vector<ClaimedDelivery>> none = Claim("audit", 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
  absl::StatusOr<std::vector<ClaimedDelivery>> rest = Claim("audit", 2);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(EventIds(*rest), ElementsAre("e5"));
}

// --- Leases, ack, nack, extend, release ----------------------------------------------------------

TEST_P(StoreConformanceTest, LeaseExpiryRedeliversWithTheNextAttempt) {
  CommitNew(Event("e1"));
  const ClaimedDelivery first = ClaimOne("audit");
  clock_.Advance(kLease - absl::Seconds(1));
  ExpectNothingVisible("audit");
  clock_.Advance(absl::Seconds(1));  // now == lease_expires_at: the lease is over
  const ClaimedDelivery second = ClaimOne("audit");
  EXPECT_EQ(second.ParsedEvent().id(), "e1");
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_NE(second.delivery_id, first.delivery_id);
  EXPECT_EQ(second.lease_expires_at, clock_.Now() + kLease);
}

// An ExpiryBackoff of `step` times the attempt that records the attempts it was asked about.
class SteppedBackoff {
 public:
  explicit SteppedBackoff(absl::Duration step) : step_(step) {}
  ExpiryBackoff Policy() {
    return [this](uint32_t attempt) {
      absl::MutexLock lock(&mu_);
      asked_.push_back(attempt);
      return step_ * attempt;
    };
  }
  std::vector<uint32_t> asked() const {
    absl::MutexLock lock(&mu_);
    return asked_;
  }

 private:
  const absl::Duration step_;
  mutable absl::Mutex mu_;
  std::vector<uint32_t> asked_ ABSL_GUARDED_BY(mu_);
};

TEST_P(StoreConformanceTest, ExpiredLeaseWaitsOutItsExpiryBackoff) {
  CommitNew(Event("e1"));
  SteppedBackoff backoff(absl::Seconds(7));  // 7 s after attempt 1, 14 s after attempt 2
  const ClaimedDelivery first = ClaimOne("audit", kLease, kMaxAttempts, backoff.Policy());
  EXPECT_EQ(first.attempt, 1u);
  EXPECT_THAT(backoff.asked(), ElementsAre(1u));
  const absl::Time lease_end = first.lease_expires_at;

  clock_.Advance(kLease);  // the lease is over, its backoff is not
  EXPECT_EQ(Ack(first.delivery_id).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<QueueStats> stats = Stats("audit");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->ready, 0);
  EXPECT_EQ(stats->leased, 0);
  EXPECT_EQ(stats->delayed, 1);
  ExpectNothingVisible("audit");
  absl::StatusOr<absl::Time> next = NextVisibleAt("audit");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, lease_end + absl::Seconds(7));
  clock_.Advance(absl::Seconds(7) - absl::Microseconds(1));
  ExpectNothingVisible("audit");

  clock_.Advance(absl::Microseconds(1));  // lease end + 7 s
  const ClaimedDelivery second = ClaimOne("audit", kLease, kMaxAttempts, backoff.Policy());
  EXPECT_EQ(second.ParsedEvent().id(), "e1");
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_THAT(backoff.asked(), ElementsAre(1u, 2u));

  clock_.Advance(kLease + absl::Seconds(14) - absl::Microseconds(1));
  ExpectNothingVisible("audit");
  clock_.Advance(absl::Microseconds(1));
  EXPECT_EQ(ClaimOne("audit").attempt, 3u);
}

// Store::NextVisibleAt of a leased entry: its lease end or its backoff's end, never later; a
// delivery loop that sleeps until the answer and claims wakes at most once before the redelivery.
TEST_P(StoreConformanceTest, NextVisibleAtOfALeaseIsNoLaterThanItsRedelivery) {
  CommitNew(Event("e1"));
  SteppedBackoff backoff(absl::Seconds(7));
  const ClaimedDelivery first = ClaimOne("audit", kLease, kMaxAttempts, backoff.Policy());
  const absl::Time redelivery = first.lease_expires_at + absl::Seconds(7);
  absl::StatusOr<absl::Time> next = NextVisibleAt("audit");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GE(*next, first.lease_expires_at);
  EXPECT_LE(*next, redelivery);

  int wakeups = 0;
  for (; *next < redelivery && wakeups < 5; ++wakeups) {
    clock_.Advance(*next - clock_.Now());
    ExpectNothingVisible("audit");
    next = NextVisibleAt("audit");
    ASSERT_TRUE(next.ok()) << next.status();
  }
  EXPECT_LE(wakeups, 1);
  EXPECT_EQ(*next, redelivery);
  clock_.Advance(*next - clock_.Now());
  EXPECT_EQ(ClaimOne("audit", kLease, kMaxAttempts, backoff.Policy()).attempt, 2u);
}

TEST_P(StoreConformanceTest, ExtendMovesTheExpiryBackoffWithTheLease) {
  CommitNew(Event("e1"));
  SteppedBackoff backoff(absl::Seconds(10));
  const ClaimedDelivery delivery = ClaimOne("audit", kLease, kMaxAttempts, backoff.Policy());
  clock_.Advance(absl::Seconds(20));
  ASSERT_TRUE(Extend(delivery.delivery_id, absl::Seconds(60)).ok());  // now ends at +80 s
  clock_.Advance(absl::Seconds(60));                                  // +80 s: lease over
  EXPECT_EQ(Ack(delivery.delivery_id).code(), absl::StatusCode::kNotFound);
  ExpectNothingVisible("audit");
  clock_.Advance(absl::Seconds(10) - absl::Microseconds(1));
  ExpectNothingVisible("audit");
  clock_.Advance(absl::Microseconds(1));  // +90 s
  EXPECT_EQ(ClaimOne("audit").attempt, 2u);
  EXPECT_THAT(backoff.asked(), ElementsAre(1u));  // asked once per lease, not per extension
}

TEST_P(StoreConformanceTest, NackAndReleaseDoNotWaitForTheExpiryBackoff) {
  CommitNew(Event("e1"));
  CommitNew(Event("e2"));
  SteppedBackoff backoff(absl::Hours(1));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed =
      Claim("audit", 100, kLease, kMaxAttempts, backoff.Policy());
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(EventIds(*claimed), ElementsAre("e1", "e2"));
  ASSERT_TRUE(Nack((*claimed)[0].delivery_id, absl::ZeroDuration(), "retry now").ok());
  ASSERT_TRUE(Release({(*claimed)[1].delivery_id}).ok());
  absl::StatusOr<std::vector<ClaimedDelivery>> again = Claim("audit");  // no time passed
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(EventIds(*again), UnorderedElementsAreArray({"e1", "e2"}));
  // Their new leases were claimed without a backoff: they end at the lease end.
  clock_.Advance(kLease);
  absl::StatusOr<std::vector<ClaimedDelivery>> third = Claim("audit");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(*third, SizeIs(2));
}

TEST_P(StoreConformanceTest, ExpiredLeaseInItsBackoffReachesDeadLettersAfterIt) {
  CommitNew(Event("e1"));
  SteppedBackoff backoff(absl::Seconds(5));
  ClaimOne("audit", kLease, 1, backoff.Policy());
  clock_.Advance(kLease);
  absl::StatusOr<std::vector<ClaimedDelivery>> waiting = Claim("audit", 100, kLease, 1);
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  EXPECT_THAT(*waiting, IsEmpty());
  absl::StatusOr<std::vector<DeadLetter>> none = DeadLetters("audit");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());  // still waiting out its backoff
  clock_.Advance(absl::Seconds(5));
  absl::StatusOr<std::vector<ClaimedDelivery>> dead = Claim("audit", 100, kLease, 1);
  ASSERT_TRUE(dead.ok()) << dead.status();
  EXPECT_THAT(*dead, IsEmpty());
  absl::StatusOr<std::vector<DeadLetter>> letters = DeadLetters("audit");
  ASSERT_TRUE(letters.ok()) << letters.status();
  ASSERT_THAT(*letters, SizeIs(1));
  EXPECT_EQ(letters->front().event_id, "e1");
  EXPECT_THAT(letters->front().reason, HasSubstr("lease expired"));
}

TEST_P(StoreConformanceTest, LateAckOfASupersededAttemptIsRefused) {
  CommitNew(Event("e1"));
  const ClaimedDelivery first = ClaimOne("audit");
  clock_.Advance(kLease);
  const ClaimedDelivery second = ClaimOne("audit");
  EXPECT_EQ(Ack(first.delivery_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Nack(first.delivery_id, absl::ZeroDuration(), "late").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Extend(first.delivery_id, absl::Hours(1)).code(), absl::StatusCode::kNotFound);
  ExpectNothingVisible("audit");  // the refused calls changed nothing
  EXPECT_TRUE(Ack(second.delivery_id).ok());
  clock_.Advance(absl::Hours(1));
  ExpectNothingVisible("audit");
}

TEST_P(StoreConformanceTest, AckRemovesTheEntry) {
  CommitNew(Event("e1"));
  const ClaimedDelivery delivery = ClaimOne("audit");
  EXPECT_TRUE(Ack(delivery.delivery_id).ok());
  EXPECT_EQ(Ack(delivery.delivery_id).code(), absl::StatusCode::kNotFound);  // already acked
  clock_.Advance(absl::Hours(1));
  ExpectNothingVisible("audit");
  absl::StatusOr<QueueStats> stats = Stats("audit");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->ready + stats->leased + stats->delayed + stats->dead_letters, 0);
}

TEST_P(StoreConformanceTest, AckAfterTheLeaseEndedIsRefused) {
  CommitNew(Event("e1"));
  const ClaimedDelivery delivery = ClaimOne("audit");
  clock_.Advance(kLease);
  EXPECT_EQ(Ack(delivery.delivery_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Extend(delivery.delivery_id, kLease).code(), absl::StatusCode::kNotFound);
  const ClaimedDelivery again = ClaimOne("audit");  // still queued
  EXPECT_EQ(again.attempt, 2u);
}

TEST_P(StoreConformanceTest, UnknownDeliveryIdsAreNotFound) {
  CommitNew(Event("e1"));
  const ClaimedDelivery delivery = ClaimOne("audit");
  for (const std::string& id :
       {std::string(), std::string("garbage"), std::string("."), std::string("1."),
        std::string("99999.1"), std::string("-1.-1"), std::string(10000, '9'),
        delivery.delivery_id + "x", std::string("\0\xff", 2)}) {
    EXPECT_EQ(Ack(id).code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(Nack(id, absl::ZeroDuration(), "r").code(), absl::StatusCode::kNotFound) << id;
    EXPECT_EQ(Extend(id, kLease).code(), absl::StatusCode::kNotFound) << id;
  }
  EXPECT_TRUE(Release({"garbage", "99999.1", ""}).ok());  // unknown ids are skipped
  EXPECT_TRUE(Ack(delivery.delivery_id).ok());
}

TEST_P(StoreConformanceTest, NackMakesTheEntryVisibleAfterRetryAfter) {
  CommitNew(Event("e1"));
  const ClaimedDelivery first = ClaimOne("audit");
  ASSERT_TRUE(Nack(first.delivery_id, absl::Seconds(10), "handler failed").ok());
  EXPECT_EQ(Ack(first.delivery_id).code(), absl::StatusCode::kNotFound);  // no longer leased
  clock_.Advance(absl::Seconds(9));
  ExpectNothingVisible("audit");
  clock_.Advance(absl::Seconds(1));
  const ClaimedDelivery second = ClaimOne("audit");
  EXPECT_EQ(second.ParsedEvent().id(), "e1");
  EXPECT_EQ(second.attempt, 2u);
  EXPECT_NE(second.delivery_id, first.delivery_id);
}

TEST_P(StoreConformanceTest, NackWithoutDelayIsVisibleAtOnce) {
  CommitNew(Event("e1"));
  const ClaimedDelivery first = ClaimOne("audit");
  ASSERT_TRUE(Nack(first.delivery_id, absl::ZeroDuration(), "retry now").ok());
  EXPECT_EQ(ClaimOne("audit").attempt, 2u);
}

TEST_P(StoreConformanceTest, ExtendKeepsTheEntryInvisiblePastTheOriginalLease) {
  CommitNew(Event("e1"));
  const ClaimedDelivery delivery = ClaimOne("audit");
  clock_.Advance(absl::Seconds(20));
  ASSERT_TRUE(Extend(delivery.delivery_id, absl::Seconds(60)).ok());  // now ends at +80s
  clock_.Advance(absl::Seconds(59));                                  // +79s
  ExpectNothingVisible("audit");
  EXPECT_TRUE(Ack(delivery.delivery_id).ok());
  clock_.Advance(absl::Hours(1));
  ExpectNothingVisible("audit");
}

TEST_P(StoreConformanceTest, ExtendedLeaseStillExpires) {
  CommitNew(Event("e1"));
  const ClaimedDelivery delivery = ClaimOne("audit");
  ASSERT_TRUE(Extend(delivery.delivery_id, absl::Minutes(5)).ok());
  clock_.Advance(absl::Minutes(5));
  const ClaimedDelivery again = ClaimOne("audit");
  EXPECT_EQ(again.attempt, 2u);
}

TEST_P(StoreConformanceTest, ReleaseMakesEntriesVisibleAtOnce) {
  CommitNew(Event("e1"));
  CommitNew(Event("e2"));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(EventIds(*claimed), ElementsAre("e1", "e2"));
  ASSERT_TRUE(Release({(*claimed)[0].delivery_id, "unknown"}).ok());
  EXPECT_EQ(Ack((*claimed)[0].delivery_id).code(), absl::StatusCode::kNotFound);
  const ClaimedDelivery again = ClaimOne("audit");  // no time passed
  EXPECT_EQ(again.ParsedEvent().id(), "e1");
  EXPECT_EQ(again.attempt, 2u);
  EXPECT_TRUE(Ack((*claimed)[1].delivery_id).ok());  // the other lease is untouched
}

// --- Dead letters --------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, MaxAttemptsMovesToDeadLettersWithTheLastReason) {
  const EventToCommit item = Event("e1");
  CommitNew(item);
  const ClaimedDelivery first = ClaimOne("audit", kLease, 2);
  ASSERT_TRUE(Nack(first.delivery_id, absl::ZeroDuration(), "smtp timeout").ok());
  const ClaimedDelivery second = ClaimOne("audit", kLease, 2);
  EXPECT_EQ(second.attempt, 2u);
  ASSERT_TRUE(Nack(second.delivery_id, absl::ZeroDuration(), "agent crashed: boom").ok());
  clock_.Advance(absl::Seconds(1));
  const absl::Time dead_at = clock_.Now();
  absl::StatusOr<std::vector<ClaimedDelivery>> third = Claim("audit", 100, kLease, 2);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(*third, IsEmpty());

  absl::StatusOr<std::vector<DeadLetter>> letters = DeadLetters("audit");
  ASSERT_TRUE(letters.ok()) << letters.status();
  ASSERT_THAT(*letters, SizeIs(1));
  const DeadLetter& letter = letters->front();
  EXPECT_EQ(letter.agent, "audit");
  EXPECT_EQ(letter.event_id, "e1");
  EXPECT_EQ(letter.attempts, 2u);
  EXPECT_THAT(letter.reason, HasSubstr("max attempts reached"));
  EXPECT_THAT(letter.reason, HasSubstr("agent crashed: boom"));
  EXPECT_EQ(letter.dead_at, dead_at);
  EXPECT_TRUE(SameEvent(letter.event, item.event));

  absl::StatusOr<QueueStats> stats = Stats("audit");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->dead_letters, 1);
  EXPECT_EQ(stats->ready + stats->leased + stats->delayed, 0);
  absl::StatusOr<std::vector<DeadLetter>> others = DeadLetters("suppression");
  ASSERT_TRUE(others.ok()) << others.status();
  EXPECT_THAT(*others, IsEmpty());
}

TEST_P(StoreConformanceTest, ExpiredLeasesCountTowardMaxAttempts) {
  CommitNew(Event("e1"));
  CommitNew(Event("e2"));
  absl::StatusOr<std::vector<ClaimedDelivery>> first = Claim("audit", 1, kLease, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_THAT(EventIds(*first), ElementsAre("e1"));
  clock_.Advance(kLease);
  // e1 is dead-lettered, and the claim still fills up with the next visible entry.
  const ClaimedDelivery next = ClaimOne("audit", kLease, 1);
  EXPECT_EQ(next.ParsedEvent().id(), "e2");
  absl::StatusOr<std::vector<DeadLetter>> letters = DeadLetters("audit");
  ASSERT_TRUE(letters.ok()) << letters.status();
  ASSERT_THAT(*letters, SizeIs(1));
  EXPECT_EQ(letters->front().event_id, "e1");
  EXPECT_EQ(letters->front().attempts, 1u);
  EXPECT_THAT(letters->front().reason, HasSubstr("lease expired"));
}

TEST_P(StoreConformanceTest, ListDeadLettersHonorsTheLimitOldestFirst) {
  for (const char* id : {"e1", "e2", "e3"}) CommitNew(Event(id));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit", 100, kLease, 1);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  for (const ClaimedDelivery& d : *claimed) {
    ASSERT_TRUE(Nack(d.delivery_id, absl::ZeroDuration(), "no").ok());
  }
  absl::StatusOr<std::vector<ClaimedDelivery>> none = Claim("audit", 100, kLease, 1);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
  absl::StatusOr<std::vector<DeadLetter>> two = DeadLetters("audit", 2);
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_THAT(*two, SizeIs(2));
  EXPECT_EQ((*two)[0].event_id, "e1");
  EXPECT_EQ((*two)[1].event_id, "e2");
}

// --- Stats and NextVisibleAt ---------------------------------------------------------------------

TEST_P(StoreConformanceTest, StatsCountsReadyLeasedDelayed) {
  for (const char* id : {"e1", "e2", "e3", "e4"}) CommitNew(Event(id));
  const absl::Time start = clock_.Now();
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit", 2);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(EventIds(*claimed), ElementsAre("e1", "e2"));
  ASSERT_TRUE(Nack((*claimed)[1].delivery_id, absl::Minutes(1), "later").ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_THAT(EventIds(Claim("audit", 1).value_or(std::vector<ClaimedDelivery>{})),
              ElementsAre("e3"));

  absl::StatusOr<QueueStats> stats = Stats("audit");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->ready, 1);    // e4
  EXPECT_EQ(stats->leased, 2);   // e1, e3
  EXPECT_EQ(stats->delayed, 1);  // e2
  EXPECT_EQ(stats->dead_letters, 0);
  EXPECT_EQ(stats->oldest_leased, start);  // e1's lease started first

  absl::StatusOr<QueueStats> empty = Stats("nobody");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->ready + empty->leased + empty->delayed + empty->dead_letters, 0);
  EXPECT_EQ(empty->oldest_leased, absl::InfiniteFuture());
}

TEST_P(StoreConformanceTest, NextVisibleAtIsTheEarliestLeaseEndOrRetryAlsoWhenPast) {
  absl::StatusOr<absl::Time> none = NextVisibleAt("audit");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, absl::InfiniteFuture());

  CommitNew(Event("e1"));
  CommitNew(Event("e2"));
  const absl::Time start = clock_.Now();
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(*claimed, SizeIs(2));
  ASSERT_TRUE(Nack((*claimed)[0].delivery_id, absl::Seconds(10), "soon").ok());
  absl::StatusOr<absl::Time> next = NextVisibleAt("audit");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, start + absl::Seconds(10));
  ASSERT_TRUE(Ack((*claimed)[1].delivery_id).ok());
  // e1 became visible (after the last claim): the answer is its time, now in the past, so that
  // delivery claims again at once instead of sleeping past it.
  clock_.Advance(absl::Seconds(15));
  next = NextVisibleAt("audit");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, start + absl::Seconds(10));
  ASSERT_TRUE(Ack(ClaimOne("audit").delivery_id).ok());
  next = NextVisibleAt("audit");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, absl::InfiniteFuture());
}

// --- Durability and concurrency ------------------------------------------------------------------

TEST_P(StoreConformanceTest, ReopenedStoreRedeliversWhatWasNotAcked) {
  CommitNew(Event("e1"));
  CommitNew(Event("e2"));
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit", 1, absl::Hours(1));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_THAT(EventIds(*claimed), ElementsAre("e1"));  // e2 is committed, never claimed
  const ClaimedDelivery before = claimed->front();
  Reopen();
  // No time passed: the lease of the previous process ends at reopen.
  absl::StatusOr<std::vector<ClaimedDelivery>> after = Claim("audit");
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_THAT(EventIds(*after), UnorderedElementsAreArray({"e1", "e2"}));
  for (const ClaimedDelivery& d : *after) {
    if (d.ParsedEvent().id() == "e1") {
      EXPECT_EQ(d.attempt, 2u);
      EXPECT_NE(d.delivery_id, before.delivery_id);
    }
  }
  EXPECT_EQ(Ack(before.delivery_id).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<CommitOutcome>> again = Commit({Event("e1")});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ElementsAre(CommitOutcome::kDuplicate));  // dedupe is durable too
}

TEST_P(StoreConformanceTest, ConcurrentCommitsAreAllClaimableExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  absl::Mutex mu;
  std::vector<absl::StatusOr<std::vector<CommitOutcome>>> results;
  absl::Notification all_done;
  std::atomic<int> remaining{kThreads * kPerThread};
  std::vector<std::thread> threads;
  std::set<std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) expected.insert(absl::StrCat("t", t, "-", i));
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store_->Commit({Event(absl::StrCat("t", t, "-", i))},
                       [&](absl::StatusOr<std::vector<CommitOutcome>> result) {
                         {
                           absl::MutexLock lock(&mu);
                           results.push_back(std::move(result));
                         }
                         if (--remaining == 0) all_done.Notify();
                       });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(kCallbackTimeout));
  {
    absl::MutexLock lock(&mu);
    ASSERT_THAT(results, SizeIs(kThreads * kPerThread));
    for (const auto& result : results) {
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_THAT(*result, ElementsAre(CommitOutcome::kCommitted));
    }
  }
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim("audit", 1000);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  const std::vector<std::string> ids = EventIds(*claimed);
  EXPECT_THAT(ids, SizeIs(expected.size()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), expected);
  ExpectNothingVisible("audit");
}

// --- Callbacks -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, EnqueueListenerFiresAfterTheCommitWithEachAgent) {
  struct Seen {
    absl::Mutex mu;
    std::vector<std::pair<std::string, int>> claims;  // (agent notified, entries a claim found)
    absl::Notification two;
    absl::Notification three;
  };
  auto seen = std::make_shared<Seen>();
  // The listener may call back into the store; what it announces is already committed.
  store_->SetEnqueueListener([this, seen](const std::string& agent) {
    store_->Claim(agent, 100, kLease, kMaxAttempts, nullptr,
                  [seen, agent](absl::StatusOr<std::vector<ClaimedDelivery>> claimed) {
                    absl::MutexLock lock(&seen->mu);
                    seen->claims.emplace_back(agent, claimed.ok() ? claimed->size() : -1);
                    if (seen->claims.size() == 2) seen->two.Notify();
                    if (seen->claims.size() == 3) seen->three.Notify();
                  });
  });
  CommitNew(Event("e1", {"audit", "suppression"}));
  ASSERT_TRUE(seen->two.WaitForNotificationWithTimeout(kCallbackTimeout));
  {
    absl::MutexLock lock(&seen->mu);
    EXPECT_THAT(seen->claims, UnorderedElementsAreArray({std::pair<std::string, int>("audit", 1),
                                                         std::pair<std::string, int>("suppression", 1)}));
  }

  // A duplicate enqueues nothing and announces nothing; the next new event does.
  absl::StatusOr<std::vector<CommitOutcome>> duplicate = Commit({Event("e1", {"suppression"})});
  ASSERT_TRUE(duplicate.ok()) << duplicate.status();
  CommitNew(Event("e2", {"audit"}));
  ASSERT_TRUE(seen->three.WaitForNotificationWithTimeout(kCallbackTimeout));
  absl::MutexLock lock(&seen->mu);
  EXPECT_EQ(seen->claims.back(), (std::pair<std::string, int>("audit", 1)));
}

TEST_P(StoreConformanceTest, CallbacksMayCallBackIntoTheStore) {
  absl::Notification acked;
  absl::Status ack_status;
  store_->Commit({Event("e1")}, [&](absl::StatusOr<std::vector<CommitOutcome>> committed) {
    ASSERT_TRUE(committed.ok()) << committed.status();
    store_->Claim("audit", 1, kLease, kMaxAttempts, nullptr,
                  [&](absl::StatusOr<std::vector<ClaimedDelivery>> claimed) {
                    ASSERT_TRUE(claimed.ok() && claimed->size() == 1);
                    store_->Ack(claimed->front().delivery_id, [&](absl::Status status) {
                      ack_status = status;
                      acked.Notify();
                    });
                  });
  });
  ASSERT_TRUE(acked.WaitForNotificationWithTimeout(kCallbackTimeout));
  EXPECT_TRUE(ack_status.ok()) << ack_status;
  EXPECT_TRUE(store_->Healthy());
}

// --- Rules document ------------------------------------------------------------------------------

namespace {

absl::StatusOr<RulesDocument> GetRulesOf(Store& store) {
  absl::Notification done;
  absl::StatusOr<RulesDocument> result;
  store.GetRules([&](absl::StatusOr<RulesDocument> document) {
    result = std::move(document);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(kCallbackTimeout)) {
    return absl::DeadlineExceededError("GetRules never called back");
  }
  return result;
}

absl::StatusOr<int64_t> PutRulesOf(Store& store, const std::string& yaml, int64_t expected) {
  absl::Notification done;
  absl::StatusOr<int64_t> result;
  store.PutRules(yaml, expected, [&](absl::StatusOr<int64_t> version) {
    result = std::move(version);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(kCallbackTimeout)) {
    return absl::DeadlineExceededError("PutRules never called back");
  }
  return result;
}

constexpr char kRulesV1[] = "- name: billing\n  match: {recipient: billing@example.com}\n  agents: [audit]\n";
constexpr char kRulesV2[] = "[]\n";

}  // namespace

TEST_P(StoreConformanceTest, RulesAreEmptyVersionZeroUntilPut) {
  absl::StatusOr<RulesDocument> document = GetRulesOf(*store_);
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->version, 0);
  EXPECT_EQ(document->yaml, "");
}

TEST_P(StoreConformanceTest, PutRulesCountsVersionsAndRefusesAStaleOne) {
  absl::StatusOr<int64_t> v1 = PutRulesOf(*store_, kRulesV1, 0);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1);
  absl::StatusOr<RulesDocument> document = GetRulesOf(*store_);
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->yaml, kRulesV1);
  EXPECT_EQ(document->version, 1);

  // A writer that read "none stored" (0) lost the race: refused, nothing written.
  absl::StatusOr<int64_t> stale = PutRulesOf(*store_, kRulesV2, 0);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  // So is a version from the future.
  EXPECT_EQ(PutRulesOf(*store_, kRulesV2, 7).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PutRulesOf(*store_, kRulesV2, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  document = GetRulesOf(*store_);
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->yaml, kRulesV1);
  EXPECT_EQ(document->version, 1);

  absl::StatusOr<int64_t> v2 = PutRulesOf(*store_, kRulesV2, 1);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*v2, 2);
  EXPECT_EQ(PutRulesOf(*store_, kRulesV1, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  document = GetRulesOf(*store_);
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->yaml, kRulesV2);
  EXPECT_EQ(document->version, 2);
}

TEST_P(StoreConformanceTest, RulesSurviveAReopen) {
  ASSERT_TRUE(PutRulesOf(*store_, kRulesV1, 0).ok());
  Reopen();
  absl::StatusOr<RulesDocument> document = GetRulesOf(*store_);
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->yaml, kRulesV1);
  EXPECT_EQ(document->version, 1);
}

// The listener is a "re-read" signal: version 0 means something may have been missed (e.g. a
// change published before a Redis subscription existed). Whatever it announces is readable then.
TEST_P(StoreConformanceTest, RulesListenerLeadsToTheNewDocumentAfterThePut) {
  struct Seen {
    absl::Mutex mu;
    std::vector<int64_t> versions_read;
    absl::Notification got_v1;
  };
  auto seen = std::make_shared<Seen>();
  store_->SetRulesListener([this, seen](int64_t) {
    store_->GetRules([seen](absl::StatusOr<RulesDocument> document) {
      if (!document.ok()) return;
      absl::MutexLock lock(&seen->mu);
      seen->versions_read.push_back(document->version);
      if (document->version == 1 && document->yaml == kRulesV1 &&
          !seen->got_v1.HasBeenNotified()) {
        seen->got_v1.Notify();
      }
    });
  });
  ASSERT_TRUE(PutRulesOf(*store_, kRulesV1, 0).ok());
  ASSERT_TRUE(seen->got_v1.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // A refused put changes nothing: no read ever sees another version.
  EXPECT_FALSE(PutRulesOf(*store_, kRulesV2, 0).ok());
  absl::SleepFor(absl::Milliseconds(300));
  absl::MutexLock lock(&seen->mu);
  for (int64_t v : seen->versions_read) EXPECT_LE(v, 1);
}

}  // namespace switchboard::store
