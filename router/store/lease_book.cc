#include "router/store/lease_book.h"

#include <algorithm>

namespace switchboard::store::embedded_internal {

bool LeaseBook::IsStale(const Item& item) const {
  const auto it = leases_.find(item.entry);
  return it == leases_.end() || it->second.seq != item.seq;
}

void LeaseBook::Push(Timeline& timeline, int64_t time, int64_t entry, uint64_t seq) {
  std::deque<Item>& in_order = timeline.in_order;
  if (in_order.empty() || time >= in_order.back().time) {
    in_order.push_back({time, entry, seq});
  } else {
    timeline.out_of_order.insert({time, entry});
  }
}

void LeaseBook::Pull(Timeline& timeline, int64_t time, int64_t entry, uint64_t seq) {
  std::deque<Item>& in_order = timeline.in_order;
  // out_of_order holds live leases only, at most one per entry: this one if it holds the key.
  const bool was_out_of_order =
      !timeline.out_of_order.empty() && timeline.out_of_order.erase({time, entry}) > 0;
  if (!was_out_of_order) {
    if (in_order.front().entry == entry && in_order.front().seq == seq) {
      in_order.pop_front();
      while (timeline.stale > 0 && IsStale(in_order.front())) {
        in_order.pop_front();
        --timeline.stale;
      }
    } else {
      ++timeline.stale;  // left in the deque until it reaches the front
    }
  }
  // Checked after every change of the live count, so the bound always holds. A compaction reads
  // fewer than 2 × stale items, and each stale item was one Pull since the last: O(1) per Pull.
  if (timeline.stale > timeline.live() + compact_slack_) {
    std::erase_if(in_order, [this](const Item& item) { return IsStale(item); });
    timeline.stale = 0;
  }
}

template <typename Visit>
void LeaseBook::Walk(const Timeline& timeline, Visit visit) const {
  auto item = timeline.in_order.begin();
  const auto items_end = timeline.in_order.end();
  auto key = timeline.out_of_order.begin();
  const auto keys_end = timeline.out_of_order.end();
  for (;;) {
    if (timeline.stale > 0) {
      while (item != items_end && IsStale(*item)) ++item;
    }
    // Both are in time order, so a merge by (time, entry) is too.
    const bool from_items = item != items_end &&
                            (key == keys_end || Key{item->time, item->entry} < *key);
    if (from_items) {
      if (!visit(item->time, item->entry)) return;
      ++item;
    } else if (key != keys_end) {
      if (!visit(key->first, key->second)) return;
      ++key;
    } else {
      return;
    }
  }
}

void LeaseBook::Erase(Leases::iterator it) {
  const int64_t entry = it->first;
  const Lease lease = it->second;
  leases_.erase(it);  // first: Pull asks leases_ which items are stale
  Pull(by_expiry_, lease.expires_at, entry, lease.seq);
  Pull(lease.agent->second, lease.expires_at, entry, lease.seq);
}

void LeaseBook::Insert(int64_t entry, Lease lease) {
  lease.seq = next_seq_++;
  leases_.emplace(entry, lease);
  Push(by_expiry_, lease.expires_at, entry, lease.seq);
  Push(lease.agent->second, lease.expires_at, entry, lease.seq);
}

void LeaseBook::Add(int64_t entry, absl::string_view agent, int64_t expires_at,
                    int64_t claimed_at) {
  auto node = by_agent_.find(agent);
  if (node == by_agent_.end()) node = by_agent_.try_emplace(std::string(agent)).first;
  if (const auto it = leases_.find(entry); it != leases_.end()) {
    undo_.push_back({entry, it->second});
    Erase(it);
  } else {
    undo_.push_back({entry, std::nullopt});
  }
  Insert(entry, Lease{&*node, expires_at, claimed_at, 0});
}

void LeaseBook::Remove(int64_t entry) {
  const auto it = leases_.find(entry);
  if (it == leases_.end()) return;
  undo_.push_back({entry, it->second});
  Erase(it);
}

void LeaseBook::Extend(int64_t entry, int64_t expires_at) {
  const auto it = leases_.find(entry);
  if (it == leases_.end()) return;
  const Lease before = it->second;
  undo_.push_back({entry, before});
  Erase(it);
  Lease after = before;
  after.expires_at = expires_at;
  Insert(entry, after);
}

const std::string* LeaseBook::AgentOf(int64_t entry) const {
  const auto it = leases_.find(entry);
  return it == leases_.end() ? nullptr : &it->second.agent->first;
}

std::vector<int64_t> LeaseBook::Expired(int64_t now) const {
  std::vector<int64_t> entries;
  Walk(by_expiry_, [&](int64_t expires_at, int64_t entry) {
    if (expires_at > now) return false;
    entries.push_back(entry);
    return true;
  });
  return entries;
}

LeaseBook::AgentLeases LeaseBook::ForAgent(absl::string_view agent) const {
  AgentLeases answer;
  const auto node = by_agent_.find(agent);
  if (node == by_agent_.end()) return answer;
  answer.leased = static_cast<int64_t>(node->second.live());
  Walk(node->second, [&](int64_t, int64_t entry) {
    const int64_t claimed_at = leases_.at(entry).claimed_at;
    answer.oldest_claimed_at = std::min(answer.oldest_claimed_at.value_or(claimed_at), claimed_at);
    return true;
  });
  return answer;
}

std::optional<int64_t> LeaseBook::NextLeaseEnd(absl::string_view agent) const {
  const auto node = by_agent_.find(agent);
  if (node == by_agent_.end()) return std::nullopt;
  const Timeline& timeline = node->second;
  std::optional<int64_t> next;
  if (!timeline.in_order.empty()) next = timeline.in_order.front().time;  // never stale
  if (!timeline.out_of_order.empty()) {
    next = std::min(next.value_or(timeline.out_of_order.begin()->first),
                    timeline.out_of_order.begin()->first);
  }
  return next;
}

std::vector<int64_t> LeaseBook::EntriesOf(absl::string_view agent) const {
  std::vector<int64_t> entries;
  if (const auto node = by_agent_.find(agent); node != by_agent_.end()) {
    Walk(node->second, [&](int64_t, int64_t entry) {
      entries.push_back(entry);
      return true;
    });
  }
  return entries;
}

size_t LeaseBook::footprint() const {
  size_t items = by_expiry_.in_order.size() + by_expiry_.out_of_order.size();
  for (const auto& [agent, timeline] : by_agent_) {
    items += timeline.in_order.size() + timeline.out_of_order.size();
  }
  return items;
}

void LeaseBook::UndoTo(size_t mark) {
  while (undo_.size() > mark) {
    const Undo undo = std::move(undo_.back());
    undo_.pop_back();
    if (const auto it = leases_.find(undo.entry); it != leases_.end()) Erase(it);
    if (undo.before.has_value()) Insert(undo.entry, *undo.before);
  }
}

}  // namespace switchboard::store::embedded_internal
