#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace switchboard::routing {

// Domains compare in their ASCII form (IDNA 2008 / UTS #46 non-transitional processing through
// libidn2, RFC 5891): "Bücher.Example" and "xn--bcher-kva.example" are both
// "xn--bcher-kva.example". An all-ASCII domain is only lower-cased (no IDNA checks, so the
// domains providers send always compare).

// `domain` (UTF-8 or ASCII) → lower-case ASCII. kInvalidArgument with libidn2's message when a
// non-ASCII domain is not a valid IDN. Thread-safe.
absl::StatusOr<std::string> DomainToAscii(absl::string_view domain);

// As DomainToAscii for a domain glob: labels holding '*' or '?' must be ASCII (they are only
// lower-cased); every other label is converted on its own. kInvalidArgument as above, or for a
// non-ASCII label with a wildcard ("write that label in punycode").
absl::StatusOr<std::string> DomainPatternToAscii(absl::string_view pattern);

// True if `text` has no byte >= 0x80 and no upper-case ASCII letter, i.e. DomainToAscii would
// return it unchanged.
bool IsLowerAscii(absl::string_view text);

}  // namespace switchboard::routing
