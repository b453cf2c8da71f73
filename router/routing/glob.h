#pragma once

#include "absl/strings/string_view.h"

namespace switchboard::routing {

enum class GlobCase { kSensitive, kAsciiInsensitive };

// Glob match for address patterns: '*' matches any run (possibly empty) of characters other than
// '@', '?' matches exactly one character other than '@'; every other byte matches itself exactly
// (with kAsciiInsensitive, ASCII letters match either case; other bytes still exactly). There is
// no escape character. O(|pattern| * |text|) worst case, no allocation, no recursion. Thread-safe.
bool GlobMatch(absl::string_view pattern, absl::string_view text,
               GlobCase mode = GlobCase::kSensitive);

}  // namespace switchboard::routing
