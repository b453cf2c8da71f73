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
// - It can fall behind when the CPU is saturated, since an idle-class thread gets almost no CPU
//   then, and it cannot be raised again without CAP_SYS_NICE. So once the WAL has grown to
//   kTakeOverFactor times the threshold, the writer takes over: it interrupts the thread's
//   checkpoint (sqlite3_interrupt, which the copy loop checks page by page), waits for the thread
//   to leave it, and copies the WAL itself at its own priority. The WAL stays bounded, by that
//   size plus one group's frames, whatever the scheduler does.
// - Durability is SQLite's: a checkpoint on either connection fsyncs the WAL before copying and
//   the database file after (synchronous FULL and NORMAL alike), so nothing that a COMMIT
//   answered is ever only in a WAL that is being overwritten.
// A failed checkpoint is logged and retried at the next threshold crossing; commits go on (the
// WAL grows meanwhile).
class WalCheckpointer {
 public:
  // The WAL size, as a multiple of the threshold, at which the writer takes over (see above).
  static constexpr int kTakeOverFactor = 2;

  // Opens the second connection on `path` (an existing WAL-mode database) and starts the thread,
  // in the idle scheduling class if `idle_class`, then installs the wal hook on `writer_db`,
  // which replaces SQLite's automatic checkpoint. kFailedPrecondition if the connection cannot
  // be opened; a kernel that refuses the idle class leaves the thread at its priority (logged).
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                 sqlite3* writer_db,
                                                                 int threshold_frames,
                                                                 bool idle_class);
  // Stops the thread (a running checkpoint finishes first) and closes its connection. The writer
  // connection keeps the hook: destroy this object only after the writer's last commit.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Writer thread, after a group's callbacks ran (never inside a transaction).
  void AfterGroup();

  // Checkpoints completed so far by the thread and by the writer (for tests and logs).
  int64_t background_checkpoints() const;
  int64_t writer_checkpoints() const { return writer_checkpoints_.load(); }
  // Over the thread's checkpoints, the sum of the WAL frames each found copied when it ended
  // (sqlite3_wal_checkpoint_v2's pnCkpt): 0 as long as the thread has copied nothing (tests).
  int64_t background_frames() const;
  // Times the writer took a checkpoint over from the thread (tests and logs).
  int64_t takeovers() const { return takeovers_.load(); }
  // Whether the thread runs in the idle scheduling class; false until it has started, if not
  // asked for, or if the kernel refused (tests).
  bool idle_priority() const;

 private:
  enum class State { kIdle, kRunning, kCaughtUp };

  WalCheckpointer(sqlite3* writer_db, sqlite3* own_db, int threshold_frames, bool idle_class);
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Loop();
  // Writer thread, with mu_ held and state_ kRunning: ends the thread's checkpoint (see above).
  void InterruptBackgroundCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  sqlite3* const writer_db_;
  sqlite3* const own_db_;  // the checkpointer thread only
  const int threshold_frames_;
  const bool idle_class_;
  int wal_frames_ = 0;  // writer thread only: WAL size after its last commit, in pages
  std::atomic<int64_t> writer_checkpoints_{0};  // written by the writer thread only
  std::atomic<int64_t> takeovers_{0};           // written by the writer thread only

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kIdle;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool idle_priority_ ABSL_GUARDED_BY(mu_) = false;
  int64_t background_checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t background_frames_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after everything above is initialized
};

}  // namespace switchboard::store

#endif  // SWITCHBOARD_ROUTER_STORE_WAL_CHECKPOINTER_H_
