// sqlite_row_cost: what one queue row costs the embedded store's writer, one prepared statement
// per row against one statement for a whole batch (BENCHMARKS.md, change 37).
//
// Creates a store file with EmbeddedStore::Create (so the schema, the `queue` table and its
// indexes, is the store's own), then opens it directly with SQLite (WAL, synchronous=NORMAL as
// for delivery bookkeeping, cache_size -65536), fills it with --rows leased entries, and for
// each batch size commits transactions of that many rows until every row is done. Four ways on
// schema version 7's visibility index (queue_by_visibility on every row, leased or not, in place
// of the store's queue_ready):
//   delete-per-row   the Ack statement (DELETE ... WHERE id = ? AND attempt = ? AND lease ...)
//   delete-batched   one DELETE ... WHERE id IN (SELECT ... FROM (VALUES ...) JOIN queue ...)
//   lease-per-row    the Claim's lease UPDATE (UPDATE queue SET ... WHERE id = ?)
//   lease-batched    one UPDATE queue SET ... FROM (VALUES ...) WHERE queue.id = v.column1
// and two on the store's own schema (version 8), whose visibility index holds only rows that
// are not leased (the partial index `queue_ready ... WHERE lease_expires_at IS NULL`; the
// store keeps its leases in memory, router/store/lease_book.h):
//   delete-ready-index   the Ack statement; a leased row has no entry in the partial index
//   lease-ready-index    the lease UPDATE; the row leaves the partial index, nothing is inserted
// and prints microseconds of wall time per row, BEGIN and COMMIT included. The lease modes start
// from rows that are not leased, visible at distinct times (so the lease moves the row's entry in
// queue_by_visibility, as in the version-7 router); the delete modes start from leased rows.
//
// Usage: sqlite_row_cost [--rows 200000] [--dir /tmp] [--batches 1,4,16,64,256] [--rounds 1]
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

#include "router/common/clock.h"
#include "router/store/embedded_store.h"
#include "spdlog/spdlog.h"

namespace {

enum class Mode {
  kDeletePerRow,
  kDeleteBatched,
  kDeleteReadyIndex,
  kLeasePerRow,
  kLeaseBatched,
  kLeaseReadyIndex
};
constexpr std::array<Mode, 6> kModes = {Mode::kDeletePerRow,     Mode::kDeleteBatched,
                                        Mode::kDeleteReadyIndex, Mode::kLeasePerRow,
                                        Mode::kLeaseBatched,     Mode::kLeaseReadyIndex};

const char* Name(Mode mode) {
  switch (mode) {
    case Mode::kDeletePerRow: return "delete-per-row";
    case Mode::kDeleteBatched: return "delete-batched";
    case Mode::kLeasePerRow: return "lease-per-row";
    case Mode::kLeaseBatched: return "lease-batched";
    case Mode::kDeleteReadyIndex: return "delete-ready-index";
    case Mode::kLeaseReadyIndex: return "lease-ready-index";
  }
  return "";
}

constexpr int64_t kLeaseEnd = 2'000'000'000'000'000;  // µs, far in the future
constexpr int64_t kNow = 1'000'000;

void Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), error);
    std::exit(1);
  }
}

sqlite3_stmt* Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), sqlite3_errmsg(db));
    std::exit(1);
  }
  return statement;
}

// Drains a statement (RETURNING rows included) and resets it.
void Run(sqlite3_stmt* statement) {
  while (sqlite3_step(statement) == SQLITE_ROW) {
  }
  sqlite3_reset(statement);
}

// The statement a mode runs: the ready-index modes run their per-row counterpart's.
Mode Statement(Mode mode) {
  if (mode == Mode::kDeleteReadyIndex) return Mode::kDeletePerRow;
  if (mode == Mode::kLeaseReadyIndex) return Mode::kLeasePerRow;
  return mode;
}

bool IsLease(Mode mode) {
  return Statement(mode) == Mode::kLeasePerRow || mode == Mode::kLeaseBatched;
}

bool UsesReadyIndex(Mode mode) {
  return mode == Mode::kDeleteReadyIndex || mode == Mode::kLeaseReadyIndex;
}

// A fresh store file with `rows` entries (attempt 1), ids 1..rows: leased for the delete modes,
// not leased and visible at distinct times for the lease modes. The store creates the schema and
// is closed again; the rows go in without archive rows (SQLite does not enforce foreign keys
// unless asked).
sqlite3* Fill(const std::string& path, int64_t rows, Mode mode) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  {
    switchboard::store::EmbeddedStore::Options options;
    options.path = path;
    auto store = switchboard::store::EmbeddedStore::Create(options, switchboard::SystemClock::Get());
    if (!store.ok()) {
      std::fprintf(stderr, "cannot create %s: %s\n", path.c_str(),
                   store.status().ToString().c_str());
      std::exit(1);
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;");
  if (!UsesReadyIndex(mode)) {
    // Schema version 7's visibility index, which held leased rows too.
    Exec(db, "DROP INDEX queue_ready; CREATE INDEX queue_by_visibility ON queue(agent, "
             "visible_at, id);");
  }
  Exec(db, "BEGIN");
  // ?2 visible_at, ?3 lease_expires_at (NULL: not leased).
  sqlite3_stmt* insert = Prepare(
      db, "INSERT INTO queue(agent, archive_seq, attempt, visible_at, lease_expires_at, "
          "matched_rules, last_error, enqueued_at) VALUES('bench-agent', ?1, 1, ?2, ?3, 'all', "
          "'', ?1)");
  for (int64_t i = 1; i <= rows; ++i) {
    sqlite3_bind_int64(insert, 1, i);
    if (IsLease(mode)) {
      sqlite3_bind_int64(insert, 2, i);
      sqlite3_bind_null(insert, 3);
    } else {
      sqlite3_bind_int64(insert, 2, kLeaseEnd);
      sqlite3_bind_int64(insert, 3, kLeaseEnd);
    }
    Run(insert);
  }
  sqlite3_finalize(insert);
  Exec(db, "COMMIT");
  return db;
}

std::string Values(int batch, int first_param, int columns) {
  std::string sql;
  int param = first_param;
  for (int row = 0; row < batch; ++row) {
    sql += row == 0 ? "(" : ",(";
    for (int column = 0; column < columns; ++column) {
      sql += (column == 0 ? "?" : ",?") + std::to_string(param++);
    }
    sql += ")";
  }
  return sql;
}

// Binds and runs the rows [first, first + batch) of one transaction in `mode`.
void Batch(Mode mode, sqlite3_stmt* statement, int64_t first, int batch) {
  mode = Statement(mode);
  if (mode == Mode::kDeletePerRow) {
    for (int64_t id = first; id < first + batch; ++id) {
      sqlite3_bind_int64(statement, 1, id);
      sqlite3_bind_int64(statement, 2, 1);
      sqlite3_bind_int64(statement, 3, kNow);
      Run(statement);
    }
  } else if (mode == Mode::kLeasePerRow) {
    for (int64_t id = first; id < first + batch; ++id) {
      sqlite3_bind_int64(statement, 1, id);
      sqlite3_bind_int64(statement, 2, 2);
      sqlite3_bind_int64(statement, 3, kLeaseEnd);
      sqlite3_bind_int64(statement, 4, kNow);
      sqlite3_bind_text(statement, 5, "", 0, SQLITE_STATIC);
      sqlite3_bind_int64(statement, 6, 0);
      Run(statement);
    }
  } else if (mode == Mode::kDeleteBatched) {
    sqlite3_bind_int64(statement, 1, kNow);
    for (int row = 0; row < batch; ++row) {
      sqlite3_bind_int64(statement, 2 + 2 * row, first + row);
      sqlite3_bind_int64(statement, 3 + 2 * row, 1);
    }
    Run(statement);
  } else {  // Mode::kLeaseBatched
    sqlite3_bind_int64(statement, 1, kLeaseEnd);
    sqlite3_bind_int64(statement, 2, kNow);
    for (int row = 0; row < batch; ++row) {
      sqlite3_bind_int64(statement, 3 + 4 * row, first + row);
      sqlite3_bind_int64(statement, 4 + 4 * row, 2);
      sqlite3_bind_int64(statement, 5 + 4 * row, 0);
      sqlite3_bind_text(statement, 6 + 4 * row, "", 0, SQLITE_STATIC);
    }
    Run(statement);
  }
}

std::string Sql(Mode mode, int batch) {
  mode = Statement(mode);
  if (mode == Mode::kDeletePerRow) {
    return "DELETE FROM queue WHERE id = ?1 AND attempt = ?2 AND lease_expires_at > ?3";
  }
  if (mode == Mode::kLeasePerRow) {
    return "UPDATE queue SET attempt = ?2, visible_at = ?3 + ?6, lease_expires_at = ?3, "
           "claimed_at = ?4, last_error = ?5 WHERE id = ?1";
  }
  if (mode == Mode::kDeleteBatched) {
    return "DELETE FROM queue WHERE id IN (SELECT q.id FROM (VALUES " + Values(batch, 2, 2) +
           ") AS v JOIN queue q ON q.id = v.column1 AND q.attempt = v.column2 "
           "WHERE q.lease_expires_at > ?1) RETURNING id";
  }
  return "UPDATE queue SET attempt = v.column2, visible_at = ?1 + v.column3, "
         "lease_expires_at = ?1, claimed_at = ?2, last_error = v.column4 FROM (VALUES " +
         Values(batch, 3, 4) + ") AS v WHERE queue.id = v.column1";
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 200'000;
  std::string dir = "/tmp";
  std::vector<int> batches = {1, 4, 16, 64, 256};
  int rounds = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rows") {
      rows = std::atoll(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--batches") {
      batches.clear();
      for (const absl::string_view b : absl::StrSplit(argv[i + 1], ',')) {
        int batch = 0;
        if (!absl::SimpleAtoi(b, &batch) || batch < 1) {
          std::fprintf(stderr, "--batches: not a positive number: %s\n", std::string(b).c_str());
          return 2;
        }
        batches.push_back(batch);
      }
    } else {
      std::fprintf(stderr,
                   "usage: sqlite_row_cost [--rows N] [--dir DIR] [--batches 1,4,...] "
                   "[--rounds N]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);  // not the store's line per created file
  const std::string path = dir + "/sqlite_row_cost.db";
  // Rounds alternate the modes, so a slow moment of the machine falls on all of them alike; the
  // summary gives each mode's median and range over the rounds.
  std::map<std::pair<int, Mode>, std::vector<double>> figures;
  std::printf("%-19s %6s %6s %12s\n", "mode", "batch", "round", "µs/row");
  for (int round = 1; round <= rounds; ++round) {
    for (const int batch : batches) {
      for (const Mode mode : kModes) {
        sqlite3* db = Fill(path, rows, mode);
        sqlite3_stmt* statement = Prepare(db, Sql(mode, batch));
        const int64_t done = rows / batch * batch;
        const int64_t changes_before = sqlite3_total_changes64(db);
        const auto start = std::chrono::steady_clock::now();
        for (int64_t first = 1; first <= done; first += batch) {
          Exec(db, "BEGIN");
          Batch(mode, statement, first, batch);
          Exec(db, "COMMIT");
        }
        const std::chrono::duration<double, std::micro> took =
            std::chrono::steady_clock::now() - start;
        // Every row must have been deleted or leased, or the figure means nothing.
        if (const int64_t changed = sqlite3_total_changes64(db) - changes_before;
            changed != done) {
          std::fprintf(stderr, "%s batch %d changed %lld rows, not %lld\n", Name(mode), batch,
                       static_cast<long long>(changed), static_cast<long long>(done));
          return 1;
        }
        const double per_row = took.count() / static_cast<double>(done);
        figures[{batch, mode}].push_back(per_row);
        std::printf("%-19s %6d %6d %12.2f\n", Name(mode), batch, round, per_row);
        sqlite3_finalize(statement);
        sqlite3_close(db);
      }
    }
  }
  std::printf("\n%-19s %6s %12s %18s\n", "mode", "batch", "median", "min-max");
  for (auto& [key, values] : figures) {
    std::sort(values.begin(), values.end());
    std::printf("%-19s %6d %12.2f %8.2f-%-8.2f\n", Name(key.second), key.first,
                values[values.size() / 2], values.front(), values.back());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return 0;
}
