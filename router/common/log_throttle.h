#pragma once

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/clock.h"

namespace switchboard {

// Lets at most one log line of a kind through per `interval` and counts the ones it holds back,
// so that a flood of the same event (a port scanner's failed TLS handshakes) costs one line per
// interval, and that line says how many it stands for. Count the events themselves in a metric:
// this only thins the log.
//
// Thread-safe. `clock` must outlive the throttle.
class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration interval, const Clock& clock = SystemClock::Get())
      : interval_(interval), clock_(clock) {}

  // nullopt: drop this line (it is counted). Otherwise write it, adding the returned number of
  // lines dropped since the last one written (0: none).
  std::optional<uint64_t> Admit() {
    const absl::Time now = clock_.Now();
    absl::MutexLock lock(&mu_);
    if (now < next_) {
      ++suppressed_;
      return std::nullopt;
    }
    next_ = now + interval_;
    const uint64_t suppressed = suppressed_;
    suppressed_ = 0;
    return suppressed;
  }

 private:
  const absl::Duration interval_;
  const Clock& clock_;
  absl::Mutex mu_;
  absl::Time next_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // the next line allowed from
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;                 // dropped since the last one
};

}  // namespace switchboard
