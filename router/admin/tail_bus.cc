#include "router/admin/tail_bus.h"

#include <utility>

namespace switchboard::admin {

TailBus::Subscription::~Subscription() {
  absl::MutexLock wake_lock(&bus_.wake_mu_);
  absl::MutexLock lock(&bus_.mu_);
  bus_.queues_.erase(id_);
}

std::vector<v1::TailEvent> TailBus::Subscription::Take(size_t max) {
  std::vector<v1::TailEvent> out;
  absl::MutexLock lock(&bus_.mu_);
  auto it = bus_.queues_.find(id_);
  if (it == bus_.queues_.end()) return out;
  std::deque<v1::TailEvent>& events = it->second.events;
  while (!events.empty() && out.size() < max) {
    out.push_back(std::move(events.front()));
    events.pop_front();
  }
  return out;
}

uint64_t TailBus::Subscription::dropped() const {
  absl::MutexLock lock(&bus_.mu_);
  auto it = bus_.queues_.find(id_);
  return it == bus_.queues_.end() ? 0 : it->second.dropped;
}

std::unique_ptr<TailBus::Subscription> TailBus::Subscribe(std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  queues_[id].wake = std::move(wake);
  return std::unique_ptr<Subscription>(new Subscription(*this, id));
}

void TailBus::Publish(const v1::TailEvent& event) {
  std::vector<uint64_t> to_wake;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, queue] : queues_) {
      if (queue.events.size() >= kQueueLimit) {
        ++queue.dropped;
        ++dropped_total_;
        continue;
      }
      queue.events.push_back(event);
      if (queue.events.size() == 1 && queue.wake) to_wake.push_back(id);
    }
  }
  if (to_wake.empty()) return;
  // Wakes run outside mu_ (they may Take). Unsubscribing needs wake_mu_, so a subscription found
  // here stays alive until its wake returned.
  absl::MutexLock wake_lock(&wake_mu_);
  for (uint64_t id : to_wake) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      auto it = queues_.find(id);
      if (it == queues_.end()) continue;
      wake = it->second.wake;
    }
    wake();
  }
}

uint64_t TailBus::dropped_total() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

}  // namespace switchboard::admin
