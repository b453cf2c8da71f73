#include "router/store/lease_book.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::store::embedded_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// What the book says about `agent`, as one comparable value.
struct View {
  int64_t leased;
  std::optional<int64_t> oldest_claimed_at;
  std::optional<int64_t> next_visible_at;
  bool operator==(const View&) const = default;
};
View Of(const LeaseBook& book, const char* agent) {
  const LeaseBook::AgentLeases leases = book.ForAgent(agent);
  return {leases.leased, leases.oldest_claimed_at, book.NextVisibleAt(agent)};
}
std::ostream& operator<<(std::ostream& os, const View& view) {
  return os << view.leased << " leased, oldest claimed " << view.oldest_claimed_at.value_or(-1)
            << ", next visible " << view.next_visible_at.value_or(-1);
}

TEST(LeaseBookTest, AnEmptyBookHasNothingLeasedOrDue) {
  LeaseBook book;
  EXPECT_EQ(Of(book, "a"), (View{0, std::nullopt, std::nullopt}));
  EXPECT_THAT(book.Expired(1'000'000), IsEmpty());
  EXPECT_EQ(book.size(), 0u);
}

TEST(LeaseBookTest, LeasesAreCountedPerAgentAndEndInTheOrderOfTheirExpiry) {
  LeaseBook book;
  // entry, agent, expires_at, visible_at (expires_at + backoff), claimed_at
  book.Add(1, "a", 300, 300, 10);
  book.Add(2, "a", 100, 150, 20);
  book.Add(3, "b", 200, 200, 5);
  EXPECT_EQ(Of(book, "a"), (View{2, 10, 150}));
  EXPECT_EQ(Of(book, "b"), (View{1, 5, 200}));
  EXPECT_THAT(book.Expired(99), IsEmpty());
  EXPECT_THAT(book.Expired(100), ElementsAre(2));  // a lease ends at its expires_at
  EXPECT_THAT(book.Expired(1000), ElementsAre(2, 3, 1));
}

TEST(LeaseBookTest, NextVisibleAtAndEntriesOfReadOneAgentsLeases) {
  LeaseBook book;
  EXPECT_EQ(book.NextVisibleAt("a"), std::nullopt);
  EXPECT_THAT(book.EntriesOf("a"), IsEmpty());
  book.Add(1, "a", 300, 330, 10);
  book.Add(2, "a", 100, 150, 20);
  book.Add(3, "b", 50, 50, 5);
  EXPECT_EQ(book.NextVisibleAt("a"), 150);
  EXPECT_EQ(book.NextVisibleAt("b"), 50);
  EXPECT_THAT(book.EntriesOf("a"), ElementsAre(2, 1));
  book.Remove(2);
  EXPECT_EQ(book.NextVisibleAt("a"), 330);
  book.Remove(1);
  EXPECT_EQ(book.NextVisibleAt("a"), std::nullopt);
  EXPECT_THAT(book.EntriesOf("a"), IsEmpty());
}

TEST(LeaseBookTest, RemoveEndsOneLeaseAndIgnoresAnEntryWithout) {
  LeaseBook book;
  book.Add(1, "a", 300, 300, 10);
  book.Add(2, "a", 100, 100, 20);
  book.Remove(1);
  book.Remove(7);
  EXPECT_EQ(Of(book, "a"), (View{1, 20, 100}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(2));
  EXPECT_EQ(book.Mark(), 3u);  // two adds and one remove; the unknown entry logged nothing
}

TEST(LeaseBookTest, ExtendMovesTheEndAndKeepsTheExpiryBackoff) {
  LeaseBook book;
  book.Add(1, "a", 100, 130, 10);
  book.Extend(1, 500);
  EXPECT_THAT(book.Expired(499), IsEmpty());
  EXPECT_THAT(book.Expired(500), ElementsAre(1));
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 530}));
  book.Extend(9, 900);  // no lease: nothing
  EXPECT_EQ(book.size(), 1u);
}

TEST(LeaseBookTest, ALeaseAddedAgainReplacesTheOldOne) {
  LeaseBook book;
  book.Add(1, "a", 100, 100, 10);
  book.Add(1, "a", 400, 400, 50);
  EXPECT_EQ(book.size(), 1u);
  EXPECT_EQ(Of(book, "a"), (View{1, 50, 400}));
  EXPECT_THAT(book.Expired(399), IsEmpty());
}

TEST(LeaseBookTest, UndoToAMarkRestoresExactlyWhatWasThere) {
  LeaseBook book;
  book.Add(1, "a", 100, 110, 10);
  book.Add(2, "b", 200, 200, 20);
  book.Keep();
  EXPECT_EQ(book.Mark(), 0u);

  const size_t mark = book.Mark();
  book.Remove(1);
  book.Extend(2, 900);
  book.Add(3, "a", 50, 50, 30);
  book.Add(4, "c", 60, 60, 40);
  book.Remove(4);
  ASSERT_EQ(Of(book, "a"), (View{1, 30, 50}));
  book.UndoTo(mark);

  EXPECT_EQ(book.size(), 2u);
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 110}));
  EXPECT_EQ(Of(book, "b"), (View{1, 20, 200}));
  EXPECT_EQ(Of(book, "c"), (View{0, std::nullopt, std::nullopt}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(1, 2));
}

TEST(LeaseBookTest, UndoStopsAtItsMarkAndKeepMakesChangesFinal) {
  LeaseBook book;
  book.Add(1, "a", 100, 100, 10);  // an earlier request of the group
  const size_t mark = book.Mark();
  book.Add(2, "a", 200, 200, 20);  // the request whose savepoint rolls back
  book.UndoTo(mark);
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));

  book.Keep();
  book.UndoTo(0);  // nothing left to undo once kept
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));
}

TEST(LeaseBookTest, AFailedGroupUndoesEverythingSinceTheLastKeep) {
  LeaseBook book;
  book.Add(1, "a", 100, 100, 10);
  book.Keep();
  book.Remove(1);
  book.Add(2, "a", 200, 200, 20);
  book.UndoTo(0);
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 100}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));
}

}  // namespace
}  // namespace switchboard::store::embedded_internal
