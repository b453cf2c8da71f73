#include "router/admin/tail_bus.h"

#include <utility>

namespace switchboard::admin {

TailBus::Subscription::~Subscription() {
  absl::MutexLock wake_lock(&bus_.wake_mu_);
  absl::MutexLock lock(&bus_.mu_);
  if (bus_.queues_.erase(id_) > 0) bus_.subscribers_.fetch_sub(1);
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

std::unique_ptr<TailBus::Subscription> TailBus::Subscribe(std::function<void()> wake,
                                                          Accept accept) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  Queue& queue = queues_[id];
  queue.wake = std::move(wake);
  queue.accept = std::move(accept);
  subscribers_.fetch_add(1);
  return std::unique_ptr<Subscription>(new Subscription(*this, id));
}

bool TailBus::Listening() const { return subscribers_.load() > 0; }

void TailBus::Publish(const v1::EmailEvent& event, const std::vector<std::string>& agents) {
  std::vector<uint64_t> to_wake;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, queue] : queues_) {
      if (queue.accept && !queue.accept(event, agents)) continue;
      if (queue.events.size() >= kQueueLimit) {
        ++queue.dropped;
        ++queue.dropped_unreported;
        ++dropped_total_;
        continue;
      }
      v1::TailEvent& out = queue.events.emplace_back();
      *out.mutable_event() = event;
      for (const std::string& agent : agents) out.add_agents(agent);
      out.set_dropped_before(static_cast<int64_t>(queue.dropped_unreported));
      queue.dropped_unreported = 0;
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
