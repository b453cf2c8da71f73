// libFuzzer target: Mandrill mandrill_events form posts, X-Mandrill-Signature.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/mandrill/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "mandrill";
    source.key = "fuzz-webhook-key";
    source.url = "https://hooks.example.com/v1/webhooks/mandrill";
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/x-www-form-urlencoded"}, {"x-mandrill-signature", "AAAA"}},
      {{"content-type", "application/x-www-form-urlencoded"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
