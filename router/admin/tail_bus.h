#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "router/ingress/commit_listener.h"
#include "switchboard/v1/admin.pb.h"

namespace switchboard::admin {

// The in-process bus behind AdminService.Tail: the ingress reports every event THIS router
// committed as new (ingress::CommitListener: after the commit is durable, with the agents it was
// routed to); each tail subscriber gets a bounded queue of the events its filter accepts. A
// subscriber that does not keep up loses events (counted per subscriber, and handed on as
// TailEvent.dropped_before of the next event it gets) instead of slowing the ingress: Publish never
// blocks and never waits for a subscriber. Events committed by other replicas sharing a Redis
// store are not seen here.
//
// Thread-safe. Publish may run on any thread (a store thread); the wake callback a subscriber
// registers runs under no lock of the bus's queues, must not block and must not destroy its
// Subscription.
class TailBus final : public ingress::CommitListener {
 public:
  // Per subscriber: at most this many events wait; older ones are kept, newer ones dropped.
  static constexpr size_t kQueueLimit = 1024;

  // Which events a subscriber wants (null: all). Runs on the publishing thread; must be cheap.
  using Accept = std::function<bool(const v1::EmailEvent& event,
                                    const std::vector<std::string>& agents)>;

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Moves up to `max` waiting events out (oldest first). An event that follows drops carries
    // their number in dropped_before.
    std::vector<v1::TailEvent> Take(size_t max);
    // Events dropped so far because the queue was full.
    uint64_t dropped() const;

   private:
    friend class TailBus;
    Subscription(TailBus& bus, uint64_t id) : bus_(bus), id_(id) {}
    TailBus& bus_;
    const uint64_t id_;
  };

  TailBus() = default;
  TailBus(const TailBus&) = delete;
  TailBus& operator=(const TailBus&) = delete;

  // `wake` is called (possibly from the publishing thread) whenever the subscription's queue goes
  // from empty to non-empty. Destroy the Subscription to unsubscribe; after its destructor returns
  // neither `wake` nor `accept` is called again. The bus must outlive its subscriptions.
  std::unique_ptr<Subscription> Subscribe(std::function<void()> wake, Accept accept = nullptr);

  void Publish(const v1::EmailEvent& event, const std::vector<std::string>& agents);

  // ingress::CommitListener: Listening is true while anyone subscribes; OnCommitted publishes.
  bool Listening() const override;
  void OnCommitted(const v1::EmailEvent& event, const std::vector<std::string>& agents) override {
    Publish(event, agents);
  }

  // Events dropped by all subscribers together since start (for metrics).
  uint64_t dropped_total() const;

 private:
  struct Queue {
    std::deque<v1::TailEvent> events;
    uint64_t dropped = 0;
    uint64_t dropped_unreported = 0;  // since the last queued event; goes into the next one
    std::function<void()> wake;
    Accept accept;
  };

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, Queue> queues_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> subscribers_{0};
  // Held while a wake callback runs, so that unsubscribing waits for a wake in progress.
  absl::Mutex wake_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace switchboard::admin
