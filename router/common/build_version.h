#pragma once

#include <string_view>

namespace switchboard {

// The version of this build: the project version, then `git describe --always --dirty` of the
// source tree when CMake configured it (e.g. "0.1.0+3f2a9c1-dirty"; just "0.1.0" outside git).
// Recorded with quarantined webhooks, so an operator knows which code failed to decode them.
std::string_view BuildVersion();

}  // namespace switchboard
