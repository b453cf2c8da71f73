#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

struct sqlite3;

namespace switchboard::store::embedded_internal {

class StatementCache;

// How many rows each agent has in the embedded store's `queue` and `dead_letters` tables, kept
// as rows come and go, so that Store::Stats (polled every few seconds by metrics::StoreMonitor)
// costs the same for a backlog of ten rows or ten million. Counting with SQL walks every row of
// an agent, on the writer thread, so every commit waits for it: in a profile of S2 (a backlog of
// about a million rows built up over the run), these scans took 15 % of the router's CPU
// (BENCHMARKS.md, change 31).
//
// Rows are counted by SQLite's pre-update hook (https://sqlite.org/c3ref/preupdate_blobwrite.html,
// present because Debian's libsqlite3 is built with SQLITE_ENABLE_PREUPDATE_HOOK), which sees
// every row that any statement on the connection inserts or deletes, whichever statement does
// it. A rollback undoes rows the hook has already counted, so the counts are "stale" after any
// failed statement, request or group (MarkStale); the next Get recounts every agent from the
// file, once. The counts start stale: the first Get after opening counts.
//
// Reading the agent of a deleted row makes SQLite decode the whole old record
// (sqlite3_preupdate_old), which was about 2 % of the router's CPU in an S6 profile with 100
// agents, where every ack deletes a row. The store's LeaseBook already knows the agent of every
// leased row, which is what an ack deletes, so the hook asks it first (QueueAgentOf).
//
// Writer thread only: the hook runs inside sqlite3_step on the connection's thread.
class AgentRowCounts {
 public:
  // The agent of the `queue` row with this rowid, if the caller knows it without reading the
  // row (null if not). It must be the row's own `agent`, as an agent never changes in place.
  using QueueAgentOf = std::function<const std::string*(int64_t rowid)>;

  struct Counts {
    int64_t queued = 0;        // rows of `queue`: ready, leased and delayed together
    int64_t dead_letters = 0;  // rows of `dead_letters`
  };

  // Registers the hook on `db` (one pre-update hook per connection; this replaces any other).
  // `queue_agent_of`, if given, is asked for the agent of each deleted queue row first.
  explicit AgentRowCounts(sqlite3* db, QueueAgentOf queue_agent_of = nullptr);
  // Unregisters the hook.
  ~AgentRowCounts();
  AgentRowCounts(const AgentRowCounts&) = delete;
  AgentRowCounts& operator=(const AgentRowCounts&) = delete;

  // The counts of `agent` as the open transaction sees them; zeros for an agent with no rows.
  // Recounts first if stale (two GROUP BY scans). Errors: those of the recount's statements.
  absl::Status Get(StatementCache& statements, const std::string& agent, Counts* counts);
  // A rollback may have undone rows that were counted.
  void MarkStale() { fresh_ = false; }
  bool fresh() const { return fresh_; }

 private:
  // sqlite3_preupdate_hook's callback (the rowids are sqlite3_int64, that is long long).
  static void OnPreUpdate(void* self, sqlite3* db, int op, const char* database,
                          const char* table, long long old_rowid, long long new_rowid);
  void Change(absl::flat_hash_map<std::string, int64_t>& counts, absl::string_view agent,
              int64_t delta);

  sqlite3* const db_;
  const QueueAgentOf queue_agent_of_;
  absl::flat_hash_map<std::string, int64_t> queued_;
  absl::flat_hash_map<std::string, int64_t> dead_letters_;
  bool fresh_ = false;
};

}  // namespace switchboard::store::embedded_internal
