// libFuzzer target: the generic HMAC profile (JSON Pointer mapping, types table).
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/generic_hmac/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "generic-hmac";
    source.generic_hmac = config::SourceConfig::GenericHmac{};
    source.generic_hmac->secret = "fuzz-secret";
    source.generic_hmac->signature_header = "X-Signature";
    source.generic_hmac->prefix = "sha256=";
    source.generic_hmac->signed_template = "{timestamp}.{body}";
    source.generic_hmac->timestamp_header = "X-Timestamp";
    source.generic_hmac->mapping = {{"id", "/event_id"},
                                    {"type", "/metric"},
                                    {"recipient", "/data/recipient"},
                                    {"occurred_at", "/timestamp"},
                                    {"message_id", "/data/delivery_id"},
                                    {"metadata", "/data/identifiers"}};
    source.generic_hmac->types = {{"sent", "sent"}, {"bounced", "bounced"}};
    return new FuzzTarget{MustCreate(source), {
      {{"x-signature", "sha256=00"}, {"x-timestamp", "1700000000"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
