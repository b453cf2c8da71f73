#pragma once

#include <cstdint>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/config/config.h"

namespace switchboard::delivery {

// Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
// Jitter", 2015): the wait before attempt n+1 after attempt n failed is uniform in
// [0, Ceiling(n)], Ceiling(n) = min(max, initial * multiplier^(n-1)). Full jitter spreads the
// retries of many events that failed together (an agent's dependency was down) instead of
// sending them back in lock-step.
//
// Thread-safe. The random source is seeded once (tests pass a fixed seed).
class Backoff {
 public:
  explicit Backoff(uint64_t seed = std::random_device{}()) : random_(seed) {}

  // The cap of the wait after failed attempt `attempt` (1-based; 0 is taken as 1). Never more
  // than config.max, never negative.
  static absl::Duration Ceiling(const config::BackoffConfig& config, uint32_t attempt);

  // A wait drawn uniformly from [0, Ceiling(config, attempt)], at microsecond resolution.
  absl::Duration Delay(const config::BackoffConfig& config, uint32_t attempt);

 private:
  absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace switchboard::delivery
