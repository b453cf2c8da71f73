#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "absl/status/statusor.h"

// Lossless JSON for webhook payloads.
//
// boost::json::parse (Boost 1.81) stores numbers as int64/uint64/double, which loses 7-digit
// fractional timestamps ("1513299569.1234567") and ids above 2^53. ParseJsonLossless runs
// boost::json::basic_parser and stores every number as a boost::json::string holding its exact
// source text instead (e.g. "1513299569.1234567", "19421777835146490"). Readers that need a number
// parse that text (see timestamps.h); a number and a numeric string read alike, which providers
// that send either (SendGrid "timestamp") want anyway. Everything else is a plain boost::json::value.
//
// Thread-safe (no shared state); never throws.
namespace switchboard::providers {

// Parses one JSON text (RFC 8259; no comments, no trailing commas, at most 32 levels deep).
// kInvalidArgument: not valid JSON, or trailing bytes after the value.
absl::StatusOr<boost::json::value> ParseJsonLossless(std::string_view text);

// The exact bytes of each element of the top-level JSON array `text` (leading and trailing
// whitespace of each element excluded), in order, as views into `text`.
// REQUIRES: `text` is valid JSON (ParseJsonLossless succeeded on it).
// kInvalidArgument: the top-level value is not an array.
absl::StatusOr<std::vector<std::string_view>> SplitJsonArray(std::string_view text);

// Member `key` of `object` as text: a string's value or a number's source text.
// nullopt when absent or of another type (null, bool, object, array).
std::optional<std::string_view> JsonText(const boost::json::object& object, std::string_view key);

// Member `key` of `object` if it is an object / an array; nullptr otherwise.
const boost::json::object* JsonObject(const boost::json::object& object, std::string_view key);
const boost::json::array* JsonArray(const boost::json::object& object, std::string_view key);

}  // namespace switchboard::providers
