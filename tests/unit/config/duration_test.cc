#include "router/config/duration.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace switchboard::config {
namespace {

// Cases from the table of Go's time.ParseDuration tests (src/time/time_test.go), the grammar this
// parser follows.
struct Case {
  const char* text;
  absl::Duration want;
};

TEST(ParseDurationTest, AcceptsGoSyntax) {
  const Case cases[] = {
      {"0", absl::ZeroDuration()},
      {"-0", absl::ZeroDuration()},
      {"+0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"5s", absl::Seconds(5)},
      {"30s", absl::Seconds(30)},
      {"1478s", absl::Seconds(1478)},
      {"-5s", absl::Seconds(-5)},
      {"+5s", absl::Seconds(5)},
      {"5.0s", absl::Seconds(5)},
      {"5.6s", absl::Seconds(5) + absl::Milliseconds(600)},
      {"5.s", absl::Seconds(5)},
      {".5s", absl::Milliseconds(500)},
      {"1.004s", absl::Seconds(1) + absl::Milliseconds(4)},
      {"100.00100s", absl::Seconds(100) + absl::Milliseconds(1)},
      {"10ns", absl::Nanoseconds(10)},
      {"11us", absl::Microseconds(11)},
      {"12\xC2\xB5s", absl::Microseconds(12)},  // U+00B5
      {"12\xCE\xBCs", absl::Microseconds(12)},  // U+03BC
      {"500ms", absl::Milliseconds(500)},
      {"15m", absl::Minutes(15)},
      {"72h", absl::Hours(72)},
      {"1.5h", absl::Minutes(90)},
      {"1h30m", absl::Minutes(90)},
      {"3h30m", absl::Minutes(210)},
      {"10.5s4m", absl::Minutes(4) + absl::Milliseconds(10500)},
      {"-2m3.4s", -(absl::Minutes(2) + absl::Milliseconds(3400))},
      {"1h2m3s4ms5us6ns", absl::Hours(1) + absl::Minutes(2) + absl::Seconds(3) +
                              absl::Milliseconds(4) + absl::Microseconds(5) +
                              absl::Nanoseconds(6)},
      {"39h9m14.425s", absl::Hours(39) + absl::Minutes(9) + absl::Milliseconds(14425)},
      {"52763797000ns", absl::Nanoseconds(52763797000)},
      {"0.3333333333333333333h", absl::Minutes(20)},
      {"9007199254740993ns", absl::Nanoseconds((int64_t{1} << 53) + 1)},
      {"9223372036854775807ns", absl::Nanoseconds(std::numeric_limits<int64_t>::max())},
      {"9223372036854775.807us", absl::Nanoseconds(std::numeric_limits<int64_t>::max())},
      {"9223372036854ms775us807ns",
       absl::Nanoseconds(std::numeric_limits<int64_t>::max())},
      {"-9223372036854775808ns", absl::Nanoseconds(std::numeric_limits<int64_t>::min())},
      {"-9223372036854775807ns", absl::Nanoseconds(-std::numeric_limits<int64_t>::max())},
      {"0.100000000000000000000h", absl::Minutes(6)},
      {"0.830103483285477580700h",
       absl::Minutes(49) + absl::Seconds(48) + absl::Nanoseconds(372539827)},
  };
  for (const Case& c : cases) {
    auto got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseDurationTest, RefusesWhatGoRefuses) {
  for (const char* text : {
           "",  "3",  "-",  "s",  ".",  "-.",  ".s",  "+.s",  "1d",  "1.5",  "5 s",  " 5s",
           "5s ", "1h-30m", "\x85\x85", "\xff\xff", "hello \xff\xff world", "5S", "1hs",
           "9223372036854775808ns",   // overflow
           "9223372036854775810ns",   // overflow
           "-9223372036854775809ns",  // overflow
           "3000000h",                // overflow
           "9223372036854775.808us",  // overflow
           "9223372036854ms775us808ns",
           "99999999999999999999999h",
       }) {
    auto got = ParseDuration(text);
    EXPECT_FALSE(got.ok()) << "\"" << text << "\" parsed as " << *got;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace switchboard::config
