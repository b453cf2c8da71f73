// libFuzzer target: Postmark webhooks (every RecordType) and inbound JSON, basic auth.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/postmark/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "postmark";
    source.basic_auth = config::BasicAuth{"fuzz", "fuzz-password"};
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/json"}, {"authorization", "Basic ZnV6ejpmdXp6LXBhc3N3b3Jk"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
