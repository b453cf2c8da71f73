#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace switchboard::config {

// Parses a Go-style duration (the grammar of Go's time.ParseDuration): an optional sign, then
// "0" alone or one or more <decimal number><unit> terms, e.g. "500ms", "30s", "1h30m", "1.5h",
// "-2m". Units: ns, us (also "µs" U+00B5 and "μs" U+03BC), ms, s, m, h. The total must fit in
// int64 nanoseconds (about 292 years), as in Go. Fractions below one nanosecond are truncated.
// kInvalidArgument on anything else; the message does not repeat the input. Thread-safe.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace switchboard::config
