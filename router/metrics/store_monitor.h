#pragma once

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/metrics/registry.h"
#include "router/store/store.h"

namespace switchboard::metrics {

// Keeps the store's numbers fresh in the registry without touching the store on the scrape path:
// every `interval` it asks Store::Stats for each agent name and Store::Healthy, and sets
//   switchboard_queue_ready{agent}                 entries waiting, visible now (queue depth)
//   switchboard_queue_delayed{agent}               entries waiting out a backoff / retry_after
//   switchboard_queue_leased{agent}                entries delivered and not yet acked (every
//                                                  router on this store; the in-flight count)
//   switchboard_dead_letters{agent}                entries in the agent's dead letters
//   switchboard_oldest_unacked_age_seconds{agent}  now - lease start of the oldest unacked
//                                                  entry, 0 when none is leased
//   switchboard_store_up                           1 when the last store operation succeeded
// Cost is bounded: one Stats call per configured agent per interval, whatever the scrape rate;
// a round starts only when the previous one has fully answered (a slow store is not piled up).
// A failed Stats leaves the agent's previous values in place (switchboard_store_up tells).
//
// `on_health` (may be null) runs on the monitor thread whenever Healthy() changes, and once at
// the first round; the app uses it for the gRPC health status.
//
// Thread-safe. The store, clock and registry must outlive the monitor; the destructor stops the
// thread and waits for a round in flight.
class StoreMonitor {
 public:
  StoreMonitor(store::Store& store, const Clock& clock, Registry& registry,
               std::vector<std::string> agents, absl::Duration interval,
               std::function<void(bool healthy)> on_health = nullptr);
  ~StoreMonitor();
  StoreMonitor(const StoreMonitor&) = delete;
  StoreMonitor& operator=(const StoreMonitor&) = delete;

  // Rounds completed so far (every agent answered or failed). For tests.
  int64_t rounds() const;

 private:
  void Run();
  void RoundDone() ABSL_LOCKS_EXCLUDED(mu_);
  bool RoundAnsweredOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store& store_;
  const Clock& clock_;
  const std::vector<std::string> agents_;
  const absl::Duration interval_;
  const std::function<void(bool)> on_health_;
  GaugeFamily& ready_;
  GaugeFamily& delayed_;
  GaugeFamily& leased_;
  GaugeFamily& dead_letters_;
  GaugeFamily& oldest_unacked_age_;
  Gauge& store_up_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // Stats calls of the current round not answered
  int64_t rounds_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // last: starts after every member is ready
};

}  // namespace switchboard::metrics
