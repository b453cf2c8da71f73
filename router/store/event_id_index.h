#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace switchboard::store::embedded_internal {

class StatementCache;

// A Bloom filter of 512-bit blocks: each id sets kProbes bits within one block, so a lookup
// reads one cache line (Putze, Sanders, Singler: "Cache-, Hash- and Space-Efficient Bloom
// Filters", 2007). The hash is XXH3-64 (https://github.com/Cyan4973/xxHash), which is the same in
// every process, so a filter can be stored with its run and read back.
class BlockedBloomFilter {
 public:
  static constexpr int kProbes = 6;

  BlockedBloomFilter() = default;
  // Sized for `ids` ids at `bits_per_id` bits each; at least one block.
  BlockedBloomFilter(int64_t ids, int bits_per_id);
  // From Bytes() of another filter. kDataLoss if the size is not a whole number of blocks.
  static absl::StatusOr<BlockedBloomFilter> FromBytes(absl::string_view bytes);

  static uint64_t Hash(absl::string_view id);
  void Add(uint64_t hash);
  // False: the id was never added. True: it may have been (about 1 % false positives at 10 bits
  // per id).
  bool MayContain(uint64_t hash) const;
  std::string Bytes() const;  // little-endian 64-bit words, 8 per block

 private:
  const uint64_t* Block(uint64_t hash) const;
  std::vector<uint64_t> words_;  // 8 per block
};

// The embedded store's dedupe index: which event ids it committed, and when, as a log-structured
// set of sorted runs in the store's own file (the LSM tree of O'Neil et al., "The Log-Structured
// Merge-Tree", 1996, with size-tiered merging; a run is laid out like a LevelDB table: sorted
// blocks, the first id of each block, and a Bloom filter).
//
// Why: provider event ids are random, so in a B-tree keyed by id each new id lands on a random
// leaf, and a group commit of n events rewrote about n distinct 4 KiB pages of such an index
// (BENCHMARKS.md, "The dedupe index: what it costs"). Here a group's ids are written once, as one
// sorted run; `fanout` runs of one level are merged into one run of the next level, a bounded
// number of ids per group; and a lookup reads one block of each run whose filter may hold the id.
//
// Tables (schema version 6; created by the store's migration):
//   event_id_blocks(key, ids): key = run * 2^32 + block number (0, 1, ...); ids = up to
//     kBlockBytes of entries in id order, each: u32 length, the id's bytes, i64 committed_at
//     (Unix us), little-endian. One block fills about one 4 KiB page.
//   event_id_runs(run, level, state, entries, newest, filter, fences): one row per run.
//     state kLive answers lookups; kBuilding is a merge's target, filled a bounded number of ids
//     per group; kDropping was merged away or expired (newest <= the window's cutoff), and its
//     blocks are deleted a bounded number per group. filter: the run's BlockedBloomFilter;
//     fences: the first id of each block (u32 length + bytes each); both written when the run is
//     complete.
//   event_id_import(id, committed_at): only in a file the migration to version 6 just wrote;
//     Open turns it into one run and drops it.
//
// Transactions: every call runs on the store's writer connection inside its open group
// transaction. In-memory state changes with the file; when a group rolls back (AfterGroup with
// false) the index reloads from the file, as after a crash, so memory never runs ahead of it. A
// merge left unfinished by a crash or a rollback is dropped, and its runs merge again later.
//
// Not thread-safe: the store's writer thread only.
class EventIdIndex {
 public:
  struct Options {
    int fanout = 4;               // runs of one level merged into one run of the next
    int bits_per_id = 10;         // Bloom filter bits per id
    int64_t work_per_id = 16;     // ids merged per id a group adds, and
    int64_t work_per_group = 64;  // per group that adds any
  };

  static constexpr int64_t kBlockBytes = 3800;  // a block row stays within one 4 KiB page

  enum RunState : int { kLive = 0, kBuilding = 1, kDropping = 2 };

  // Reads the runs and their filters, turns a migration's import table into a run (leaving out
  // ids committed at or before `cutoff`, Unix us: their window is over), and marks unfinished
  // merges for dropping. Must be called inside a write transaction on `db`.
  // kUnavailable: a SQLite error; kDataLoss: a stored filter, fence list or block is malformed.
  static absl::StatusOr<std::unique_ptr<EventIdIndex>> Open(sqlite3* db,
                                                            StatementCache& statements,
                                                            Options options, int64_t cutoff);
  EventIdIndex(const EventIdIndex&) = delete;
  EventIdIndex& operator=(const EventIdIndex&) = delete;

  // First, right after the group's BEGIN: after a rolled-back group, reloads from the file.
  // kUnavailable / kDataLoss as Open; until it succeeds, Contains and BeforeCommit answer
  // kUnavailable.
  absl::Status BeginGroup();
  // True if `id` was committed after `cutoff` (Unix us): earlier in this group (Add) or in a
  // live run. kUnavailable: a SQLite error; kDataLoss: a malformed block.
  absl::StatusOr<bool> Contains(absl::string_view id, int64_t cutoff);
  // Records `id`, committed at `committed_at` (Unix us), for the group's run. `id` must not be
  // Contained; never empty.
  void Add(absl::string_view id, int64_t committed_at);
  // How many ids this group added; ForgetSince(n) forgets those added after the first n (their
  // request's savepoint rolled back).
  size_t added() const { return group_.size(); }
  void ForgetSince(size_t n);

  // The last step before the group's COMMIT: writes the ids the group added as a new run, marks
  // expired runs (newest <= `cutoff`) for dropping, starts the merges that are due, merges
  // a bounded number of ids (Options::work_per_id per id added, plus work_per_group; none in a
  // group that added no id), and deletes twice as many blocks of dropped runs as the group wrote.
  // kUnavailable: a SQLite error; kDataLoss: a malformed block.
  absl::Status BeforeCommit(int64_t cutoff);
  // After the group's COMMIT returned OK (true), or the group rolled back (false).
  void AfterGroup(bool committed);

 private:
  struct Entry {
    std::string id;
    int64_t committed_at;
  };
  // Appends entries in id order to run `run` as blocks, and builds its filter and fences.
  struct RunWriter {
    int64_t run = 0;
    int level = 0;
    int64_t entries = 0;
    int64_t newest = 0;
    int64_t blocks = 0;
    BlockedBloomFilter filter;
    std::vector<std::string> fences;
    std::string block;  // the block being filled
  };
  struct Run {
    int64_t id = 0;
    int level = 0;
    int64_t entries = 0;
    int64_t newest = 0;  // Unix us
    BlockedBloomFilter filter;
    std::vector<std::string> fences;
    bool merging = false;  // a source of a merge in progress
  };
  struct Source {
    int64_t run = 0;
    int64_t next_block = 0;
    std::vector<Entry> entries;  // the current block
    size_t position = 0;
    bool done = false;
  };
  struct Merge {
    RunWriter target;
    std::vector<Source> sources;
    bool finished = false;
  };
  struct Added {
    std::string id;
    uint64_t hash;
    int64_t committed_at;
  };

  EventIdIndex(sqlite3* db, StatementCache& statements, Options options, int64_t import_cutoff);
  absl::Status Load();
  absl::Status Import();
  absl::StatusOr<RunWriter> StartRun(int level, int64_t expected_entries);
  absl::Status Append(RunWriter& writer, absl::string_view id, int64_t committed_at);
  absl::Status FlushBlock(RunWriter& writer);
  // Writes the last block, the filter and the fences; the run becomes live.
  absl::Status CompleteRun(RunWriter& writer);
  absl::Status WriteGroupRun();
  absl::Status ExpireRuns(int64_t cutoff);
  absl::Status StartDueMerges();
  // Advances `merge` by up to `budget` ids; answers the ids consumed from its sources.
  absl::StatusOr<int64_t> StepMerge(Merge& merge, int64_t budget, int64_t cutoff);
  absl::Status FinishMerge(Merge& merge);
  // Deletes up to `budget` blocks of dropping runs.
  absl::Status StepDrops(int64_t budget);
  absl::Status SetState(int64_t run, RunState state);
  // The committed_at of `id` in `run`, if the run holds it.
  absl::StatusOr<std::optional<int64_t>> Find(const Run& run, absl::string_view id);

  sqlite3* const db_;
  StatementCache& statements_;
  const Options options_;
  const int64_t import_cutoff_;  // Open's cutoff, Unix us
  std::vector<Run> live_;          // kLive runs, in the order they became live
  std::vector<Merge> merges_;      // at most one per target level
  std::vector<int64_t> dropping_;  // kDropping runs
  std::vector<Added> group_;       // ids this group added, in order
  absl::flat_hash_map<std::string, size_t> group_index_;  // id -> its place in group_
  bool reload_ = false;  // a group rolled back: Load before the next use
  int64_t blocks_written_ = 0;  // by this group
};

}  // namespace switchboard::store::embedded_internal
