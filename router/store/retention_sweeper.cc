#include "router/store/retention_sweeper.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "spdlog/spdlog.h"

namespace switchboard::store {

RetentionSweeper::RetentionSweeper(Store& store, RetentionPolicy policy, absl::Duration interval)
    : store_(store), policy_(std::move(policy)), interval_(interval) {}

RetentionSweeper::~RetentionSweeper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void RetentionSweeper::Start() { thread_ = std::thread([this] { Loop(); }); }

absl::StatusOr<SweepResult> RetentionSweeper::SweepOnce() {
  struct State {
    absl::Notification done;
    std::optional<absl::StatusOr<SweepResult>> result;
  };
  auto state = std::make_shared<State>();
  store_.Sweep(policy_, [state](absl::StatusOr<SweepResult> result) {
    state->result.emplace(std::move(result));
    state->done.Notify();
  });
  // Every store callback runs exactly once (with kUnavailable at shutdown), so this returns.
  state->done.WaitForNotification();
  absl::StatusOr<SweepResult> result = std::move(*state->result);
  absl::MutexLock lock(&mu_);
  if (!result.ok()) {
    ++totals_.failures;
    spdlog::warn("{{\"event\":\"retention\",\"error\":\"{}\"}}", std::string(result.status().message()));
    return result;
  }
  totals_.archive += result->archive;
  totals_.quarantine += result->quarantine;
  totals_.dead_letters += result->dead_letters;
  totals_.expired += result->expired;
  if (result->archive + result->quarantine + result->dead_letters + result->expired > 0) {
    spdlog::info(
        "{{\"event\":\"retention\",\"archive\":{},\"quarantine\":{},\"dead_letters\":{},"
        "\"expired\":{}}}",
        result->archive, result->quarantine, result->dead_letters, result->expired);
  }
  return result;
}

RetentionSweeper::Totals RetentionSweeper::totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

void RetentionSweeper::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
      if (stopping_) return;
    }
    (void)SweepOnce();
  }
}

}  // namespace switchboard::store
