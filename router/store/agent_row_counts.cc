// sqlite3.h declares the pre-update hook's functions only with this defined; the library must be
// built with it too (Debian's is: PRAGMA compile_options lists ENABLE_PREUPDATE_HOOK).
#ifndef SQLITE_ENABLE_PREUPDATE_HOOK
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#endif

#include "router/store/agent_row_counts.h"

#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "router/store/sqlite_statement.h"

namespace switchboard::store::embedded_internal {
namespace {

// Both tables keep the agent in column 1 (after the INTEGER PRIMARY KEY, column 0).
constexpr int kAgentColumn = 1;
constexpr char kCountQueuedSql[] = "SELECT agent, COUNT(*) FROM queue GROUP BY agent";
constexpr char kCountDeadLettersSql[] = "SELECT agent, COUNT(*) FROM dead_letters GROUP BY agent";

}  // namespace

AgentRowCounts::AgentRowCounts(sqlite3* db, QueueAgentOf queue_agent_of)
    : db_(db), queue_agent_of_(std::move(queue_agent_of)) {
  sqlite3_preupdate_hook(db_, &AgentRowCounts::OnPreUpdate, this);
}

AgentRowCounts::~AgentRowCounts() { sqlite3_preupdate_hook(db_, nullptr, nullptr); }

absl::Status AgentRowCounts::Get(StatementCache& statements, const std::string& agent,
                                 Counts* counts) {
  if (!fresh_) {
    queued_.clear();
    dead_letters_.clear();
    for (auto [sql, map] : {std::pair{kCountQueuedSql, &queued_},
                            std::pair{kCountDeadLettersSql, &dead_letters_}}) {
      Statement query = statements.Get(sql);
      for (;;) {
        ASSIGN_OR_RETURN(const bool row, query.Step());
        if (!row) break;
        (*map)[query.Text(0)] = query.Int(1);
      }
    }
    fresh_ = true;
  }
  const auto queued = queued_.find(agent);
  const auto dead = dead_letters_.find(agent);
  counts->queued = queued == queued_.end() ? 0 : queued->second;
  counts->dead_letters = dead == dead_letters_.end() ? 0 : dead->second;
  return absl::OkStatus();
}

void AgentRowCounts::OnPreUpdate(void* self, sqlite3* db, int op, const char* database,
                                 const char* table, long long old_rowid,
                                 long long /*new_rowid*/) {
  auto* counts = static_cast<AgentRowCounts*>(self);
  if (!counts->fresh_ || op == SQLITE_UPDATE) return;  // an agent never changes in place
  absl::flat_hash_map<std::string, int64_t>* map = nullptr;
  if (std::strcmp(table, "queue") == 0) {
    map = &counts->queued_;
  } else if (std::strcmp(table, "dead_letters") == 0) {
    map = &counts->dead_letters_;
  } else {
    return;
  }
  if (std::strcmp(database, "main") != 0) return;
  if (op == SQLITE_DELETE && map == &counts->queued_ && counts->queue_agent_of_) {
    if (const std::string* agent = counts->queue_agent_of_(old_rowid); agent != nullptr) {
      counts->Change(*map, *agent, -1);
      return;
    }
  }
  sqlite3_value* value = nullptr;
  const int rc = op == SQLITE_INSERT ? sqlite3_preupdate_new(db, kAgentColumn, &value)
                                     : sqlite3_preupdate_old(db, kAgentColumn, &value);
  if (rc != SQLITE_OK || value == nullptr || sqlite3_value_type(value) != SQLITE_TEXT) {
    counts->fresh_ = false;  // not a row this class understands: count again from the file
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
  counts->Change(*map, absl::string_view(text, sqlite3_value_bytes(value)),
                 op == SQLITE_INSERT ? 1 : -1);
}

void AgentRowCounts::Change(absl::flat_hash_map<std::string, int64_t>& counts,
                            absl::string_view agent, int64_t delta) {
  auto it = counts.find(agent);
  if (it == counts.end()) it = counts.emplace(std::string(agent), 0).first;
  it->second += delta;
  if (it->second < 0) fresh_ = false;  // more rows left than were counted: count again
}

}  // namespace switchboard::store::embedded_internal
