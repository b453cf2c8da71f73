#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/store/store.h"

namespace switchboard::store {

// Runs Store::Sweep with one RetentionPolicy every `interval` (a minute in the router) on its own
// thread, and keeps the totals. SweepOnce runs one sweep now and waits for it, for tests (with a
// FakeClock behind the store) and for the first sweep at startup.
// Thread-safe; the store must outlive the sweeper (its destructor stops and joins the thread).
class RetentionSweeper {
 public:
  struct Totals {
    uint64_t archive = 0;
    uint64_t quarantine = 0;
    uint64_t dead_letters = 0;
    uint64_t expired = 0;  // queue entries moved to dead letters with reason "expired"
    uint64_t failures = 0;  // sweeps the store could not run (logged)
  };

  RetentionSweeper(Store& store, RetentionPolicy policy, absl::Duration interval);
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

  // Starts the periodic thread (the first sweep runs one interval after Start).
  void Start();
  // One sweep now; its result (also added to the totals).
  absl::StatusOr<SweepResult> SweepOnce();
  // Totals since construction (for metrics: switchboard_expired_total and friends).
  Totals totals() const;

 private:
  void Loop();

  Store& store_;
  const RetentionPolicy policy_;
  const absl::Duration interval_;

  mutable absl::Mutex mu_;
  Totals totals_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace switchboard::store
