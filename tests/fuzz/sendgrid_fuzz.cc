// libFuzzer target: SendGrid event webhook batches, ECDSA signature.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/sendgrid/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "sendgrid";
    // The public key of SendGrid's signed-single vector (tests/testdata/fixtures/sendgrid).
    source.public_key =
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw"
        "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/json"},
       {"x-twilio-email-event-webhook-signature", "MEUCIQ=="},
       {"x-twilio-email-event-webhook-timestamp", "1700000000"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
