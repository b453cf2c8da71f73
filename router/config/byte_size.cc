#include "router/config/byte_size.h"

#include <limits>
#include <string>

#include "absl/strings/ascii.h"

namespace switchboard::config {
namespace {

struct Unit {
  absl::string_view name;
  uint64_t bytes;
};

constexpr Unit kUnits[] = {
    {"", 1},
    {"B", 1},
    {"KB", 1000},
    {"MB", 1000ull * 1000},
    {"GB", 1000ull * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
};

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(std::string("invalid size: ") + std::string(why));
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (kMax - digit) / 10) return Invalid("out of range");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return Invalid("expected a whole number of bytes, optionally with a unit");
  const absl::string_view unit = text.substr(i);
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (value > kMax / u.bytes) return Invalid("out of range");
    return value * u.bytes;
  }
  return Invalid("unknown unit (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

}  // namespace switchboard::config
