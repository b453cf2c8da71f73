#include "router/providers/timestamps.h"

#include "gtest/gtest.h"

namespace switchboard::providers {
namespace {

void ExpectTimestamp(const absl::StatusOr<google::protobuf::Timestamp>& ts, int64_t seconds,
                     int32_t nanos) {
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(ts->seconds(), seconds);
  EXPECT_EQ(ts->nanos(), nanos);
}

TEST(TimestampsTest, EpochSeconds) {
  ExpectTimestamp(ParseEpochSeconds("1513299569"), 1513299569, 0);
  ExpectTimestamp(ParseEpochSeconds("1513299569.1234567"), 1513299569, 123456700);
  ExpectTimestamp(ParseEpochSeconds("1.000000001"), 1, 1);
  ExpectTimestamp(ParseEpochSeconds("1.9999999999"), 1, 999999999);  // truncated past 9 digits
  for (std::string_view bad : {"", "-1", "1e9", " 1", "1.", ".5", "12a", "1234567890123456789"}) {
    EXPECT_EQ(ParseEpochSeconds(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TimestampsTest, EpochMillis) {
  ExpectTimestamp(ParseEpochMillis("1591726752372"), 1591726752, 372000000);
  EXPECT_FALSE(ParseEpochMillis("1591726752.372").ok());
}

TEST(TimestampsTest, Rfc3339) {
  // 2023-10-02T18:11:25Z is 1696270285 (date -u -d 2023-10-02T18:11:25Z +%s).
  ExpectTimestamp(ParseRfc3339("2023-10-02T18:11:25.729Z"), 1696270285, 729000000);
  // 2023-02-22T23:41:11Z is 1677109271.
  ExpectTimestamp(ParseRfc3339("2023-02-22T23:41:11.894719+00:00"), 1677109271, 894719000);
  ExpectTimestamp(ParseRfc3339("2023-02-23T01:41:11.5+02:00"), 1677109271, 500000000);
  ExpectTimestamp(ParseRfc3339("2023-10-27T10:05:00Z"), 1698401100, 0);
  for (std::string_view bad : {"", "2023-10-27", "2023-10-27T10:05:00", "yesterday"}) {
    EXPECT_EQ(ParseRfc3339(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TimestampsTest, SignedTimestampWindow) {
  EXPECT_EQ(ParseSignedTimestamp("1614265330").value(), absl::FromUnixSeconds(1614265330));
  EXPECT_EQ(ParseSignedTimestamp("timestamp").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ParseSignedTimestamp("").status().code(), absl::StatusCode::kUnauthenticated);
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(CheckTimestampWindow(t, t + absl::Minutes(5), absl::Minutes(5)).ok());
  EXPECT_FALSE(CheckTimestampWindow(t, t + absl::Minutes(5) + absl::Seconds(1), absl::Minutes(5)).ok());
  EXPECT_FALSE(CheckTimestampWindow(t, t - absl::Minutes(6), absl::Minutes(5)).ok());
  EXPECT_TRUE(CheckTimestampWindow(t, t + absl::Hours(1000), absl::ZeroDuration()).ok());
  // The replay horizon (dedupe window) holds even with the tolerance window off.
  EXPECT_TRUE(CheckTimestampWindow(t, t + absl::Hours(72), absl::ZeroDuration(), absl::Hours(72)).ok());
  EXPECT_EQ(CheckTimestampWindow(t, t + absl::Hours(72) + absl::Seconds(1), absl::ZeroDuration(),
                                 absl::Hours(72))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckTimestampWindow(t, t + absl::Hours(73), absl::Hours(100), absl::Hours(72)).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(TimestampsTest, OutsideTheProtobufRangeIsMalformed) {
  // google.protobuf.Timestamp spans 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z (253402300799).
  EXPECT_TRUE(ParseEpochSeconds("253402300799").ok());
  EXPECT_EQ(ParseEpochSeconds("253402300800").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEpochSeconds("1000000000000000").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseEpochMillis("253402300800000").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseRfc3339("9999-12-31T23:59:59Z").ok());
  // A leap second in the last minute rolls over into year 10000.
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:60Z").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRfc3339("0000-01-01T00:00:00Z").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::providers
