#include "router/config/duration.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace switchboard::config {
namespace {

struct Unit {
  absl::string_view name;
  int64_t nanoseconds;
};

// Longest names first so that "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000},  // U+00B5 MICRO SIGN
    {"\xCE\xBCs", 1000},  // U+03BC GREEK SMALL LETTER MU
    {"ms", 1000 * 1000},
    {"s", int64_t{1000} * 1000 * 1000},
    {"m", int64_t{60} * 1000 * 1000 * 1000},
    {"h", int64_t{3600} * 1000 * 1000 * 1000},
};

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(std::string("invalid duration: ") + std::string(why));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  // Magnitudes are accumulated as uint64 so that exactly 2^63 ns is representable for "-".
  constexpr uint64_t kMax = uint64_t{1} << 63;
  absl::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return Invalid("empty");

  uint64_t total = 0;
  while (!s.empty()) {
    // Integer part.
    uint64_t whole = 0;
    size_t int_digits = 0;
    while (!s.empty() && absl::ascii_isdigit(static_cast<unsigned char>(s.front()))) {
      const uint64_t digit = static_cast<uint64_t>(s.front() - '0');
      if (whole > (kMax - digit) / 10) return Invalid("out of range");
      whole = whole * 10 + digit;
      s.remove_prefix(1);
      ++int_digits;
    }
    // Fraction: keep digits while they fit, then ignore the rest (as Go does).
    uint64_t fraction = 0;
    double scale = 1;
    size_t frac_digits = 0;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      bool overflowed = false;
      while (!s.empty() && absl::ascii_isdigit(static_cast<unsigned char>(s.front()))) {
        const uint64_t digit = static_cast<uint64_t>(s.front() - '0');
        if (!overflowed && fraction <= (kMax - digit) / 10) {
          fraction = fraction * 10 + digit;
          scale *= 10;
        } else {
          overflowed = true;
        }
        s.remove_prefix(1);
        ++frac_digits;
      }
    }
    if (int_digits == 0 && frac_digits == 0) return Invalid("expected a number");

    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (absl::StartsWith(s, u.name) && (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) {
      return Invalid("missing or unknown unit (want ns, us, ms, s, m or h)");
    }
    s.remove_prefix(unit->name.size());

    const uint64_t per = static_cast<uint64_t>(unit->nanoseconds);
    if (whole > kMax / per) return Invalid("out of range");
    uint64_t term = whole * per;
    if (fraction > 0) {
      const double extra = static_cast<double>(fraction) * (static_cast<double>(per) / scale);
      term += static_cast<uint64_t>(extra);
      if (term > kMax) return Invalid("out of range");
    }
    if (term > kMax - total) return Invalid("out of range");
    total += term;
  }
  if (!negative && total > kMax - 1) return Invalid("out of range");
  if (negative) {
    if (total == kMax) return absl::Nanoseconds(std::numeric_limits<int64_t>::min());
    return -absl::Nanoseconds(static_cast<int64_t>(total));
  }
  return absl::Nanoseconds(static_cast<int64_t>(total));
}

}  // namespace switchboard::config
