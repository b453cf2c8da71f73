#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

// application/x-www-form-urlencoded bodies (WHATWG URL Standard, section 5.1): Mandrill posts
// `mandrill_events=<JSON>` this way. Thread-safe; never throws.
namespace switchboard::providers {

// The name/value pairs of `body` in order, '+' decoded to a space and %XX escapes decoded
// (bytes, not necessarily UTF-8). Empty sequences between '&' are skipped; a pair without '='
// has an empty value. kInvalidArgument: a '%' not followed by two hex digits.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseFormUrlEncoded(
    std::string_view body);

// The inverse for one component: every byte outside A-Z a-z 0-9 * - . _ is %XX-escaped, and a
// space becomes '+' (what HTML form submission produces).
std::string FormUrlEncode(std::string_view text);

}  // namespace switchboard::providers
