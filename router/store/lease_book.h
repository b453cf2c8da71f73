#pragma once

// The embedded store's current leases, kept in the writer's memory beside the queue table.
//
// Since schema version 8 the queue's visibility index holds only entries that are not leased
// (`queue_ready ... WHERE lease_expires_at IS NULL`): a lease takes its entry out of the index
// and an ack deletes a row that is in no visibility index, which made each about 0.6 µs cheaper
// in an S6 profile, of which the book's own upkeep takes about 0.4 µs per delivery back
// (BENCHMARKS.md, the seventeenth round). What that index no longer answers, the
// book does:
// - which leases have ended, so the writer makes their entries visible again (Expired);
// - when the earliest lease of an agent ends (NextLeaseEnd, for Store::NextVisibleAt);
// - how many entries of an agent are leased, and since when the oldest (Stats).
//
// The queue table stays the record: every lease is still written there (lease_expires_at,
// visible_at, claimed_at), and the book is rebuilt empty at open, where every lease a previous
// process left is released. The book changes as the writer's statements change the table, inside
// the group transaction, and keeps an undo log: a request whose savepoint rolls back undoes its
// changes (UndoTo the Mark taken before it), a group that does not commit undoes them all, and a
// committed group keeps them (Keep). So the book always holds exactly the leased rows of the
// transaction the writer sees.
//
// Each lease is kept in the order of its end twice: over every agent (Expired) and within its
// agent (NextLeaseEnd). Leases are mostly added in that order (each claim leases until now + the
// agent's ack deadline) and mostly end in it (acks come back in about the order of the
// deliveries), so each order is a Timeline: a deque that takes the leases that come in order at
// its back and lets the ones that end go from its front, beside a b-tree for the few that come
// out of order (an Extend, an agent with a shorter ack deadline than the last lease's, an undo).
// A lease that ends while it is not at the front stays in the deque as a stale item, skipped by
// the readers, until it reaches the front; a deque with more stale items than live leases plus
// kCompactSlack is rewritten without them, so a timeline of n leases holds at most
// 2 × n + kCompactSlack items. That replaced four b-tree changes per delivery (BENCHMARKS.md,
// the nineteenth round). Two costs stay: while agents with different ack deadlines all have
// traffic, the leases of the shorter deadlines all take the b-tree of the order over every
// agent (as every lease did before); and each agent the book has seen keeps its timeline (an
// empty deque holds one 512-byte block), which the configured agent names bound.
//
// Times are Unix microseconds. Used only on the writer thread.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"

namespace switchboard::store::embedded_internal {

class LeaseBook {
 public:
  struct AgentLeases {
    int64_t leased = 0;
    std::optional<int64_t> oldest_claimed_at;  // none if nothing is leased
  };

  // `compact_slack`: how many stale items a timeline tolerates beyond its live leases before it
  // is compacted (tests pass small ones to reach compaction often).
  explicit LeaseBook(size_t compact_slack = kCompactSlack) : compact_slack_(compact_slack) {}
  LeaseBook(const LeaseBook&) = delete;
  LeaseBook& operator=(const LeaseBook&) = delete;

  // Entry `entry` of `agent` is leased since `claimed_at` until `expires_at`. Replaces a lease
  // the book already holds for it.
  void Add(int64_t entry, absl::string_view agent, int64_t expires_at, int64_t claimed_at);
  // The entry's lease ended (ack, nack, release, expiry, purge). Nothing if it holds none.
  void Remove(int64_t entry);
  // The lease now ends at `expires_at`. Nothing if the book holds no lease for the entry.
  void Extend(int64_t entry, int64_t expires_at);

  // The leased entries whose lease ended at or before `now`, earliest end first (leases that
  // end at the same time in no promised order).
  std::vector<int64_t> Expired(int64_t now) const;
  // How many entries `agent` has leased, and since when the oldest; O(its leases + the stale
  // items of its timeline, at most as many again + the compaction slack), for Stats.
  AgentLeases ForAgent(absl::string_view agent) const;
  // The earliest expires_at of `agent`'s leased entries; O(1). At or before the earliest
  // visible_at (expires_at + a backoff of at least 0), which full jitter leaves in no order.
  std::optional<int64_t> NextLeaseEnd(absl::string_view agent) const;
  // The agent of a leased entry; null if the book holds no lease for it. Valid until the book
  // next changes.
  const std::string* AgentOf(int64_t entry) const;
  // `agent`'s leased entries, in order of expires_at (equal ones in no promised order).
  std::vector<int64_t> EntriesOf(absl::string_view agent) const;
  size_t size() const { return leases_.size(); }
  // The items both orders hold, stale ones included: at most 4 × size() + compact_slack ×
  // (1 + the agents the book has seen). For tests of that bound.
  size_t footprint() const;

  // The default compaction slack.
  static constexpr size_t kCompactSlack = 1024;

  // The undo log: Mark before a request, UndoTo(mark) if its savepoint rolled back, UndoTo(0)
  // if the group did not commit, Keep once it did.
  size_t Mark() const { return undo_.size(); }
  void UndoTo(size_t mark);
  void Keep() { undo_.clear(); }

 private:
  using Key = std::pair<int64_t, int64_t>;  // (time, entry)
  struct Item {
    int64_t time;
    int64_t entry;
    uint64_t seq;  // the Lease's seq when pushed; the item is stale once they differ
  };
  // One order of leases (see the top of the file). The deque is in time order, stale items
  // included (leases of equal time in the order they came: a group's claims share one `now`),
  // and its front is never stale; `out_of_order` holds live leases only; a live lease is in
  // exactly one of the two.
  struct Timeline {
    std::deque<Item> in_order;
    absl::btree_set<Key> out_of_order;
    size_t stale = 0;  // stale items in `in_order`
    size_t live() const { return in_order.size() - stale + out_of_order.size(); }
  };
  struct Lease {
    std::pair<const std::string, Timeline>* agent;  // a node of by_agent_ (stable)
    int64_t expires_at;
    int64_t claimed_at;
    uint64_t seq;  // set by Insert, new for every insertion
  };
  struct Undo {
    int64_t entry;
    std::optional<Lease> before;  // none: the entry held no lease before the change
  };

  using Leases = absl::flat_hash_map<int64_t, Lease>;

  // Take a lease out of (put one into) the leases and both timelines, without logging.
  void Erase(Leases::iterator it);
  void Insert(int64_t entry, Lease lease);

  bool IsStale(const Item& item) const;
  void Push(Timeline& timeline, int64_t time, int64_t entry, uint64_t seq);
  // The lease (time, entry, seq) ended; leases_ no longer holds it.
  void Pull(Timeline& timeline, int64_t time, int64_t entry, uint64_t seq);
  // Calls `visit(time, entry)` for the live leases of `timeline` in order while it returns true.
  template <typename Visit>
  void Walk(const Timeline& timeline, Visit visit) const;

  const size_t compact_slack_;
  Leases leases_;
  uint64_t next_seq_ = 0;
  Timeline by_expiry_;                                   // every agent
  absl::node_hash_map<std::string, Timeline> by_agent_;  // per agent
  std::vector<Undo> undo_;
};

}  // namespace switchboard::store::embedded_internal
