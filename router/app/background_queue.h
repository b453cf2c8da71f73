#pragma once

#include <cstddef>
#include <deque>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace switchboard::app {

// One worker thread that runs posted tasks in order, for outbound fetches that must never run on
// an ingress io thread. Post never blocks. The destructor drops the tasks not started, waits for
// the running one to return, and joins. Thread-safe.
class BackgroundQueue {
 public:
  explicit BackgroundQueue(size_t max_pending);
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  // Queues `task`; false (and `task` dropped) when `max_pending` tasks already wait.
  bool Post(absl::AnyInvocable<void() &&> task);
  // Returns once no task is queued or running (tests, orderly checks).
  void WaitIdle();

 private:
  void Run();

  const size_t max_pending_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace switchboard::app
