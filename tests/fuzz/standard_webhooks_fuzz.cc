// libFuzzer target: Standard Webhooks (Resend, AgentMail, generic), webhook-signature.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/standard_webhooks/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "standard-webhooks";
    source.vendor = "resend";
    source.secrets = {"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"};
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/json"},
       {"webhook-id", "msg_fuzz"},
       {"webhook-timestamp", "1700000000"},
       {"webhook-signature", "v1,AAAA"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
