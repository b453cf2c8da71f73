#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace switchboard {

// The whole contents of the regular file at `path` (a link to one is followed). Anything else is
// refused before it is opened: opening a FIFO with no writer, for one, would block the caller.
// Errors (kInvalidArgument), the path quoted:
//   "\"PATH\" is not a regular file"
//   "cannot read \"PATH\": <strerror>"   (missing, unreadable, or a read error)
absl::StatusOr<std::string> ReadRegularFile(const std::string& path);

}  // namespace switchboard
