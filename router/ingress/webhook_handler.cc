#include "router/ingress/webhook_handler.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"

#include "absl/strings/ascii.h"
#include "router/common/build_version.h"
#include "router/common/http_status.h"
#include "router/common/proto_time.h"
#include "router/store/out_of_line.h"
#include "spdlog/spdlog.h"

namespace switchboard::ingress {
namespace {

// Untrusted strings (an unknown source name, a decode reason) are cut before they reach logs.
constexpr size_t kMaxLoggedChars = 200;

std::string Truncated(std::string_view s) { return std::string(s.substr(0, kMaxLoggedChars)); }

// This absl build has its own string_view type.
std::string_view Message(const absl::Status& status) {
  return {status.message().data(), status.message().size()};
}

HttpResponse JsonResponse(int status, const boost::json::object& body) {
  HttpResponse response;
  response.status = status;
  response.body = boost::json::serialize(body);
  return response;
}

HttpResponse ErrorResponse(int status, std::string_view error) {
  return JsonResponse(status, {{"error", error}});
}

// A 503 tells the provider to retry; dedupe makes the retry safe.
HttpResponse RetryLater(std::string_view error, std::string_view retry_after_seconds) {
  HttpResponse response = ErrorResponse(503, error);
  response.headers.emplace_back("Retry-After", retry_after_seconds);
  return response;
}

// The reason stays in the log: a detailed answer would help a forger, not the provider.
HttpResponse Unauthorized(bool basic_auth) {
  HttpResponse response = ErrorResponse(401, "invalid signature or credentials");
  if (basic_auth) response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"switchboard\"");
  return response;
}

// The log reason of a quarantined request; its requests_total result is "quarantined".
constexpr std::string_view kQuarantinedReason = "quarantined: ";

// The `result` label of switchboard_webhook_requests_total (see the header).
const char* ResultLabel(int status, size_t events, size_t duplicates) {
  if (status == 200) {
    if (events == 0) return "control";
    return duplicates == events ? "duplicate" : "accepted";
  }
  if (status == 401) return "bad_signature";
  if (status == 400) return "malformed";
  if (status >= 500) return "unavailable";
  return "rejected";
}

// "EVENT_TYPE_BOUNCED" -> "bounced".
std::string TypeLabel(v1::EventType type) {
  constexpr std::string_view kPrefix = "EVENT_TYPE_";
  std::string name = v1::EventType_Name(type);
  if (name.empty()) return "unknown";
  if (std::string_view(name).starts_with(kPrefix)) name.erase(0, kPrefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace

WebhookHandler::WebhookHandler(std::shared_ptr<const HandlerSnapshot> snapshot,
                               store::Store& store, const Clock& clock,
                               metrics::Registry* metrics)
    : store_(store), clock_(clock), snapshot_(std::move(snapshot)) {
  if (metrics == nullptr) return;
  requests_metric_ = &metrics->AddCounter(
      "switchboard_webhook_requests_total",
      "Webhook requests answered, by source, provider and result (accepted, duplicate, control, "
      "bad_signature, malformed, unavailable, rejected).",
      {"source", "provider", "result"});
  latency_metric_ = &metrics->AddHistogram(
      "switchboard_webhook_latency_seconds",
      "Time from receiving a webhook request to its answer, the durable commit included.",
      {"source"}, metrics::LatencyBuckets());
  last_event_metric_ = &metrics->AddGauge(
      "switchboard_source_last_event_timestamp_seconds",
      "Unix time of the last request of this source answered 200 with events.", {"source"});
  events_metric_ = &metrics->AddCounter("switchboard_events_total",
                                        "Events committed as new, by source and event type.",
                                        {"source", "type"});
  quarantine_metric_ = &metrics->AddCounter(
      "switchboard_quarantined_total",
      "Authentic webhooks that did not decode and were quarantined, by source and reason class.",
      {"source", "reason"});
}

std::pair<std::string, std::string> WebhookHandler::SourceLabels(std::string_view source) const {
  std::shared_ptr<const HandlerSnapshot> snap = snapshot();
  if (snap == nullptr) return {};
  auto it = snap->sources.find(source);
  if (it == snap->sources.end()) return {};
  return {it->second.config.name, it->second.config.provider};
}

void WebhookHandler::SetSnapshot(std::shared_ptr<const HandlerSnapshot> snapshot) {
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const HandlerSnapshot> WebhookHandler::snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

std::optional<uint64_t> WebhookHandler::SourceMaxBody(std::string_view source) const {
  const std::shared_ptr<const HandlerSnapshot> snap = snapshot();
  if (snap == nullptr) return std::nullopt;
  auto it = snap->sources.find(source);
  if (it == snap->sources.end()) return std::nullopt;
  return it->second.config.max_body;
}

void WebhookHandler::Handle(providers::WebhookRequest request, ResponseCallback done) {
  request.received_at = clock_.Now();
  const std::shared_ptr<const HandlerSnapshot> snap = snapshot();

  // 1. Source lookup.
  const SourceEntry* entry = nullptr;
  if (snap != nullptr) {
    auto it = snap->sources.find(request.source);
    if (it != snap->sources.end() && it->second.provider != nullptr) entry = &it->second;
  }
  if (entry == nullptr) {
    counters_.unknown_source.fetch_add(1, std::memory_order_relaxed);
    Respond(request.source, request.received_at, ErrorResponse(404, "unknown source"), 0, 0,
            "unknown source", std::move(done));
    return;
  }
  const providers::Provider& provider = *entry->provider;

  // A HEAD/GET probe carries nothing to verify or decode.
  if (request.method != "POST") {
    HttpResponse response;
    if (provider.AcceptsProbes()) {
      counters_.control.fetch_add(1, std::memory_order_relaxed);
      response = JsonResponse(200, {{"accepted", 0}, {"duplicates", 0}, {"control", "probe"}});
    } else {
      response = ErrorResponse(405, "method not allowed");
      response.headers.emplace_back("Allow", "POST");
    }
    Respond(request.source, request.received_at, std::move(response), 0, 0, "probe",
            std::move(done));
    return;
  }

  // 2. Verify over the raw bytes.
  if (absl::Status verified = provider.Verify(request); !verified.ok()) {
    const int status = HttpStatusFromStatus(verified);
    HttpResponse response;
    if (status == 401) {
      counters_.bad_signature.fetch_add(1, std::memory_order_relaxed);
      response = Unauthorized(provider.UsesBasicAuth());
    } else if (IsRetryableHttpStatus(status)) {
      counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
      response = RetryLater("verification unavailable", "5");
    } else {
      response = ErrorResponse(status, "verification failed");
    }
    Respond(request.source, request.received_at, std::move(response), 0, 0, Message(verified),
            std::move(done));
    return;
  }

  // 3. Decode.
  absl::StatusOr<providers::DecodeResult> decoded = provider.Decode(request);
  if (!decoded.ok()) {
    const int status = HttpStatusFromStatus(decoded.status());
    HttpResponse response;
    if (status == 400) {
      // Authentic (Verify passed) yet undecodable: kept for a replay after a fix, answered 200.
      Quarantine(*entry, std::move(request), std::string(Message(decoded.status())),
                 std::move(done));
      return;
    }
    if (IsRetryableHttpStatus(status)) {
      counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
      response = RetryLater("decoding unavailable", "5");
    } else {
      response = ErrorResponse(status, "decoding failed");
    }
    Respond(request.source, request.received_at, std::move(response), 0, 0,
            Message(decoded.status()), std::move(done));
    return;
  }
  // The signature leaves the body uncovered: a token may only come back with the same body.
  if (decoded->replay_guard.has_value()) {
    providers::ReplayGuard guard = *std::move(decoded->replay_guard);
    store_.RememberToken(
        std::move(guard.key), std::move(guard.body_hash), guard.ttl,
        [this, snap, source = std::move(request.source), received_at = request.received_at,
         basic_auth = provider.UsesBasicAuth(), decoded = *std::move(decoded),
         done = std::move(done)](absl::StatusOr<store::TokenOutcome> outcome) mutable {
          if (!outcome.ok()) {
            counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
            Respond(source, received_at, RetryLater("store unavailable", "1"), 0, 0,
                    Message(outcome.status()), std::move(done));
            return;
          }
          if (*outcome == store::TokenOutcome::kOtherBody) {
            counters_.bad_signature.fetch_add(1, std::memory_order_relaxed);
            Respond(source, received_at, Unauthorized(basic_auth), 0, 0,
                    "signature token replayed with another body", std::move(done));
            return;
          }
          RouteAndCommit(snap, std::move(source), received_at, std::move(decoded),
                         std::move(done));
        });
    return;
  }
  RouteAndCommit(snap, std::move(request.source), request.received_at, *std::move(decoded),
                 std::move(done));
}

void WebhookHandler::RouteAndCommit(std::shared_ptr<const HandlerSnapshot> snap,
                                    std::string source, absl::Time received_at,
                                    providers::DecodeResult decoded, ResponseCallback done) {
  // Large bytes (attachments above inline_attachments_max, raw bodies above inline_raw_max) are
  // stored first, under every event naming them: a crash before the commit leaves bytes no event
  // names (removed by the retention sweep), never an event whose bytes are missing.
  uint64_t inline_raw_max = config::SourceConfig{}.inline_raw_max;
  if (auto it = snap->sources.find(source); it != snap->sources.end()) {
    inline_raw_max = it->second.config.inline_raw_max;
  }
  absl::StatusOr<std::vector<store::StoredAttachment>> out_of_line =
      store::TakeOutOfLine(decoded.events, decoded.stored_attachments, inline_raw_max);
  if (!out_of_line.ok()) {
    Respond(source, received_at, ErrorResponse(500, "internal error"), 0, 0,
            Message(out_of_line.status()), std::move(done));
    return;
  }
  if (!out_of_line->empty()) {
    store_.PutAttachments(
        *std::move(out_of_line),
        [this, snap = std::move(snap), source = std::move(source), received_at,
         decoded = std::move(decoded), done = std::move(done)](absl::Status stored) mutable {
          if (!stored.ok()) {
            counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
            Respond(source, received_at, RetryLater("store unavailable", "1"), 0, 0,
                    Message(stored), std::move(done));
            return;
          }
          // Nothing is left to store out of line: this call goes on to route and commit.
          RouteAndCommit(std::move(snap), std::move(source), received_at, std::move(decoded),
                         std::move(done));
        });
    return;
  }
  if (decoded.events.empty()) {
    if (!decoded.control.empty()) counters_.control.fetch_add(1, std::memory_order_relaxed);
    boost::json::object body{{"accepted", 0}, {"duplicates", 0}};
    if (!decoded.control.empty()) body["control"] = decoded.control;
    Respond(source, received_at, JsonResponse(200, body), 0, 0, decoded.control,
            std::move(done));
    return;
  }

  // 4. Route.
  std::vector<store::EventToCommit> to_commit;
  to_commit.reserve(decoded.events.size());
  for (v1::EmailEvent& event : decoded.events) {
    if (!event.has_received_at()) SetTimestamp(received_at, event.mutable_received_at());
    store::EventToCommit item;
    if (snap->rules != nullptr) {
      for (routing::RouteTarget& target : snap->rules->Route(event)) {
        item.targets.push_back({std::move(target.agent), std::move(target.matched_rules)});
      }
    }
    item.event = std::move(event);
    to_commit.push_back(std::move(item));
  }

  // 5. Commit; 6. respond only once the store says the batch is durable.
  const size_t count = to_commit.size();
  // The commit listener (Tail) gets a copy only while someone listens.
  CommitListener* listener = commit_listener_.load();
  std::vector<store::EventToCommit> committed_copy;
  if (listener != nullptr && listener->Listening()) committed_copy = to_commit;
  std::vector<v1::EventType> types;
  if (events_metric_ != nullptr) {
    types.reserve(count);
    for (const store::EventToCommit& item : to_commit) types.push_back(item.event.type());
  }
  store_.Commit(
      std::move(to_commit),
      [this, source = std::move(source), received_at, count, types = std::move(types),
       listener, committed_copy = std::move(committed_copy), done = std::move(done)](
          absl::StatusOr<std::vector<store::CommitOutcome>> outcomes) mutable {
        if (!outcomes.ok() || outcomes->size() != count) {
          counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
          const std::string reason = outcomes.ok() ? "store returned a wrong outcome count"
                                                   : std::string(Message(outcomes.status()));
          Respond(source, received_at, RetryLater("store unavailable", "1"), count, 0, reason,
                  std::move(done));
          return;
        }
        size_t duplicates = 0;
        for (store::CommitOutcome outcome : *outcomes) {
          if (outcome == store::CommitOutcome::kDuplicate) ++duplicates;
        }
        if (events_metric_ != nullptr) {
          const std::string label = SourceLabels(source).first;
          for (size_t i = 0; i < types.size(); ++i) {
            if ((*outcomes)[i] == store::CommitOutcome::kCommitted) {
              events_metric_->WithLabels({label, TypeLabel(types[i])}).Increment();
            }
          }
        }
        for (size_t i = 0; i < committed_copy.size(); ++i) {
          if ((*outcomes)[i] != store::CommitOutcome::kCommitted) continue;
          std::vector<std::string> agents;
          for (const auto& target : committed_copy[i].targets) agents.push_back(target.agent);
          listener->OnCommitted(committed_copy[i].event, agents);
        }
        counters_.accepted.fetch_add(count - duplicates, std::memory_order_relaxed);
        counters_.duplicate.fetch_add(duplicates, std::memory_order_relaxed);
        Respond(source, received_at,
                JsonResponse(200, {{"accepted", count - duplicates}, {"duplicates", duplicates}}),
                count, duplicates, "", std::move(done));
      });
}

void WebhookHandler::Respond(std::string_view source, absl::Time received_at,
                             HttpResponse response, size_t events, size_t duplicates,
                             std::string_view reason, ResponseCallback done) const {
  boost::json::object line{
      {"msg", "webhook"},
      {"source", Truncated(source)},
      {"status", response.status},
      {"events", events},
      {"duplicates", duplicates},
      {"latency_ms", absl::ToDoubleMilliseconds(clock_.Now() - received_at)},
  };
  if (!reason.empty()) line["reason"] = Truncated(reason);
  if (requests_metric_ != nullptr) {
    auto [source_label, provider_label] = SourceLabels(source);
    const bool quarantined = response.status == 200 && reason.starts_with(kQuarantinedReason);
    requests_metric_->WithLabels({source_label, provider_label,
                                  quarantined ? "quarantined"
                                              : ResultLabel(response.status, events, duplicates)})
        .Increment();
    latency_metric_->WithLabels({source_label})
        .Observe(absl::ToDoubleSeconds(std::max(clock_.Now() - received_at, absl::ZeroDuration())));
    if (response.status == 200 && events > 0) {
      last_event_metric_->WithLabels({source_label})
          .Set(static_cast<double>(absl::ToUnixMicros(clock_.Now())) / 1e6);
    }
  }
  if (response.status >= 500) {
    spdlog::warn(boost::json::serialize(line));
  } else {
    spdlog::info(boost::json::serialize(line));
  }
  std::move(done)(std::move(response));
}

bool WebhookHandler::IsSecretHeader(std::string_view lower_name) {
  static constexpr std::string_view kExact[] = {"authorization", "proxy-authorization", "cookie",
                                                "set-cookie"};
  static constexpr std::string_view kParts[] = {"signature", "token", "secret", "auth", "key",
                                                "password"};
  for (std::string_view name : kExact) {
    if (lower_name == name) return true;
  }
  for (std::string_view part : kParts) {
    if (lower_name.find(part) != std::string_view::npos) return true;
  }
  return false;
}

void WebhookHandler::Quarantine(const SourceEntry& entry, providers::WebhookRequest request,
                                std::string reason, ResponseCallback done) {
  // The names this source authenticates with, lower-cased like the request's header names.
  std::vector<std::string> configured;
  if (entry.config.header.has_value()) configured.push_back(entry.config.header->name);
  if (entry.config.generic_hmac.has_value()) {
    configured.push_back(entry.config.generic_hmac->signature_header);
  }
  for (std::string& name : configured) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  store::QuarantineEntry quarantined;
  quarantined.source = request.source;
  quarantined.reason = reason.substr(0, 1000);
  quarantined.code_version = std::string(BuildVersion());
  quarantined.received_at = request.received_at;
  for (auto& [name, value] : request.headers) {
    if (IsSecretHeader(name) ||
        std::find(configured.begin(), configured.end(), name) != configured.end()) {
      continue;
    }
    quarantined.headers.emplace_back(std::move(name), std::move(value));
  }
  quarantined.body = std::move(request.body);

  // The counter's reason class: bounded text, see QuarantineCounts.
  std::string reason_class = reason.substr(0, reason.find(':')).substr(0, 48);
  store_.PutQuarantine(
      std::move(quarantined),
      [this, source = std::move(request.source), received_at = request.received_at,
       reason = std::move(reason), reason_class = std::move(reason_class),
       done = std::move(done)](absl::StatusOr<std::string> id) mutable {
        if (!id.ok()) {
          counters_.unavailable.fetch_add(1, std::memory_order_relaxed);
          Respond(source, received_at, RetryLater("store unavailable", "1"), 0, 0,
                  Message(id.status()), std::move(done));
          return;
        }
        counters_.quarantined.fetch_add(1, std::memory_order_relaxed);
        {
          absl::MutexLock lock(&quarantine_mu_);
          size_t classes = 0;
          for (const auto& [key, count] : quarantine_counts_) classes += key.first == source;
          if (classes >= kMaxQuarantineReasons &&
              quarantine_counts_.find({source, reason_class}) == quarantine_counts_.end()) {
            reason_class = "other";
          }
          ++quarantine_counts_[{source, reason_class}];
        }
        if (quarantine_metric_ != nullptr) {
          quarantine_metric_->WithLabels({SourceLabels(source).first, reason_class}).Increment();
        }
        Respond(source, received_at, JsonResponse(200, {{"quarantined", 1}, {"id", *id}}), 0, 0,
                absl::StrCat(std::string(kQuarantinedReason), reason), std::move(done));
      });
}

std::map<std::pair<std::string, std::string>, uint64_t> WebhookHandler::QuarantineCounts() const {
  absl::MutexLock lock(&quarantine_mu_);
  return quarantine_counts_;
}

}  // namespace switchboard::ingress
