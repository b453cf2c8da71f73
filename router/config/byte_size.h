#pragma once

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace switchboard::config {

// Parses a byte size: a decimal integer, optionally followed directly by a unit. Decimal units
// (SI) B, KB, MB, GB, TB are powers of 1000; binary units (IEC 80000-13) KiB, MiB, GiB, TiB are
// powers of 1024. Examples: "1024" (bytes), "512KiB", "10MiB", "1MB". Units are case-sensitive, no
// sign, no fraction, no space. kInvalidArgument on anything else or on uint64 overflow; the
// message does not repeat the input. Thread-safe.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

}  // namespace switchboard::config
