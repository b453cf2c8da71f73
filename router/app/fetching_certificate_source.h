#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/app/background_queue.h"
#include "router/common/clock.h"
#include "router/providers/certificate_source.h"

namespace switchboard::app {

// SNS signing certificates fetched over HTTPS (HttpsGet in production), cached by URL. Used when
// a SES source has no `pinned_certs`.
//
// Get never blocks on the network. On a miss it queues one background fetch and answers
// kUnavailable at once (the provider then answers 503, SNS retries, and a retry finds the
// certificate cached). A fetched body that is not an RSA certificate counts as a failure. A
// failure is remembered for `failure_ttl`: during it, Get answers kUnavailable with the reason
// and fetches nothing, so a flood of messages cannot hammer AWS; after it, the next Get fetches
// again. A certificate, once fetched, stays cached (AWS publishes a rotated certificate under a
// new URL; the provider checks its validity dates). At most `max_entries` URLs are remembered
// (failures are evicted first, then the oldest certificate) and at most `max_pending` fetches
// wait: beyond that, Get answers kUnavailable without queueing.
// Callers pass only URLs the SNS allowlist accepted; `allow` re-checks each URL before any fetch
// (a refused URL is kUnavailable, never fetched). Thread-safe.
class FetchingCertificateSource final : public providers::CertificateSource {
 public:
  using FetchFn = std::function<absl::StatusOr<std::string>(std::string_view url)>;
  using AllowFn = std::function<absl::Status(std::string_view url)>;

  struct Options {
    absl::Duration failure_ttl = absl::Seconds(30);
    size_t max_entries = 256;
    size_t max_pending = 16;
  };

  // `fetch` runs on this source's own worker thread; `clock` must outlive the source.
  FetchingCertificateSource(FetchFn fetch, AllowFn allow, const Clock& clock,
                            Options options);
  FetchingCertificateSource(FetchFn fetch, AllowFn allow, const Clock& clock)
      : FetchingCertificateSource(std::move(fetch), std::move(allow), clock, Options{}) {}

  absl::StatusOr<std::string> Get(std::string_view url) const override;

  // Returns once no fetch is queued or running (tests).
  void WaitIdle() const { queue_.WaitIdle(); }

 private:
  struct Entry {
    enum class State { kPending, kReady, kFailed } state = State::kPending;
    std::string pem;     // kReady
    std::string error;   // kFailed
    absl::Time at;       // when it became ready / failed
  };

  void Fetch(const std::string& url) const;
  void EvictOne() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FetchFn fetch_;
  const AllowFn allow_;
  const Clock& clock_;
  const Options options_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  mutable BackgroundQueue queue_;  // last: destroyed (joined) first, while the rest still exists
};

}  // namespace switchboard::app
