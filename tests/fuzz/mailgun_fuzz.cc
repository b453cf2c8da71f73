// libFuzzer target: Mailgun JSON webhooks, legacy form webhooks and inbound multipart posts.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/mailgun/.
#include <cstdlib>

#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "mailgun";
    source.signing_key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";
    return new FuzzTarget{MustCreate(source), {
      {{"content-type", "application/json"}},
      {{"content-type", "application/x-www-form-urlencoded"}},
      {{"content-type", "multipart/form-data; boundary=xYzZY"}},
      {}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
