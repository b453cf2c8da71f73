#pragma once

// Row ids of the embedded store's archive and queue tables, handed out by the writer.
//
// Both tables once used AUTOINCREMENT, which keeps ids from ever coming back but reads and writes
// the sqlite_sequence row of the table on every INSERT statement
// (https://sqlite.org/autoinc.html). With one INSERT per event and per queue entry, dropping it
// saved about a tenth of the router's CPU per event in batch ingest (BENCHMARKS.md, change 39).
// RowIds keeps the same guarantee:
// - an id is never used twice, even after the rows with the highest ids were deleted (an acked
//   queue entry's delivery id "<entry>.<attempt>" never names another event's entry);
// - a group that does not commit leaves the stored values as they were; its ids were never seen.
//   Ids taken by a request whose savepoint rolled back are skipped, not reused.
//
// Archive seqs: the last one handed out is stored in `row_id_sequences(name, last)` (schema
// version 7), read on first use in a group and written back in BeforeCommit. They grow with
// time, which the archive's retention sweep relies on (it walks the rowid from the oldest).
//
// Queue ids: one agent's entries take their ids from ranges of kQueueRangeIds ids that only that
// agent uses (schema version 9), so its rows lie together in the queue table, in the order they
// were queued. With many agents sharing the events, a claim or an ack of 256 entries then
// changes a few table pages, not one page per entry (BENCHMARKS.md, change 47).
// - Range r >= 1 holds the ids [r * kQueueRangeIds, (r + 1) * kQueueRangeIds). `queue_ranges(range,
//   agent, last)` stores each range's agent and the last id it may have handed out: ids are
//   reserved kQueueIdsAhead at a time, so that a group writes an agent's row once per that many
//   entries, not once per group (with 100 agents, a webhook's group would write 100 rows). What
//   a process reserved and did not hand out is skipped after a restart or a failed group.
// - An agent's current range is its highest. It gets a new one, above every range and every id
//   stored so far, when it has none or the next ids would not fit.
// - Range 0 holds the entries of files older than version 9 (agent ''), numbered in one sequence
//   for all agents as they were: ids 1 to its last, which may lie past kQueueRangeIds (ranges
//   handed out later start above it). Within each range ids grow with time, and an agent's ranges
//   follow each other, so its ids grow with time too; the queue's retention sweep walks each
//   range from its oldest id.
// - The ranges are cached across groups once a group that read or changed them has committed;
//   a group that does not commit drops the cache, and the next reads the file again.
//
// Used only on the writer's connection, inside its group transaction (BEGIN IMMEDIATE: no other
// connection writes meanwhile).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/store/sqlite_statement.h"

namespace switchboard::store::embedded_internal {

class RowIds {
 public:
  static constexpr int kQueueRangeBits = 36;
  static constexpr int64_t kQueueRangeIds = int64_t{1} << kQueueRangeBits;
  // Ranges 0 .. kMaxQueueRange fit in a signed 64-bit id.
  static constexpr int64_t kMaxQueueRange = (int64_t{1} << (63 - kQueueRangeBits)) - 1;
  static constexpr int64_t kQueueIdsAhead = 1024;

  explicit RowIds(StatementCache& statements) : statements_(statements) {}
  RowIds(const RowIds&) = delete;
  RowIds& operator=(const RowIds&) = delete;

  // The seq for the next archive row. kUnavailable if the stored value cannot be read;
  // kInternal if the file has no row for it (a schema older than version 7).
  absl::StatusOr<int64_t> NextArchiveSeq();

  // The first of `count` consecutive queue ids for `agent`, all in one of its ranges (for an
  // INSERT ... SELECT that numbers its rows first, first + 1, ...). kInvalidArgument unless
  // 1 <= count < kQueueRangeIds; kResourceExhausted once every range has been used;
  // kUnavailable if the file cannot be read.
  absl::StatusOr<int64_t> ReserveQueueIds(absl::string_view agent, int64_t count);

  // Writes back what this group handed out. Inside the transaction, before COMMIT.
  absl::Status BeforeCommit();
  // Ends the group: keeps its queue ranges in the cache if it `committed`, drops the cache if
  // not. The archive's sequence is read again by the next group either way.
  void AfterGroup(bool committed);

 private:
  struct QueueRange {
    int64_t range = 0;
    int64_t last = 0;      // the last id handed out in it
    int64_t reserved = 0;  // the last id it may hand out: the file's, or this group's to write
    bool changed = false;  // in this group: `reserved` is to be written back
  };

  // The agent's current range: this group's, the cache's, or the file's (nullopt: none yet).
  absl::StatusOr<std::optional<QueueRange>> CurrentRange(absl::string_view agent);
  absl::StatusOr<int64_t> NewRange();

  StatementCache& statements_;
  // The archive's sequence, as read from the file in this group and as handed out.
  bool archive_loaded_ = false;
  int64_t archive_stored_ = 0;
  int64_t archive_last_ = 0;
  // Queue ranges as the file has them after the last commit, for the agents read so far.
  absl::flat_hash_map<std::string, QueueRange> committed_ranges_;
  std::optional<int64_t> committed_next_range_;  // the lowest range no one has used
  // What this group read from the file or changed.
  absl::flat_hash_map<std::string, QueueRange> group_ranges_;
  // Ranges this group handed ids out of before their agent moved on to a new one: their last id
  // is written back too.
  std::vector<std::pair<std::string, QueueRange>> group_left_ranges_;
  std::optional<int64_t> group_next_range_;
};

}  // namespace switchboard::store::embedded_internal
