// libFuzzer target: Amazon SES via SNS (Notification / SubscriptionConfirmation /
// UnsubscribeConfirmation, both SES schemas). The certificate source answers kUnavailable: a
// fuzz run does no I/O, and Decode does not depend on the certificate.
// Seeds: fixtures (tests/fuzz/CMakeLists.txt); regressions: tests/fuzz/regressions/ses/.
#include <cstdlib>

#include "router/common/clock.h"
#include "router/providers/certificate_source.h"
#include "router/providers/ses_provider.h"
#include "tests/fuzz/provider_fuzz_harness.h"

namespace switchboard::fuzz {
namespace {

class NoCertificates final : public providers::CertificateSource {
 public:
  absl::StatusOr<std::string> Get(std::string_view) const override {
    return absl::UnavailableError("fuzz: no certificates");
  }
};

const FuzzTarget& Target() {
  static const FuzzTarget* target = [] {
    static const FakeClock* clock = new FakeClock(absl::FromUnixSeconds(1700000000));
    config::SourceConfig source;
    source.name = "fuzz";
    source.provider = "ses";
    source.topic_arns = {"arn:aws:sns:us-east-1:123456789012:ses-events"};
    source.auto_confirm = true;
    auto provider = providers::SesProvider::Create(source, "sources[0]", *clock,
                                                   absl::InfiniteDuration(),
                                                   std::make_shared<NoCertificates>());
    if (!provider.ok()) std::abort();
    return new FuzzTarget{*std::move(provider),
                          {{{"content-type", "text/plain; charset=UTF-8"},
                            {"x-amz-sns-message-type", "Notification"}}}};
  }();
  return *target;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return switchboard::fuzz::RunOne(switchboard::fuzz::Target(), data, size);
}
