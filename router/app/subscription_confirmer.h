#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/app/background_queue.h"
#include "router/providers/provider.h"

namespace switchboard::app {

// Confirms SNS subscriptions: GETs the SubscribeURL a provider handed in DecodeResult.confirm_url
// (SES with `auto_confirm: true`, after the SubscriptionConfirmation verified), on its own worker
// thread, so the webhook's 200 never waits for it. `allow` re-checks each URL (the SNS
// SubscribeURL allowlist); a refused URL is never fetched. Each outcome is logged
// ({"event":"sns_subscription_confirm", "source", "outcome": confirmed|failed|refused|dropped})
// and counted. At most `max_pending` confirmations wait; beyond that one is dropped (SNS resends
// a confirmation request, and the URL is in the log). Thread-safe.
class SubscriptionConfirmer {
 public:
  using GetFn = std::function<absl::StatusOr<std::string>(std::string_view url)>;
  using AllowFn = std::function<absl::Status(std::string_view url)>;

  struct Counters {
    std::atomic<uint64_t> confirmed{0};
    std::atomic<uint64_t> failed{0};   // the GET failed (logged with the reason)
    std::atomic<uint64_t> refused{0};  // `allow` refused the URL
    std::atomic<uint64_t> dropped{0};  // the queue was full
  };

  SubscriptionConfirmer(GetFn get, AllowFn allow, size_t max_pending = 16);

  // Queues the GET of `url` for source `source`; returns at once.
  void Confirm(std::string_view source, std::string_view url);

  // Returns once no confirmation is queued or running (tests).
  void WaitIdle() { queue_.WaitIdle(); }
  const Counters& counters() const { return counters_; }

 private:
  void Run(const std::string& source, const std::string& url);

  const GetFn get_;
  const AllowFn allow_;
  Counters counters_;
  BackgroundQueue queue_;  // last: destroyed (joined) first
};

// Wraps `inner` so that every authentic request it decodes with a confirm_url is handed to
// `confirmer` (asynchronously) before the decode result goes back to the ingress; everything else
// is `inner`'s. `confirmer` must outlive the returned provider.
std::unique_ptr<providers::Provider> WithSubscriptionConfirmation(
    std::unique_ptr<providers::Provider> inner, std::string source,
    SubscriptionConfirmer& confirmer);

// The provider WithSubscriptionConfirmation wrapped, or `provider` itself when it is no such
// wrapper: for decoding without side effects (the admin API's ExplainRoute never confirms).
const providers::Provider& WithoutSubscriptionConfirmation(const providers::Provider& provider);

}  // namespace switchboard::app
