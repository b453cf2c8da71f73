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
// - when a leased entry of an agent becomes visible (NextVisibleAt);
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
// Times are Unix microseconds. Used only on the writer thread.

#include <cstddef>
#include <cstdint>
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

  LeaseBook() = default;
  LeaseBook(const LeaseBook&) = delete;
  LeaseBook& operator=(const LeaseBook&) = delete;

  // Entry `entry` of `agent` is leased until `expires_at`, and visible again from `visible_at`
  // (expires_at plus the expiry backoff). Replaces a lease the book already holds for it.
  void Add(int64_t entry, absl::string_view agent, int64_t expires_at, int64_t visible_at,
           int64_t claimed_at);
  // The entry's lease ended (ack, nack, release, expiry, purge). Nothing if it holds none.
  void Remove(int64_t entry);
  // The lease now ends at `expires_at`; its visible_at moves by as much (the expiry backoff
  // stays). Nothing if the book holds no lease for the entry.
  void Extend(int64_t entry, int64_t expires_at);

  // The leased entries whose lease ended at or before `now`, earliest end first.
  std::vector<int64_t> Expired(int64_t now) const;
  // How many entries `agent` has leased, and since when the oldest; O(its leases), for Stats.
  AgentLeases ForAgent(absl::string_view agent) const;
  // The earliest visible_at of `agent`'s leased entries; O(1), for NextVisibleAt.
  std::optional<int64_t> NextVisibleAt(absl::string_view agent) const;
  // The agent of a leased entry; null if the book holds no lease for it. Valid until the book
  // next changes.
  const std::string* AgentOf(int64_t entry) const;
  // `agent`'s leased entries, in order of visible_at.
  std::vector<int64_t> EntriesOf(absl::string_view agent) const;
  size_t size() const { return leases_.size(); }

  // The undo log: Mark before a request, UndoTo(mark) if its savepoint rolled back, UndoTo(0)
  // if the group did not commit, Keep once it did.
  size_t Mark() const { return undo_.size(); }
  void UndoTo(size_t mark);
  void Keep() { undo_.clear(); }

 private:
  using ByTime = absl::btree_set<std::pair<int64_t, int64_t>>;  // (time, entry)
  struct Lease {
    std::pair<const std::string, ByTime>* agent;  // a node of by_agent_ (stable)
    int64_t expires_at;
    int64_t visible_at;
    int64_t claimed_at;
  };
  struct Undo {
    int64_t entry;
    std::optional<Lease> before;  // none: the entry held no lease before the change
  };

  using Leases = absl::flat_hash_map<int64_t, Lease>;

  // Take a lease out of (put one into) the three structures, without logging.
  void Erase(Leases::iterator it);
  void Insert(int64_t entry, const Lease& lease);

  Leases leases_;
  ByTime by_expiry_;                                   // (expires_at, entry), every agent
  absl::node_hash_map<std::string, ByTime> by_agent_;  // (visible_at, entry) per agent
  std::vector<Undo> undo_;
};

}  // namespace switchboard::store::embedded_internal
