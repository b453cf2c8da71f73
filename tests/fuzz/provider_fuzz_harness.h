#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "router/config/config.h"
#include "router/providers/provider.h"

// The shared body of the libFuzzer targets under tests/fuzz/: one provider, built once from a test
// config with a FakeClock, gets every input as the raw body of a POST, through Verify and then
// Decode (Decode runs even when Verify refuses: a decoder must survive any bytes, and random bytes
// almost never carry a valid signature). Crashes, sanitizer reports and uncaught exceptions are
// the findings; every Status is a normal outcome.
namespace switchboard::fuzz {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct FuzzTarget {
  std::unique_ptr<const providers::Provider> provider;
  // Header sets; input byte 0 picks one (modulo), so one corpus reaches every body shape. The body
  // is always the whole input, so a fixture file is a seed as it is.
  std::vector<Headers> header_sets;
};

// Aborts (a harness bug, not a finding) when the provider cannot be built.
std::unique_ptr<const providers::Provider> MustCreate(const config::SourceConfig& source);

// Runs one input against `target`. Always returns 0 (libFuzzer's convention).
int RunOne(const FuzzTarget& target, const uint8_t* data, size_t size);

}  // namespace switchboard::fuzz
