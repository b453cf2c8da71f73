#include "router/metrics/store_monitor.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace switchboard::metrics {

StoreMonitor::StoreMonitor(store::Store& store, const Clock& clock, Registry& registry,
                           std::vector<std::string> agents, absl::Duration interval,
                           std::function<void(bool healthy)> on_health)
    : store_(store),
      clock_(clock),
      agents_(std::move(agents)),
      interval_(interval),
      on_health_(std::move(on_health)),
      ready_(registry.AddGauge("switchboard_queue_ready",
                               "Queue entries of the agent waiting and visible now (queue depth).",
                               {"agent"})),
      delayed_(registry.AddGauge(
          "switchboard_queue_delayed",
          "Queue entries of the agent waiting out a backoff or a nack retry_after.", {"agent"})),
      leased_(registry.AddGauge(
          "switchboard_queue_leased",
          "Queue entries of the agent delivered and not yet acked, on every router of the store.",
          {"agent"})),
      dead_letters_(registry.AddGauge("switchboard_dead_letters",
                                      "Entries in the agent's dead letters.", {"agent"})),
      oldest_unacked_age_(registry.AddGauge(
          "switchboard_oldest_unacked_age_seconds",
          "Age of the lease of the agent's oldest unacked delivery (0 when none).", {"agent"})),
      store_up_(registry.AddGauge("switchboard_store_up",
                                  "1 when the last store operation succeeded, else 0.")
                    .WithLabels({})),
      thread_([this] { Run(); }) {}

StoreMonitor::~StoreMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  // The store answers every call (also when it shuts down): wait for the round in flight.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(+[](int* n) { return *n == 0; }, &outstanding_));
}

bool StoreMonitor::RoundAnsweredOrStopping() const { return outstanding_ == 0 || stopping_; }

int64_t StoreMonitor::rounds() const {
  absl::MutexLock lock(&mu_);
  return rounds_;
}

void StoreMonitor::RoundDone() {
  absl::MutexLock lock(&mu_);
  if (--outstanding_ == 0) ++rounds_;
}

void StoreMonitor::Run() {
  std::optional<bool> last_health;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const bool healthy = store_.Healthy();
    store_up_.Set(healthy ? 1 : 0);
    if (on_health_ && last_health != healthy) {
      last_health = healthy;
      mu_.Unlock();
      on_health_(healthy);
      mu_.Lock();
      if (stopping_) break;
    }
    outstanding_ = static_cast<int>(agents_.size());
    if (agents_.empty()) ++rounds_;
    mu_.Unlock();
    for (const std::string& agent : agents_) {
      store_.Stats(agent, [this, agent](absl::StatusOr<store::QueueStats> stats) {
        if (stats.ok()) {
          ready_.WithLabels({agent}).Set(static_cast<double>(stats->ready));
          delayed_.WithLabels({agent}).Set(static_cast<double>(stats->delayed));
          leased_.WithLabels({agent}).Set(static_cast<double>(stats->leased));
          dead_letters_.WithLabels({agent}).Set(static_cast<double>(stats->dead_letters));
          const absl::Duration age =
              stats->oldest_leased == absl::InfiniteFuture()
                  ? absl::ZeroDuration()
                  : std::max(clock_.Now() - stats->oldest_leased, absl::ZeroDuration());
          oldest_unacked_age_.WithLabels({agent}).Set(absl::ToDoubleSeconds(age));
        }
        RoundDone();
      });
    }
    mu_.Lock();
    // Wait for this round to be answered, then for the interval (or the stop).
    mu_.Await(absl::Condition(this, &StoreMonitor::RoundAnsweredOrStopping));
    if (stopping_) break;
    mu_.AwaitWithTimeout(
        absl::Condition(+[](bool* stopping) { return *stopping; }, &stopping_), interval_);
  }
}

}  // namespace switchboard::metrics
