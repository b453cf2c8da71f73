#pragma once

// The embedded store's prepared statements (https://sqlite.org/c3ref/stmt.html): one cached
// sqlite3_stmt per SQL text, bound and stepped through a scoped Statement. Used only on the
// store's writer connection (EmbeddedStore, EventIdIndex).

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "router/common/status_macros.h"

namespace switchboard::store::embedded_internal {

// kUnavailable naming SQLite's result code and message.
inline absl::Status SqliteError(sqlite3* db, int rc) {
  return absl::UnavailableError(
      absl::StrCat("sqlite error ", rc, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

// Bytes to bind as a BLOB (a string_view binds as TEXT).
struct Blob {
  absl::string_view bytes;
};

// A cached prepared statement, reset and unbound when this goes out of scope. At most one
// Statement per SQL text may be alive at a time (they share the cached sqlite3_stmt).
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, absl::Status status)
      : db_(db), stmt_(stmt), status_(std::move(status)) {}
  ~Statement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds ?1, ?2, ... in order.
  template <typename... Args>
  Statement& Bind(const Args&... args) {
    int index = 0;
    (BindOne(++index, args), ...);
    return *this;
  }

  // true: a row is ready to read; false: the statement is done.
  absl::StatusOr<bool> Step() {
    if (!status_.ok()) return status_;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    status_ = SqliteError(db_, rc);
    return status_;
  }
  absl::Status Run() {
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, Step());
      if (!row) return absl::OkStatus();
    }
  }

  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(stmt_, column));
  }
  // The column's bytes in SQLite's buffer: valid until the next Step or the reset.
  absl::string_view BytesView(int column) const {
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return bytes == nullptr ? absl::string_view()
                            : absl::string_view(bytes, sqlite3_column_bytes(stmt_, column));
  }
  std::string Bytes(int column) const {
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return bytes == nullptr ? std::string() : std::string(bytes, sqlite3_column_bytes(stmt_, column));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && status_.ok()) status_ = SqliteError(db_, rc);
  }
  void BindOne(int index, int64_t value) {
    if (status_.ok()) Check(sqlite3_bind_int64(stmt_, index, value));
  }
  void BindOne(int index, absl::string_view text) {
    if (status_.ok()) {
      Check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                SQLITE_UTF8));
    }
  }
  void BindOne(int index, Blob blob) {
    if (status_.ok()) {
      Check(sqlite3_bind_blob64(stmt_, index, blob.bytes.data(), blob.bytes.size(),
                                SQLITE_TRANSIENT));
    }
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;  // not owned; null if preparing failed
  absl::Status status_;
};

// Prepares each SQL text once. Keyed by the address of the constants above.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  Statement Get(const char* sql) {
    auto [it, inserted] = statements_.try_emplace(sql, nullptr);
    if (inserted) {
      const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &it->second,
                                        nullptr);
      if (rc != SQLITE_OK) {
        statements_.erase(it);
        return Statement(db_, nullptr, SqliteError(db_, rc));
      }
    }
    return Statement(db_, it->second, absl::OkStatus());
  }

 private:
  sqlite3* const db_;
  absl::flat_hash_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace switchboard::store::embedded_internal
