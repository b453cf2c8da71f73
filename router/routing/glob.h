#pragma once

#include "absl/strings/string_view.h"

namespace switchboard::routing {

// Glob match for address patterns: '*' matches any run (possibly empty) of characters other than
// '@', '?' matches exactly one character other than '@'; every other byte matches itself exactly
// (callers lower-case both sides where a comparison is case-insensitive). There is no escape
// character. O(|pattern| * |text|) time, O(|text|) space, no recursion. Thread-safe.
bool GlobMatch(absl::string_view pattern, absl::string_view text);

}  // namespace switchboard::routing
