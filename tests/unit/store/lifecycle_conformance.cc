#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "tests/unit/store/lifecycle_conformance.h"

#include "absl/strings/ascii.h"

namespace switchboard::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::Duration kTimeout = absl::Seconds(30);

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
  if (!state->done.WaitForNotificationWithTimeout(kTimeout)) {
    return R(absl::DeadlineExceededError("the store never called back"));
  }
  return std::move(*state->result);
}

EventToCommit EventFor(const std::string& id, const std::string& recipient,
                       const std::vector<std::string>& agents) {
  EventToCommit item;
  item.event.set_id(id);
  item.event.set_source("resend");
  item.event.set_type(v1::EVENT_TYPE_BOUNCED);
  item.event.set_recipient(recipient);
  item.event.set_recipient_key(absl::AsciiStrToLower(recipient));
  item.event.set_raw("{\"to\":\"" + recipient + "\"}");
  for (const std::string& agent : agents) item.targets.push_back({agent, {"all"}});
  return item;
}

QuarantineEntry Quarantined(const std::string& source, std::string body) {
  QuarantineEntry entry;
  entry.source = source;
  entry.reason = "data.email_id: expected a string";
  entry.code_version = "0.1.0-test";
  entry.headers = {{"content-type", "application/json"}, {"webhook-id", "msg_1"}};
  entry.body = std::move(body);
  return entry;
}

}  // namespace

std::string LifecycleTest::Put(QuarantineEntry entry) {
  entry.received_at = clock_.Now();
  absl::StatusOr<std::string> id = Wait<absl::StatusOr<std::string>>(
      [&](auto done) { store_->PutQuarantine(std::move(entry), std::move(done)); });
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or("");
}

absl::StatusOr<std::vector<QuarantineEntry>> LifecycleTest::List(QuarantineFilter filter,
                                                                 bool bodies, int limit) {
  return Wait<absl::StatusOr<std::vector<QuarantineEntry>>>([&](auto done) {
    store_->ListQuarantine(std::move(filter), limit, bodies, std::move(done));
  });
}

absl::StatusOr<int64_t> LifecycleTest::Delete(QuarantineFilter filter) {
  return Wait<absl::StatusOr<int64_t>>(
      [&](auto done) { store_->DeleteQuarantine(std::move(filter), std::move(done)); });
}

absl::StatusOr<SweepResult> LifecycleTest::Sweep(RetentionPolicy policy) {
  return Wait<absl::StatusOr<SweepResult>>(
      [&](auto done) { store_->Sweep(std::move(policy), std::move(done)); });
}

absl::StatusOr<int64_t> LifecycleTest::Purge(const std::string& recipient,
                                             std::vector<std::string> agents) {
  return Wait<absl::StatusOr<int64_t>>([&](auto done) {
    store_->PurgeRecipient(recipient, std::move(agents), std::move(done));
  });
}

std::vector<std::string> LifecycleTest::Ids(const std::vector<QuarantineEntry>& entries) {
  std::vector<std::string> ids;
  for (const QuarantineEntry& e : entries) ids.push_back(e.id);
  return ids;
}

std::vector<std::string> LifecycleTest::ClaimedIds(const std::string& agent) {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = Claim(agent);
  EXPECT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> ids;
  for (const ClaimedDelivery& d : claimed.value_or(std::vector<ClaimedDelivery>{})) {
    ids.push_back(d.ParsedEvent().id());
  }
  return ids;
}

namespace {

TEST_P(LifecycleTest, QuarantineKeepsEverythingAndListsBySourceOldestFirst) {
  const std::string body_a("{\"type\":\"email.bounced\",\"data\":7}\r\n\0end", 40);
  const std::string a = Put(Quarantined("resend", body_a));
  clock_.Advance(absl::Seconds(1));
  const std::string b = Put(Quarantined("sendgrid", "[1,2]"));
  ASSERT_FALSE(a.empty());
  ASSERT_NE(a, b);

  absl::StatusOr<std::vector<QuarantineEntry>> all = List({});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(Ids(*all), (std::vector<std::string>{a, b}));
  const QuarantineEntry& first = (*all)[0];
  EXPECT_EQ(first.source, "resend");
  EXPECT_EQ(first.reason, "data.email_id: expected a string");
  EXPECT_EQ(first.code_version, "0.1.0-test");
  EXPECT_EQ(first.received_at, absl::FromUnixSeconds(1700000000));
  EXPECT_THAT(first.headers, ElementsAre(Pair("content-type", "application/json"),
                                         Pair("webhook-id", "msg_1")));
  EXPECT_EQ(first.body_size, 40);
  EXPECT_EQ(first.body, "");  // listed without bodies

  absl::StatusOr<std::vector<QuarantineEntry>> resend = List({.source = "resend", .ids = {}}, true);
  ASSERT_TRUE(resend.ok()) << resend.status();
  ASSERT_EQ(Ids(*resend), std::vector<std::string>{a});
  EXPECT_EQ((*resend)[0].body, body_a);  // exact bytes, CRLF and NUL included

  // By id; an id of another source, and ids this store never made, match nothing.
  EXPECT_EQ(Ids(List({.source = "", .ids = {b}}).value()), std::vector<std::string>{b});
  EXPECT_THAT(List({.source = "resend", .ids = {b}}).value(), IsEmpty());
  EXPECT_THAT(List({.source = "", .ids = {"nope", "99999999-0", "-", "+"}}).value(), IsEmpty());
  EXPECT_EQ(List({}, false, 1).value().size(), 1u);

  Reopen();  // durable
  EXPECT_EQ(Ids(List({}).value()), (std::vector<std::string>{a, b}));
}

TEST_P(LifecycleTest, QuarantineDeleteBySourceOrId) {
  const std::string a = Put(Quarantined("resend", "1"));
  const std::string b = Put(Quarantined("resend", "2"));
  const std::string c = Put(Quarantined("sendgrid", "3"));
  EXPECT_EQ(Delete({.source = "sendgrid", .ids = {a}}).value(), 0);  // a is not sendgrid's
  EXPECT_EQ(Delete({.source = "", .ids = {"garbage"}}).value(), 0);
  EXPECT_EQ(Delete({.source = "", .ids = {a}}).value(), 1);
  EXPECT_EQ(Delete({.source = "", .ids = {a}}).value(), 0);  // already gone
  EXPECT_EQ(Ids(List({}).value()), (std::vector<std::string>{b, c}));
  EXPECT_EQ(Delete({.source = "resend", .ids = {}}).value(), 1);
  EXPECT_EQ(Ids(List({}).value()), std::vector<std::string>{c});
  EXPECT_EQ(Delete({}).value(), 1);
  EXPECT_THAT(List({}).value(), IsEmpty());
}

TEST_P(LifecycleTest, SweepMovesExpiredQueueEntriesToDeadLettersButNotLeasedOnes) {
  CommitNew(EventFor("old", "a@example.com", {"audit"}));
  CommitNew(EventFor("leased", "b@example.com", {"ops"}));
  ASSERT_EQ(Claim("ops", 1, absl::Hours(3)).value().size(), 1u);  // leased for 3 h
  clock_.Advance(absl::Hours(2));
  CommitNew(EventFor("young", "c@example.com", {"audit"}));

  RetentionPolicy policy;
  policy.queue = absl::Hours(1);
  policy.agents = {"audit", "ops"};
  absl::StatusOr<SweepResult> swept = Sweep(policy);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->expired, 1);  // "old"; "leased" is in flight, "young" is 0 s old
  absl::StatusOr<std::vector<DeadLetter>> dead = DeadLetters("audit");
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].event_id, "old");
  EXPECT_EQ((*dead)[0].reason, "expired");
  EXPECT_EQ((*dead)[0].attempts, 0u);
  EXPECT_EQ((*dead)[0].event.recipient(), "a@example.com");
  EXPECT_EQ(ClaimedIds("audit"), std::vector<std::string>{"young"});

  // Once its lease is over, the in-flight entry is judged like the others (1 attempt made); by
  // now "young" (claimed above, its 30 s lease long over, never acked) is 2 h old too.
  clock_.Advance(absl::Hours(2));
  swept = Sweep(policy);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->expired, 2);
  EXPECT_EQ(DeadLetters("audit").value().size(), 2u);
  dead = DeadLetters("ops");
  ASSERT_EQ(dead.value().size(), 1u);
  EXPECT_EQ((*dead)[0].event_id, "leased");
  EXPECT_EQ((*dead)[0].attempts, 1u);
  EXPECT_EQ((*dead)[0].reason, "expired");
  ExpectNothingVisible("ops");
}

TEST_P(LifecycleTest, SweepDeletesOldDeadLettersQuarantineAndArchive) {
  // An acked event and an unmatched one: archive only.
  CommitNew(EventFor("acked", "a@example.com", {"audit"}));
  ASSERT_TRUE(Ack(ClaimOne("audit").delivery_id).ok());
  CommitNew(EventFor("unmatched", "b@example.com", {}));
  // A dead letter (one attempt allowed, nacked).
  CommitNew(EventFor("poison", "c@example.com", {"ops"}));
  ASSERT_TRUE(Nack(ClaimOne("ops", kLease, 1).delivery_id, absl::ZeroDuration(), "bad").ok());
  EXPECT_THAT(Claim("ops", 100, kLease, 1).value(), IsEmpty());  // moved to dead letters
  ASSERT_EQ(DeadLetters("ops").value().size(), 1u);
  Put(Quarantined("resend", "old"));

  clock_.Advance(absl::Hours(24));  // everything above is exactly that old
  const std::string young = Put(Quarantined("resend", "young"));
  CommitNew(EventFor("pending", "d@example.com", {"audit"}));

  RetentionPolicy policy;
  policy.archive = absl::Hours(24);  // within the 72 h dedupe window, see below
  policy.quarantine = absl::Hours(24);
  policy.dead_letters = absl::Hours(24);
  policy.agents = {"audit", "ops"};
  absl::StatusOr<SweepResult> swept = Sweep(policy);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->expired, 0);
  EXPECT_EQ(swept->dead_letters, 1);
  EXPECT_EQ(swept->quarantine, 1);
  // acked, unmatched and poison (its dead letter went first in the same sweep).
  EXPECT_EQ(swept->archive, 3);
  EXPECT_THAT(DeadLetters("ops").value(), IsEmpty());
  EXPECT_EQ(Ids(List({}).value()), std::vector<std::string>{young});
  EXPECT_EQ(ClaimedIds("audit"), std::vector<std::string>{"pending"});

  // Dedupe keys are not archive: a retry of a swept event is still a duplicate.
  EXPECT_THAT(Commit({EventFor("acked", "a@example.com", {"audit"})}).value(),
              ElementsAre(CommitOutcome::kDuplicate));
  // Nothing left to do.
  swept = Sweep(policy);
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->archive + swept->quarantine + swept->dead_letters + swept->expired, 0);
  // Retention must be positive.
  policy.archive = absl::ZeroDuration();
  EXPECT_EQ(Sweep(policy).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(LifecycleTest, PurgeRecipientErasesOnePersonEverywhere) {
  CommitNew(EventFor("poison", "bob@example.com", {"ops"}));
  ASSERT_TRUE(Nack(ClaimOne("ops", kLease, 1).delivery_id, absl::ZeroDuration(), "bad").ok());
  EXPECT_THAT(Claim("ops", 100, kLease, 1).value(), IsEmpty());  // moved to dead letters
  CommitNew(EventFor("bob-1", "Bob@Example.com", {"audit", "crm"}));
  CommitNew(EventFor("jimbob", "jimbob@example.com", {"audit"}));
  CommitNew(EventFor("alice", "alice@example.com", {"audit"}));
  const ClaimedDelivery leased = ClaimOne("crm");  // in flight while erased
  Put(Quarantined("resend", "{\"to\":\"BOB@example.com\",\"x\":1}"));
  Put(Quarantined("mandrill", "to=bob%40example.com&x=1"));
  const std::string other = Put(Quarantined("resend", "{\"to\":\"jimbob@example.com\"}"));

  // archive 2 (poison, bob-1) + queue 2 (bob-1 for audit and crm) + dead letter 1 + quarantine 2.
  absl::StatusOr<int64_t> purged = Purge("bob@EXAMPLE.com", {"audit", "crm", "ops"});
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 7);
  EXPECT_EQ(ClaimedIds("audit"), (std::vector<std::string>{"jimbob", "alice"}));
  EXPECT_THAT(DeadLetters("ops").value(), IsEmpty());
  EXPECT_EQ(Ack(leased.delivery_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Ids(List({}).value()), std::vector<std::string>{other});
  // Dedupe keys stay: a provider retry of an erased event is not stored again.
  EXPECT_THAT(Commit({EventFor("bob-1", "bob@example.com", {"audit"})}).value(),
              ElementsAre(CommitOutcome::kDuplicate));
  EXPECT_EQ(Purge("bob@example.com", {"audit", "crm", "ops"}).value(), 0);
  EXPECT_EQ(Purge("", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Bytes kept out of line (PutAttachments) are shared by the recipients of one mail: erasing one
// recipient keeps them for the other; erasing the last one deletes them.
TEST_P(LifecycleTest, PurgeRecipientDeletesSharedBytesOnlyWithTheLastEventNamingThem) {
  CommitNew(EventFor("mail-to-ann", "ann@example.com", {}));
  CommitNew(EventFor("mail-to-ben", "ben@example.com", {}));
  const auto put = [&](std::vector<StoredAttachment> blobs) {
    return Wait<absl::Status>(
        [&](auto done) { store_->PutAttachments(std::move(blobs), std::move(done)); });
  };
  const auto get = [&](const std::string& event_id, const std::string& sha256) {
    return Wait<absl::StatusOr<std::string>>(
        [&](auto done) { store_->GetAttachment(event_id, sha256, std::move(done)); });
  };
  ASSERT_TRUE(put({{{"mail-to-ann", "mail-to-ben"}, "5a", "shared bytes"},
                   {{"mail-to-ann"}, "a0", "ann's only"}})
                  .ok());

  ASSERT_EQ(Purge("ann@example.com", {}).value(), 1);  // the archived event
  EXPECT_EQ(get("mail-to-ann", "5a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get("mail-to-ann", "a0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get("mail-to-ben", "5a").value_or(""), "shared bytes");

  ASSERT_EQ(Purge("ben@example.com", {}).value(), 1);
  EXPECT_EQ(get("mail-to-ben", "5a").status().code(), absl::StatusCode::kNotFound);
  // The bytes themselves are gone, not only the references: bytes stored again under the same
  // hash are stored anew (an existing copy would have been kept, store.h).
  ASSERT_TRUE(put({{{"later"}, "5a", "stored anew"}, {{"later"}, "a0", "also anew"}}).ok());
  EXPECT_EQ(get("later", "5a").value_or(""), "stored anew");
  EXPECT_EQ(get("later", "a0").value_or(""), "also anew");
}

}  // namespace
}  // namespace switchboard::store
