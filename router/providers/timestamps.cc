#include "router/providers/timestamps.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace switchboard::providers {
namespace {

using google::protobuf::util::TimeUtil;

// google.protobuf.Timestamp covers 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; a
// value outside cannot be serialized to JSON by agents, so it is a malformed payload, refused here
// (never accepted and then dead-lettered).
absl::StatusOr<google::protobuf::Timestamp> InRange(google::protobuf::Timestamp ts,
                                                    std::string_view text) {
  if (ts.seconds() < TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > TimeUtil::kTimestampMaxSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timestamp outside years 0001-9999: \"", std::string(text.substr(0, 64)), "\""));
  }
  return ts;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Up to 18 digits always fit in int64.
constexpr size_t kMaxIntegerDigits = 18;

absl::StatusOr<int64_t> ParseDigits(std::string_view digits) {
  if (digits.empty() || digits.size() > kMaxIntegerDigits) {
    return absl::InvalidArgumentError("timestamp: expected 1 to 18 decimal digits");
  }
  int64_t value = 0;
  for (char c : digits) {
    if (!IsDigit(c)) return absl::InvalidArgumentError("timestamp: not a decimal number");
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

google::protobuf::Timestamp ToProtoTimestamp(absl::Time time) {
  // ToUnixSeconds rounds toward the infinite past, so the nanosecond remainder is never negative.
  const int64_t seconds = absl::ToUnixSeconds(time);
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return ts;
}

absl::StatusOr<absl::Time> ParseSignedTimestamp(std::string_view text) {
  auto seconds = ParseDigits(text);
  if (!seconds.ok()) {
    return absl::UnauthenticatedError("signature timestamp is not decimal Unix seconds");
  }
  return absl::FromUnixSeconds(*seconds);
}

absl::Status CheckTimestampWindow(absl::Time signed_at, absl::Time now, absl::Duration tolerance,
                                  absl::Duration replay_horizon) {
  if (now - signed_at > replay_horizon) {
    return absl::UnauthenticatedError(
        absl::StrCat("signature timestamp is older than the dedupe window of ",
                     absl::FormatDuration(replay_horizon)));
  }
  if (tolerance == absl::ZeroDuration() || absl::AbsDuration(now - signed_at) <= tolerance) {
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(
      absl::StrCat("signature timestamp is outside the tolerance window of ",
                   absl::FormatDuration(tolerance)));
}

absl::StatusOr<google::protobuf::Timestamp> ParseEpochSeconds(std::string_view text) {
  const size_t dot = text.find('.');
  auto seconds = ParseDigits(text.substr(0, dot));
  if (!seconds.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not epoch seconds: \"", std::string(text), "\""));
  }
  int32_t nanos = 0;
  if (dot != std::string_view::npos) {
    std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty()) return absl::InvalidArgumentError("epoch seconds: empty fraction");
    int32_t scale = 100000000;
    for (char c : fraction) {
      if (!IsDigit(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("not epoch seconds: \"", std::string(text), "\""));
      }
      nanos += (c - '0') * scale;
      scale /= 10;
    }
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(*seconds);
  ts.set_nanos(nanos);
  return InRange(ts, text);
}

absl::StatusOr<google::protobuf::Timestamp> ParseEpochMillis(std::string_view text) {
  auto millis = ParseDigits(text);
  if (!millis.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not epoch milliseconds: \"", std::string(text), "\""));
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(*millis / 1000);
  ts.set_nanos(static_cast<int32_t>(*millis % 1000) * 1000000);
  return InRange(ts, text);
}

absl::StatusOr<google::protobuf::Timestamp> ParseRfc3339(std::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 timestamp: \"", std::string(text), "\": ", error));
  }
  return InRange(ToProtoTimestamp(time), text);
}

}  // namespace switchboard::providers
