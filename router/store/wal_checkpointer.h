#ifndef SWITCHBOARD_ROUTER_STORE_WAL_CHECKPOINTER_H_
#define SWITCHBOARD_ROUTER_STORE_WAL_CHECKPOINTER_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/log_throttle.h"

namespace switchboard::store {

// Runs the WAL checkpoints of an embedded store's writer connection on a thread of its own, on
// a second connection, so that the writer never copies the WAL into the database file itself
// (https://sqlite.org/wal.html#checkpointing: "run checkpoints in a separate thread").
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold: that COMMIT,
// and every request queued behind it, waits for thousands of pages to be written and for two
// fsyncs (the WAL before, the database after). Here:
// - After each commit the writer reports the WAL's size (the wal hook). Once it reaches
//   `threshold_frames` pages, the checkpointer thread runs a PASSIVE checkpoint: it copies every
//   frame committed so far while the writer goes on committing.
// - The WAL file restarts from its beginning only when the whole of it has been copied at the
//   start of a write transaction, which a busy writer never leaves time for. So once the thread
//   has caught up, the writer runs one PASSIVE checkpoint itself, after the callbacks of its
//   group: it copies only the frames of the last few groups, and the next BEGIN restarts the WAL.
// - The thread runs in the idle scheduling class (SCHED_IDLE, sched(7)) where the kernel allows
//   it: a commit, a delivery or a request that wakes up takes the CPU from a checkpoint at once,
//   instead of waiting out the checkpoint's time slice. Copying pages is never urgent.
// - An idle-class thread gets almost no CPU while the CPU is saturated, and cannot be raised
//   again without CAP_SYS_NICE. So the writer takes over when the thread falls behind:
//   - at kTakeOverFactor times the threshold it interrupts the thread's checkpoint
//     (sqlite3_interrupt, which SQLite's copy loop checks page by page) and, after each group,
//     tries to copy the WAL itself; while the thread still holds the checkpoint lock that try
//     returns SQLITE_BUSY at once, and the writer goes on committing;
//   - at kWaitFactor times the threshold it also waits for the thread to leave its checkpoint,
//     which it does at its next time slice, then copies. The writer never waits on the thread
//     below that size; above it, the WAL stays within that size plus one group.
//   A reader that holds an old snapshot for long (a backup) keeps any checkpoint from copying
//   the frames after it, so the WAL grows until that reader ends, whatever is done here.
// - A pass that could not copy the whole WAL (commits came in meanwhile, as they do under load)
//   leaves the database file unsynced: SQLite syncs it only in the checkpoint that copies the
//   last frame, which is then the writer's. That fsync would write back every page the thread
//   copied while requests wait behind it (4-6 ms at 1k events/s on the benchmark machine). So
//   after each pass the thread writes the copied pages back itself, kWritebackChunkBytes at a
//   time (sync_file_range(2), one chunk in flight while the previous is waited for), so that a
//   commit's fsync issued meanwhile queues behind a chunk or two rather than all of them, then
//   syncs the file; the writer's copy then writes back only the frames of its last few groups.
//   The WAL grows meanwhile, since its restart waits for the write-back; so the chunks stop
//   after kWritebackChunkedFor (a slow disk) and one fsync writes the rest.
// - Durability is SQLite's: a checkpoint on either connection fsyncs the WAL before copying and
//   the database file after (synchronous FULL and NORMAL alike), so nothing that a COMMIT
//   answered is ever only in a WAL that is being overwritten. The thread's own write-back adds
//   syncs, never removes one. An interrupted checkpoint leaves
//   what it copied in place and records no progress; the next one copies those pages again.
// A failed checkpoint is logged and retried at the next threshold crossing; commits go on (the
// WAL grows meanwhile).
class WalCheckpointer {
 public:
  // WAL sizes, as multiples of the threshold, at which the writer takes over (see above).
  static constexpr int kTakeOverFactor = 2;
  static constexpr int kWaitFactor = 4;
  // The thread's write-back of the database file after a pass: bytes per sync_file_range call,
  // and at most this many calls per pass (larger chunks on a file over 1 GiB).
  static constexpr int64_t kWritebackChunkBytes = 256 * 1024;
  static constexpr int64_t kMaxWritebackCalls = 4096;
  static constexpr absl::Duration kWritebackChunkedFor = absl::Milliseconds(250);

  // Opens the second connection on `path` (an existing WAL-mode database) and starts the thread,
  // named sb-checkpoint and in the idle scheduling class if `idle_class`, then installs the wal
  // hook on `writer_db`, which replaces SQLite's automatic checkpoint. `database_fd` is a
  // descriptor of the same file for the thread's write-back, borrowed (-1: no write-back, the
  // writer's copy syncs everything). The caller closes it only after every SQLite connection of
  // the process to the file has closed: closing any descriptor of a file drops all of the
  // process's POSIX locks on it, SQLite's included (https://sqlite.org/howtocorrupt.html, 2.2).
  // kFailedPrecondition if the connection cannot be opened; a kernel that refuses the idle class
  // leaves the thread at the caller's priority (logged).
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                 sqlite3* writer_db,
                                                                 int database_fd,
                                                                 int threshold_frames,
                                                                 bool idle_class);
  // Stops the thread (a running checkpoint is interrupted) and closes its connection. The writer
  // connection keeps the hook: destroy this object only after the writer's last commit.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Writer thread, after a group's callbacks ran (never inside a transaction).
  void AfterGroup();

  // Checkpoints completed so far by the thread and by the writer (for tests and logs).
  int64_t background_checkpoints() const;
  int64_t writer_checkpoints() const { return writer_checkpoints_.load(); }
  // The WAL frames the thread's checkpoints copied, over all of them: 0 as long as the thread
  // has copied nothing (tests).
  int64_t background_frames() const;
  // Checkpoints the writer completed because the WAL had reached kTakeOverFactor times the
  // threshold (tests and logs).
  int64_t takeovers() const { return takeovers_.load(); }
  // Whether the thread runs in the idle scheduling class (tests).
  bool idle_priority() const { return idle_priority_; }

 private:
  enum class State { kIdle, kRunning, kCaughtUp };
  enum class Copy { kNo, kYes, kTakeOver };  // whether the writer copies, and why

  WalCheckpointer(sqlite3* writer_db, sqlite3* own_db, sqlite3_stmt* clear_interrupt,
                  int database_fd, int threshold_frames, bool idle_class);
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Loop();
  // Writer thread, mu_ held: what AfterGroup does under the lock; whether the writer copies.
  Copy DecideAfterGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writer thread: a PASSIVE checkpoint on the writer's connection.
  void CopyHere(bool takeover);
  // Checkpointer thread, after a pass: writes back the database file in chunks, then syncs it
  // through its connection. Stops early once the object is being destroyed; an error is
  // logged, and the writer's copy syncs the file as it would without this.
  void WriteBack();

  sqlite3* const writer_db_;
  sqlite3* const own_db_;  // the checkpointer thread only, but for sqlite3_interrupt
  // "SELECT 1" on own_db_: stepping it with no other statement active clears a pending interrupt.
  sqlite3_stmt* const clear_interrupt_;
  const int database_fd_;  // borrowed; -1 for none
  const int threshold_frames_;
  bool idle_priority_ = false;  // set by the constructor
  int wal_frames_ = 0;  // writer thread only: WAL size after its last commit, in pages
  int hook_frames_ = 0;  // writer thread only: as wal_frames_, but never reset by a copy
  std::atomic<int64_t> wal_restarts_{0};  // written by the writer thread (the wal hook) only
  std::atomic<int64_t> writer_checkpoints_{0};  // written by the writer thread only
  std::atomic<int64_t> takeovers_{0};           // written by the writer thread only

  // The thread holds mu_ only for a few instructions at a time, but it is an idle-class thread
  // that a busy CPU can keep off for long with the lock held: the writer only try-locks it,
  // below kWaitFactor.
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_write_back_{false};  // read by WriteBack without mu_
  LogThrottle write_back_warnings_{absl::Minutes(1)};  // a failing disk fails every pass
  // True while the thread is inside sqlite3_wal_checkpoint_v2; interrupts are sent only then.
  bool in_checkpoint_ ABSL_GUARDED_BY(mu_) = false;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;  // during this in_checkpoint_
  int64_t background_checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t background_frames_ ABSL_GUARDED_BY(mu_) = 0;
  // The thread's last completed checkpoint: the WAL's size then and the frames copied of it
  // (sqlite3_wal_checkpoint_v2's pnLog and pnCkpt).
  int background_log_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t background_restarts_ ABSL_GUARDED_BY(mu_) = 0;  // wal_restarts_ after that pass
  int background_copied_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after everything above is initialized
};

}  // namespace switchboard::store

#endif  // SWITCHBOARD_ROUTER_STORE_WAL_CHECKPOINTER_H_
