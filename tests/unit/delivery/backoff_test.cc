#include "router/delivery/backoff.h"

#include <gtest/gtest.h>

namespace switchboard::delivery {
namespace {

// Expected values follow the formula of the AWS Architecture Blog "Exponential Backoff And
// Jitter" (full jitter): sleep = random_between(0, min(cap, base * 2 ** attempt)).

config::BackoffConfig Config(absl::Duration initial, absl::Duration max, double multiplier) {
  config::BackoffConfig c;
  c.initial = initial;
  c.max = max;
  c.multiplier = multiplier;
  return c;
}

TEST(BackoffTest, CeilingGrowsExponentiallyFromInitialAndIsCapped) {
  const auto c = Config(absl::Seconds(1), absl::Seconds(10), 2);
  EXPECT_EQ(Backoff::Ceiling(c, 1), absl::Seconds(1));
  EXPECT_EQ(Backoff::Ceiling(c, 2), absl::Seconds(2));
  EXPECT_EQ(Backoff::Ceiling(c, 3), absl::Seconds(4));
  EXPECT_EQ(Backoff::Ceiling(c, 4), absl::Seconds(8));
  EXPECT_EQ(Backoff::Ceiling(c, 5), absl::Seconds(10));  // 16 s capped
  EXPECT_EQ(Backoff::Ceiling(c, 1000000), absl::Seconds(10));  // no overflow
  EXPECT_EQ(Backoff::Ceiling(c, 0), absl::Seconds(1));  // attempt 0 is taken as 1
}

TEST(BackoffTest, MultiplierOneIsAConstantCeiling) {
  const auto c = Config(absl::Milliseconds(300), absl::Minutes(1), 1);
  EXPECT_EQ(Backoff::Ceiling(c, 1), absl::Milliseconds(300));
  EXPECT_EQ(Backoff::Ceiling(c, 50), absl::Milliseconds(300));
}

TEST(BackoffTest, FractionalMultiplier) {
  const auto c = Config(absl::Seconds(4), absl::Minutes(1), 1.5);
  EXPECT_EQ(Backoff::Ceiling(c, 3), absl::Seconds(9));  // 4 * 1.5^2
}

TEST(BackoffTest, ZeroInitialMeansNoWait) {
  Backoff backoff(1);
  const auto c = Config(absl::ZeroDuration(), absl::ZeroDuration(), 2);
  EXPECT_EQ(backoff.Delay(c, 3), absl::ZeroDuration());
}

TEST(BackoffTest, DelaysStayWithinZeroAndTheCeilingAndSpreadOverIt) {
  Backoff backoff(42);
  const auto c = Config(absl::Seconds(1), absl::Seconds(30), 2);
  for (uint32_t attempt = 1; attempt <= 8; ++attempt) {
    const absl::Duration ceiling = Backoff::Ceiling(c, attempt);
    absl::Duration low = absl::InfiniteDuration();
    absl::Duration high = absl::ZeroDuration();
    for (int i = 0; i < 2000; ++i) {
      const absl::Duration d = backoff.Delay(c, attempt);
      ASSERT_GE(d, absl::ZeroDuration());
      ASSERT_LE(d, ceiling);
      low = std::min(low, d);
      high = std::max(high, d);
    }
    // Full jitter uses the whole range: 2000 uniform draws all landing in one quarter of it has
    // probability 2 * 0.75^2000 (never, with this fixed seed or any other).
    EXPECT_LT(low, ceiling / 4) << "attempt " << attempt;
    EXPECT_GT(high, ceiling * 3 / 4) << "attempt " << attempt;
  }
}

}  // namespace
}  // namespace switchboard::delivery
