#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "router/delivery/backoff.h"
#include "router/metrics/registry.h"
#include "router/store/store.h"
#include "switchboard/v1/agent.pb.h"

namespace switchboard::delivery {

// Where the Dispatcher hands a delivery: one agent stream (the gRPC reactor).
class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Queues `delivery` for writing. Called with the Dispatcher's lock held: must not block and must
  // not call into the Dispatcher. Returns false if the stream is closing (the delivery is then
  // released back to the queue).
  virtual bool Send(v1::Delivery delivery) = 0;
};

// The Delivery message of `claimed`, whose event bytes and matched rules it takes (the id stays).
// The event goes in as the stored bytes, unparsed: an embedded message is encoded exactly as a
// length-delimited field of the same number holding the message's bytes
// (https://protobuf.dev/programming-guides/encoding/#embedded), so they are added to this
// Delivery as unknown field 3, Delivery.event's number. Serialized, it is a Delivery whose event
// is those bytes; parsers take fields in any order (the same page, "Field Order"). Within the
// router, delivery.event() stays empty.
v1::Delivery MakeDelivery(store::ClaimedDelivery& claimed);

// Counters for operators and tests. Monotonic.
struct DispatcherStats {
  int64_t claims = 0;          // Store::Claim calls
  int64_t delivered = 0;       // deliveries handed to streams
  int64_t acks = 0;            // Ack/Nack/Extend of a current delivery, forwarded to the store
  int64_t unknown_ids = 0;     // Ack/Nack/Extend of an unknown, expired or already acked id
  int64_t released = 0;        // deliveries returned to the queue because their stream ended
  int64_t redelivered = 0;     // deliveries with attempt > 1
};

// What one agent name has on this router right now (for metrics).
struct AgentActivity {
  int64_t instances = 0;  // open streams
  int64_t in_flight = 0;  // unacked deliveries held by those streams
};

// Who is behind one stream, for operators (AdminService.ListAgents).
struct StreamLabel {
  std::string instance;  // Hello.instance, free-form
  std::string peer;      // gRPC peer, e.g. "ipv4:10.0.0.7:51234"
};

// One stream connected to this router right now.
struct StreamStatus {
  std::string agent;
  StreamLabel label;
  uint32_t max_in_flight = 0;
  int64_t in_flight = 0;  // unacked deliveries held (settling ones included)
  absl::Time connected_at;  // by the Dispatcher's clock
};

// Moves queue entries from the Store to agent streams.
//
// Per agent name it keeps the streams (instances) that subscribed and each stream's unacked
// deliveries. It claims from the Store (Store::Claim(agent, free slots, ack_deadline,
// max_attempts), at most one Claim in flight per agent, from its own thread or from the store
// thread that reports an enqueue, never from a thread calling this class's methods) and hands
// the claimed deliveries round-robin to the streams with free window slots, so instances of one
// name compete fairly for one queue. Each stream holds at most its max_in_flight unacked
// deliveries whose lease has not expired.
//
// Wake-ups: Store::SetEnqueueListener (new entries; the Dispatcher installs the listener), a freed
// slot (ack, nack, lease expiry), an entry made visible (nack, release), and a timer at
// Store::NextVisibleAt (lease expiries, backoff; an answer at or before now, an entry that became
// visible after the last Claim, claims again at once), capped at one second as a safety net.
//
// Ack/Nack/Extend are checked against the stream's own unacked deliveries and then forwarded to
// the Store; an id the stream does not hold, or that the Store reports kNotFound, is counted in
// DispatcherStats::unknown_ids and otherwise ignored.
//
// Per agent name, the settings are `per_agent[name]` when present, else `defaults`: Claim uses
// its ack_deadline and max_attempts. A Nack with a positive retry_after is passed on as is; a
// Nack without one (zero or negative) waits Backoff::Delay(backoff, attempt) (exponential with
// full jitter, capped) before the entry is offered again. An entry whose lease expires (neither
// acked nor nacked in time) waits the same Backoff::Delay(backoff, attempt) after the lease end
// (Claim's Store::ExpiryBackoff), so a hung agent is not handed its work again at once; the Store
// records "lease expired" as its last error and, after max_attempts, moves it to dead letters
// with it.
//
// Metrics (when `metrics` is set; README "Metrics"): switchboard_deliveries_total{agent},
// switchboard_redeliveries_total{agent}, switchboard_delivery_latency_seconds{agent} (the event's
// received_at to the first attempt handed to a stream, by `clock`).
//
// Lease times come from the Store and are compared with `clock` (the Store's clock).
// Thread-safe. The destructor stops the thread and waits for the Store callbacks it started; the
// Store must outlive the Dispatcher.
class Dispatcher {
 public:
  Dispatcher(store::Store& store, const Clock& clock, config::DeliveryConfig defaults,
             std::map<std::string, config::DeliveryConfig> per_agent = {},
             metrics::Registry* metrics = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Registers a stream of `agent` with a window of `max_in_flight` (> 0) unacked deliveries.
  // `sink` must stay valid until RemoveStream(id) returns. Returns the stream id.
  // `label` only describes the stream to operators (Streams).
  uint64_t AddStream(std::string agent, uint32_t max_in_flight, DeliverySink* sink,
                     StreamLabel label = {});
  // Unregisters a stream: its unacked deliveries return to the queue at once (Store::Release).
  // After it returns the sink is never called again.
  void RemoveStream(uint64_t stream);

  void Ack(uint64_t stream, std::string delivery_id);
  void Nack(uint64_t stream, std::string delivery_id, absl::Duration retry_after,
            std::string reason);
  // The lease now ends `extension` after now.
  void Extend(uint64_t stream, std::string delivery_id, absl::Duration extension);

  DispatcherStats Stats() const;
  // Streams and unacked deliveries per agent name that has (or had) a stream here.
  std::map<std::string, AgentActivity> Activity() const;
  // Every stream connected now, by agent name then subscription order.
  std::vector<StreamStatus> Streams() const;
  // The settings that apply to `agent`.
  const config::DeliveryConfig& SettingsFor(const std::string& agent) const;

 private:
  struct Stream {
    std::string agent;
    uint32_t max_in_flight = 0;
    DeliverySink* sink = nullptr;
    bool closing = false;  // the sink refused a delivery; RemoveStream follows
    StreamLabel label;
    absl::Time connected_at;
    // Acked/nacked deliveries the Store has not confirmed yet: their slots stay taken until then,
    // so the agent's leased entries in the Store never exceed the window either.
    int settling = 0;
    struct Unacked {
      absl::Time lease_expires_at;
      uint32_t attempt = 0;
    };
    std::map<std::string, Unacked> unacked;  // by delivery_id
  };
  struct AgentQueue {
    std::vector<uint64_t> streams;  // in subscription order; round-robin from `next_stream`
    size_t next_stream = 0;
    bool claim_in_flight = false;
    bool pending = false;  // claim as soon as there is capacity
    bool drained = false;  // the last Claim found no more visible entries
    uint64_t generation = 0;  // bumped whenever entries may have become visible
    absl::Time next_check = absl::InfiniteFuture();
  };

  // A Claim taken by TakeClaimLocked, to be issued without mu_.
  struct ClaimRequest {
    std::string agent;
    int max = 0;
    uint64_t generation = 0;
  };

  void Run();
  // Marks `agent`'s queue as worth a Claim (entries may have become visible), without waking
  // the dispatcher thread.
  static void MarkClaimable(AgentQueue& queue);
  // MarkClaimable, and wakes the dispatcher thread to claim.
  void SignalLocked(const std::string& agent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The Store's enqueue listener: MarkClaimable, and the Claim itself from the calling thread
  // when one can start now (the thread is woken otherwise).
  void Signal(const std::string& agent) ABSL_LOCKS_EXCLUDED(mu_);
  // If `queue` has a stream with a free slot, entries worth claiming and no Claim in flight:
  // marks a Claim in flight (counted in pending_ops_) and returns it.
  std::optional<ClaimRequest> TakeClaimLocked(const std::string& agent, AgentQueue& queue)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Store::Claim for a request from TakeClaimLocked. Without mu_: a Store may run the callback
  // before Claim returns.
  void IssueClaim(const ClaimRequest& claim) ABSL_LOCKS_EXCLUDED(mu_);
  int FreeSlotsLocked(const AgentQueue& queue) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops unacked deliveries whose lease is over; their slots are free again.
  void ExpireLeasesLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves delivery_id from the stream's unacked set to its settling count; false (and counted)
  // if the stream does not hold it. `attempt` (may be null) receives the delivery's attempt.
  bool TakeUnackedLocked(uint64_t stream, const std::string& delivery_id, uint32_t* attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The Store answered an Ack/Nack of `stream`: its slot is free.
  void SettledLocked(uint64_t stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnClaimed(const std::string& agent, int requested, uint64_t generation,
                 absl::StatusOr<std::vector<store::ClaimedDelivery>> result);
  void ReleaseToStore(std::string agent, std::vector<std::string> delivery_ids);
  void OpDone() ABSL_LOCKS_EXCLUDED(mu_);

  // Outlives the Dispatcher: the Store's enqueue listener reaches the Dispatcher through it.
  struct ListenerHandle {
    absl::Mutex mu;
    Dispatcher* dispatcher ABSL_GUARDED_BY(mu) = nullptr;
  };

  store::Store& store_;
  const Clock& clock_;
  const config::DeliveryConfig defaults_;
  const std::map<std::string, config::DeliveryConfig> per_agent_;
  Backoff backoff_;
  metrics::CounterFamily* deliveries_ = nullptr;     // null without a registry
  metrics::CounterFamily* redeliveries_ = nullptr;
  metrics::HistogramFamily* latency_ = nullptr;
  const std::shared_ptr<ListenerHandle> listener_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int pending_ops_ ABSL_GUARDED_BY(mu_) = 0;  // Store calls whose callback has not run yet
  uint64_t next_stream_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Stream> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AgentQueue> agents_ ABSL_GUARDED_BY(mu_);
  DispatcherStats stats_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // last: starts after every member is ready
};

}  // namespace switchboard::delivery
