#include "router/delivery/backoff.h"

#include <algorithm>
#include <cmath>

namespace switchboard::delivery {

absl::Duration Backoff::Ceiling(const config::BackoffConfig& config, uint32_t attempt) {
  const absl::Duration max = std::max(config.max, absl::ZeroDuration());
  const double exponent = static_cast<double>(std::max<uint32_t>(attempt, 1) - 1);
  // In floating point seconds so that a large attempt number saturates instead of overflowing.
  const double seconds = absl::ToDoubleSeconds(config.initial) *
                         std::pow(std::max(config.multiplier, 1.0), exponent);
  if (!std::isfinite(seconds) || seconds >= absl::ToDoubleSeconds(max)) return max;
  return std::max(absl::Seconds(seconds), absl::ZeroDuration());
}

absl::Duration Backoff::Delay(const config::BackoffConfig& config, uint32_t attempt) {
  const int64_t ceiling_us = absl::ToInt64Microseconds(Ceiling(config, attempt));
  if (ceiling_us <= 0) return absl::ZeroDuration();
  std::uniform_int_distribution<int64_t> uniform(0, ceiling_us);
  absl::MutexLock lock(&mu_);
  return absl::Microseconds(uniform(random_));
}

}  // namespace switchboard::delivery
