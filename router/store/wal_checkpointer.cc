#include "router/store/wal_checkpointer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
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

}  // namespace

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                       sqlite3* writer_db,
                                                                       int database_fd,
                                                                       int threshold_frames,
                                                                       bool idle_class) {
  sqlite3* own = nullptr;
  sqlite3_stmt* clear_interrupt = nullptr;
  // NOMUTEX: the checkpointer thread is the only user of this connection (sqlite3_interrupt
  // excepted, which is safe from any thread).
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
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(own, "SELECT 1", -1, &clear_interrupt, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status error = absl::FailedPreconditionError(
        absl::StrCat("cannot open the checkpoint connection: ",
                     own != nullptr ? sqlite3_errmsg(own) : sqlite3_errstr(rc)));
    sqlite3_finalize(clear_interrupt);
    sqlite3_close(own);
    return error;
  }
  auto checkpointer = absl::WrapUnique(
      new WalCheckpointer(writer_db, own, clear_interrupt, database_fd, threshold_frames,
                          idle_class));
  sqlite3_wal_hook(writer_db, &WalCheckpointer::OnWalCommit, checkpointer.get());
  return checkpointer;
}

WalCheckpointer::WalCheckpointer(sqlite3* writer_db, sqlite3* own_db,
                                 sqlite3_stmt* clear_interrupt, int database_fd,
                                 int threshold_frames, bool idle_class)
    : writer_db_(writer_db),
      own_db_(own_db),
      clear_interrupt_(clear_interrupt),
      database_fd_(database_fd),
      threshold_frames_(threshold_frames) {
  thread_ = std::thread([this] { Loop(); });
  // Set here rather than by the thread itself, so both hold once Start returns. The name shows in
  // `top -H` and /proc/<pid>/task/<tid>/comm (at most 15 characters). On Linux a thread's policy
  // is its own: the writer and the rest of the process keep theirs.
  pthread_setname_np(thread_.native_handle(), "sb-checkpoint");
  if (idle_class) {
    const sched_param param{};
    const int error = pthread_setschedparam(thread_.native_handle(), SCHED_IDLE, &param);
    idle_priority_ = error == 0;
    if (error != 0) {
      spdlog::info(
          "{{\"event\":\"store\",\"checkpointer_priority\":\"normal\",\"reason\":\"{}\"}}",
          std::strerror(error));
    }
  }
}

WalCheckpointer::~WalCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    stop_write_back_ = true;
    // What it copied stays copied; the next open's checkpoints do the rest.
    if (in_checkpoint_) sqlite3_interrupt(own_db_);
  }
  thread_.join();
  sqlite3_finalize(clear_interrupt_);
  if (const int closed = sqlite3_close(own_db_); closed != SQLITE_OK) {
    spdlog::error("{{\"event\":\"store\",\"checkpointer_close_failed\":\"{}\"}}",
                  sqlite3_errstr(closed));
  }
}

int WalCheckpointer::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*schema*/,
                                 int frames) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  // A restarted WAL holds only this commit's frames: fewer than after the commit before it
  // (unless this one commit outgrew the whole previous WAL, which only costs a write-back).
  if (frames < checkpointer->hook_frames_) {
    checkpointer->wal_restarts_.fetch_add(1, std::memory_order_relaxed);
  }
  checkpointer->hook_frames_ = frames;
  checkpointer->wal_frames_ = frames;
  return SQLITE_OK;
}

void WalCheckpointer::AfterGroup() {
  const bool wait = wal_frames_ >= kWaitFactor * threshold_frames_;
  if (wait) {
    mu_.Lock();
  } else if (!mu_.TryLock()) {
    return;  // the thread holds it for a moment, or is kept off the CPU with it: next group
  }
  const Copy copy = DecideAfterGroup();
  if (wait) {
    mu_.Await(absl::Condition(
        +[](WalCheckpointer* self) {
          self->mu_.AssertHeld();
          return !self->in_checkpoint_;
        },
        this));
  }
  mu_.Unlock();
  if (copy != Copy::kNo) CopyHere(copy == Copy::kTakeOver);
}

WalCheckpointer::Copy WalCheckpointer::DecideAfterGroup() {
  const bool behind = wal_frames_ >= kTakeOverFactor * threshold_frames_;
  if (behind) {
    if (in_checkpoint_ && !interrupted_) {
      // sqlite3_interrupt is the one call that may be made on another thread's connection.
      sqlite3_interrupt(own_db_);
      interrupted_ = true;
    }
  }
  switch (state_) {
    case State::kIdle:
      if (behind) return Copy::kTakeOver;
      if (wal_frames_ >= threshold_frames_) state_ = State::kRunning;
      return Copy::kNo;
    case State::kRunning:
      // Behind: the copy gets SQLITE_BUSY at once while the thread holds the checkpoint lock.
      return behind ? Copy::kTakeOver : Copy::kNo;
    case State::kCaughtUp:
      // The thread copied everything up to its start; the writer copies what came since.
      state_ = State::kIdle;
      return behind ? Copy::kTakeOver : Copy::kYes;
  }
  return Copy::kNo;
}

void WalCheckpointer::WriteBack() {
  if (database_fd_ < 0) return;
  const auto warn = [this](std::string_view error) {
    if (const std::optional<uint64_t> dropped = write_back_warnings_.Admit()) {
      spdlog::warn(
          "{{\"event\":\"store\",\"checkpoint_write_back_failed\":\"{}\",\"dropped\":{}}}",
          error, *dropped);
    }
  };
  struct stat file {};
  if (fstat(database_fd_, &file) != 0) {
    warn(std::strerror(errno));
    return;
  }
  // A clean range costs a page-cache lookup. A pass dirties at most the WAL's worth of pages
  // wherever they are in the file, so on a large file the chunks grow, to keep the calls per
  // pass at kMaxWritebackCalls. One chunk is in flight while the previous one is waited for. On
  // a disk too slow to finish within kWritebackChunkedFor, the sync below writes the rest at once.
  const off_t chunk = std::max<off_t>(kWritebackChunkBytes, file.st_size / kMaxWritebackCalls);
  const auto give_up = std::chrono::steady_clock::now() +
                       absl::ToChronoMilliseconds(kWritebackChunkedFor);
  constexpr unsigned kWait =
      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  for (off_t offset = 0; offset < file.st_size; offset += chunk) {
    if (stop_write_back_.load(std::memory_order_relaxed)) return;
    if (std::chrono::steady_clock::now() > give_up) break;
    int rc = sync_file_range(database_fd_, offset, chunk, SYNC_FILE_RANGE_WRITE);
    if (rc == 0 && offset > 0) rc = sync_file_range(database_fd_, offset - chunk, chunk, kWait);
    if (rc != 0) {
      warn(std::strerror(errno));
      break;  // the sync below still writes everything back
    }
  }
  // The size, if the pass grew the file, the chunks not waited for, and the device's cache:
  // through SQLite's VFS, as SQLite syncs the file itself.
  sqlite3_file* database = nullptr;
  int rc = sqlite3_file_control(own_db_, "main", SQLITE_FCNTL_FILE_POINTER, &database);
  if (rc == SQLITE_OK && (database == nullptr || database->pMethods == nullptr)) rc = SQLITE_MISUSE;
  if (rc == SQLITE_OK) rc = database->pMethods->xSync(database, SQLITE_SYNC_NORMAL);
  if (rc != SQLITE_OK) warn(sqlite3_errstr(rc));
}

void WalCheckpointer::CopyHere(bool takeover) {
  // Here no commit can come in between, so once everything is copied the next BEGIN finds the
  // WAL fully copied and restarts it.
  int log_frames = 0;
  int copied_frames = 0;
  const int rc = sqlite3_wal_checkpoint_v2(writer_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &copied_frames);
  if (rc == SQLITE_OK) {
    ++writer_checkpoints_;
    if (takeover) ++takeovers_;
    if (copied_frames == log_frames) wal_frames_ = 0;
  } else if (rc != SQLITE_BUSY) {
    spdlog::warn("{{\"event\":\"store\",\"checkpoint_failed\":\"{}\"}}", sqlite3_errstr(rc));
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

void WalCheckpointer::Loop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](WalCheckpointer* self) {
          self->mu_.AssertHeld();
          return self->stopping_ || self->state_ == State::kRunning;
        },
        this));
    if (stopping_) return;
    mu_.Unlock();
    // An interrupt meant for the last checkpoint may have landed after it returned; it would cut
    // this one short. Starting a statement clears it (no other statement runs on this
    // connection), and the writer sends none until in_checkpoint_ is set below.
    sqlite3_step(clear_interrupt_);
    sqlite3_reset(clear_interrupt_);
    mu_.Lock();
    if (stopping_) return;
    in_checkpoint_ = true;
    mu_.Unlock();
    int log_frames = 0;
    int copied_frames = 0;
    const int rc = sqlite3_wal_checkpoint_v2(own_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &log_frames, &copied_frames);
    const std::string error = rc == SQLITE_OK ? "" : sqlite3_errmsg(own_db_);
    // Read after the pass: a restart before it could not be told from one after it, and
    // counting one too many only costs a write-back.
    const int64_t restarts = wal_restarts_.load(std::memory_order_relaxed);
    mu_.Lock();
    in_checkpoint_ = false;
    interrupted_ = false;
    if (rc == SQLITE_OK) {
      // pnCkpt counts every frame copied of this WAL so far, by any checkpoint.
      const bool same_wal = restarts == background_restarts_ && log_frames >= background_log_;
      background_restarts_ = restarts;
      // Before the writer may copy (kCaughtUp below), so that its fsync finds these pages clean.
      // Outside in_checkpoint_: a writer that takes over meanwhile does not wait for the thread,
      // only its own fsync for the chunk in flight. Nothing to write back if the pass copied
      // nothing (a reader holding an old snapshot stops every pass at the same frame).
      if (!same_wal || copied_frames > background_copied_) {
        mu_.Unlock();
        WriteBack();
        mu_.Lock();
      }
      ++background_checkpoints_;
      background_frames_ += std::max(copied_frames - (same_wal ? background_copied_ : 0), 0);
      background_log_ = log_frames;
      background_copied_ = copied_frames;
      state_ = State::kCaughtUp;
      continue;
    }
    if (rc == SQLITE_INTERRUPT) {
      // The writer took over (AfterGroup): it copies the WAL itself.
      state_ = State::kIdle;
      continue;
    }
    // SQLITE_BUSY: another checkpoint (the writer's, or a backup's connection closing) holds the
    // lock; the next threshold crossing tries again, like any other failure.
    if (rc != SQLITE_BUSY) {
      spdlog::warn("{{\"event\":\"store\",\"checkpoint_failed\":\"{}\"}}", error);
    }
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryAfterFailure);
    state_ = State::kIdle;
  }
}

}  // namespace switchboard::store
