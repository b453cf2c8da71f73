#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/common/clock.h"
#include "router/config/config.h"

namespace switchboard::app {

// Validates a loaded config the way startup does (providers built, secrets decoded, rules
// checked, each TLS key matched to its certificate) without opening the store or binding ports:
// `switchboard --check-config`.
absl::Status CheckConfig(const config::Config& config, const Clock& clock);

// The composition root: the only place that knows the whole config. Builds every module, owns the
// threads, and shuts down in dependency order (ingress stops accepting and finishes in-flight
// commits; agent streams end with UNAVAILABLE; delivery stops; the store drains last).
// Not thread-safe: call from the main thread.
class App {
 public:
  // Opens the store, builds providers and rules, binds both ports (not yet serving).
  // kInvalidArgument: the config does not hold; kFailedPrecondition / kUnavailable: store or port.
  static absl::StatusOr<std::unique_ptr<App>> Create(config::Config config, const Clock& clock);
  ~App();

  // Starts serving HTTP and gRPC.
  absl::Status Start();
  // Stops in order, bounded by `grace` for in-flight HTTP requests.
  void Shutdown(absl::Duration grace = absl::Seconds(10));

  // Live reload (SIGHUP, or the config file changed): validates `config` fully (as CheckConfig,
  // against the running dedupe window), then swaps the sources (providers, secrets) and the agent
  // tokens atomically: requests and streams that already started keep what they started with.
  // Everything else keeps its running value; what differs is logged as "restart required"
  // (listen addresses, TLS, store, dedupe, delivery, http limits and io_threads, admin tokens,
  // agents added or removed, the file's rules: stored rules are changed through the admin API).
  // kInvalidArgument: the config does not hold; nothing changes.
  absl::Status Reload(config::Config config);

  int http_port() const;
  int grpc_port() const;
  // Threads serving HTTP: http.io_threads, else one per usable CPU (router/common/cpus.h).
  int http_io_threads() const;

  class Impl;

 private:
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::app
