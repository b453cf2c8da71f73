#pragma once

#include <string_view>

#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

// Timestamp parsing for webhook payloads, exact to the nanosecond. All results are UTC.
// Thread-safe; never throws. Every parser returns kInvalidArgument for text it does not accept.
namespace switchboard::providers {

// Unix epoch seconds as decimal text: "1513299569" or "1513299569.1234567". Every fractional digit
// is kept up to nanoseconds (digits beyond the ninth are truncated). No sign, exponent or spaces:
// that is how every provider we read writes them (JSON numbers or numeric strings).
absl::StatusOr<google::protobuf::Timestamp> ParseEpochSeconds(std::string_view text);

// Unix epoch milliseconds as decimal text ("1591726752372"), for providers that document ms.
absl::StatusOr<google::protobuf::Timestamp> ParseEpochMillis(std::string_view text);

// RFC 3339 date-time: "2023-10-02T18:11:25.729Z", "2023-02-22T23:41:11.894719+00:00",
// "2023-10-27T10:05:00Z" (any number of fractional digits, 'Z' or a numeric offset).
absl::StatusOr<google::protobuf::Timestamp> ParseRfc3339(std::string_view text);

google::protobuf::Timestamp ToProtoTimestamp(absl::Time time);

// A signature timestamp header: Unix seconds as 1-18 decimal digits, nothing else.
// kUnauthenticated otherwise (it is part of the authentication, not of the payload).
absl::StatusOr<absl::Time> ParseSignedTimestamp(std::string_view text);

// kUnauthenticated when |now - signed_at| > tolerance, or when signed_at lies further in the past
// than `replay_horizon` (the dedupe window: an older request could replay as a new event once its
// idempotency key expired). A zero tolerance disables the first check, never the second.
absl::Status CheckTimestampWindow(absl::Time signed_at, absl::Time now, absl::Duration tolerance,
                                  absl::Duration replay_horizon = absl::InfiniteDuration());

}  // namespace switchboard::providers
