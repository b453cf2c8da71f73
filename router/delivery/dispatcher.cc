#include "router/delivery/dispatcher.h"

#include <algorithm>
#include <utility>

#include <google/protobuf/unknown_field_set.h>

#include "absl/cleanup/cleanup.h"
#include "router/common/proto_time.h"
#include "spdlog/spdlog.h"

namespace switchboard::delivery {
namespace {

// The longest the dispatcher sleeps without looking at the queues again, whatever the Store says
// (a missed wake-up costs at most this much latency).
constexpr absl::Duration kSafetyNet = absl::Seconds(1);

}  // namespace

v1::Delivery MakeDelivery(store::ClaimedDelivery& claimed) {
  v1::Delivery delivery;
  delivery.set_delivery_id(claimed.delivery_id);
  delivery.set_attempt(claimed.attempt);
  *delivery.GetReflection()
       ->MutableUnknownFields(&delivery)
       ->AddLengthDelimited(v1::Delivery::kEventFieldNumber) = std::move(claimed.event_bytes);
  for (auto& rule : claimed.matched_rules) delivery.add_matched_rules(std::move(rule));
  SetTimestamp(claimed.lease_expires_at, delivery.mutable_lease_expires_at());
  return delivery;
}

Dispatcher::Dispatcher(store::Store& store, const Clock& clock, config::DeliveryConfig defaults,
                       std::map<std::string, config::DeliveryConfig> per_agent,
                       metrics::Registry* metrics)
    : store_(store),
      clock_(clock),
      defaults_(std::move(defaults)),
      per_agent_(std::move(per_agent)),
      listener_(std::make_shared<ListenerHandle>()) {
  if (metrics != nullptr) {
    deliveries_ = &metrics->AddCounter("switchboard_deliveries_total",
                                       "Deliveries handed to agent streams (every attempt).",
                                       {"agent"});
    redeliveries_ = &metrics->AddCounter(
        "switchboard_redeliveries_total",
        "Deliveries handed to agent streams with attempt > 1 (after a nack, an expired lease or "
        "a disconnect).",
        {"agent"});
    latency_ = &metrics->AddHistogram(
        "switchboard_delivery_latency_seconds",
        "Time from the webhook's receipt (received_at) to the first delivery attempt handed to "
        "an agent stream.",
        {"agent"}, metrics::LatencyBuckets());
  }
  {
    absl::MutexLock lock(&listener_->mu);
    listener_->dispatcher = this;
  }
  store_.SetEnqueueListener([handle = listener_](const std::string& agent) {
    absl::MutexLock lock(&handle->mu);
    if (handle->dispatcher != nullptr) handle->dispatcher->Signal(agent);
  });
  thread_ = std::thread([this] { Run(); });
}

Dispatcher::~Dispatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  thread_.join();
  {
    absl::MutexLock lock(&listener_->mu);
    listener_->dispatcher = nullptr;
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(+[](int* ops) { return *ops == 0; }, &pending_ops_));
}

uint64_t Dispatcher::AddStream(std::string agent, uint32_t max_in_flight, DeliverySink* sink,
                               StreamLabel label) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_stream_id_++;
  agents_[agent].streams.push_back(id);
  SignalLocked(agent);
  Stream& stream = streams_[id];
  stream.agent = std::move(agent);
  stream.max_in_flight = max_in_flight;
  stream.sink = sink;
  stream.label = std::move(label);
  stream.connected_at = now;
  return id;
}

void Dispatcher::RemoveStream(uint64_t stream) {
  std::string agent;
  std::vector<std::string> unacked;
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    agent = it->second.agent;
    for (const auto& [delivery_id, entry] : it->second.unacked) unacked.push_back(delivery_id);
    streams_.erase(it);
    AgentQueue& queue = agents_[agent];
    std::erase(queue.streams, stream);
    if (queue.next_stream >= queue.streams.size()) queue.next_stream = 0;
  }
  if (!unacked.empty()) ReleaseToStore(std::move(agent), std::move(unacked));
}

bool Dispatcher::TakeUnackedLocked(uint64_t stream, const std::string& delivery_id,
                                   uint32_t* attempt) {
  auto it = streams_.find(stream);
  auto unacked = it == streams_.end() ? decltype(it->second.unacked)::iterator{}
                                      : it->second.unacked.find(delivery_id);
  if (it == streams_.end() || unacked == it->second.unacked.end()) {
    ++stats_.unknown_ids;
    return false;
  }
  if (attempt != nullptr) *attempt = unacked->second.attempt;
  it->second.unacked.erase(unacked);
  ++it->second.settling;
  ++stats_.acks;
  ++pending_ops_;
  return true;
}

void Dispatcher::SettledLocked(uint64_t stream) {
  --pending_ops_;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  --it->second.settling;
  AgentQueue& queue = agents_[it->second.agent];
  if (!queue.drained) queue.pending = true;  // a slot is free and entries are waiting
  wake_.Signal();
}

void Dispatcher::Ack(uint64_t stream, std::string delivery_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!TakeUnackedLocked(stream, delivery_id, nullptr)) return;
  }
  store_.Ack(std::move(delivery_id), [this, stream](absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (absl::IsNotFound(status)) {
      ++stats_.unknown_ids;
    } else if (!status.ok()) {
      // The lease runs out and the entry is delivered again: at-least-once holds.
      spdlog::warn("store ack failed: {}", status.ToString());
    }
    SettledLocked(stream);
  });
}

void Dispatcher::Nack(uint64_t stream, std::string delivery_id, absl::Duration retry_after,
                      std::string reason) {
  std::string agent;
  uint32_t attempt = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!TakeUnackedLocked(stream, delivery_id, &attempt)) return;
    agent = streams_.at(stream).agent;
  }
  // The agent's retry_after wins; without one, back off (exponential, full jitter, capped).
  if (retry_after <= absl::ZeroDuration()) {
    retry_after = backoff_.Delay(SettingsFor(agent).backoff, attempt);
  }
  store_.Nack(std::move(delivery_id), retry_after,
              std::move(reason), [this, stream, agent = std::move(agent)](absl::Status status) {
                absl::MutexLock lock(&mu_);
                if (absl::IsNotFound(status)) {
                  ++stats_.unknown_ids;
                } else if (!status.ok()) {
                  spdlog::warn("store nack failed: {}", status.ToString());
                } else {
                  SignalLocked(agent);  // visible again (now or after retry_after)
                }
                SettledLocked(stream);
              });
}

void Dispatcher::Extend(uint64_t stream, std::string delivery_id, absl::Duration extension) {
  const absl::Time requested_at = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end() || !it->second.unacked.contains(delivery_id)) {
      ++stats_.unknown_ids;
      return;
    }
    ++pending_ops_;
  }
  store_.Extend(delivery_id, extension,
                [this, stream, delivery_id, lease_end = requested_at + extension](
                    absl::Status status) {
                  absl::MutexLock lock(&mu_);
                  auto it = streams_.find(stream);
                  auto unacked = it == streams_.end()
                                     ? std::map<std::string, Stream::Unacked>::iterator{}
                                     : it->second.unacked.find(delivery_id);
                  const bool held = it != streams_.end() && unacked != it->second.unacked.end();
                  if (status.ok()) {
                    if (held) unacked->second.lease_expires_at = lease_end;
                  } else if (absl::IsNotFound(status)) {
                    // The lease is gone (expired): the slot is free.
                    ++stats_.unknown_ids;
                    if (held) {
                      it->second.unacked.erase(unacked);
                      SignalLocked(it->second.agent);
                    }
                  } else {
                    spdlog::warn("store extend failed: {}", status.ToString());
                  }
                  --pending_ops_;
                });
}

DispatcherStats Dispatcher::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::map<std::string, AgentActivity> Dispatcher::Activity() const {
  std::map<std::string, AgentActivity> activity;
  absl::MutexLock lock(&mu_);
  for (const auto& [agent, queue] : agents_) activity[agent];
  for (const auto& [id, stream] : streams_) {
    AgentActivity& a = activity[stream.agent];
    ++a.instances;
    a.in_flight += static_cast<int64_t>(stream.unacked.size()) + stream.settling;
  }
  return activity;
}

std::vector<StreamStatus> Dispatcher::Streams() const {
  std::vector<StreamStatus> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [agent, queue] : agents_) {
    for (uint64_t id : queue.streams) {
      auto it = streams_.find(id);
      if (it == streams_.end()) continue;
      const Stream& stream = it->second;
      out.push_back({stream.agent, stream.label, stream.max_in_flight,
                     static_cast<int64_t>(stream.unacked.size()) + stream.settling,
                     stream.connected_at});
    }
  }
  return out;
}

const config::DeliveryConfig& Dispatcher::SettingsFor(const std::string& agent) const {
  auto it = per_agent_.find(agent);
  return it == per_agent_.end() ? defaults_ : it->second;
}

void Dispatcher::MarkClaimable(AgentQueue& queue) {
  queue.pending = true;
  queue.drained = false;
  ++queue.generation;
}

void Dispatcher::SignalLocked(const std::string& agent) {
  MarkClaimable(agents_[agent]);
  wake_.Signal();
}

void Dispatcher::Signal(const std::string& agent) {
  std::optional<ClaimRequest> claim;
  {
    absl::MutexLock lock(&mu_);
    AgentQueue& queue = agents_[agent];
    MarkClaimable(queue);
    // Claimed on the thread that reports the enqueue (the embedded store's writer, right after
    // its COMMIT) rather than on the dispatcher thread: waking that thread first costs a
    // scheduler hop, up to a time slice under SCHED_BATCH, on every event's way to its agents.
    claim = TakeClaimLocked(agent, queue);
    if (!claim.has_value()) wake_.Signal();
  }
  if (claim.has_value()) IssueClaim(*claim);
}

std::optional<Dispatcher::ClaimRequest> Dispatcher::TakeClaimLocked(const std::string& agent,
                                                                    AgentQueue& queue) {
  if (stopping_ || queue.streams.empty() || !queue.pending || queue.claim_in_flight) {
    return std::nullopt;
  }
  const int free = FreeSlotsLocked(queue);
  if (free <= 0) return std::nullopt;
  queue.pending = false;
  queue.claim_in_flight = true;
  ++pending_ops_;
  ++stats_.claims;
  return ClaimRequest{agent, free, queue.generation};
}

void Dispatcher::IssueClaim(const ClaimRequest& claim) {
  const config::DeliveryConfig& settings = SettingsFor(claim.agent);
  // An expired lease waits out the agent's backoff like a nack without retry_after (Backoff is
  // thread-safe; the Store calls this before the Claim's callback, while it is counted).
  store::ExpiryBackoff expiry_backoff = [this, backoff = settings.backoff](uint32_t attempt) {
    return backoff_.Delay(backoff, attempt);
  };
  store_.Claim(claim.agent, claim.max, settings.ack_deadline, settings.max_attempts,
               std::move(expiry_backoff),
               [this, agent = claim.agent, max = claim.max, generation = claim.generation](
                   absl::StatusOr<std::vector<store::ClaimedDelivery>> result) {
                 OnClaimed(agent, max, generation, std::move(result));
               });
}

int Dispatcher::FreeSlotsLocked(const AgentQueue& queue) const {
  int free = 0;
  for (uint64_t id : queue.streams) {
    const Stream& stream = streams_.at(id);
    if (stream.closing) continue;
    free += std::max<int>(0, static_cast<int>(stream.max_in_flight) -
                                 static_cast<int>(stream.unacked.size()) - stream.settling);
  }
  return free;
}

void Dispatcher::ExpireLeasesLocked(absl::Time now) {
  for (auto& [id, stream] : streams_) {
    const size_t erased = std::erase_if(
        stream.unacked, [now](const auto& entry) { return entry.second.lease_expires_at <= now; });
    if (erased > 0) SignalLocked(stream.agent);  // the store makes them visible by itself
  }
}

void Dispatcher::Run() {
  mu_.Lock();
  while (!stopping_) {
    const absl::Time now = clock_.Now();
    ExpireLeasesLocked(now);
    absl::Time next = now + kSafetyNet;
    std::vector<ClaimRequest> claims;
    for (auto& [agent, queue] : agents_) {
      if (queue.streams.empty()) continue;
      if (queue.next_check <= now) {
        queue.next_check = absl::InfiniteFuture();
        SignalLocked(agent);
      }
      if (std::optional<ClaimRequest> claim = TakeClaimLocked(agent, queue)) {
        claims.push_back(*std::move(claim));
      }
      next = std::min(next, queue.next_check);
    }
    for (const auto& [id, stream] : streams_) {
      for (const auto& [delivery_id, entry] : stream.unacked) {
        next = std::min(next, entry.lease_expires_at);
      }
    }
    if (!claims.empty()) {
      mu_.Unlock();
      for (const ClaimRequest& claim : claims) IssueClaim(claim);
      mu_.Lock();
      continue;
    }
    wake_.WaitWithTimeout(&mu_, std::clamp(next - now, absl::ZeroDuration(), kSafetyNet));
  }
  mu_.Unlock();
}

void Dispatcher::OnClaimed(const std::string& agent, int requested, uint64_t generation,
                           absl::StatusOr<std::vector<store::ClaimedDelivery>> result) {
  std::vector<std::string> to_release;
  bool ask_next_visible = false;
  // This Claim stays counted in pending_ops_ until the calls it leads to are counted themselves,
  // so the destructor cannot return in between.
  absl::Cleanup settled = [this] {
    absl::MutexLock lock(&mu_);
    --pending_ops_;
    wake_.Signal();
  };
  {
    absl::MutexLock lock(&mu_);
    AgentQueue& queue = agents_[agent];
    queue.claim_in_flight = false;
    wake_.Signal();
    if (!result.ok()) {
      spdlog::warn("claim for agent {} failed: {}", agent, result.status().ToString());
      queue.next_check = std::min(queue.next_check, clock_.Now() + kSafetyNet);
      return;
    }
    if (static_cast<int>(result->size()) >= requested) {
      queue.pending = true;  // there may be more
    } else if (queue.generation == generation) {
      queue.drained = true;  // nothing visible now; sleep until the next lease expiry / backoff
      ask_next_visible = true;
      ++pending_ops_;
    }
    // The agent's series, looked up once per claim rather than once per delivery (each lookup
    // builds a label vector and takes the family's lock).
    metrics::Counter* delivered_series = nullptr;
    metrics::Histogram* latency_series = nullptr;
    if (deliveries_ != nullptr && !result->empty()) {
      delivered_series = &deliveries_->WithLabels({agent});
    }
    for (store::ClaimedDelivery& claimed : *result) {
      // Round-robin over the streams with a free slot.
      Stream* target = nullptr;
      for (size_t i = 0; i < queue.streams.size() && target == nullptr; ++i) {
        const size_t index = (queue.next_stream + i) % queue.streams.size();
        Stream& stream = streams_.at(queue.streams[index]);
        if (!stream.closing && static_cast<int>(stream.unacked.size()) + stream.settling <
                                   static_cast<int>(stream.max_in_flight)) {
          target = &stream;
          queue.next_stream = (index + 1) % queue.streams.size();
        }
      }
      if (target == nullptr) {
        to_release.push_back(std::move(claimed.delivery_id));
        continue;
      }
      v1::Delivery delivery = MakeDelivery(claimed);
      target->unacked.emplace(claimed.delivery_id,
                              Stream::Unacked{claimed.lease_expires_at, claimed.attempt});
      const uint32_t attempt = delivery.attempt();
      const absl::Time received_at = claimed.received_at;
      if (target->sink->Send(std::move(delivery))) {
        ++stats_.delivered;
        if (attempt > 1) ++stats_.redelivered;
        if (delivered_series != nullptr) {
          delivered_series->Increment();
          if (attempt > 1) redeliveries_->WithLabels({agent}).Increment();
          if (attempt == 1 && received_at != absl::InfinitePast()) {
            if (latency_series == nullptr) latency_series = &latency_->WithLabels({agent});
            latency_series->Observe(
                absl::ToDoubleSeconds(std::max(clock_.Now() - received_at, absl::ZeroDuration())));
          }
        }
      } else {
        target->closing = true;
        target->unacked.erase(claimed.delivery_id);
        to_release.push_back(std::move(claimed.delivery_id));
      }
    }
  }
  if (ask_next_visible) {
    store_.NextVisibleAt(agent, [this, agent](absl::StatusOr<absl::Time> at) {
      absl::MutexLock lock(&mu_);
      const absl::Time cap = clock_.Now() + kSafetyNet;
      AgentQueue& queue = agents_[agent];
      queue.next_check = std::min({queue.next_check, at.ok() ? *at : cap, cap});
      --pending_ops_;
      wake_.Signal();
    });
  }
  if (!to_release.empty()) ReleaseToStore(agent, std::move(to_release));
}

void Dispatcher::ReleaseToStore(std::string agent, std::vector<std::string> delivery_ids) {
  {
    absl::MutexLock lock(&mu_);
    stats_.released += static_cast<int64_t>(delivery_ids.size());
    ++pending_ops_;
  }
  store_.Release(std::move(delivery_ids), [this, agent = std::move(agent)](absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (!status.ok()) spdlog::warn("store release failed: {}", status.ToString());
    SignalLocked(agent);
    --pending_ops_;
  });
}

}  // namespace switchboard::delivery
