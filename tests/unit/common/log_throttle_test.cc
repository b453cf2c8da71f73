#include "router/common/log_throttle.h"

#include <optional>

#include "gtest/gtest.h"

namespace switchboard {
namespace {

TEST(LogThrottleTest, OneLinePerIntervalCarryingTheCountOfTheLinesItDropped) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  LogThrottle throttle(absl::Seconds(1), clock);
  EXPECT_EQ(throttle.Admit(), std::optional<uint64_t>(0)) << "the first line goes through";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(throttle.Admit(), std::nullopt) << i;
  clock.Advance(absl::Milliseconds(999));
  EXPECT_EQ(throttle.Admit(), std::nullopt) << "still inside the interval";
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(throttle.Admit(), std::optional<uint64_t>(4)) << "3 + 1 dropped";
  EXPECT_EQ(throttle.Admit(), std::nullopt);
  // The interval counts from the line written, not from the last one dropped.
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(throttle.Admit(), std::optional<uint64_t>(1));
  // A quiet spell: the next line goes through at once with nothing dropped.
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(throttle.Admit(), std::optional<uint64_t>(0));
}

TEST(LogThrottleTest, AZeroIntervalDropsNothing) {
  FakeClock clock(absl::FromUnixSeconds(1'700'000'000));
  LogThrottle throttle(absl::ZeroDuration(), clock);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(throttle.Admit(), std::optional<uint64_t>(0)) << i;
}

}  // namespace
}  // namespace switchboard
