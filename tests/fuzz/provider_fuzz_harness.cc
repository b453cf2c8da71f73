#include "tests/fuzz/provider_fuzz_harness.h"

#include <cstdio>
#include <cstdlib>

#include "router/common/clock.h"
#include "router/providers/provider_factory.h"

namespace switchboard::fuzz {

namespace {
// Inside every fixture's window where a provider checks timestamps (the dedupe horizon is off).
const FakeClock& Clock() {
  static const FakeClock* clock = new FakeClock(absl::FromUnixSeconds(1700000000));
  return *clock;
}
}  // namespace

std::unique_ptr<const providers::Provider> MustCreate(const config::SourceConfig& source) {
  auto provider = providers::CreateProvider(source, "sources[0]", Clock());
  if (!provider.ok()) {
    std::fprintf(stderr, "fuzz harness: %s\n", provider.status().ToString().c_str());
    std::abort();
  }
  return *std::move(provider);
}

int RunOne(const FuzzTarget& target, const uint8_t* data, size_t size) {
  providers::WebhookRequest request;
  request.source = "fuzz";
  request.method = "POST";
  request.target = "/v1/webhooks/fuzz";
  if (!target.header_sets.empty()) {
    const size_t pick = size == 0 ? 0 : data[0] % target.header_sets.size();
    request.headers = target.header_sets[pick];
  }
  request.body.assign(reinterpret_cast<const char*>(data), size);
  request.received_at = Clock().Now();
  (void)target.provider->Verify(request);
  auto decoded = target.provider->Decode(request);
  if (decoded.ok()) {
    // Touch what the ingress reads next, so a bad event is found here and not later.
    for (const auto& event : decoded->events) {
      if (event.id().size() != 64) std::abort();  // every event carries its idempotency key
      (void)event.ByteSizeLong();
    }
  }
  return 0;
}

}  // namespace switchboard::fuzz
