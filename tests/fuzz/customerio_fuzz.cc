// libFuzzer target: Customer.io reporting webhooks, X-CIO-Signature HMAC.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/customerio/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "customerio";
    source.signing_key = "755781b5e03a973f3405a85474d5a032a60fd56fabaad66039b12eadd83955fa";
    return new FuzzTarget{MustCreate(source), {
      {{"x-cio-timestamp", "1700000000"}, {"x-cio-signature", std::string(64, 'a')}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
