#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/store/store.h"
#include "router/store/wal_checkpointer.h"

struct sqlite3;

namespace switchboard::store {
namespace embedded_internal {
class AgentRowCounts;  // queue and dead-letter rows per agent, for Stats
class EventIdIndex;    // the dedupe index
class LeaseBook;       // the current leases
class RowIds;          // the archive's and the queue's row ids
class Request;         // one queued operation
class StatementCache;  // the writer's prepared statements
struct Transaction;    // the writer's view of the open group transaction
}  // namespace embedded_internal

// The default Store backend: one local SQLite file (https://sqlite.org/wal.html), no other service.
//
// - WAL journal; `PRAGMA synchronous=FULL` by default, so a committed batch survives power loss
//   (`normal` survives a process crash only, an opt-in). Delivery bookkeeping (Claim, Ack, Nack,
//   Extend, Release) is not fsynced on its own: a group holding nothing else commits with
//   synchronous=NORMAL. A crash of the router process loses none of it; a crash of the machine
//   can roll back the last milliseconds of it (an ack, a lease, an attempt count), which
//   redelivers an event and never loses one. The next synced commit syncs it too.
// - WAL checkpoints run on a checkpointer thread with a connection of its own (WalCheckpointer),
//   not inside the writer's COMMITs; checkpoint_pages sets how far the WAL grows between them.
//   The thread runs in the idle scheduling class where the kernel allows it, so a commit or a
//   delivery does not wait for it. When it falls behind on a saturated CPU, the writer copies
//   the WAL itself (from twice checkpoint_pages, waiting for the thread only from four times), so
//   the WAL stays bounded; a reader holding an old snapshot (a backup) is the exception. The
//   thread also writes back and syncs the pages it copied, so the writer's own copy, which
//   restarts the WAL, syncs only the last few groups' pages.
// - One writer thread owns the only writing connection. Every operation is queued to it; each
//   time it wakes it drains everything queued so far into ONE transaction (group commit) with a
//   savepoint per request, so a failing request rolls back alone. Ack, Nack, Extend and Claim
//   run without one: the first three are one statement each, which has changed nothing when it
//   fails; a claim that fails after it changed a row fails its whole group instead (its
//   statements fail only when the file or memory does), and until a minute after the last such
//   failure every request runs in a savepoint again. Callbacks run on the writer thread after COMMIT
//   returned; if the group does not commit every request of it gets kUnavailable.
// - Delivery ids are "<queue entry>.<attempt>". A queue entry id (and an archive seq) is never
//   handed out twice, even after the rows with the highest ids were deleted (RowIds, row_ids.h).
//   Each agent's entry ids come from ranges of 2^36 ids of its own (entries queued before schema
//   version 9 keep theirs), so its queue rows lie together; within an agent they grow with the
//   time the entries were queued.
//   Times are stored as Unix microseconds, from the injected Clock.
// - Leases left by a previous process are released when the store opens (a single-process store
//   has no live stream at startup): those entries are visible at once, the next claim is attempt+1.
//   Each lease is written to its queue row and kept in the writer's memory (LeaseBook,
//   lease_book.h), which ends leases when they expire (first thing in each group) and answers
//   NextVisibleAt and Stats for leased entries; the visibility index holds only entries that are
//   not leased.
// - Dedupe: an id is a duplicate while an event of that id was committed within the window, even
//   if it has left the archive since (retention sweep, recipient purge). The ids live in a
//   log-structured index of sorted runs with Bloom filters (EventIdIndex, event_id_index.h),
//   written and merged a bounded amount per group; runs older than the window are dropped.
// - Schema migrations: the schema version is `PRAGMA user_version` (now 9). Opening an older file
//   applies the numbered migration steps it lacks in one transaction (version 0 = a new file);
//   a file of a newer version is refused (kFailedPrecondition naming both versions).
// - Rules: one row of the table `rules`; the rules listener fires in-process after the COMMIT of a
//   PutRules (a single-process store has no other replica to tell).
//
// Shutdown (destructor): new requests are refused with kUnavailable (their callback runs on the
// calling thread), everything already queued is committed and answered, then the thread joins.
// Thread-safe; the Clock must outlive the store.
class EmbeddedStore final : public Store {
 public:
  struct Options {
    std::string path;                                // the database file; its folder is created
    std::string sync = "full";                       // "full" | "normal": PRAGMA synchronous
    absl::Duration dedupe_window = absl::Hours(72);  // an id committed this recently is kDuplicate
    // WAL size, in pages (4 KiB), at which a checkpoint starts (WalCheckpointer). A hot page (an
    // index's rightmost leaf) is rewritten into the WAL by every commit and copied to the
    // database file once per checkpoint: the WAL grows to about this size times 4 KiB.
    int checkpoint_pages = 10000;
    // Whether the checkpointer thread runs in the idle scheduling class (WalCheckpointer); false
    // keeps the writer's priority.
    bool checkpoint_in_idle_class = true;
  };

  // kInvalidArgument: bad options. kFailedPrecondition: the file or its folder cannot be created
  // or opened for writing, WAL is unavailable there, the schema is newer than this binary, or
  // another process holds the store (an exclusive flock on the database file, whichever path
  // reaches it; the message names the holder's pid).
  static absl::StatusOr<std::unique_ptr<EmbeddedStore>> Create(Options options, const Clock& clock);

  ~EmbeddedStore() override;
  EmbeddedStore(const EmbeddedStore&) = delete;
  EmbeddedStore& operator=(const EmbeddedStore&) = delete;

  void Commit(std::vector<EventToCommit> events, CommitCallback done) override;
  void Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
             ExpiryBackoff expiry_backoff, ClaimCallback done) override;
  void Ack(std::string delivery_id, DoneCallback done) override;
  void Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
            DoneCallback done) override;
  void Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) override;
  void Release(std::vector<std::string> delivery_ids, DoneCallback done) override;
  void RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                     TokenCallback done) override;
  // Operator replays (store.h). Archive refs and cursors are archive row numbers; a scan reads
  // the archive in row order (commit order).
  void ReplayDeadLetters(std::string agent, std::vector<std::string> event_ids,
                         absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void PurgeDeadLetters(std::string agent, std::vector<std::string> event_ids,
                        absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void ScanArchive(absl::Time since, absl::Time until, std::string cursor, int limit,
                   absl::AnyInvocable<void(absl::StatusOr<ArchivePage>) &&> done) override;
  void EnqueueArchived(std::string agent, std::vector<std::string> refs,
                       absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void NextVisibleAt(std::string agent,
                     absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) override;
  void Stats(std::string agent,
             absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) override;
  void ListDeadLetters(std::string agent, int limit,
                       absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&> done)
      override;
  void SetEnqueueListener(std::function<void(const std::string& agent)> listener) override;
  void GetRules(absl::AnyInvocable<void(absl::StatusOr<RulesDocument>) &&> done) override;
  void PutRules(std::string yaml, int64_t expected_version,
                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void SetRulesListener(std::function<void(int64_t version)> listener) override;
  bool Healthy() const override;
  // WAL checkpoints completed so far (tests); not thread-safe against destruction.
  int64_t CheckpointsForTest() const;
  // WalCheckpointer::background_frames (tests): 0 while the checkpointer thread copied nothing.
  int64_t BackgroundCheckpointFramesForTest() const;
  // WalCheckpointer::takeovers and idle_priority (tests).
  int64_t CheckpointTakeoversForTest() const;
  bool CheckpointerInIdleClassForTest() const;

  // Data lifecycle (store.h). Quarantine ids are row numbers. Sweep and PurgeRecipient cover every
  // agent (the `agents` lists are not needed here). Backup copies with SQLite's online backup API
  // from a second, read-only connection on a backup thread, so commits go on meanwhile; one backup
  // at a time (another one meanwhile: kFailedPrecondition).
  void PutQuarantine(QuarantineEntry entry,
                     absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) override;
  void ListQuarantine(
      QuarantineFilter filter, int limit, bool with_bodies,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done) override;
  void DeleteQuarantine(QuarantineFilter filter,
                        absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void Sweep(RetentionPolicy policy,
             absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done) override;
  void PurgeRecipient(std::string recipient, std::vector<std::string> agents,
                      absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void Backup(std::string path,
              absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done) override;
  // Out-of-line bytes (store.h): table blobs (one row per sha256) and blob_refs (one row per
  // event id and sha256, swept with the archive's age); a version-3 file's attachments move over.
  void PutAttachments(std::vector<StoredAttachment> attachments, DoneCallback done) override;
  void GetAttachment(std::string event_id, std::string sha256,
                     absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) override;

 private:
  using Request = embedded_internal::Request;
  using Transaction = embedded_internal::Transaction;

  EmbeddedStore(Options options, const Clock& clock, sqlite3* db, int database_fd, int lock_fd,
                std::unique_ptr<embedded_internal::StatementCache> statements,
                std::unique_ptr<embedded_internal::EventIdIndex> event_ids,
                std::unique_ptr<WalCheckpointer> checkpointer);

  void Submit(std::unique_ptr<Request> request);
  void WriterLoop();
  // Runs one group: BEGIN IMMEDIATE, each request (most in a savepoint), COMMIT, then the
  // callbacks.
  void RunGroup(std::vector<std::unique_ptr<Request>> group,
                const std::function<void(const std::string&)>& listener);

  // Run inside the group transaction on the writer thread.
  // Ends every lease due by txn.now: its entry is visible again from its visible_at. First in
  // each group, so the group's requests see only current leases.
  absl::Status ExpireLeases(Transaction& txn);
  absl::StatusOr<std::vector<CommitOutcome>> CommitInTxn(const std::vector<EventToCommit>& events,
                                                         Transaction& txn);
  absl::StatusOr<std::vector<ClaimedDelivery>> ClaimInTxn(const std::string& agent, int max,
                                                          absl::Duration lease,
                                                          uint32_t max_attempts,
                                                          const ExpiryBackoff& backoff,
                                                          Transaction& txn);

  const Options options_;
  const Clock& clock_;
  sqlite3* const db_;  // owned; used only by the writer thread once it runs
  // Owned, read-only, -1 if it could not be opened: the checkpointer's write-back descriptor of
  // the database file. Closed after db_ (and the checkpointer's connection), never before.
  const int database_fd_;
  // Owned: a descriptor of the database file holding the exclusive flock on it (one process per
  // store file). Closed last, after db_.
  const int lock_fd_;
  std::unique_ptr<embedded_internal::StatementCache> statements_;  // on db_, writer thread only
  std::unique_ptr<embedded_internal::EventIdIndex> event_ids_;     // on statements_, writer only
  std::unique_ptr<embedded_internal::LeaseBook> leases_;           // writer only
  std::unique_ptr<embedded_internal::AgentRowCounts> row_counts_;  // hooked on db_, reads leases_
  std::unique_ptr<embedded_internal::RowIds> row_ids_;             // on statements_, writer only
  std::unique_ptr<WalCheckpointer> checkpointer_;  // AfterGroup: writer thread only
  const bool syncs_commits_;  // sync: full (a group with a MustSync request fsyncs)
  // The connection's PRAGMA synchronous is FULL (else NORMAL); writer thread only.
  bool group_syncs_ = true;
  // Until then every request runs in a savepoint, Request::Savepoint() or not: set for
  // kIsolationAfterFailure by a failure of a request without one, and again by each failure of
  // such a request inside it, so that one failing again and again (a damaged page of one
  // agent's queue) fails its own requests, not a group every time.
  // Writer thread only.
  absl::Time savepoints_for_all_until_ = absl::InfinitePast();
  // The next retention sweep walks the first queue id range (RowIds, row_ids.h) at or above
  // this one first, and wraps around. Writer thread only.
  int64_t next_sweep_range_ = 0;
  std::atomic<bool> healthy_{true};

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Request>> pending_ ABSL_GUARDED_BY(mu_);
  // Delivery bookkeeping (Request::MustSync false) submitted by the writer thread itself: the
  // claims the enqueue listener and the callbacks of a finished group start. When pending_ holds
  // something to fsync they run first, as a group of their own without an fsync, so a new
  // event's claim does not wait for the COMMIT and fsync of the next group of webhooks; then
  // pending_ has its turn, so neither starves. Otherwise both run as one group.
  std::vector<std::unique_ptr<Request>> followups_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const std::string&)> listener_ ABSL_GUARDED_BY(mu_);
  std::function<void(int64_t)> rules_listener_ ABSL_GUARDED_BY(mu_);
  bool backup_running_ ABSL_GUARDED_BY(mu_) = false;
  std::thread backup_thread_ ABSL_GUARDED_BY(mu_);  // joined by the next Backup or at shutdown

  std::thread writer_;  // last: starts after everything above is initialized
};

}  // namespace switchboard::store
