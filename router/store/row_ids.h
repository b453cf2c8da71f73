#pragma once

// Row ids of the embedded store's archive and queue tables, handed out by the writer.
//
// Both tables once used AUTOINCREMENT, which keeps ids from ever coming back but reads and writes
// the sqlite_sequence row of the table on every INSERT statement
// (https://sqlite.org/autoinc.html). With one INSERT per event and per queue entry, dropping it
// saved about a tenth of the router's CPU per event in batch ingest (BENCHMARKS.md, change 39).
// RowIds keeps the same guarantee for the price of one read per table per group that inserts,
// and one write before its COMMIT.
//
// The last id handed out per table is stored in `row_id_sequences(name, last)` (schema version
// 7). A group transaction (BEGIN IMMEDIATE, so no other connection writes meanwhile) reads it on
// first use, hands out last + 1, last + 2, ... in memory, and writes the new last back in
// BeforeCommit. So:
// - an id is never used twice, even after the rows with the highest ids were deleted (an acked
//   queue entry's delivery id "<entry>.<attempt>" never names another event's entry);
// - ids grow with time, which the retention sweeps rely on (they walk the rowid from the oldest);
// - a group that does not commit leaves the stored value as it was; its ids were never seen.
// Ids taken by a request whose savepoint rolled back are skipped, not reused.
//
// Used only on the writer's connection, inside its group transaction.

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/store/sqlite_statement.h"

namespace switchboard::store::embedded_internal {

class RowIds {
 public:
  enum Table { kArchive = 0, kQueue = 1 };

  explicit RowIds(StatementCache& statements) : statements_(statements) {}
  RowIds(const RowIds&) = delete;
  RowIds& operator=(const RowIds&) = delete;

  // The id for the next row of `table`. kUnavailable if the stored value cannot be read;
  // kInternal if the file has no row for the table (a schema older than version 7).
  absl::StatusOr<int64_t> Next(Table table);

  // The last id handed out for `table` (for an INSERT ... SELECT that numbers its rows
  // last + 1, last + 2, ...; then Advance by the rows it inserted).
  absl::StatusOr<int64_t> Last(Table table);
  // Marks `rows` more ids of `table` as used. Call only after Last or Next in the same group.
  void Advance(Table table, int64_t rows);

  // Writes back the last id of each table this group used. Inside the transaction, before COMMIT.
  absl::Status BeforeCommit();
  // Forgets what the group read, committed or not: the next group reads the file again.
  void AfterGroup();

 private:
  struct Sequence {
    bool loaded = false;
    int64_t stored = 0;  // as read from the file in this group
    int64_t last = 0;    // the last id handed out
  };

  absl::Status Load(Table table);

  StatementCache& statements_;
  std::array<Sequence, 2> sequences_;
};

}  // namespace switchboard::store::embedded_internal
