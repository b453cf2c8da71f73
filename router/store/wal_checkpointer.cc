#include "router/store/wal_checkpointer.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace switchboard::store {
namespace {

// After a failed checkpoint (an I/O error, a full disk) the next one waits this long, so a
// lasting failure costs one log line a second, not one per commit.
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(1);

// While the writer waits for an interrupted checkpoint to end, it interrupts again this often: an
// interrupt that lands just before the thread enters sqlite3_wal_checkpoint_v2 is cleared when
// that call returns, not when it starts, so one is never lost, but a late one may be needed.
constexpr absl::Duration kInterruptAgainAfter = absl::Milliseconds(1);

}  // namespace

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                       sqlite3* writer_db,
                                                                       int threshold_frames,
                                                                       bool idle_class) {
  sqlite3* own = nullptr;
  // NOMUTEX: the checkpointer thread is the only user of this connection.
  int rc = sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc == SQLITE_OK) {
    // This connection never commits, so it never checkpoints by itself either.
    rc = sqlite3_exec(own, "PRAGMA wal_autocheckpoint=0", nullptr, nullptr, nullptr);
  }
  if (rc == SQLITE_OK) {
    // A connection learns that the file is in WAL mode, and opens the WAL, on its first read.
    // Until then sqlite3_wal_checkpoint_v2 finds no WAL, copies nothing and returns SQLITE_OK
    // (log and copied frames -1), and the writer would copy every frame itself.
    rc = sqlite3_exec(own, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) {
    absl::Status error = absl::FailedPreconditionError(
        absl::StrCat("cannot open the checkpoint connection: ",
                     own != nullptr ? sqlite3_errmsg(own) : sqlite3_errstr(rc)));
    sqlite3_close(own);
    return error;
  }
  auto checkpointer = absl::WrapUnique(new WalCheckpointer(writer_db, own, threshold_frames, idle_class));
  sqlite3_wal_hook(writer_db, &WalCheckpointer::OnWalCommit, checkpointer.get());
  return checkpointer;
}

WalCheckpointer::WalCheckpointer(sqlite3* writer_db, sqlite3* own_db, int threshold_frames,
                                 bool idle_class)
    : writer_db_(writer_db),
      own_db_(own_db),
      threshold_frames_(threshold_frames),
      idle_class_(idle_class) {
  thread_ = std::thread([this] { Loop(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  sqlite3_close(own_db_);
}

int WalCheckpointer::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*schema*/,
                                 int frames) {
  static_cast<WalCheckpointer*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

void WalCheckpointer::AfterGroup() {
  bool copy_here = false;
  {
    absl::MutexLock lock(&mu_);
    switch (state_) {
      case State::kIdle:
        if (wal_frames_ >= threshold_frames_) state_ = State::kRunning;
        break;
      case State::kRunning:
        if (wal_frames_ >= kTakeOverFactor * threshold_frames_) {
          InterruptBackgroundCheckpoint();
          ++takeovers_;
          state_ = State::kIdle;
          copy_here = true;
        }
        break;
      case State::kCaughtUp:
        state_ = State::kIdle;
        copy_here = true;
        break;
    }
  }
  if (!copy_here) return;
  // Either the thread copied everything up to its start, or it fell behind and was stopped. Copy
  // the rest here, where no commit can come in between, so that the next BEGIN finds the WAL
  // fully copied and restarts it.
  int log_frames = 0;
  int copied_frames = 0;
  const int rc = sqlite3_wal_checkpoint_v2(writer_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &copied_frames);
  if (rc == SQLITE_OK) {
    ++writer_checkpoints_;
    if (copied_frames == log_frames) wal_frames_ = 0;
  } else if (rc != SQLITE_BUSY) {
    spdlog::warn("{{\"event\":\"store\",\"checkpoint_failed\":\"{}\"}}", sqlite3_errstr(rc));
  }
}

void WalCheckpointer::InterruptBackgroundCheckpoint() {
  // sqlite3_interrupt is the one call that may be made on another thread's connection.
  sqlite3_interrupt(own_db_);
  while (!mu_.AwaitWithTimeout(absl::Condition(
                                   +[](WalCheckpointer* self) {
                                     self->mu_.AssertHeld();
                                     return self->state_ != State::kRunning;
                                   },
                                   this),
                               kInterruptAgainAfter)) {
    sqlite3_interrupt(own_db_);
  }
}

int64_t WalCheckpointer::background_checkpoints() const {
  absl::MutexLock lock(&mu_);
  return background_checkpoints_;
}

int64_t WalCheckpointer::background_frames() const {
  absl::MutexLock lock(&mu_);
  return background_frames_;
}

bool WalCheckpointer::idle_priority() const {
  absl::MutexLock lock(&mu_);
  return idle_priority_;
}

void WalCheckpointer::Loop() {
  // The name shows in `top -H` and /proc/<pid>/task/<tid>/comm (at most 15 characters).
  pthread_setname_np(pthread_self(), "sb-checkpoint");
  // On Linux a thread's policy is its own: the writer and the rest of the process keep theirs.
  const sched_param param{};
  const int policy_error =
      idle_class_ ? pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) : 0;
  if (policy_error != 0) {
    spdlog::info(
        "{{\"event\":\"store\",\"checkpointer_priority\":\"normal\",\"reason\":\"{}\"}}",
        std::strerror(policy_error));
  }
  absl::MutexLock lock(&mu_);
  idle_priority_ = idle_class_ && policy_error == 0;
  for (;;) {
    mu_.Await(absl::Condition(
        +[](WalCheckpointer* self) {
          self->mu_.AssertHeld();
          return self->stopping_ || self->state_ == State::kRunning;
        },
        this));
    if (stopping_) return;
    mu_.Unlock();
    int log_frames = 0;
    int copied_frames = 0;
    const int rc = sqlite3_wal_checkpoint_v2(own_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &log_frames, &copied_frames);
    const std::string error = rc == SQLITE_OK ? "" : sqlite3_errmsg(own_db_);
    mu_.Lock();
    if (rc == SQLITE_OK) {
      ++background_checkpoints_;
      background_frames_ += std::max(copied_frames, 0);
      state_ = State::kCaughtUp;
      continue;
    }
    if (rc == SQLITE_INTERRUPT) {
      // The writer took over (AfterGroup), or a late interrupt of the last takeover cut this
      // checkpoint short: the next threshold crossing starts another.
      state_ = State::kIdle;
      continue;
    }
    // SQLITE_BUSY: another checkpoint (a backup's connection closing) holds the lock; the next
    // threshold crossing tries again, like any other failure.
    if (rc != SQLITE_BUSY) {
      spdlog::warn("{{\"event\":\"store\",\"checkpoint_failed\":\"{}\"}}", error);
    }
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryAfterFailure);
    state_ = State::kIdle;
  }
}

}  // namespace switchboard::store
