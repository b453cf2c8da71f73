#include "router/store/lease_book.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::store::embedded_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// What the book says about `agent`, as one comparable value.
struct View {
  int64_t leased;
  std::optional<int64_t> oldest_claimed_at;
  std::optional<int64_t> next_lease_end;
  bool operator==(const View&) const = default;
};
View Of(const LeaseBook& book, const char* agent) {
  const LeaseBook::AgentLeases leases = book.ForAgent(agent);
  return {leases.leased, leases.oldest_claimed_at, book.NextLeaseEnd(agent)};
}
std::ostream& operator<<(std::ostream& os, const View& view) {
  return os << view.leased << " leased, oldest claimed " << view.oldest_claimed_at.value_or(-1)
            << ", next lease end " << view.next_lease_end.value_or(-1);
}

TEST(LeaseBookTest, AnEmptyBookHasNothingLeasedOrDue) {
  LeaseBook book;
  EXPECT_EQ(Of(book, "a"), (View{0, std::nullopt, std::nullopt}));
  EXPECT_THAT(book.Expired(1'000'000), IsEmpty());
  EXPECT_EQ(book.size(), 0u);
}

TEST(LeaseBookTest, LeasesAreCountedPerAgentAndEndInTheOrderOfTheirExpiry) {
  LeaseBook book;
  // entry, agent, expires_at, claimed_at
  book.Add(1, "a", 300, 10);
  book.Add(2, "a", 100, 20);
  book.Add(3, "b", 200, 5);
  EXPECT_EQ(Of(book, "a"), (View{2, 10, 100}));
  EXPECT_EQ(Of(book, "b"), (View{1, 5, 200}));
  EXPECT_THAT(book.Expired(99), IsEmpty());
  EXPECT_THAT(book.Expired(100), ElementsAre(2));  // a lease ends at its expires_at
  EXPECT_THAT(book.Expired(1000), ElementsAre(2, 3, 1));
}

TEST(LeaseBookTest, NextLeaseEndAndEntriesOfReadOneAgentsLeases) {
  LeaseBook book;
  EXPECT_EQ(book.NextLeaseEnd("a"), std::nullopt);
  EXPECT_THAT(book.EntriesOf("a"), IsEmpty());
  book.Add(1, "a", 300, 10);
  book.Add(2, "a", 100, 20);
  book.Add(3, "b", 50, 5);
  EXPECT_EQ(book.NextLeaseEnd("a"), 100);
  EXPECT_EQ(book.NextLeaseEnd("b"), 50);
  EXPECT_THAT(book.EntriesOf("a"), ElementsAre(2, 1));
  book.Remove(2);
  EXPECT_EQ(book.NextLeaseEnd("a"), 300);
  book.Remove(1);
  EXPECT_EQ(book.NextLeaseEnd("a"), std::nullopt);
  EXPECT_THAT(book.EntriesOf("a"), IsEmpty());
}

TEST(LeaseBookTest, RemoveEndsOneLeaseAndIgnoresAnEntryWithout) {
  LeaseBook book;
  book.Add(1, "a", 300, 10);
  book.Add(2, "a", 100, 20);
  book.Remove(1);
  book.Remove(7);
  EXPECT_EQ(Of(book, "a"), (View{1, 20, 100}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(2));
  EXPECT_EQ(book.Mark(), 3u);  // two adds and one remove; the unknown entry logged nothing
}

TEST(LeaseBookTest, ExtendMovesTheEnd) {
  LeaseBook book;
  book.Add(1, "a", 100, 10);
  book.Extend(1, 500);
  EXPECT_THAT(book.Expired(499), IsEmpty());
  EXPECT_THAT(book.Expired(500), ElementsAre(1));
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 500}));
  book.Extend(9, 900);  // no lease: nothing
  EXPECT_EQ(book.size(), 1u);
}

TEST(LeaseBookTest, ALeaseAddedAgainReplacesTheOldOne) {
  LeaseBook book;
  book.Add(1, "a", 100, 10);
  book.Add(1, "a", 400, 50);
  EXPECT_EQ(book.size(), 1u);
  EXPECT_EQ(Of(book, "a"), (View{1, 50, 400}));
  EXPECT_THAT(book.Expired(399), IsEmpty());
}

TEST(LeaseBookTest, UndoToAMarkRestoresExactlyWhatWasThere) {
  LeaseBook book;
  book.Add(1, "a", 100, 10);
  book.Add(2, "b", 200, 20);
  book.Keep();
  EXPECT_EQ(book.Mark(), 0u);

  const size_t mark = book.Mark();
  book.Remove(1);
  book.Extend(2, 900);
  book.Add(3, "a", 50, 30);
  book.Add(4, "c", 60, 40);
  book.Remove(4);
  ASSERT_EQ(Of(book, "a"), (View{1, 30, 50}));
  book.UndoTo(mark);

  EXPECT_EQ(book.size(), 2u);
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 100}));
  EXPECT_EQ(Of(book, "b"), (View{1, 20, 200}));
  EXPECT_EQ(Of(book, "c"), (View{0, std::nullopt, std::nullopt}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(1, 2));
}

TEST(LeaseBookTest, UndoStopsAtItsMarkAndKeepMakesChangesFinal) {
  LeaseBook book;
  book.Add(1, "a", 100, 10);  // an earlier request of the group
  const size_t mark = book.Mark();
  book.Add(2, "a", 200, 20);  // the request whose savepoint rolls back
  book.UndoTo(mark);
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));

  book.Keep();
  book.UndoTo(0);  // nothing left to undo once kept
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));
}

TEST(LeaseBookTest, AFailedGroupUndoesEverythingSinceTheLastKeep) {
  LeaseBook book;
  book.Add(1, "a", 100, 10);
  book.Keep();
  book.Remove(1);
  book.Add(2, "a", 200, 20);
  book.UndoTo(0);
  EXPECT_EQ(Of(book, "a"), (View{1, 10, 100}));
  EXPECT_THAT(book.Expired(1000), ElementsAre(1));
}

TEST(LeaseBookTest, LeasesThatEndOutOfOrderAreSkippedByEveryReader) {
  LeaseBook book;
  // Ten leases of one agent in order, then one that comes out of order (a shorter deadline).
  for (int64_t entry = 1; entry <= 10; ++entry) book.Add(entry, "a", 100 * entry, entry);
  book.Add(11, "a", 250, 11);
  book.Remove(3);  // neither at the front nor out of order: left behind as a stale item
  book.Remove(7);
  book.Remove(11);
  EXPECT_THAT(book.Expired(600), ElementsAre(1, 2, 4, 5, 6));
  EXPECT_THAT(book.EntriesOf("a"), ElementsAre(1, 2, 4, 5, 6, 8, 9, 10));
  EXPECT_EQ(Of(book, "a"), (View{8, 1, 100}));
  book.Remove(1);
  book.Remove(2);  // the front goes, and the stale item behind it with it
  EXPECT_EQ(Of(book, "a"), (View{6, 4, 400}));
  book.Add(3, "a", 5000, 50);  // again, after its stale item went
  EXPECT_THAT(book.EntriesOf("a"), ElementsAre(4, 5, 6, 8, 9, 10, 3));
  EXPECT_THAT(book.Expired(1000), ElementsAre(4, 5, 6, 8, 9, 10));
}

TEST(LeaseBookTest, LeasesOfOneMomentMayComeInAnyOrderOfEntry) {
  LeaseBook book;
  // One group's claims share its `now`: two agents' entries interleave at the same times.
  book.Add(10, "a", 100, 1);
  book.Add(3, "b", 100, 1);
  book.Add(11, "a", 100, 1);
  book.Add(4, "b", 100, 1);
  book.Add(1, "b", 90, 1);  // and one that ends earlier
  EXPECT_THAT(book.Expired(99), ElementsAre(1));
  EXPECT_THAT(book.Expired(100), UnorderedElementsAre(1, 3, 4, 10, 11));
  EXPECT_EQ(book.Expired(100).front(), 1);
  book.Remove(3);
  book.Remove(10);
  EXPECT_THAT(book.Expired(100), UnorderedElementsAre(1, 4, 11));
  EXPECT_THAT(book.EntriesOf("b"), ElementsAre(1, 4));
  EXPECT_EQ(Of(book, "b"), (View{2, 1, 90}));
}

TEST(LeaseBookTest, ALeaseThatStaysDoesNotLetEndedOnesPileUp) {
  for (const size_t slack : {size_t{16}, LeaseBook::kCompactSlack}) {
    LeaseBook book(slack);
    book.Add(0, "a", 10, 1);  // never acked: stays at the front of both orders
    int64_t entry = 1;
    for (int round = 0; round < 50; ++round) {
      for (int i = 0; i < 1000; ++i, ++entry) book.Add(entry, "a", 100 + entry, 1 + entry);
      for (int64_t e = entry - 1000; e < entry; ++e) {
        book.Remove(e);
        // Two orders, each at most 2 x live + slack items.
        ASSERT_LE(book.footprint(), 2 * (2 * book.size() + slack)) << slack << " " << e;
        if (e % 97 == 0) {  // the readers skip what the compactions left
          const std::vector<int64_t> entries = book.EntriesOf("a");
          ASSERT_EQ(entries.size(), book.size());
          ASSERT_EQ(entries.front(), 0);
          ASSERT_EQ(entries.back(), book.size() > 1 ? entry - 1 : 0);
          ASSERT_EQ(Of(book, "a"), (View{static_cast<int64_t>(book.size()), 1, 10}));
        }
      }
    }
    EXPECT_EQ(book.size(), 1u);
    EXPECT_THAT(book.Expired(1'000'000), ElementsAre(0));
    book.Remove(0);
    EXPECT_EQ(book.footprint(), 0u);
    EXPECT_EQ(Of(book, "a"), (View{0, std::nullopt, std::nullopt}));
  }
}

struct ModelLease {
  std::string agent;
  int64_t expires_at, claimed_at;
};
using Model = std::map<int64_t, ModelLease>;

// `entries`, which the book listed in the order of their lease end, as (expires_at, entry) pairs
// sorted by both; none if the book's order was not the order of the lease ends (leases that end
// at the same time may come in any order) or it listed an entry the model does not hold.
using Listed = std::vector<std::pair<int64_t, int64_t>>;
std::optional<Listed> InEndOrder(const std::vector<int64_t>& entries, const Model& model) {
  Listed listed;
  for (const int64_t entry : entries) {
    const auto it = model.find(entry);
    if (it == model.end()) return std::nullopt;
    if (!listed.empty() && it->second.expires_at < listed.back().first) return std::nullopt;
    listed.push_back({it->second.expires_at, entry});
  }
  std::sort(listed.begin(), listed.end());
  return listed;
}

// The book against a plain model (a map of the leases, copied at every mark) over random changes:
// leases in order and out of order, acks in and out of order, extensions, undos and keeps.
TEST(LeaseBookTest, AgreesWithAPlainModelOverRandomChanges) {
  const std::vector<std::string> agents = {"a", "b", "c"};
  const std::vector<int64_t> deadlines = {300, 300, 40};  // c's leases come out of order
  std::mt19937_64 random(20261203);
  // Slack 0 and 1 compact often, so the model checks the readers across compactions too.
  const size_t slacks[] = {0, 1, LeaseBook::kCompactSlack};
  for (int run = 0; run < 30; ++run) {
    LeaseBook book(slacks[run % 3]);
    Model model, kept;
    std::vector<std::pair<size_t, Model>> marks;  // (book mark, model then)
    int64_t now = 1000;
    for (int step = 0; step < 3000; ++step) {
      now += static_cast<int64_t>(random() % 3);
      const int64_t entry = static_cast<int64_t>(random() % 200);
      switch (random() % 12) {
        case 0: case 1: case 2: case 3: {
          const size_t a = random() % agents.size();
          const int64_t expires_at = now + deadlines[a];
          book.Add(entry, agents[a], expires_at, now);
          model[entry] = {agents[a], expires_at, now};
          break;
        }
        case 4: case 5: case 6: {  // an ack, mostly of an agent's oldest lease
          int64_t target = entry;
          if (random() % 4 != 0 && !model.empty()) {
            const std::string& agent = agents[random() % agents.size()];
            std::optional<std::pair<int64_t, int64_t>> oldest;
            for (const auto& [e, lease] : model) {
              if (lease.agent != agent) continue;
              const std::pair<int64_t, int64_t> key{lease.expires_at, e};
              oldest = std::min(oldest.value_or(key), key);
            }
            if (oldest.has_value()) target = oldest->second;
          }
          book.Remove(target);
          model.erase(target);
          break;
        }
        case 7: {
          const int64_t expires_at = now + static_cast<int64_t>(random() % 500);
          book.Extend(entry, expires_at);
          if (auto it = model.find(entry); it != model.end()) it->second.expires_at = expires_at;
          break;
        }
        case 8:
          marks.push_back({book.Mark(), model});
          break;
        case 9:
          if (!marks.empty()) {
            book.UndoTo(marks.back().first);
            model = marks.back().second;
            marks.pop_back();
          }
          break;
        case 10:
          book.Keep();
          kept = model;
          marks.clear();
          break;
        case 11:
          if (random() % 8 == 0) {
            book.UndoTo(0);
            model = kept;
            marks.clear();
          } else {  // what ExpireLeases does
            for (const int64_t e : book.Expired(now)) {
              book.Remove(e);
              model.erase(e);
            }
          }
          break;
      }
      ASSERT_EQ(book.size(), model.size()) << "run " << run << " step " << step;
      Listed expiring;
      for (const auto& [e, lease] : model) {
        if (lease.expires_at <= now + 100) expiring.push_back({lease.expires_at, e});
      }
      std::sort(expiring.begin(), expiring.end());
      ASSERT_EQ(InEndOrder(book.Expired(now + 100), model), expiring)
          << "run " << run << " step " << step;
      for (const std::string& agent : agents) {
        Listed leases;
        View expected{0, std::nullopt, std::nullopt};
        for (const auto& [e, lease] : model) {
          if (lease.agent != agent) continue;
          leases.push_back({lease.expires_at, e});
          ++expected.leased;
          expected.oldest_claimed_at =
              std::min(expected.oldest_claimed_at.value_or(lease.claimed_at), lease.claimed_at);
        }
        std::sort(leases.begin(), leases.end());
        if (!leases.empty()) expected.next_lease_end = leases.front().first;
        ASSERT_EQ(Of(book, agent.c_str()), expected) << agent << " run " << run << " step " << step;
        ASSERT_EQ(InEndOrder(book.EntriesOf(agent), model), leases)
            << agent << " run " << run << " step " << step;
      }
      const auto it = model.find(entry);
      const std::string* agent = book.AgentOf(entry);
      ASSERT_EQ(agent != nullptr, it != model.end());
      if (agent != nullptr) {
        ASSERT_EQ(*agent, it->second.agent);
      }
    }
  }
}

}  // namespace
}  // namespace switchboard::store::embedded_internal
