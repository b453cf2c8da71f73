// libFuzzer target: Postal webhooks and inbound, RSA X-Postal-Signature(-256).
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/postal/.
#include <cstdlib>

#include "router/common/crypto.h"
#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

std::string PublicKey() {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto keys = crypto::GenerateRsaKeyPair(2048, "postal-fuzz", now, now + absl::Hours(1));
  if (!keys.ok()) std::abort();
  return keys->public_key_der_base64;
}

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "postal";
    source.public_key = PublicKey();
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/json"}, {"x-postal-signature-256", "AAAA"}},
      {{"content-type", "application/json"}, {"x-postal-signature", "AAAA"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
