#include "router/store/embedded_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "router/common/status_macros.h"
#include "router/store/agent_row_counts.h"
#include "router/store/archived_event.h"
#include "router/store/event_id_index.h"
#include "router/store/lease_book.h"
#include "router/store/lifecycle_match.h"
#include "router/store/out_of_line.h"
#include "router/store/page_cache_guard.h"
#include "router/store/row_ids.h"
#include "router/store/sqlite_statement.h"
#include "spdlog/spdlog.h"

namespace switchboard::store {
namespace embedded_internal {
namespace {

// The schema version this binary writes (`PRAGMA user_version`); see kMigrations below.
constexpr int kSchemaVersion = 9;
constexpr int kBusyTimeoutMs = 5000;
constexpr int64_t kPageBytes = 4096;  // SQLite's default page size, which the store keeps
// The writer's page cache, in KiB (negative: KiB, not pages). SQLite's default of 2 MiB holds
// only the top of the b-trees once the archive and queue indexes grow, so every commit re-read
// their leaf pages with pread (10 % of the router's CPU in a 1000-event batch profile; a 4 MiB
// cache still cost S2 10 %). A cache this size needs the page-cache guard (page_cache_guard.h).
constexpr char kCacheSizeSql[] = "PRAGMA cache_size=-65536";
// Savepoint journals in memory. A request's savepoint (RunGroup) keeps the original of every page
// it changes; past 64 KiB (a batch of a few hundred events) SQLite spills that journal to a temp
// file, which costs pwrite and pread calls for data that never needs to reach the disk.
constexpr char kTempStoreSql[] = "PRAGMA temp_store=MEMORY";

// Migration step 0 -> 1. Times are Unix microseconds. A queue entry is visible when visible_at <= now; while
// leased, visible_at is lease_expires_at plus the expiry backoff (kLeaseSql; zero in rows written
// before there was one), so an expired lease makes it visible by itself.
// Queue entries and dead letters reference the archived event bytes instead of copying them.
// String lists (agents, matched rules) are joined with '\n'.
constexpr char kSchemaV1Sql[] = R"sql(
CREATE TABLE IF NOT EXISTS rules(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  yaml TEXT NOT NULL,
  version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dedupe(
  id TEXT PRIMARY KEY,
  committed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_by_time ON dedupe(committed_at);
CREATE TABLE IF NOT EXISTS archive(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  committed_at INTEGER NOT NULL,
  event BLOB NOT NULL,
  agents TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  archive_seq INTEGER NOT NULL REFERENCES archive(seq),
  attempt INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  lease_expires_at INTEGER,
  claimed_at INTEGER,
  matched_rules TEXT NOT NULL,
  last_error TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS queue_by_visibility ON queue(agent, visible_at, id);
CREATE TABLE IF NOT EXISTS dead_letters(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  archive_seq INTEGER NOT NULL REFERENCES archive(seq),
  event_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_by_agent ON dead_letters(agent, seq);
CREATE TABLE IF NOT EXISTS replay_tokens(
  key TEXT PRIMARY KEY,
  body_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replay_tokens_by_expiry ON replay_tokens(expires_at);
)sql";

// Migration step 1 -> 2: the quarantine, and indexes for retention sweeps and recipient purges.
// Early version-1 files predate the rules and replay_tokens tables (added with IF NOT EXISTS
// while the version stayed 1), so this step first runs step 1 again: every statement of it is
// idempotent.
constexpr char kSchemaV2Sql[] = R"sql(
CREATE TABLE IF NOT EXISTS quarantine(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  code_version TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS quarantine_by_source ON quarantine(source, seq);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine(received_at);
CREATE INDEX IF NOT EXISTS archive_by_time ON archive(committed_at);
CREATE INDEX IF NOT EXISTS queue_by_archive ON queue(archive_seq);
CREATE INDEX IF NOT EXISTS queue_by_age ON queue(enqueued_at);
CREATE INDEX IF NOT EXISTS dead_letters_by_archive ON dead_letters(archive_seq);
CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters(dead_at);
)sql";

// Migration step 2 -> 3: inbound attachment bytes kept out of line (Store::PutAttachments), and
// the archive by event id, which their sweep asks.
constexpr char kSchemaV3Sql[] = R"sql(
CREATE TABLE IF NOT EXISTS attachments(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  UNIQUE(event_id, sha256));
CREATE INDEX IF NOT EXISTS attachments_by_time ON attachments(stored_at);
CREATE INDEX IF NOT EXISTS archive_by_event ON archive(event_id);
)sql";

// Migration step 3 -> 4: out-of-line bytes content-addressed, one copy per sha256 (the recipients
// of one mail share it), with one reference per (event id, sha256); the version-3 rows move over
// (same bytes under one hash keep one copy).
constexpr char kSchemaV4Sql[] = R"sql(
CREATE TABLE IF NOT EXISTS blobs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 TEXT NOT NULL UNIQUE,
  bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blob_refs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  UNIQUE(event_id, sha256));
CREATE INDEX IF NOT EXISTS blob_refs_by_sha256 ON blob_refs(sha256);
CREATE INDEX IF NOT EXISTS blob_refs_by_time ON blob_refs(stored_at);
INSERT OR IGNORE INTO blobs(sha256, bytes) SELECT sha256, bytes FROM attachments ORDER BY seq;
INSERT OR IGNORE INTO blob_refs(event_id, sha256, stored_at)
  SELECT event_id, sha256, stored_at FROM attachments ORDER BY seq;
DROP TABLE IF EXISTS attachments;
)sql";

// Migration step 4 -> 5: the indexes only the retention sweeps read. Queue ids and archive seqs
// grow with their enqueued_at / committed_at, so the sweeps walk the rowid from the oldest and
// stop at the first row past the cutoff; each commit no longer writes a page of either index.
constexpr char kSchemaV5Sql[] = R"sql(
DROP INDEX IF EXISTS queue_by_age;
DROP INDEX IF EXISTS archive_by_time;
CREATE INDEX IF NOT EXISTS archive_by_event_time ON archive(event_id, committed_at);
DROP INDEX IF EXISTS archive_by_event;
)sql";

// Migration step 5 -> 6: the dedupe index becomes log-structured (EventIdIndex). Every id the
// archive or the old `dedupe` table holds, with its latest commit time, goes into
// event_id_import, which the index turns into its first run at open (same transaction).
// A reference to out-of-line bytes now names the archive row of its event (one reference per
// row: an id committed again after its window has a row of its own), so the sweep no longer
// asks the archive by event id, and that index goes. The index runs in Create's next
// transaction; until it commits, the import table stays for the next open.
constexpr char kSchemaV6Sql[] = R"sql(
CREATE TABLE IF NOT EXISTS event_id_runs(
  run INTEGER PRIMARY KEY,
  level INTEGER NOT NULL,
  state INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  newest INTEGER NOT NULL,
  filter BLOB,
  fences BLOB);
CREATE TABLE IF NOT EXISTS event_id_blocks(
  key INTEGER PRIMARY KEY,
  ids BLOB NOT NULL);
CREATE TABLE event_id_import(id TEXT PRIMARY KEY, committed_at INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO event_id_import(id, committed_at)
  SELECT id, max(committed_at) FROM
    (SELECT event_id AS id, committed_at FROM archive UNION ALL SELECT id, committed_at FROM dedupe)
  WHERE id <> '' GROUP BY id;
CREATE TABLE blob_refs_v6(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  archive_seq INTEGER);
INSERT INTO blob_refs_v6(event_id, sha256, stored_at, archive_seq)
  SELECT r.event_id, r.sha256, r.stored_at, a.seq FROM blob_refs r
    JOIN archive a ON a.event_id = r.event_id
  UNION ALL
  SELECT r.event_id, r.sha256, r.stored_at, NULL FROM blob_refs r
    WHERE NOT EXISTS (SELECT 1 FROM archive a WHERE a.event_id = r.event_id);
DROP TABLE blob_refs;
ALTER TABLE blob_refs_v6 RENAME TO blob_refs;
CREATE UNIQUE INDEX blob_refs_unlinked ON blob_refs(event_id, sha256) WHERE archive_seq IS NULL;
CREATE INDEX blob_refs_by_event ON blob_refs(event_id, sha256);
CREATE INDEX blob_refs_by_sha256 ON blob_refs(sha256);
CREATE INDEX blob_refs_by_time ON blob_refs(stored_at);
DROP INDEX IF EXISTS archive_by_event_time;
DROP TABLE IF EXISTS dedupe;
)sql";

// Migration step 6 -> 7: the archive and the queue without AUTOINCREMENT, which read and wrote
// sqlite_sequence on every INSERT; the writer hands out their ids itself (RowIds, row_ids.h) from
// row_id_sequences, which starts at the last id each table ever used. Each table is rebuilt under
// its own name (https://sqlite.org/lang_altertable.html#otheralter); dropping the old one also
// drops its sqlite_sequence row, so that row is read first.
constexpr char kSchemaV7Sql[] = R"sql(
CREATE TABLE row_id_sequences(name TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO row_id_sequences(name, last)
  SELECT 'archive', max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'archive'), 0),
                        coalesce((SELECT max(seq) FROM archive), 0))
  UNION ALL
  SELECT 'queue', max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'queue'), 0),
                      coalesce((SELECT max(id) FROM queue), 0));
CREATE TABLE archive_v7(
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  committed_at INTEGER NOT NULL,
  event BLOB NOT NULL,
  agents TEXT NOT NULL);
INSERT INTO archive_v7(seq, event_id, committed_at, event, agents)
  SELECT seq, event_id, committed_at, event, agents FROM archive ORDER BY seq;
DROP TABLE archive;
ALTER TABLE archive_v7 RENAME TO archive;
CREATE TABLE queue_v7(
  id INTEGER PRIMARY KEY,
  agent TEXT NOT NULL,
  archive_seq INTEGER NOT NULL REFERENCES archive(seq),
  attempt INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  lease_expires_at INTEGER,
  claimed_at INTEGER,
  matched_rules TEXT NOT NULL,
  last_error TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL);
INSERT INTO queue_v7(id, agent, archive_seq, attempt, visible_at, lease_expires_at, claimed_at,
                     matched_rules, last_error, enqueued_at)
  SELECT id, agent, archive_seq, attempt, visible_at, lease_expires_at, claimed_at,
         matched_rules, last_error, enqueued_at FROM queue ORDER BY id;
DROP TABLE queue;
ALTER TABLE queue_v7 RENAME TO queue;
CREATE INDEX queue_by_visibility ON queue(agent, visible_at, id);
CREATE INDEX queue_by_archive ON queue(archive_seq);
)sql";

// Migration step 7 -> 8: the visibility index holds only entries that are not leased; the
// writer keeps the leases in memory (LeaseBook, lease_book.h). A lease then takes its entry out
// of the index instead of moving it, and an ack deletes a row no visibility index holds. Every
// query of the index names `lease_expires_at IS NULL`, which lets SQLite use it
// (https://sqlite.org/partialindex.html). A lease the file still holds is ended by the release
// at open (kReleaseAllLeasesSql), which runs after the migration.
constexpr char kSchemaV8Sql[] = R"sql(
DROP INDEX IF EXISTS queue_by_visibility;
CREATE INDEX IF NOT EXISTS queue_ready ON queue(agent, visible_at, id)
  WHERE lease_expires_at IS NULL;
)sql";

// Migration step 8 -> 9: queue ids in ranges of one agent each (RowIds, row_ids.h), so that one
// agent's entries lie together in the queue table. The entries already queued keep their ids,
// numbered for all agents in one sequence: range 0, whose last id is the sequence's (or the
// highest id queued, should a row lie past it).
constexpr char kSchemaV9Sql[] = R"sql(
CREATE TABLE queue_ranges(
  range INTEGER PRIMARY KEY,
  agent TEXT NOT NULL,
  last INTEGER NOT NULL);
CREATE INDEX queue_ranges_by_agent ON queue_ranges(agent, range);
INSERT INTO queue_ranges(range, agent, last)
  SELECT 0, '', last FROM (SELECT max(
    coalesce((SELECT last FROM row_id_sequences WHERE name = 'queue'), 0),
    coalesce((SELECT max(id) FROM queue), 0)) AS last) WHERE last > 0;
DELETE FROM row_id_sequences WHERE name = 'queue';
)sql";

// kMigrations[v] takes a file from `PRAGMA user_version` v to v + 1. All steps a file needs run in
// ONE transaction at open, with the new user_version, so a crash leaves the old version intact.
// A released step never changes: a schema change is a new step (and kSchemaVersion + 1).
constexpr const char* kMigrations[kSchemaVersion][2] = {
    {kSchemaV1Sql, nullptr},
    {kSchemaV1Sql, kSchemaV2Sql},
    {kSchemaV3Sql, nullptr},
    {kSchemaV4Sql, nullptr},
    {kSchemaV5Sql, nullptr},
    {kSchemaV6Sql, nullptr},
    {kSchemaV7Sql, nullptr},
    {kSchemaV8Sql, nullptr},
    {kSchemaV9Sql, nullptr},
};

constexpr char kSynchronousFullSql[] = "PRAGMA synchronous=FULL";
constexpr char kSynchronousNormalSql[] = "PRAGMA synchronous=NORMAL";
constexpr char kBeginSql[] = "BEGIN IMMEDIATE";
constexpr char kCommitSql[] = "COMMIT";
constexpr char kRollbackSql[] = "ROLLBACK";
constexpr char kSavepointSql[] = "SAVEPOINT request";
constexpr char kReleaseSql[] = "RELEASE request";
constexpr char kRollbackToSql[] = "ROLLBACK TO request";

// Dedupe is EventIdIndex's. The commit of an event that names stored bytes (NamesStoredBytes)
// tells the out-of-line bytes stored under its event id (PutAttachments, which comes first and
// leaves them unlinked) their archive row: ?1 archive seq, ?2 event id. A duplicate's references,
// and those of an event that no longer names them, stay unlinked, and the sweep takes them.
constexpr char kLinkBlobRefsSql[] =
    "UPDATE blob_refs SET archive_seq = ?1 WHERE event_id = ?2 AND archive_seq IS NULL";
// RememberToken: ?1 key, ?2 now; a live entry's body hash.
constexpr char kTokenLookupSql[] =
    "SELECT body_hash FROM replay_tokens WHERE key = ?1 AND expires_at > ?2";
constexpr char kTokenStoreSql[] =
    "INSERT INTO replay_tokens(key, body_hash, expires_at) VALUES(?1, ?2, ?3) ON CONFLICT(key) "
    "DO UPDATE SET body_hash = excluded.body_hash, expires_at = excluded.expires_at";
// Each new token prunes a few expired ones, so the table stays bounded without a sweeper.
constexpr int64_t kTokenPruneBatch = 16;
constexpr char kTokenPruneSql[] =
    "DELETE FROM replay_tokens WHERE key IN "
    "(SELECT key FROM replay_tokens WHERE expires_at <= ?1 LIMIT ?2)";
// Row ids come from RowIds (row_ids.h): ?1 below, and the last id before an INSERT ... SELECT.
constexpr char kArchiveSql[] =
    "INSERT INTO archive(seq, event_id, committed_at, event, agents) VALUES(?1, ?2, ?3, ?4, ?5)";
constexpr char kEnqueueSql[] =
    "INSERT INTO queue(id, agent, archive_seq, attempt, visible_at, matched_rules, last_error, "
    "enqueued_at) VALUES(?1, ?2, ?3, 0, ?4, ?5, '', ?4)";
constexpr char kClaimCandidatesSql[] =
    "SELECT q.id, q.attempt, q.matched_rules, q.last_error, q.archive_seq, a.event_id, a.event "
    "FROM queue q JOIN archive a ON a.seq = q.archive_seq WHERE q.agent = ?1 "
    "AND q.lease_expires_at IS NULL AND q.visible_at <= ?2 ORDER BY q.visible_at, q.id LIMIT ?3";
// While leased, visible_at is the lease end plus the expiry backoff (Store::ExpiryBackoff), the
// time the entry becomes visible again once its lease has ended (kExpireLeaseSql; ?6: the
// backoff). The lease takes the entry out of queue_ready; the writer's LeaseBook holds it.
constexpr char kLeaseSql[] =
    "UPDATE queue SET attempt = ?2, visible_at = ?3 + ?6, lease_expires_at = ?3, claimed_at = ?4, "
    "last_error = ?5 WHERE id = ?1";
constexpr char kDeadLetterSql[] =
    "INSERT INTO dead_letters(agent, archive_seq, event_id, attempts, reason, dead_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
constexpr char kDeleteEntrySql[] = "DELETE FROM queue WHERE id = ?1";
// For Ack / Nack / Extend / Release: ?1 entry, ?2 attempt, ?3 now; the lease must be current.
constexpr char kAckSql[] =
    "DELETE FROM queue WHERE id = ?1 AND attempt = ?2 AND lease_expires_at > ?3";
constexpr char kNackSql[] =
    "UPDATE queue SET visible_at = ?4, lease_expires_at = NULL, claimed_at = NULL, "
    "last_error = ?5 WHERE id = ?1 AND attempt = ?2 AND lease_expires_at > ?3";
// The expiry backoff (visible_at - lease_expires_at) moves with the lease end.
constexpr char kExtendSql[] =
    "UPDATE queue SET visible_at = ?4 + (visible_at - lease_expires_at), lease_expires_at = ?4 "
    "WHERE id = ?1 AND attempt = ?2 AND lease_expires_at > ?3";
constexpr char kReleaseEntrySql[] =
    "UPDATE queue SET visible_at = ?3, lease_expires_at = NULL, claimed_at = NULL, "
    "last_error = 'released' WHERE id = ?1 AND attempt = ?2 AND lease_expires_at > ?3";
// A lease that ended (LeaseBook::Expired): ?1 entry, ?2 now. Its entry goes back into
// queue_ready, visible from its visible_at (the lease end plus the expiry backoff).
constexpr char kExpireLeaseSql[] =
    "UPDATE queue SET lease_expires_at = NULL, claimed_at = NULL, last_error = 'lease expired' "
    "WHERE id = ?1 AND lease_expires_at <= ?2";
// At open: no stream of a previous process is alive, so its leases end now; leases that had
// already ended keep the visible_at their expiry gave them. The book starts empty.
constexpr char kReleaseAllLeasesSql[] =
    "UPDATE queue SET visible_at = CASE WHEN lease_expires_at > ?1 THEN ?1 ELSE visible_at END, "
    "last_error = CASE WHEN lease_expires_at > ?1 THEN 'router restarted' ELSE 'lease expired' "
    "END, lease_expires_at = NULL, claimed_at = NULL WHERE lease_expires_at IS NOT NULL";
// Entries visible now count too (Store::NextVisibleAt): one may have become visible after the
// caller's last Claim. Leased entries are the LeaseBook's.
constexpr char kNextVisibleSql[] =
    "SELECT MIN(visible_at) FROM queue WHERE agent = ?1 AND lease_expires_at IS NULL";
// Store::Stats: the rows of `agent` neither leased nor visible now (delayed), read on the range
// of queue_ready after ?2. Leased rows are the LeaseBook's; ready rows are the rest of the
// agent's rows (AgentRowCounts), which a backlog makes many.
constexpr char kQueueStatsSql[] =
    "SELECT COUNT(*) FROM queue WHERE agent = ?1 AND lease_expires_at IS NULL AND visible_at > ?2";
constexpr char kListDeadLettersSql[] =
    "SELECT d.event_id, d.attempts, d.reason, d.dead_at, a.event FROM dead_letters d "
    "JOIN archive a ON a.seq = d.archive_seq WHERE d.agent = ?1 ORDER BY d.seq LIMIT ?2";
// Operator replays. Replayed entries start over: attempt 0, visible now, matched rules "replay".
// ?1 agent, ?2 now, ?3 the id before the first of the ids reserved for them, ?4 the event id
// ('': every dead letter of the agent; an event id is never empty). They are counted first
// (?1 agent, ?2 event id), so that their ids can be reserved in one range.
constexpr char kReplayDeadSql[] =
    "INSERT INTO queue(id, agent, archive_seq, attempt, visible_at, matched_rules, last_error, "
    "enqueued_at) SELECT ?3 + row_number() OVER (ORDER BY seq), agent, archive_seq, 0, ?2, "
    "'replay', '', ?2 FROM dead_letters WHERE agent = ?1 AND (?4 = '' OR event_id = ?4) "
    "ORDER BY seq";
constexpr char kCountDeadSql[] =
    "SELECT count(*) FROM dead_letters WHERE agent = ?1 AND (?2 = '' OR event_id = ?2)";
constexpr char kPurgeAllDeadSql[] = "DELETE FROM dead_letters WHERE agent = ?1";
constexpr char kPurgeDeadSql[] = "DELETE FROM dead_letters WHERE agent = ?1 AND event_id = ?2";
constexpr char kScanArchiveSql[] =
    "SELECT seq, committed_at, event, agents FROM archive WHERE seq > ?1 ORDER BY seq LIMIT ?2";
// Replay from the archive (Store::EnqueueArchived) enqueues an archived event for an agent unless
// the agent already has that event id queued. The event ids an agent holds are read once per
// request: those not leased on queue_ready (?1 agent), the leased ones by the LeaseBook's
// entries (?1 entry). One pass per request, not one per event: a per-event NOT EXISTS walked the
// agent's whole queue for every event of a page, holding the writer for seconds on a backlog.
constexpr char kReadyEventIdsSql[] =
    "SELECT a.event_id FROM queue q JOIN archive a ON a.seq = q.archive_seq "
    "WHERE q.agent = ?1 AND q.lease_expires_at IS NULL";
constexpr char kEntryEventIdSql[] =
    "SELECT a.event_id FROM queue q JOIN archive a ON a.seq = q.archive_seq WHERE q.id = ?1";
constexpr char kArchivedEventIdSql[] = "SELECT event_id FROM archive WHERE seq = ?1";
// ?1 agent, ?2 archive seq, ?3 now, ?4 the new entry's id.
constexpr char kEnqueueArchivedSql[] =
    "INSERT INTO queue(id, agent, archive_seq, attempt, visible_at, matched_rules, last_error, "
    "enqueued_at) SELECT ?4, ?1, a.seq, 0, ?3, 'replay', '', ?3 FROM archive a WHERE a.seq = ?2";
constexpr char kGetRulesSql[] = "SELECT yaml, version FROM rules WHERE id = 1";
// Each changes one row only if the expected version still holds (none stored / ?3 stored).
constexpr char kInsertRulesSql[] =
    "INSERT INTO rules(id, yaml, version) VALUES(1, ?1, 1) ON CONFLICT(id) DO NOTHING";
constexpr char kUpdateRulesSql[] =
    "UPDATE rules SET yaml = ?1, version = ?2 WHERE id = 1 AND version = ?3";

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

std::vector<std::string> SplitList(absl::string_view joined) {
  return absl::StrSplit(joined, '\n', absl::SkipEmpty());
}

}  // namespace

struct Transaction {
  sqlite3* db;
  StatementCache& statements;
  EventIdIndex& event_ids;
  AgentRowCounts& row_counts;
  RowIds& row_ids;
  LeaseBook& leases;
  absl::Time now;  // one reading of the clock per group
  std::vector<std::string> enqueued_agents;

  Statement Prepare(const char* sql) { return statements.Get(sql); }
  absl::Status Run(const char* sql) { return Prepare(sql).Run(); }
  // For statements that must change exactly the one row named by a delivery id.
  absl::Status ChangedOne(absl::string_view delivery_id) const {
    if (sqlite3_changes(db) == 1) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("no current lease for delivery id \"",
                                            delivery_id.substr(0, 64), "\""));
  }
};

class Request {
 public:
  virtual ~Request() = default;
  // Runs inside the group transaction, within this request's savepoint if it has one; not OK
  // rolls that back (see Savepoint for a request without one).
  virtual absl::Status Execute(Transaction& txn) = 0;
  // Runs the callback once the group is over: with the result of Execute if `group` is OK (the
  // transaction committed), else with `group`.
  virtual void Finish(absl::Status group) = 0;
  // False if Execute may run without a savepoint of its own (RunGroup). Such a request fails
  // alone only if no row changed by the time it failed: a statement that fails undoes itself in
  // SQLite, and one that matched no row changed nothing. A failure after one of its statements
  // changed a row fails the whole group, which then does not commit; the requests of the next
  // minute all run in savepoints (EmbeddedStore::savepoints_for_all_until_).
  virtual bool Savepoint() const { return true; }
  // False for delivery bookkeeping (claim, ack, nack, extend, release), whose loss on a machine
  // crash only redelivers, and for reads: a group of such requests alone commits without an
  // fsync (RunGroup).
  virtual bool MustSync() const { return true; }
};

namespace {

absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

// How a request takes part in its group (Request::Savepoint and Request::MustSync).
struct OpTraits {
  bool savepoint = true;
  bool must_sync = true;
};
// Delivery bookkeeping: claims, acks, nacks, lease extensions and releases (Release uses this
// one; the others kBookkeepingNoSavepoint below). Committed with synchronous=NORMAL when the
// group holds nothing else: a crash of the router process loses none of it (SQLite has written
// it to the WAL file before COMMIT returns), a crash of the machine can lose the last few
// milliseconds of it, which redelivers an event (at-least-once) and never loses one.
constexpr OpTraits kBookkeeping{.savepoint = true, .must_sync = false};
// Ack, Nack and Extend: one UPDATE or DELETE each, run once per delivery; the SAVEPOINT and
// RELEASE around them were two thirds of their statements. Claims: so that ROLLBACK TO can
// restore them, a savepoint copies each page its statements change into SQLite's sub-journal
// (in memory here, kTempStoreSql), and when many agents share the events, one agent's queue
// rows lie on about as many pages as it has rows. A claim's statements fail only when the file
// or memory does (it checks its arguments before the first), which would most likely fail the
// group's COMMIT too; so a claim that fails after it changed a row fails its group.
constexpr OpTraits kBookkeepingNoSavepoint{.savepoint = false, .must_sync = false};
// How long every request runs in a savepoint after a request without one failed after a change
// (EmbeddedStore::savepoints_for_all_until_). The dispatcher claims for an agent at least once
// a second; a claim that fails every time then fails one group, and after it only its own
// requests, each failure inside the window extending it.
constexpr absl::Duration kIsolationAfterFailure = absl::Minutes(1);
// Reads (one SELECT or more, nothing written): no savepoint, and nothing of theirs to fsync. The
// dispatcher's NextVisibleAt, asked from the writer thread whenever a claim empties a queue,
// would otherwise make its group fsync.
constexpr OpTraits kRead{.savepoint = false, .must_sync = false};

// Result is absl::Status or absl::StatusOr<T>.
template <typename Result>
class Op final : public Request {
 public:
  Op(absl::AnyInvocable<Result(Transaction&)> execute, absl::AnyInvocable<void(Result) &&> done,
     OpTraits traits)
      : execute_(std::move(execute)), done_(std::move(done)), traits_(traits) {}

  bool Savepoint() const override { return traits_.savepoint; }
  bool MustSync() const override { return traits_.must_sync; }

  absl::Status Execute(Transaction& txn) override {
    result_.emplace(execute_(txn));
    return StatusOf(*result_);
  }
  void Finish(absl::Status group) override {
    if (group.ok() && result_.has_value()) {
      std::move(done_)(*std::move(result_));
    } else {
      std::move(done_)(Result(std::move(group)));
    }
  }

 private:
  absl::AnyInvocable<Result(Transaction&)> execute_;
  absl::AnyInvocable<void(Result) &&> done_;
  const OpTraits traits_;
  std::optional<Result> result_;
};

template <typename Result, typename Execute, typename Done>
std::unique_ptr<Request> MakeOp(Execute execute, Done done, OpTraits traits = {}) {
  return std::make_unique<Op<Result>>(std::move(execute), std::move(done), traits);
}

struct DeliveryRef {
  int64_t entry = 0;
  int64_t attempt = 0;
};

// Delivery ids come from agents: anything that is not "<entry>.<attempt>" is simply unknown.
absl::StatusOr<DeliveryRef> ParseDeliveryId(absl::string_view id) {
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits('.', 1));
  DeliveryRef ref;
  if (!absl::SimpleAtoi(parts.first, &ref.entry) || !absl::SimpleAtoi(parts.second, &ref.attempt)) {
    return absl::NotFoundError(absl::StrCat("unknown delivery id \"", id.substr(0, 64), "\""));
  }
  return ref;
}

absl::StatusOr<int64_t> QueryInt(StatementCache& statements, const char* sql) {
  Statement statement = statements.Get(sql);
  ASSIGN_OR_RETURN(const bool row, statement.Step());
  if (!row) return absl::InternalError(absl::StrCat("no result for ", sql));
  return statement.Int(0);
}

absl::StatusOr<std::string> QueryText(StatementCache& statements, const char* sql) {
  Statement statement = statements.Get(sql);
  ASSIGN_OR_RETURN(const bool row, statement.Step());
  if (!row) return absl::InternalError(absl::StrCat("no result for ", sql));
  return statement.Text(0);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error); rc != SQLITE_OK) {
    absl::Status status =
        absl::UnavailableError(error != nullptr ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

// Brings the file to kSchemaVersion in one IMMEDIATE transaction (another process opening the
// same file waits, then sees the migrated version). A file from a newer binary is refused.
absl::Status Migrate(sqlite3* db, StatementCache& statements) {
  RETURN_IF_ERROR(Exec(db, kBeginSql));
  static constexpr char kUserVersionSql[] = "PRAGMA user_version";
  absl::StatusOr<int64_t> version = QueryInt(statements, kUserVersionSql);
  absl::Status status = version.status();
  if (status.ok() && *version > kSchemaVersion) {
    status = absl::FailedPreconditionError(absl::StrCat(
        "the file has schema version ", *version, ", newer than this binary supports (",
        kSchemaVersion, "): it was written by a newer switchboard; run that version, or restore "
        "a backup made by this one"));
  }
  for (int64_t step = status.ok() ? *version : kSchemaVersion; step < kSchemaVersion; ++step) {
    for (const char* sql : kMigrations[step]) {
      if (sql == nullptr) continue;
      status = Exec(db, sql);
      if (!status.ok()) {
        status = absl::UnavailableError(absl::StrCat("schema migration ", step, " -> ", step + 1,
                                                     " failed: ", status.message()));
        break;
      }
    }
    if (!status.ok()) break;
  }
  if (status.ok() && *version < kSchemaVersion) {
    status = Exec(db, absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str());
    if (status.ok()) {
      spdlog::info("{{\"event\":\"store\",\"migrated_schema\":\"{} -> {}\"}}", *version,
                   kSchemaVersion);
    }
  }
  if (status.ok()) return Exec(db, kCommitSql);
  if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, kRollbackSql, nullptr, nullptr, nullptr);
  return status;
}

// Connection settings, schema, and the release of a previous process's leases.
absl::Status Initialize(sqlite3* db, StatementCache& statements, const char* synchronous_sql,
                        absl::Time now) {
  if (const int rc = sqlite3_busy_timeout(db, kBusyTimeoutMs); rc != SQLITE_OK) {
    return SqliteError(db, rc);
  }
  static constexpr char kWalSql[] = "PRAGMA journal_mode=WAL";
  ASSIGN_OR_RETURN(const std::string journal_mode, QueryText(statements, kWalSql));
  if (journal_mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("WAL journal mode is not available (got \"", journal_mode, "\")"));
  }
  RETURN_IF_ERROR(statements.Get(synchronous_sql).Run());
  RETURN_IF_ERROR(statements.Get(kCacheSizeSql).Run());
  RETURN_IF_ERROR(statements.Get(kTempStoreSql).Run());
  RETURN_IF_ERROR(Migrate(db, statements));
  return statements.Get(kReleaseAllLeasesSql).Bind(Micros(now)).Run();
}

}  // namespace
}  // namespace embedded_internal

using embedded_internal::AgentRowCounts;
using embedded_internal::Blob;
using embedded_internal::DeliveryRef;
using embedded_internal::FromMicros;
using embedded_internal::MakeOp;
using embedded_internal::Micros;
using embedded_internal::ParseDeliveryId;
using embedded_internal::SplitList;
using embedded_internal::Statement;
using embedded_internal::StatementCache;
namespace sql = embedded_internal;
using embedded_internal::EventIdIndex;
using embedded_internal::RowIds;

namespace {

// Closes the writer's connection, then `database_fd` (-1: none), the checkpointer's write-back
// descriptor. In that order, and the descriptor only once the connection is closed: closing any
// descriptor of a file drops all of the process's POSIX locks on it, SQLite's included
// (https://sqlite.org/howtocorrupt.html, 2.2). Left open if the connection could not close, and
// then false.
bool CloseDatabase(sqlite3* db, int database_fd) {
  const int closed = sqlite3_close(db);
  if (closed != SQLITE_OK) {
    spdlog::error("{{\"event\":\"store\",\"close_failed\":\"{}\"}}", sqlite3_errstr(closed));
    return false;
  }
  if (database_fd >= 0) close(database_fd);
  return true;
}

// The pid of the process holding an flock(2) on the file open as `fd`, from /proc/locks (proc(5):
// "N: FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE START END"), or 0 if none is listed there. The
// device there is the superblock's, which on btrfs differs from st_dev: an inode match on
// another device is taken when no exact match is listed.
int64_t FlockHolder(int fd) {
  struct stat file;
  if (fstat(fd, &file) != 0) return 0;
  const std::string device = absl::StrFormat("%02x:%02x:", major(file.st_dev), minor(file.st_dev));
  const std::string inode = absl::StrCat(":", static_cast<uint64_t>(file.st_ino));
  std::ifstream locks("/proc/locks");
  std::string line;
  int64_t same_inode = 0;
  while (std::getline(locks, line)) {
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    // "1:" "FLOCK" "ADVISORY" "WRITE" pid id start end; blocked waiters have "->" before FLOCK.
    int64_t pid = 0;
    if (fields.size() < 6 || fields[1] != "FLOCK" || !absl::EndsWith(fields[5], inode) ||
        !absl::SimpleAtoi(fields[4], &pid) || pid <= 0) {
      continue;
    }
    if (fields[5] == absl::StrCat(device, static_cast<uint64_t>(file.st_ino))) return pid;
    if (same_inode == 0) same_inode = pid;
  }
  return same_inode;
}

// Network filesystems, where the kernel turns flock(2) into fcntl(2) locks of its own owner
// that would collide with SQLite's (statfs(2) magic numbers).
const char* NetworkFilesystem(int fd) {
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return nullptr;
  switch (static_cast<uint32_t>(fs.f_type)) {
    case 0x6969: return "nfs";
    case 0x517b: return "smb";
    case 0xff534d42: return "cifs";
    case 0xfe534d42: return "smb2";
    default: return nullptr;
  }
}

// The database files (device, inode) this process holds a store lock on.
struct LockedFiles {
  absl::Mutex mu;
  std::set<std::pair<dev_t, ino_t>> files ABSL_GUARDED_BY(mu);
};
LockedFiles& Locked() {
  static LockedFiles* const locked = new LockedFiles;
  return *locked;
}

// Opens (creating) the database file and takes an exclusive flock(2) on it, held on the returned
// descriptor until UnlockStoreFile or the process dies. Two processes serving one store file
// would both claim and deliver its events: the second is refused with kFailedPrecondition naming
// the holder's pid. The lock is on the file itself, so a symlink, a hard link or any other path
// to it meets the same lock. On a local Linux filesystem flock and SQLite's fcntl(2) byte-range
// locks are independent, and closing another descriptor of the file (as SQLite does) leaves an
// flock alone. On a network filesystem the flock is skipped with a warning (see
// NetworkFilesystem). A second store on a file this process already serves is refused before
// any descriptor of it is closed: closing one would drop the first store's SQLite locks, which
// are per process (https://sqlite.org/howtocorrupt.html, 2.2); the registry's mutex is held
// throughout, so two Creates in one process cannot race past the check.
absl::StatusOr<int> LockStoreFile(const std::string& path) {
  LockedFiles& locked = Locked();
  absl::MutexLock registry(&locked.mu);
  auto in_use_here = [&path] {
    return absl::FailedPreconditionError(
        absl::StrCat("the store ", path, " is in use by this process (pid ", getpid(),
                     "): one router per embedded store file"));
  };
  if (struct stat existing; stat(path.c_str(), &existing) == 0 &&
                            locked.files.contains({existing.st_dev, existing.st_ino})) {
    return in_use_here();
  }
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the store ", path, ": ", std::strerror(errno)));
  }
  struct stat file;
  if (fstat(fd, &file) != 0) {
    const int error = errno;
    close(fd);  // not a file this process serves: the check above found none, under the mutex
    return absl::FailedPreconditionError(
        absl::StrCat("cannot stat the store ", path, ": ", std::strerror(error)));
  }
  if (locked.files.contains({file.st_dev, file.st_ino})) {
    // The path changed between stat and open (a symlink retargeted) to a file served here. The
    // descriptor stays open: closing it would drop that store's SQLite locks. One leaked
    // descriptor, on a path that cannot happen by accident.
    return in_use_here();
  }
  if (const char* network = NetworkFilesystem(fd); network != nullptr) {
    spdlog::warn("{{\"event\":\"store\",\"path\":\"{}\",\"single_process_lock\":\"off\","
                 "\"reason\":\"{} filesystem: flock there would collide with SQLite's own locks; "
                 "run one router per store file\"}}",
                 path, network);
    locked.files.insert({file.st_dev, file.st_ino});
    return fd;
  }
  int flocked;
  do {
    flocked = flock(fd, LOCK_EX | LOCK_NB);
  } while (flocked != 0 && errno == EINTR);
  if (flocked == 0) {
    locked.files.insert({file.st_dev, file.st_ino});
    return fd;
  }
  const int error = errno;
  const int64_t holder = error == EWOULDBLOCK ? FlockHolder(fd) : 0;
  close(fd);
  if (error == EWOULDBLOCK) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store ", path, " is in use by another process",
        holder > 0 ? absl::StrCat(" (pid ", holder, ")") : "",
        ": one router per embedded store file"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot lock the store ", path, ": ", std::strerror(error)));
}

// Releases what LockStoreFile took. Only once SQLite's connections to the file are closed.
void UnlockStoreFile(int fd) {
  if (struct stat file; fstat(fd, &file) == 0) {
    LockedFiles& locked = Locked();
    absl::MutexLock lock(&locked.mu);
    locked.files.erase({file.st_dev, file.st_ino});
  }
  close(fd);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedStore>> EmbeddedStore::Create(Options options,
                                                                     const Clock& clock) {
  if (options.path.empty()) return absl::InvalidArgumentError("store path is empty");
  const char* synchronous_sql = nullptr;
  if (options.sync == "full") {
    synchronous_sql = sql::kSynchronousFullSql;
  } else if (options.sync == "normal") {
    synchronous_sql = sql::kSynchronousNormalSql;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("store sync must be \"full\" or \"normal\", got \"", options.sync, "\""));
  }
  if (options.dedupe_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dedupe window must be positive");
  }

  // Before the first SQLite call of the process, if this is it (page_cache_guard.h). Memory
  // statistics off: the router reads none (sqlite3_memory_used, a soft heap limit), and each
  // SQLite malloc and free would otherwise take a process-wide mutex to count itself
  // (https://sqlite.org/c3ref/c_config_covering_index_scan.html#sqliteconfigmemstatus).
  static const bool guarded = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    const bool installed = InstallPageCacheGuard();
    if (!installed) {
      spdlog::info("{{\"event\":\"store\",\"page_cache_guard\":\"not installed: SQLite was "
                   "initialized before the store\"}}");
    }
    return installed;
  }();
  (void)guarded;

  const std::filesystem::path folder = std::filesystem::path(options.path).parent_path();
  if (!folder.empty()) {
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create the store folder ", folder.string(), ": ", error.message()));
    }
  }

  if (std::error_code error; std::filesystem::is_directory(options.path, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the store ", options.path, ": it is a directory"));
  }
  ASSIGN_OR_RETURN(const int lock_fd, LockStoreFile(options.path));

  sqlite3* db = nullptr;
  // NOMUTEX: the writer thread is the only user of the connection.
  const int rc = sqlite3_open_v2(options.path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  absl::Status status = rc == SQLITE_OK ? absl::OkStatus() : sql::SqliteError(db, rc);
  auto statements = std::make_unique<StatementCache>(db);
  if (status.ok()) status = sql::Initialize(db, *statements, synchronous_sql, clock.Now());
  std::unique_ptr<EventIdIndex> event_ids;
  if (status.ok()) status = sql::Exec(db, sql::kBeginSql);
  if (status.ok()) {
    absl::StatusOr<std::unique_ptr<EventIdIndex>> opened =
        EventIdIndex::Open(db, *statements, EventIdIndex::Options{},
                           Micros(clock.Now() - options.dedupe_window));
    status = opened.status();
    if (opened.ok()) event_ids = *std::move(opened);
    status = status.ok() ? sql::Exec(db, sql::kCommitSql) : status;
    if (!status.ok() && !sqlite3_get_autocommit(db)) {
      (void)sql::Exec(db, sql::kRollbackSql);
    }
  }
  if (status.ok()) {
    // SQLite reuses the WAL file from its start rather than shrinking it, so the file keeps the
    // largest size it ever reached: a long backup or a run of huge groups could leave it at a
    // gigabyte. With a limit, the restart that follows such growth truncates it back
    // (https://sqlite.org/pragma.html#pragma_journal_size_limit). The limit is the size at which
    // the writer waits for the checkpointer, which normal running stays under, so the file is
    // not truncated and grown again on every restart.
    status = sql::Exec(db, absl::StrCat("PRAGMA journal_size_limit=",
                                        int64_t{WalCheckpointer::kWaitFactor} *
                                            options.checkpoint_pages * sql::kPageBytes)
                               .c_str());
  }
  // For the checkpointer's write-back only (wal_checkpointer.h); without it the writer's copies
  // sync everything, as SQLite alone would.
  int database_fd = -1;
  if (status.ok()) {
    database_fd = open(options.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (database_fd < 0) {
      spdlog::warn("{{\"event\":\"store\",\"checkpoint_write_back\":\"off\","
                   "\"reason\":\"{}\"}}",
                   std::strerror(errno));
    }
  }
  std::unique_ptr<WalCheckpointer> checkpointer;
  if (status.ok()) {
    absl::StatusOr<std::unique_ptr<WalCheckpointer>> started =
        WalCheckpointer::Start(options.path, db, database_fd, options.checkpoint_pages,
                               options.checkpoint_in_idle_class);
    status = started.status();
    if (started.ok()) checkpointer = *std::move(started);
  }
  if (!status.ok()) {
    event_ids.reset();
    statements.reset();
    if (CloseDatabase(db, database_fd)) UnlockStoreFile(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the store ", options.path, ": ", status.message()));
  }
  return absl::WrapUnique(new EmbeddedStore(std::move(options), clock, db, database_fd, lock_fd,
                                            std::move(statements), std::move(event_ids),
                                            std::move(checkpointer)));
}

EmbeddedStore::EmbeddedStore(Options options, const Clock& clock, sqlite3* db, int database_fd,
                             int lock_fd, std::unique_ptr<StatementCache> statements,
                             std::unique_ptr<EventIdIndex> event_ids,
                             std::unique_ptr<WalCheckpointer> checkpointer)
    : options_(std::move(options)),
      clock_(clock),
      db_(db),
      database_fd_(database_fd),
      lock_fd_(lock_fd),
      statements_(std::move(statements)),
      event_ids_(std::move(event_ids)),
      leases_(std::make_unique<embedded_internal::LeaseBook>()),
      row_counts_(std::make_unique<AgentRowCounts>(
          db_, [leases = leases_.get()](int64_t entry) { return leases->AgentOf(entry); })),
      row_ids_(std::make_unique<RowIds>(*statements_)),
      checkpointer_(std::move(checkpointer)),
      syncs_commits_(options_.sync == "full") {
  group_syncs_ = syncs_commits_;  // as Initialize set it
  writer_ = std::thread([this] { WriterLoop(); });
}

EmbeddedStore::~EmbeddedStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
  checkpointer_.reset();  // after the writer's last commit: its connection keeps the wal hook
  // No backup starts once stopping_ is set; one that runs still needs this object.
  if (backup_thread_.joinable()) backup_thread_.join();
  row_counts_.reset();  // unhooks db_
  event_ids_.reset();   // uses statements_
  row_ids_.reset();     // uses statements_
  statements_.reset();  // finalized before the connection closes
  // Last, and only once the connection is closed: another process may then open the file.
  if (CloseDatabase(db_, database_fd_)) UnlockStoreFile(lock_fd_);
}

int64_t EmbeddedStore::CheckpointsForTest() const {
  return checkpointer_->background_checkpoints() + checkpointer_->writer_checkpoints();
}

int64_t EmbeddedStore::BackgroundCheckpointFramesForTest() const {
  return checkpointer_->background_frames();
}

int64_t EmbeddedStore::CheckpointTakeoversForTest() const { return checkpointer_->takeovers(); }

bool EmbeddedStore::CheckpointerInIdleClassForTest() const {
  return checkpointer_->idle_priority();
}

namespace {
// The store whose writer thread this is (WriterLoop), else null.
thread_local const EmbeddedStore* writer_of_this_thread = nullptr;
}  // namespace

void EmbeddedStore::Submit(std::unique_ptr<Request> request) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      (writer_of_this_thread == this && !request->MustSync() ? followups_ : pending_)
          .push_back(std::move(request));
      return;
    }
  }
  request->Finish(absl::UnavailableError("store is shutting down"));
}

void EmbeddedStore::WriterLoop() {
  writer_of_this_thread = this;
  bool last_group_was_followups = false;
  for (;;) {
    std::vector<std::unique_ptr<Request>> group;
    std::function<void(const std::string&)> listener;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](EmbeddedStore* store) ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->mu_) {
            return store->stopping_ || !store->pending_.empty() || !store->followups_.empty();
          },
          this));
      // Stopping, and everything queued is answered.
      if (pending_.empty() && followups_.empty()) return;
      // The queue's group will fsync (sync: full); under sync: normal none does, and the
      // follow-ups always share the next group.
      const bool pending_syncs =
          syncs_commits_ && std::any_of(pending_.begin(), pending_.end(),
                                        [](const std::unique_ptr<Request>& r) {
                                          return r->MustSync();
                                        });
      if (pending_syncs && !followups_.empty() && !last_group_was_followups) {
        // The follow-ups alone, without an fsync; the queued webhooks next time.
        group.swap(followups_);
        last_group_was_followups = true;
      } else {
        // The queue, and after it the follow-ups unless they just had their turn and the queue
        // holds something to fsync. Follow-ups last, as when they shared the queue: a group's
        // callbacks run in its order. Each ack's callback wakes the dispatcher thread; while the
        // claim's callback has not run, that agent's claim is still in flight, so the dispatcher
        // claims once, for every slot the group's acks freed. With the claim answered first it
        // claimed after each ack, one slot at a time.
        group.swap(pending_);
        if (!last_group_was_followups || !pending_syncs) {
          group.reserve(group.size() + followups_.size());
          for (std::unique_ptr<Request>& request : followups_) group.push_back(std::move(request));
          followups_.clear();
        }
        last_group_was_followups = false;
      }
      listener = listener_;
    }
    RunGroup(std::move(group), listener);
    checkpointer_->AfterGroup();
  }
}

void EmbeddedStore::RunGroup(std::vector<std::unique_ptr<Request>> group,
                             const std::function<void(const std::string&)>& listener) {
  Transaction txn{
      db_, *statements_, *event_ids_, *row_counts_, *row_ids_, *leases_, clock_.Now(), {}};
  bool request_failed_in_db = false;
  const bool savepoints_for_all = txn.now < savepoints_for_all_until_;
  // Only an error that breaks the whole transaction, or a failure after a change in a request
  // without a savepoint, ends the loop.
  auto run_request = [&](Request& request) -> absl::Status {
    if (!request.Savepoint() && !savepoints_for_all) {
      const int64_t changes_before = sqlite3_total_changes64(db_);
      const absl::Status status = request.Execute(txn);
      if (status.ok()) return status;
      request_failed_in_db |= absl::IsUnavailable(status);
      // The rows a failed statement undid were counted; kNotFound is an Ack, Nack or Extend
      // whose statement matched no row (a late or unknown delivery id), which changed none.
      if (!absl::IsNotFound(status)) row_counts_->MarkStale();
      // A failed statement undid itself, and its rollback counts no change
      // (https://sqlite.org/c3ref/total_changes.html); rows that a trigger of it wrote before
      // the failure stay counted, which fails the group needlessly (the schema has no
      // trigger). A failure after a change, with nothing to roll it back to, ends the group, as
      // does an error that ended the transaction.
      const bool changed = sqlite3_total_changes64(db_) != changes_before;
      if (changed) savepoints_for_all_until_ = txn.now + sql::kIsolationAfterFailure;
      return changed || sqlite3_get_autocommit(db_) ? status : absl::OkStatus();
    }
    RETURN_IF_ERROR(txn.Run(sql::kSavepointSql));
    const size_t enqueued_before = txn.enqueued_agents.size();
    const size_t ids_before = txn.event_ids.added();
    const size_t leases_before = txn.leases.Mark();
    const absl::Status status = request.Execute(txn);
    if (status.ok()) return txn.Run(sql::kReleaseSql);
    request_failed_in_db |= absl::IsUnavailable(status);
    // A request that runs without a savepoint outside the window, failing again: the window
    // goes on.
    if (!request.Savepoint() && absl::IsUnavailable(status)) {
      savepoints_for_all_until_ = txn.now + sql::kIsolationAfterFailure;
    }
    row_counts_->MarkStale();  // the rows the rollback undoes were counted
    txn.enqueued_agents.resize(enqueued_before);
    txn.event_ids.ForgetSince(ids_before);
    txn.leases.UndoTo(leases_before);
    // Some errors (disk full, I/O) make SQLite roll back the whole transaction.
    if (sqlite3_get_autocommit(db_)) return status;
    RETURN_IF_ERROR(txn.Run(sql::kRollbackToSql));
    return txn.Run(sql::kReleaseSql);
  };

  // Under sync: full, a group of delivery bookkeeping alone (Request::MustSync) commits with
  // synchronous=NORMAL, which in WAL mode writes the WAL without an fsync; the next synced commit
  // or checkpoint fsyncs the file, and with it these frames. A checkpoint always syncs the WAL
  // first and the database after, in both modes, so the file stays consistent
  // (https://sqlite.org/pragma.html#pragma_synchronous).
  const bool sync = syncs_commits_ &&
                    std::any_of(group.begin(), group.end(),
                                [](const std::unique_ptr<Request>& r) { return r->MustSync(); });
  absl::Status status = absl::OkStatus();
  if (sync != group_syncs_) {
    status = txn.Run(sync ? sql::kSynchronousFullSql : sql::kSynchronousNormalSql);
    if (status.ok()) group_syncs_ = sync;
  }
  if (status.ok()) status = txn.Run(sql::kBeginSql);
  if (status.ok()) status = event_ids_->BeginGroup();
  if (status.ok()) status = ExpireLeases(txn);
  for (size_t i = 0; status.ok() && i < group.size(); ++i) status = run_request(*group[i]);
  if (status.ok()) {
    status = event_ids_->BeforeCommit(Micros(txn.now - options_.dedupe_window));
  }
  if (status.ok()) status = row_ids_->BeforeCommit();
  if (status.ok()) status = txn.Run(sql::kCommitSql);
  event_ids_->AfterGroup(status.ok());
  row_ids_->AfterGroup(status.ok());
  if (status.ok()) {
    leases_->Keep();
  } else {
    leases_->UndoTo(0);
  }
  if (!status.ok()) {
    row_counts_->MarkStale();
    if (!sqlite3_get_autocommit(db_)) (void)txn.Run(sql::kRollbackSql);
    healthy_ = false;
    spdlog::error("embedded store: a group of {} requests did not commit: {}", group.size(),
                  status.ToString());
    const absl::Status failed =
        absl::UnavailableError(absl::StrCat("store commit failed: ", status.message()));
    for (auto& request : group) request->Finish(failed);
    return;
  }
  healthy_ = !request_failed_in_db;
  for (auto& request : group) request->Finish(absl::OkStatus());
  if (listener) {
    absl::flat_hash_set<std::string> notified;
    for (const std::string& agent : txn.enqueued_agents) {
      if (notified.insert(agent).second) listener(agent);
    }
  }
}

absl::Status EmbeddedStore::ExpireLeases(Transaction& txn) {
  const int64_t now = Micros(txn.now);
  int64_t unmatched = 0;
  for (const int64_t entry : txn.leases.Expired(now)) {
    RETURN_IF_ERROR(txn.Prepare(sql::kExpireLeaseSql).Bind(entry, now).Run());
    if (sqlite3_changes(txn.db) != 1) ++unmatched;
    txn.leases.Remove(entry);
  }
  // The book holds exactly the leased rows, so every expiry changes its row; one that changes
  // none is a bug of the book, reported rather than hidden.
  if (unmatched > 0) {
    spdlog::warn("{{\"event\":\"store\",\"lease_book_mismatch\":{}}}", unmatched);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CommitOutcome>> EmbeddedStore::CommitInTxn(
    const std::vector<EventToCommit>& events, Transaction& txn) {
  const int64_t now = Micros(txn.now);
  const int64_t dedupe_cutoff = Micros(txn.now - options_.dedupe_window);
  std::vector<CommitOutcome> outcomes;
  outcomes.reserve(events.size());
  for (const EventToCommit& item : events) {
    const std::string& id = item.event.id();
    if (id.empty()) return absl::InvalidArgumentError("an event to commit has no id");
    ASSIGN_OR_RETURN(const bool duplicate, txn.event_ids.Contains(id, dedupe_cutoff));
    if (duplicate) {
      outcomes.push_back(CommitOutcome::kDuplicate);
      continue;
    }
    std::string bytes;
    if (!item.event.SerializeToString(&bytes)) {
      return absl::InvalidArgumentError(absl::StrCat("event ", id, " cannot be serialized"));
    }
    std::vector<absl::string_view> agents;
    agents.reserve(item.targets.size());
    for (const EventToCommit::Target& target : item.targets) agents.push_back(target.agent);
    ASSIGN_OR_RETURN(const int64_t archive_seq, txn.row_ids.NextArchiveSeq());
    RETURN_IF_ERROR(txn.Prepare(sql::kArchiveSql)
                        .Bind(archive_seq, id, now, Blob{bytes}, absl::StrJoin(agents, "\n"))
                        .Run());
    txn.event_ids.Add(id, now);
    if (NamesStoredBytes(item.event)) {
      RETURN_IF_ERROR(txn.Prepare(sql::kLinkBlobRefsSql).Bind(archive_seq, id).Run());
    }
    for (const EventToCommit::Target& target : item.targets) {
      ASSIGN_OR_RETURN(const int64_t entry, txn.row_ids.ReserveQueueIds(target.agent, 1));
      RETURN_IF_ERROR(txn.Prepare(sql::kEnqueueSql)
                          .Bind(entry, target.agent, archive_seq, now,
                                absl::StrJoin(target.matched_rules, "\n"))
                          .Run());
      txn.enqueued_agents.push_back(target.agent);
    }
    outcomes.push_back(CommitOutcome::kCommitted);
  }
  return outcomes;
}

absl::StatusOr<std::vector<ClaimedDelivery>> EmbeddedStore::ClaimInTxn(const std::string& agent,
                                                                       int max,
                                                                       absl::Duration lease,
                                                                       uint32_t max_attempts,
                                                                       const ExpiryBackoff& backoff,
                                                                       Transaction& txn) {
  // A zero lease would leave claimed entries visible within this very claim.
  if (lease <= absl::ZeroDuration()) return absl::InvalidArgumentError("lease must be positive");
  if (max_attempts == 0) return absl::InvalidArgumentError("max_attempts must be at least 1");
  std::vector<ClaimedDelivery> claimed;
  const int64_t now = Micros(txn.now);
  const absl::Time lease_expires_at = txn.now + lease;
  struct Candidate {
    int64_t entry;
    int64_t attempt;
    std::string matched_rules;
    std::string last_error;
    int64_t archive_seq;
    std::string event_id;
    std::string event_bytes;
  };
  // Entries past max_attempts leave the queue, so select again until `max` are leased.
  while (static_cast<int>(claimed.size()) < max) {
    const int64_t wanted = max - static_cast<int64_t>(claimed.size());
    std::vector<Candidate> candidates;
    {
      Statement select = txn.Prepare(sql::kClaimCandidatesSql);
      select.Bind(agent, now, wanted);
      for (;;) {
        ASSIGN_OR_RETURN(const bool row, select.Step());
        if (!row) break;
        candidates.push_back(Candidate{select.Int(0), select.Int(1), select.Text(2),
                                       select.Text(3), select.Int(4), select.Text(5),
                                       select.Bytes(6)});
      }
    }
    for (Candidate& candidate : candidates) {
      const std::string last_error = std::move(candidate.last_error);
      const int64_t attempt = candidate.attempt + 1;
      // Checked, not parsed: the bytes go to the agent as they are (ClaimedDelivery).
      const absl::StatusOr<ArchivedEventFacts> facts = InspectArchivedEvent(candidate.event_bytes);
      const bool readable = facts.ok();
      if (attempt > max_attempts || !readable) {
        const std::string reason =
            !readable ? absl::StrCat("archived event is unreadable: ", facts.status().message())
            : last_error.empty()
                ? "max attempts reached"
                : absl::StrCat("max attempts reached; last error: ", last_error);
        RETURN_IF_ERROR(txn.Prepare(sql::kDeadLetterSql)
                            .Bind(agent, candidate.archive_seq, candidate.event_id,
                                  candidate.attempt, reason, now)
                            .Run());
        RETURN_IF_ERROR(txn.Prepare(sql::kDeleteEntrySql).Bind(candidate.entry).Run());
        continue;
      }
      const absl::Duration expiry_backoff =
          backoff ? std::max(backoff(static_cast<uint32_t>(attempt)), absl::ZeroDuration())
                  : absl::ZeroDuration();
      const int64_t backoff_micros = absl::ToInt64Microseconds(expiry_backoff);
      RETURN_IF_ERROR(txn.Prepare(sql::kLeaseSql)
                          .Bind(candidate.entry, attempt, Micros(lease_expires_at), now, last_error,
                                backoff_micros)
                          .Run());
      txn.leases.Add(candidate.entry, agent, Micros(lease_expires_at), now);
      claimed.push_back(ClaimedDelivery{absl::StrCat(candidate.entry, ".", attempt),
                                        static_cast<uint32_t>(attempt),
                                        std::move(candidate.event_bytes), facts->received_at,
                                        SplitList(candidate.matched_rules), lease_expires_at});
    }
    if (static_cast<int64_t>(candidates.size()) < wanted) break;  // nothing more is visible
  }
  return claimed;
}

void EmbeddedStore::Commit(std::vector<EventToCommit> events, CommitCallback done) {
  Submit(MakeOp<absl::StatusOr<std::vector<CommitOutcome>>>(
      [this, events = std::move(events)](Transaction& txn) { return CommitInTxn(events, txn); },
      std::move(done)));
}

void EmbeddedStore::Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
                          ExpiryBackoff expiry_backoff, ClaimCallback done) {
  Submit(MakeOp<absl::StatusOr<std::vector<ClaimedDelivery>>>(
      [this, agent = std::move(agent), max, lease, max_attempts,
       expiry_backoff = std::move(expiry_backoff)](Transaction& txn) {
        return ClaimInTxn(agent, max, lease, max_attempts, expiry_backoff, txn);
      },
      std::move(done), sql::kBookkeepingNoSavepoint));
}

void EmbeddedStore::Ack(std::string delivery_id, DoneCallback done) {
  Submit(MakeOp<absl::Status>(
      [id = std::move(delivery_id)](Transaction& txn) -> absl::Status {
        ASSIGN_OR_RETURN(const DeliveryRef ref, ParseDeliveryId(id));
        RETURN_IF_ERROR(
            txn.Prepare(sql::kAckSql).Bind(ref.entry, ref.attempt, Micros(txn.now)).Run());
        RETURN_IF_ERROR(txn.ChangedOne(id));
        txn.leases.Remove(ref.entry);
        return absl::OkStatus();
      },
      std::move(done), sql::kBookkeepingNoSavepoint));
}

void EmbeddedStore::Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
                         DoneCallback done) {
  Submit(MakeOp<absl::Status>(
      [id = std::move(delivery_id), retry_after = std::max(retry_after, absl::ZeroDuration()),
       reason = std::move(reason)](Transaction& txn) -> absl::Status {
        ASSIGN_OR_RETURN(const DeliveryRef ref, ParseDeliveryId(id));
        RETURN_IF_ERROR(txn.Prepare(sql::kNackSql)
                            .Bind(ref.entry, ref.attempt, Micros(txn.now),
                                  Micros(txn.now + retry_after), reason)
                            .Run());
        RETURN_IF_ERROR(txn.ChangedOne(id));
        txn.leases.Remove(ref.entry);
        return absl::OkStatus();
      },
      std::move(done), sql::kBookkeepingNoSavepoint));
}

void EmbeddedStore::Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) {
  Submit(MakeOp<absl::Status>(
      [id = std::move(delivery_id),
       extension = std::max(extension, absl::ZeroDuration())](Transaction& txn) -> absl::Status {
        ASSIGN_OR_RETURN(const DeliveryRef ref, ParseDeliveryId(id));
        RETURN_IF_ERROR(
            txn.Prepare(sql::kExtendSql)
                .Bind(ref.entry, ref.attempt, Micros(txn.now), Micros(txn.now + extension))
                .Run());
        RETURN_IF_ERROR(txn.ChangedOne(id));
        txn.leases.Extend(ref.entry, Micros(txn.now + extension));
        return absl::OkStatus();
      },
      std::move(done), sql::kBookkeepingNoSavepoint));
}

void EmbeddedStore::Release(std::vector<std::string> delivery_ids, DoneCallback done) {
  Submit(MakeOp<absl::Status>(
      [ids = std::move(delivery_ids)](Transaction& txn) -> absl::Status {
        for (const std::string& id : ids) {
          const absl::StatusOr<DeliveryRef> ref = ParseDeliveryId(id);
          if (!ref.ok()) continue;
          RETURN_IF_ERROR(txn.Prepare(sql::kReleaseEntrySql)
                              .Bind(ref->entry, ref->attempt, Micros(txn.now))
                              .Run());
          if (sqlite3_changes(txn.db) == 1) txn.leases.Remove(ref->entry);
        }
        return absl::OkStatus();
      },
      std::move(done), sql::kBookkeeping));
}

void EmbeddedStore::RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                                  TokenCallback done) {
  Submit(MakeOp<absl::StatusOr<TokenOutcome>>(
      [key = std::move(key), body_hash = std::move(body_hash),
       ttl = std::max(ttl, absl::ZeroDuration())](Transaction& txn) -> absl::StatusOr<TokenOutcome> {
        {
          Statement lookup = txn.Prepare(sql::kTokenLookupSql);
          lookup.Bind(key, Micros(txn.now));
          ASSIGN_OR_RETURN(const bool row, lookup.Step());
          if (row) {
            return lookup.Text(0) == body_hash ? TokenOutcome::kSameBody
                                               : TokenOutcome::kOtherBody;
          }
        }
        RETURN_IF_ERROR(txn.Prepare(sql::kTokenPruneSql)
                            .Bind(Micros(txn.now), sql::kTokenPruneBatch)
                            .Run());
        RETURN_IF_ERROR(txn.Prepare(sql::kTokenStoreSql)
                            .Bind(key, body_hash, Micros(txn.now + ttl))
                            .Run());
        return TokenOutcome::kNew;
      },
      std::move(done)));
}

void EmbeddedStore::NextVisibleAt(std::string agent,
                                  absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) {
  Submit(MakeOp<absl::StatusOr<absl::Time>>(
      [agent = std::move(agent)](Transaction& txn) -> absl::StatusOr<absl::Time> {
        Statement query = txn.Prepare(sql::kNextVisibleSql);
        query.Bind(agent);
        ASSIGN_OR_RETURN(const bool row, query.Step());
        // A leased entry answers its lease end, at or before its visible_at (Store::NextVisibleAt).
        std::optional<int64_t> next = txn.leases.NextLeaseEnd(agent);
        if (row && !query.IsNull(0)) next = std::min(next.value_or(query.Int(0)), query.Int(0));
        return next.has_value() ? FromMicros(*next) : absl::InfiniteFuture();
      },
      std::move(done), sql::kRead));
}

void EmbeddedStore::Stats(std::string agent,
                          absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) {
  Submit(MakeOp<absl::StatusOr<QueueStats>>(
      [agent = std::move(agent)](Transaction& txn) -> absl::StatusOr<QueueStats> {
        QueueStats stats;
        AgentRowCounts::Counts counts;
        RETURN_IF_ERROR(txn.row_counts.Get(txn.statements, agent, &counts));
        Statement query = txn.Prepare(sql::kQueueStatsSql);
        query.Bind(agent, Micros(txn.now));
        ASSIGN_OR_RETURN(const bool row, query.Step());
        // The group began by ending every lease due by txn.now (ExpireLeases): the book's
        // leases are current.
        const sql::LeaseBook::AgentLeases leases = txn.leases.ForAgent(agent);
        stats.leased = leases.leased;
        stats.delayed = row ? query.Int(0) : 0;
        stats.ready = counts.queued - stats.delayed - stats.leased;
        if (leases.oldest_claimed_at.has_value()) {
          stats.oldest_leased = FromMicros(*leases.oldest_claimed_at);
        }
        stats.dead_letters = counts.dead_letters;
        return stats;
      },
      std::move(done), sql::kRead));
}

void EmbeddedStore::ListDeadLetters(
    std::string agent, int limit,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::vector<DeadLetter>>>(
      [agent = std::move(agent), limit](Transaction& txn) -> absl::StatusOr<std::vector<DeadLetter>> {
        std::vector<DeadLetter> letters;
        Statement query = txn.Prepare(sql::kListDeadLettersSql);
        query.Bind(agent, int64_t{std::max(limit, 0)});
        for (;;) {
          ASSIGN_OR_RETURN(const bool row, query.Step());
          if (!row) break;
          DeadLetter& letter = letters.emplace_back();
          letter.agent = agent;
          letter.event_id = query.Text(0);
          letter.attempts = static_cast<uint32_t>(query.Int(1));
          letter.reason = query.Text(2);
          letter.dead_at = FromMicros(query.Int(3));
          // An unreadable archive entry still lists, with an empty event.
          (void)letter.event.ParseFromString(query.Bytes(4));
        }
        return letters;
      },
      std::move(done)));
}

void EmbeddedStore::ReplayDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                      absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent = std::move(agent),
       event_ids = std::move(event_ids)](Transaction& txn) -> absl::StatusOr<int64_t> {
        int64_t moved = 0;
        // `id` '': every dead letter of the agent.
        const auto replay = [&](const std::string& id) -> absl::Status {
          int64_t rows = 0;
          {
            Statement count = txn.Prepare(sql::kCountDeadSql);
            count.Bind(agent, id);
            ASSIGN_OR_RETURN(const bool row, count.Step());
            if (row) rows = count.Int(0);
          }
          if (rows == 0) return absl::OkStatus();
          ASSIGN_OR_RETURN(const int64_t first, txn.row_ids.ReserveQueueIds(agent, rows));
          RETURN_IF_ERROR(
              txn.Prepare(sql::kReplayDeadSql).Bind(agent, Micros(txn.now), first - 1, id).Run());
          if (sqlite3_changes(txn.db) != rows) {
            return absl::InternalError(absl::StrCat("replay counted ", rows,
                                                    " dead letters but moved ",
                                                    sqlite3_changes(txn.db)));
          }
          moved += rows;
          return id.empty() ? txn.Prepare(sql::kPurgeAllDeadSql).Bind(agent).Run()
                            : txn.Prepare(sql::kPurgeDeadSql).Bind(agent, id).Run();
        };
        if (event_ids.empty()) {
          RETURN_IF_ERROR(replay(""));
        } else {
          for (const std::string& id : event_ids) {
            if (!id.empty()) RETURN_IF_ERROR(replay(id));  // '' names no event
          }
        }
        if (moved > 0) txn.enqueued_agents.push_back(agent);
        return moved;
      },
      std::move(done)));
}

void EmbeddedStore::PurgeDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                     absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent = std::move(agent),
       event_ids = std::move(event_ids)](Transaction& txn) -> absl::StatusOr<int64_t> {
        if (event_ids.empty()) {
          RETURN_IF_ERROR(txn.Prepare(sql::kPurgeAllDeadSql).Bind(agent).Run());
          return sqlite3_changes(txn.db);
        }
        int64_t deleted = 0;
        for (const std::string& id : event_ids) {
          RETURN_IF_ERROR(txn.Prepare(sql::kPurgeDeadSql).Bind(agent, id).Run());
          deleted += sqlite3_changes(txn.db);
        }
        return deleted;
      },
      std::move(done)));
}

void EmbeddedStore::ScanArchive(absl::Time since, absl::Time until, std::string cursor, int limit,
                                absl::AnyInvocable<void(absl::StatusOr<ArchivePage>) &&> done) {
  int64_t after = 0;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor, &after)) {
    std::move(done)(absl::InvalidArgumentError("archive cursor is not one of this store's"));
    return;
  }
  if (limit <= 0) {
    std::move(done)(absl::InvalidArgumentError("archive scan limit must be positive"));
    return;
  }
  Submit(MakeOp<absl::StatusOr<ArchivePage>>(
      [since, until, after, limit](Transaction& txn) -> absl::StatusOr<ArchivePage> {
        ArchivePage page;
        Statement query = txn.Prepare(sql::kScanArchiveSql);
        query.Bind(after, int64_t{limit});
        int looked = 0;
        int64_t last = after;
        for (;;) {
          ASSIGN_OR_RETURN(const bool row, query.Step());
          if (!row) break;
          ++looked;
          last = query.Int(0);
          const absl::Time at = FromMicros(query.Int(1));
          if (at < since || at >= until) continue;
          ArchivedEvent& archived = page.events.emplace_back();
          archived.ref = absl::StrCat(last);
          archived.committed_at = at;
          (void)archived.event.ParseFromString(query.Bytes(2));
          archived.agents = SplitList(query.Text(3));
        }
        if (looked == limit) page.next_cursor = absl::StrCat(last);
        return page;
      },
      std::move(done)));
}

void EmbeddedStore::EnqueueArchived(std::string agent, std::vector<std::string> refs,
                                    absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent = std::move(agent), refs = std::move(refs)](Transaction& txn) -> absl::StatusOr<int64_t> {
        absl::flat_hash_set<std::string> held;  // the event ids the agent has queued
        {
          Statement ready = txn.Prepare(sql::kReadyEventIdsSql);
          ready.Bind(agent);
          for (;;) {
            ASSIGN_OR_RETURN(const bool row, ready.Step());
            if (!row) break;
            held.insert(ready.Text(0));
          }
        }
        for (const int64_t entry : txn.leases.EntriesOf(agent)) {
          Statement leased = txn.Prepare(sql::kEntryEventIdSql);
          leased.Bind(entry);
          ASSIGN_OR_RETURN(const bool row, leased.Step());
          if (row) held.insert(leased.Text(0));
        }
        int64_t enqueued = 0;
        for (const std::string& ref : refs) {
          int64_t seq = 0;
          if (!absl::SimpleAtoi(ref, &seq)) continue;  // not one of ours: unknown
          {
            Statement archived = txn.Prepare(sql::kArchivedEventIdSql);
            archived.Bind(seq);
            ASSIGN_OR_RETURN(const bool row, archived.Step());
            if (!row) continue;  // not (or no longer) archived: unknown
            // Held already, or enqueued earlier in this request.
            if (!held.insert(archived.Text(0)).second) continue;
          }
          ASSIGN_OR_RETURN(const int64_t entry, txn.row_ids.ReserveQueueIds(agent, 1));
          RETURN_IF_ERROR(txn.Prepare(sql::kEnqueueArchivedSql)
                              .Bind(agent, seq, Micros(txn.now), entry)
                              .Run());
          enqueued += sqlite3_changes(txn.db);
        }
        if (enqueued > 0) txn.enqueued_agents.push_back(agent);
        return enqueued;
      },
      std::move(done)));
}

void EmbeddedStore::GetRules(absl::AnyInvocable<void(absl::StatusOr<RulesDocument>) &&> done) {
  Submit(MakeOp<absl::StatusOr<RulesDocument>>(
      [](Transaction& txn) -> absl::StatusOr<RulesDocument> {
        RulesDocument document;
        Statement query = txn.Prepare(sql::kGetRulesSql);
        ASSIGN_OR_RETURN(const bool row, query.Step());
        if (row) {
          document.yaml = query.Text(0);
          document.version = query.Int(1);
        }
        return document;
      },
      std::move(done), sql::kRead));
}

void EmbeddedStore::PutRules(std::string yaml, int64_t expected_version,
                             absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [yaml = std::move(yaml), expected_version](Transaction& txn) -> absl::StatusOr<int64_t> {
        if (expected_version < 0) {
          return absl::InvalidArgumentError("expected rules version must not be negative");
        }
        if (expected_version == 0) {
          RETURN_IF_ERROR(txn.Prepare(sql::kInsertRulesSql).Bind(yaml).Run());
        } else {
          RETURN_IF_ERROR(txn.Prepare(sql::kUpdateRulesSql)
                              .Bind(yaml, expected_version + 1, expected_version)
                              .Run());
        }
        if (sqlite3_changes(txn.db) != 1) {
          return absl::FailedPreconditionError(absl::StrCat(
              "rules version ", expected_version, " is not the stored one: re-read and retry"));
        }
        return expected_version + 1;
      },
      // Finish runs after COMMIT: the listener sees a durable version.
      [this, done = std::move(done)](absl::StatusOr<int64_t> version) mutable {
        if (version.ok()) {
          std::function<void(int64_t)> listener;
          {
            absl::MutexLock lock(&mu_);
            listener = rules_listener_;
          }
          if (listener) listener(*version);
        }
        std::move(done)(std::move(version));
      }));
}

void EmbeddedStore::SetRulesListener(std::function<void(int64_t version)> listener) {
  absl::MutexLock lock(&mu_);
  rules_listener_ = std::move(listener);
}

void EmbeddedStore::SetEnqueueListener(std::function<void(const std::string& agent)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

bool EmbeddedStore::Healthy() const { return healthy_; }

// --- Data lifecycle: quarantine, retention sweeps, recipient purge, backup ------------------------

namespace {
namespace lifecycle_sql {

// Headers are stored as lines (EncodeHeaderLines).
constexpr char kPutQuarantineSql[] =
    "INSERT INTO quarantine(source, received_at, reason, code_version, headers, body) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
// ?1 source or '' for all, ?2 with bodies (0/1), ?3 limit.
constexpr char kListQuarantineSql[] =
    "SELECT seq, source, received_at, reason, code_version, headers, length(body), "
    "CASE WHEN ?2 THEN body END FROM quarantine WHERE ?1 = '' OR source = ?1 ORDER BY seq LIMIT ?3";
// ?1 source or '', ?2 with bodies, ?3 seq.
constexpr char kGetQuarantineSql[] =
    "SELECT seq, source, received_at, reason, code_version, headers, length(body), "
    "CASE WHEN ?2 THEN body END FROM quarantine WHERE (?1 = '' OR source = ?1) AND seq = ?3";
constexpr char kDeleteQuarantineBySourceSql[] =
    "DELETE FROM quarantine WHERE ?1 = '' OR source = ?1";
constexpr char kDeleteQuarantineByIdSql[] =
    "DELETE FROM quarantine WHERE (?1 = '' OR source = ?1) AND seq = ?2";

// Sweeps. Each touches at most kSweepBatch rows, so one sweep never holds the writer for long.
// Archive seqs grow with committed_at, and queue ids with enqueued_at within each of the queue's
// id ranges (one clock reading per group; RowIds, row_ids.h), so the walks go oldest first (the
// queue's range by range) and stop at the first row younger than the cutoff; no index of their
// own. (If the wall clock steps back, a later row can look older: it waits for the rows before
// it, so it goes late, never early.)
constexpr char kQueueRangesSql[] = "SELECT range, last FROM queue_ranges ORDER BY range";
// ?1 now, ?2 ?3 the range's first and last id: its entries, oldest first, with their age and
// whether each is leased right now.
constexpr char kQueueOldestFirstSql[] =
    "SELECT q.id, q.agent, q.archive_seq, a.event_id, q.attempt, q.enqueued_at, "
    "coalesce(q.lease_expires_at > ?1, 0) FROM queue q JOIN archive a ON a.seq = q.archive_seq "
    "WHERE q.id BETWEEN ?2 AND ?3 ORDER BY q.id";
constexpr char kSweepDeadLettersSql[] =
    "DELETE FROM dead_letters WHERE seq IN "
    "(SELECT seq FROM dead_letters WHERE dead_at <= ?1 LIMIT ?2)";
constexpr char kSweepQuarantineSql[] =
    "DELETE FROM quarantine WHERE seq IN "
    "(SELECT seq FROM quarantine WHERE received_at <= ?1 LIMIT ?2)";
// Every archived event, oldest first, and whether a queue entry or dead letter still points at
// it (then it stays until they are gone).
constexpr char kArchiveOldestFirstSql[] =
    "SELECT a.seq, a.event_id, a.committed_at, "
    "EXISTS(SELECT 1 FROM queue q WHERE q.archive_seq = a.seq) OR "
    "EXISTS(SELECT 1 FROM dead_letters d WHERE d.archive_seq = a.seq) "
    "FROM archive a ORDER BY a.seq";
constexpr int64_t kSweepBatch = 5000;
// References as old as the archive's limit whose event is no longer archived (or never was: a
// crash between PutAttachments and Commit, or bytes of a retry that was a duplicate); answers
// their hashes, whose bytes may now be orphans. A commit links its event's references to its
// archive row (kLinkBlobRefsSql).
constexpr char kSweepBlobRefsSql[] =
    "DELETE FROM blob_refs WHERE seq IN (SELECT r.seq FROM blob_refs r WHERE r.stored_at <= ?1 "
    "AND (r.archive_seq IS NULL OR NOT EXISTS (SELECT 1 FROM archive a WHERE a.seq = "
    "r.archive_seq)) LIMIT ?2) RETURNING sha256";
constexpr char kPurgeBlobRefsSql[] = "DELETE FROM blob_refs WHERE event_id = ?1 RETURNING sha256";
constexpr char kDeleteOrphanBlobSql[] =
    "DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS "
    "(SELECT 1 FROM blob_refs WHERE sha256 = ?1)";
// The same hash is the same bytes: a blob already stored is not written again.
constexpr char kPutBlobSql[] =
    "INSERT INTO blobs(sha256, bytes) VALUES(?1, ?2) ON CONFLICT(sha256) DO NOTHING";
// A reference stays unlinked (archive_seq NULL) until its event commits (kLinkBlobRefsSql);
// storing the same bytes again before that refreshes the one unlinked reference.
constexpr char kPutBlobRefSql[] =
    "INSERT INTO blob_refs(event_id, sha256, stored_at) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(event_id, sha256) WHERE archive_seq IS NULL DO UPDATE SET "
    "stored_at = excluded.stored_at";
constexpr char kGetBlobSql[] =
    "SELECT b.bytes FROM blob_refs r JOIN blobs b ON b.sha256 = r.sha256 "
    "WHERE r.event_id = ?1 AND r.sha256 = ?2 LIMIT 1";

// Recipient purge: ?1 the encoded recipient_key field (lifecycle_match.h).
constexpr char kArchiveByRecipientSql[] =
    "SELECT seq, event_id FROM archive WHERE instr(event, ?1) > 0";
// Leased entries go too: their leases leave the LeaseBook, and their acks find nothing.
constexpr char kPurgeQueueByArchiveSql[] =
    "DELETE FROM queue WHERE archive_seq = ?1 RETURNING id";
constexpr char kPurgeDeadByArchiveSql[] = "DELETE FROM dead_letters WHERE archive_seq = ?1";
constexpr char kDeleteArchivedSql[] = "DELETE FROM archive WHERE seq = ?1";
constexpr char kQuarantineBodiesSql[] = "SELECT seq, body FROM quarantine";
constexpr char kPurgeQuarantineSql[] = "DELETE FROM quarantine WHERE seq = ?1";

QuarantineEntry ReadQuarantineRow(const Statement& row) {
  QuarantineEntry entry;
  entry.id = absl::StrCat(row.Int(0));
  entry.source = row.Text(1);
  entry.received_at = FromMicros(row.Int(2));
  entry.reason = row.Text(3);
  entry.code_version = row.Text(4);
  entry.headers = DecodeHeaderLines(row.Text(5));
  entry.body_size = row.Int(6);
  if (!row.IsNull(7)) entry.body = row.Bytes(7);
  return entry;
}

// Runs `delete_refs` (a DELETE ... RETURNING sha256 bound by `bind`), then deletes the bytes of
// every returned hash that no reference names any more.
template <typename Bind>
absl::Status DropBlobRefs(embedded_internal::Transaction& txn, const char* delete_refs,
                          Bind bind) {
  std::vector<std::string> hashes;
  {
    Statement query = txn.Prepare(delete_refs);
    bind(query);
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, query.Step());
      if (!row) break;
      hashes.push_back(query.Text(0));
    }
  }
  for (const std::string& sha256 : hashes) {
    RETURN_IF_ERROR(txn.Prepare(kDeleteOrphanBlobSql).Bind(absl::string_view(sha256)).Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CutoffMicros(absl::Time now, absl::Duration age, absl::string_view what) {
  if (age <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("retention of ", what, " must be positive"));
  }
  return Micros(now - age);
}

// An archive row as the sweep and the purge delete it (DeleteArchived).
struct ArchivedRow {
  int64_t seq;
  std::string event_id;
};

// Deletes the archived event `seq`; its id stays in the dedupe index (EventIdIndex) until the
// window closes, so a provider's retry stays a duplicate. Answers the rows deleted (0 or 1).
absl::StatusOr<int64_t> DeleteArchived(embedded_internal::Transaction& txn, int64_t seq) {
  RETURN_IF_ERROR(txn.Prepare(kDeleteArchivedSql).Bind(seq).Run());
  return static_cast<int64_t>(sqlite3_changes(txn.db));
}

// The copy behind EmbeddedStore::Backup: SQLite's online backup API
// (https://sqlite.org/backup.html) from a separate read-only connection, so the writer keeps
// committing (WAL: the reader sees the last commit before it started). Written to "<path>.partial"
// and renamed, so `path` only ever holds a complete copy.
absl::StatusOr<BackupResult> CopyDatabase(const std::string& source, const std::string& path) {
  const absl::Time start = absl::Now();
  const std::string partial = path + ".partial";
  std::error_code ignored;
  std::filesystem::remove(partial, ignored);
  sqlite3* from = nullptr;
  sqlite3* to = nullptr;
  absl::Status status;
  if (const int rc = sqlite3_open_v2(source.c_str(), &from, SQLITE_OPEN_READONLY, nullptr);
      rc != SQLITE_OK) {
    status = sql::SqliteError(from, rc);
  } else if (const int rc2 = sqlite3_open_v2(partial.c_str(), &to,
                                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
             rc2 != SQLITE_OK) {
    status = sql::SqliteError(to, rc2);
  } else {
    sqlite3_busy_timeout(from, sql::kBusyTimeoutMs);
    sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
    if (backup == nullptr) {
      status = sql::SqliteError(to, sqlite3_errcode(to));
    } else {
      int step = SQLITE_OK;
      // -1: every page in one step, i.e. one read transaction: a consistent snapshot.
      for (int tries = 0; tries < 50; ++tries) {
        step = sqlite3_backup_step(backup, -1);
        if (step != SQLITE_BUSY && step != SQLITE_LOCKED) break;
        sqlite3_sleep(100);
      }
      const int finish = sqlite3_backup_finish(backup);
      if (step != SQLITE_DONE) {
        status = sql::SqliteError(nullptr, step);
      } else if (finish != SQLITE_OK) {
        status = sql::SqliteError(to, finish);
      }
    }
  }
  sqlite3_close(from);
  if (sqlite3_close(to) != SQLITE_OK && status.ok()) {
    status = absl::UnavailableError("cannot close the backup file");
  }
  if (status.ok()) {
    std::error_code error;
    std::filesystem::rename(partial, path, error);
    if (error) status = absl::UnavailableError(absl::StrCat("rename: ", error.message()));
  }
  if (!status.ok()) {
    std::filesystem::remove(partial, ignored);
    return absl::UnavailableError(absl::StrCat("backup to ", path, " failed: ", status.message()));
  }
  std::error_code size_error;
  const uintmax_t bytes = std::filesystem::file_size(path, size_error);
  return BackupResult{path, size_error ? 0 : static_cast<int64_t>(bytes), absl::Now() - start};
}

}  // namespace lifecycle_sql
}  // namespace

void EmbeddedStore::PutQuarantine(QuarantineEntry entry,
                                  absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::string>>(
      [entry = std::move(entry)](Transaction& txn) -> absl::StatusOr<std::string> {
        RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kPutQuarantineSql)
                            .Bind(absl::string_view(entry.source), Micros(entry.received_at),
                                  absl::string_view(entry.reason),
                                  absl::string_view(entry.code_version),
                                  absl::string_view(EncodeHeaderLines(entry.headers)),
                                  Blob{entry.body})
                            .Run());
        return absl::StrCat(sqlite3_last_insert_rowid(txn.db));
      },
      std::move(done)));
}

void EmbeddedStore::ListQuarantine(
    QuarantineFilter filter, int limit, bool with_bodies,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::vector<QuarantineEntry>>>(
      [filter = std::move(filter), limit,
       with_bodies](Transaction& txn) -> absl::StatusOr<std::vector<QuarantineEntry>> {
        std::vector<QuarantineEntry> entries;
        if (limit <= 0) return entries;
        const int64_t bodies = with_bodies ? 1 : 0;
        if (filter.ids.empty()) {
          Statement query = txn.Prepare(lifecycle_sql::kListQuarantineSql);
          query.Bind(absl::string_view(filter.source), bodies, int64_t{limit});
          for (;;) {
            ASSIGN_OR_RETURN(const bool row, query.Step());
            if (!row) break;
            entries.push_back(lifecycle_sql::ReadQuarantineRow(query));
          }
          return entries;
        }
        for (const std::string& id : filter.ids) {
          int64_t seq = 0;
          if (static_cast<int>(entries.size()) >= limit) break;
          if (!absl::SimpleAtoi(id, &seq)) continue;  // not an id this store made: no match
          Statement query = txn.Prepare(lifecycle_sql::kGetQuarantineSql);
          query.Bind(absl::string_view(filter.source), bodies, seq);
          ASSIGN_OR_RETURN(const bool row, query.Step());
          if (row) entries.push_back(lifecycle_sql::ReadQuarantineRow(query));
        }
        return entries;
      },
      std::move(done)));
}

void EmbeddedStore::DeleteQuarantine(QuarantineFilter filter,
                                     absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [filter = std::move(filter)](Transaction& txn) -> absl::StatusOr<int64_t> {
        if (filter.ids.empty()) {
          RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kDeleteQuarantineBySourceSql)
                              .Bind(absl::string_view(filter.source))
                              .Run());
          return int64_t{sqlite3_changes(txn.db)};
        }
        int64_t deleted = 0;
        for (const std::string& id : filter.ids) {
          int64_t seq = 0;
          if (!absl::SimpleAtoi(id, &seq)) continue;
          RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kDeleteQuarantineByIdSql)
                              .Bind(absl::string_view(filter.source), seq)
                              .Run());
          deleted += sqlite3_changes(txn.db);
        }
        return deleted;
      },
      std::move(done)));
}

void EmbeddedStore::Sweep(RetentionPolicy policy,
                          absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done) {
  Submit(MakeOp<absl::StatusOr<SweepResult>>(
      [this, policy = std::move(policy)](Transaction& txn) -> absl::StatusOr<SweepResult> {
        using lifecycle_sql::CutoffMicros;
        SweepResult result;
        const int64_t now = Micros(txn.now);
        if (policy.queue != absl::InfiniteDuration()) {
          ASSIGN_OR_RETURN(const int64_t cutoff, CutoffMicros(txn.now, policy.queue, "the queue"));
          struct Expired {
            int64_t entry;
            std::string agent;
            int64_t archive_seq;
            std::string event_id;
            int64_t attempts;
          };
          struct Range {
            int64_t range;
            int64_t last;  // id
          };
          std::vector<Range> ranges;
          {
            Statement query = txn.Prepare(lifecycle_sql::kQueueRangesSql);
            for (;;) {
              ASSIGN_OR_RETURN(const bool row, query.Step());
              if (!row) break;
              ranges.push_back({query.Int(0), query.Int(1)});
            }
          }
          // The walk starts at next_sweep_range_ and wraps around. A range that fills the batch
          // is where the next sweep ends, not where it starts: a backlog of one agent's expired
          // entries cannot hold up the other agents' for sweep after sweep.
          const size_t start = static_cast<size_t>(
              std::lower_bound(ranges.begin(), ranges.end(), next_sweep_range_,
                               [](const Range& r, int64_t range) { return r.range < range; }) -
              ranges.begin());
          std::vector<Expired> expired;
          int64_t next_sweep_range = next_sweep_range_;
          for (size_t k = 0; k < ranges.size(); ++k) {
            const Range& range = ranges[(start + k) % ranges.size()];
            // Oldest first; entries leased right now are passed over. Range 0's ids may reach
            // past its end (row_ids.h); a later range's never pass it.
            const int64_t first = range.range * RowIds::kQueueRangeIds;
            Statement query = txn.Prepare(lifecycle_sql::kQueueOldestFirstSql);
            query.Bind(now, first, std::max(range.last, first + (RowIds::kQueueRangeIds - 1)));
            while (static_cast<int64_t>(expired.size()) < lifecycle_sql::kSweepBatch) {
              ASSIGN_OR_RETURN(const bool row, query.Step());
              if (!row || query.Int(5) > cutoff) break;
              if (query.Int(6) != 0) continue;
              expired.push_back(
                  {query.Int(0), query.Text(1), query.Int(2), query.Text(3), query.Int(4)});
            }
            if (static_cast<int64_t>(expired.size()) >= lifecycle_sql::kSweepBatch) {
              next_sweep_range = range.range + 1;
              break;
            }
          }
          for (const Expired& e : expired) {
            RETURN_IF_ERROR(txn.Prepare(sql::kDeadLetterSql)
                                .Bind(absl::string_view(e.agent), e.archive_seq,
                                      absl::string_view(e.event_id), e.attempts,
                                      absl::string_view("expired"), now)
                                .Run());
            RETURN_IF_ERROR(txn.Prepare(sql::kDeleteEntrySql).Bind(e.entry).Run());
            // Not leased as of txn.now, but a lease extended by zero in this group ends at
            // txn.now and may still be in the book.
            txn.leases.Remove(e.entry);
          }
          result.expired = static_cast<int64_t>(expired.size());
          next_sweep_range_ = next_sweep_range;  // a hint: kept even if the group fails
        }
        struct Table {
          absl::Duration age;
          const char* sql;
          const char* what;
          int64_t* count;
        };
        // Dead letters and the queue before the archive: they pin archived events.
        const Table tables[] = {
            {policy.dead_letters, lifecycle_sql::kSweepDeadLettersSql, "dead letters",
             &result.dead_letters},
            {policy.quarantine, lifecycle_sql::kSweepQuarantineSql, "the quarantine",
             &result.quarantine},
        };
        for (const Table& table : tables) {
          if (table.age == absl::InfiniteDuration()) continue;
          ASSIGN_OR_RETURN(const int64_t cutoff, CutoffMicros(txn.now, table.age, table.what));
          RETURN_IF_ERROR(txn.Prepare(table.sql).Bind(cutoff, lifecycle_sql::kSweepBatch).Run());
          *table.count = sqlite3_changes(txn.db);
        }
        if (policy.archive != absl::InfiniteDuration()) {
          ASSIGN_OR_RETURN(const int64_t cutoff,
                           CutoffMicros(txn.now, policy.archive, "the archive"));
          std::vector<lifecycle_sql::ArchivedRow> old;
          {
            Statement query = txn.Prepare(lifecycle_sql::kArchiveOldestFirstSql);
            while (static_cast<int64_t>(old.size()) < lifecycle_sql::kSweepBatch) {
              ASSIGN_OR_RETURN(const bool row, query.Step());
              if (!row || query.Int(2) > cutoff) break;
              if (query.Int(3) != 0) continue;  // still queued or dead-lettered
              old.push_back({query.Int(0), query.Text(1)});
            }
          }
          for (const lifecycle_sql::ArchivedRow& o : old) {
            ASSIGN_OR_RETURN(const int64_t deleted, lifecycle_sql::DeleteArchived(txn, o.seq));
            result.archive += deleted;
          }
          RETURN_IF_ERROR(lifecycle_sql::DropBlobRefs(
              txn, lifecycle_sql::kSweepBlobRefsSql,
              [&](Statement& q) { q.Bind(cutoff, lifecycle_sql::kSweepBatch); }));
        }
        return result;
      },
      std::move(done)));
}

void EmbeddedStore::PurgeRecipient(std::string recipient, std::vector<std::string> /*agents*/,
                                   absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [recipient = std::move(recipient)](Transaction& txn) -> absl::StatusOr<int64_t> {
        if (recipient.empty()) return absl::InvalidArgumentError("recipient is empty");
        const std::string needle = RecipientKeyNeedle(RecipientKey(recipient));
        std::vector<lifecycle_sql::ArchivedRow> archived;
        {
          Statement query = txn.Prepare(lifecycle_sql::kArchiveByRecipientSql);
          query.Bind(Blob{needle});
          for (;;) {
            ASSIGN_OR_RETURN(const bool row, query.Step());
            if (!row) break;
            archived.push_back({query.Int(0), query.Text(1)});
          }
        }
        int64_t deleted = 0;
        for (const auto& [seq, event_id] : archived) {
          {
            Statement purge = txn.Prepare(lifecycle_sql::kPurgeQueueByArchiveSql);
            purge.Bind(seq);
            for (;;) {
              ASSIGN_OR_RETURN(const bool row, purge.Step());
              if (!row) break;
              txn.leases.Remove(purge.Int(0));
              ++deleted;
            }
          }
          RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kPurgeDeadByArchiveSql).Bind(seq).Run());
          deleted += sqlite3_changes(txn.db);
          // Dedupe keys stay: a provider's retry of an erased event is not stored again.
          ASSIGN_OR_RETURN(const int64_t erased, lifecycle_sql::DeleteArchived(txn, seq));
          deleted += erased;
          // The bytes this event named go with it unless another event still names them.
          RETURN_IF_ERROR(lifecycle_sql::DropBlobRefs(
              txn, lifecycle_sql::kPurgeBlobRefsSql,
              [&id = event_id](Statement& q) { q.Bind(absl::string_view(id)); }));
        }
        std::vector<int64_t> quarantined;
        {
          Statement query = txn.Prepare(lifecycle_sql::kQuarantineBodiesSql);
          for (;;) {
            ASSIGN_OR_RETURN(const bool row, query.Step());
            if (!row) break;
            if (BodyMentionsAddress(query.Bytes(1), recipient)) quarantined.push_back(query.Int(0));
          }
        }
        for (const int64_t seq : quarantined) {
          RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kPurgeQuarantineSql).Bind(seq).Run());
          deleted += sqlite3_changes(txn.db);
        }
        return deleted;
      },
      std::move(done)));
}

void EmbeddedStore::Backup(std::string path,
                           absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done) {
  std::error_code error;
  const std::filesystem::path target = std::filesystem::weakly_canonical(path, error);
  const std::filesystem::path own = std::filesystem::weakly_canonical(options_.path, error);
  if (path.empty()) {
    std::move(done)(absl::InvalidArgumentError("backup path is empty"));
    return;
  }
  if (target == own || target.string() == own.string() + "-wal" ||
      target.string() == own.string() + "-shm") {
    std::move(done)(absl::FailedPreconditionError(
        absl::StrCat("backup path ", path, " is the store's own file")));
    return;
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    std::move(done)(absl::UnavailableError("store is shutting down"));
    return;
  }
  if (backup_running_) {
    std::move(done)(absl::FailedPreconditionError("a backup is already running"));
    return;
  }
  if (backup_thread_.joinable()) backup_thread_.join();  // the last one is over
  backup_running_ = true;
  backup_thread_ = std::thread([this, path = std::move(path), done = std::move(done)]() mutable {
    absl::StatusOr<BackupResult> result = lifecycle_sql::CopyDatabase(options_.path, path);
    if (result.ok()) {
      spdlog::info("{{\"event\":\"backup\",\"path\":\"{}\",\"bytes\":{}}}", result->path,
                   result->bytes);
    }
    std::move(done)(std::move(result));
    absl::MutexLock done_lock(&mu_);
    backup_running_ = false;
  });
}

void EmbeddedStore::PutAttachments(std::vector<StoredAttachment> attachments, DoneCallback done) {
  Submit(MakeOp<absl::Status>(
      [attachments = std::move(attachments)](Transaction& txn) -> absl::Status {
        for (const StoredAttachment& a : attachments) {
          RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kPutBlobSql)
                              .Bind(absl::string_view(a.sha256), Blob{a.bytes})
                              .Run());
          for (const std::string& event_id : a.event_ids) {
            RETURN_IF_ERROR(txn.Prepare(lifecycle_sql::kPutBlobRefSql)
                                .Bind(absl::string_view(event_id), absl::string_view(a.sha256),
                                      Micros(txn.now))
                                .Run());
          }
        }
        return absl::OkStatus();
      },
      std::move(done)));
}

void EmbeddedStore::GetAttachment(std::string event_id, std::string sha256,
                                  absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::string>>(
      [event_id = std::move(event_id),
       sha256 = std::move(sha256)](Transaction& txn) -> absl::StatusOr<std::string> {
        Statement query = txn.Prepare(lifecycle_sql::kGetBlobSql);
        query.Bind(absl::string_view(event_id), absl::string_view(sha256));
        ASSIGN_OR_RETURN(const bool row, query.Step());
        if (!row) {
          return absl::NotFoundError(
              absl::StrCat("no attachment ", sha256, " of event ", event_id));
        }
        return query.Bytes(0);
      },
      std::move(done)));
}

}  // namespace switchboard::store
