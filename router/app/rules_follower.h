#pragma once

#include <functional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "router/store/store.h"

namespace switchboard::app {

// Reads the store's rules document (Store::GetRules) and hands each read to `apply`, on a thread
// of its own: never on a store thread, which every commit waits for (a document of 10,000 rules
// takes seconds to parse). A read happens at once, then:
// - on Request (the store's rules listener: a change was announced, or may have been missed);
// - `retry` after a read that failed (Redis loading its data after a restart, say);
// - every `recheck` otherwise, for a change nothing announced (a Redis FLUSHALL).
// Reads run one at a time, in order, so the last one applied is the newest. Thread-safe.
class RulesFollower {
 public:
  using Apply = std::function<void(const absl::StatusOr<store::RulesDocument>&)>;

  RulesFollower(store::Store& store, Apply apply, absl::Duration recheck, absl::Duration retry);
  ~RulesFollower();  // Stop()
  RulesFollower(const RulesFollower&) = delete;
  RulesFollower& operator=(const RulesFollower&) = delete;

  // Asks for a read soon; never blocks on a read. A no-op after Stop.
  void Request();
  // Waits up to `timeout` for the first read to be applied; false if it was not.
  bool WaitFirstRead(absl::Duration timeout);
  // Finishes the read under way (the store answers every call) and joins. Call while the store
  // still answers; idempotent.
  void Stop();

 private:
  void Run();

  store::Store& store_;
  const Apply apply_;
  const absl::Duration recheck_;
  const absl::Duration retry_;
  absl::Notification first_read_;
  absl::Mutex mu_;
  bool requested_ ABSL_GUARDED_BY(mu_) = true;  // the first read
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace switchboard::app
