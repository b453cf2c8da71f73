#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "router/ingress/commit_listener.h"
#include "router/metrics/registry.h"
#include "router/providers/provider.h"
#include "router/providers/webhook_request.h"
#include "router/routing/rule_set.h"
#include "router/store/store.h"

namespace switchboard::ingress {

// A response the transport writes as is.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string content_type = "application/json";
  std::string body;  // short JSON, e.g. {"accepted":2,"duplicates":1}
};

// One configured source: its options and the provider built from them.
struct SourceEntry {
  config::SourceConfig config;
  std::shared_ptr<const providers::Provider> provider;
};

// Everything a request is handled against. Immutable once published; a config reload builds a
// new one and swaps it in (WebhookHandler::SetSnapshot), requests in flight keep the old one.
struct HandlerSnapshot {
  std::map<std::string, SourceEntry, std::less<>> sources;  // by source name
  std::shared_ptr<const routing::RuleSet> rules;            // null: every event is archived only
};

// Results since start, for metrics. `accepted` and `duplicate` count events; the others count
// requests. Relaxed atomics: read them as independent counters, not as one consistent snapshot.
struct IngressCounters {
  std::atomic<uint64_t> accepted{0};        // events committed as new
  std::atomic<uint64_t> duplicate{0};       // events already committed (dedupe)
  std::atomic<uint64_t> control{0};         // control messages answered 200 (ping, probe)
  std::atomic<uint64_t> bad_signature{0};   // 401
  std::atomic<uint64_t> malformed{0};       // 400 (a malformed envelope, refused before Decode)
  std::atomic<uint64_t> quarantined{0};     // 200: authentic but not decodable, kept in quarantine
  std::atomic<uint64_t> unknown_source{0};  // 404
  std::atomic<uint64_t> unavailable{0};     // 503 (verification or store not available now)
};

using ResponseCallback = absl::AnyInvocable<void(HttpResponse) &&>;

// Handles one webhook request, transport-agnostic (DESIGN.md "Data flow", steps 1-6):
//   1. source lookup       unknown source                         404
//      HEAD/GET probe      200 {"control":"probe"} when Provider::AcceptsProbes, else 405
//   2. Provider::Verify    kUnauthenticated                       401 (+ WWW-Authenticate: Basic
//                                                                   realm="switchboard" when the
//                                                                   provider uses Basic auth)
//                          kUnavailable                           503 + Retry-After
//   3. Provider::Decode    kInvalidArgument: the request is authentic (it passed Verify) but does
//                          not decode: Store::PutQuarantine (raw body, headers without secrets,
//                          reason, BuildVersion()), then 200 {"quarantined":1} once it is durable
//                          (the provider must neither retry forever nor lose it); store error 503
//                          + Retry-After: 1. (A body too broken to verify is refused by Verify.)
//      replay guard        DecodeResult.replay_guard set: Store::RememberToken first; the token
//                          seen with another body                 401
//                          store error                            503 + Retry-After: 1
//                          control message, no events             200
//   4. route               RuleSet::Route per event; received_at is stamped when the provider
//                          left it unset
//   5. Store::Commit       error                                  503 + Retry-After: 1
//   6. respond             200 {"accepted":N,"duplicates":M}, only from the commit callback, i.e.
//                          after the events are durable.
// Other Status codes map through HttpStatusFromStatus (router/common/http_status.h).
// Logs one structured JSON line per request (source, status, events, duplicates, latency_ms);
// never secrets or bodies.
//
// Metrics (when a registry is given; README "Metrics"):
//   switchboard_webhook_requests_total{source,provider,result}  one per answered request; result:
//     accepted (200, at least one new event), duplicate (200, every event a duplicate), control
//     (200, no events: ping, probe, subscription message), quarantined (200, authentic but not
//     decodable: kept in the quarantine), bad_signature (401), malformed (400),
//     unavailable (503), rejected (any other answer: 404 unknown source, 405, ...);
//     source and provider are "" for a source that is not configured (the name in the URL is
//     untrusted: it never becomes a label value).
//   switchboard_webhook_latency_seconds{source}   received_at to the answer (commit included)
//   switchboard_source_last_event_timestamp_seconds{source}  unix time of the last 200 answer
//     that carried events (new or duplicate): a silent source shows as a growing age
//   switchboard_quarantined_total{source,reason}  quarantined requests by reason class (see
//     QuarantineCounts)
//   switchboard_events_total{source,type}        committed new events by EmailEvent type
//     (the lower-case EventType suffix: delivered, bounced, ...)
//
// Thread-safe: Handle and SetSnapshot may run concurrently from any thread.
// REQUIRES: the handler and the store outlive every pending callback (stop the transport, then
// shut the store down, which calls back every pending commit, then destroy the handler).
class WebhookHandler {
 public:
  // `metrics` (may be null: no metrics) must outlive the handler.
  WebhookHandler(std::shared_ptr<const HandlerSnapshot> snapshot, store::Store& store,
                 const Clock& clock, metrics::Registry* metrics = nullptr);

  WebhookHandler(const WebhookHandler&) = delete;
  WebhookHandler& operator=(const WebhookHandler&) = delete;

  // Stamps request.received_at with the clock, then calls `done` exactly once: synchronously for
  // answers decided before the commit, else on a store thread. `done` must not block.
  void Handle(providers::WebhookRequest request, ResponseCallback done);

  // Atomically replaces the snapshot for requests that start after this call.
  void SetSnapshot(std::shared_ptr<const HandlerSnapshot> snapshot);
  std::shared_ptr<const HandlerSnapshot> snapshot() const;

  // The per-source body limit (SourceConfig.max_body), nullopt when the source is unknown or has
  // no override. Lets the transport refuse an oversized body before reading it.
  std::optional<uint64_t> SourceMaxBody(std::string_view source) const;

  const IngressCounters& counters() const { return counters_; }

  // Events committed as new are reported to `listener` (null: nobody) from the commit callback,
  // before the answer is sent. `listener` must outlive the handler's pending commits.
  void SetCommitListener(CommitListener* listener) { commit_listener_.store(listener); }

  // Quarantined requests since start by (source, reason class): the decode error's text up to its
  // first ':' (at most 48 bytes), at most kMaxQuarantineReasons classes per source (then "other"),
  // so the set stays bounded whatever the payloads say.
  static constexpr size_t kMaxQuarantineReasons = 32;
  std::map<std::pair<std::string, std::string>, uint64_t> QuarantineCounts() const;

  // Header names never copied into the quarantine, besides the ones a source's own config names
  // (header auth, generic-hmac signature header): credentials, cookies, and any name containing
  // "signature", "token", "secret", "auth", "key" or "password" (lower-cased).
  static bool IsSecretHeader(std::string_view lower_name);

 private:
  // Steps 3 (control answer), 4, 5 and 6 for a decoded, authentic request; first
  // Store::PutAttachments when it carries bytes kept out of line (store::TakeOutOfLine: stored
  // attachments, raw bodies above the source's inline_raw_max; a failure: 503).
  void RouteAndCommit(std::shared_ptr<const HandlerSnapshot> snap, std::string source,
                      absl::Time received_at, providers::DecodeResult decoded,
                      ResponseCallback done);

  // Step 3 when Decode refused an authentic request: keeps it and answers 200 (or 503).
  void Quarantine(const SourceEntry& entry, providers::WebhookRequest request, std::string reason,
                  ResponseCallback done);

  // Logs the request's line and hands `response` to `done`.
  void Respond(std::string_view source, absl::Time received_at, HttpResponse response,
               size_t events, size_t duplicates, std::string_view reason,
               ResponseCallback done) const;

  // The (source, provider) labels of `source`: both "" unless it is a configured source.
  std::pair<std::string, std::string> SourceLabels(std::string_view source) const;

  store::Store& store_;
  const Clock& clock_;
  IngressCounters counters_;
  // Null without a registry.
  metrics::CounterFamily* requests_metric_ = nullptr;
  metrics::HistogramFamily* latency_metric_ = nullptr;
  metrics::GaugeFamily* last_event_metric_ = nullptr;
  metrics::CounterFamily* events_metric_ = nullptr;
  metrics::CounterFamily* quarantine_metric_ = nullptr;  // {source, reason class}

  std::atomic<CommitListener*> commit_listener_{nullptr};

  mutable absl::Mutex mu_;
  std::shared_ptr<const HandlerSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex quarantine_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> quarantine_counts_
      ABSL_GUARDED_BY(quarantine_mu_);
};

}  // namespace switchboard::ingress
