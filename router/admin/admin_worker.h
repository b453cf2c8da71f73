#pragma once

#include <deque>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace switchboard::admin {

// One thread for admin work that must not run on a store thread: a store thread is the writer
// that every webhook commit waits for, and a rules document's canonical form and diff take time
// that grows with the document (about a second for 10,000 rules). Tasks run one at a time in the
// order posted, each exactly once: on this thread, or, once Stop has begun, on the caller's
// thread (then possibly while the thread finishes earlier ones), so that an RPC waiting on a task
// is always answered. Thread-safe.
class AdminWorker {
 public:
  AdminWorker();
  ~AdminWorker();  // Stop()
  AdminWorker(const AdminWorker&) = delete;
  AdminWorker& operator=(const AdminWorker&) = delete;

  void Post(absl::AnyInvocable<void() &&> task);
  // Runs every task already posted, then joins the thread; tasks posted from then on run inline.
  // Idempotent.
  void Stop();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;  // serializes Stop's join
  std::thread thread_;   // last: started once the members above exist
};

}  // namespace switchboard::admin
