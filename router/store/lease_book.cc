#include "router/store/lease_book.h"

#include <algorithm>

namespace switchboard::store::embedded_internal {

void LeaseBook::Erase(Leases::iterator it) {
  const auto& [entry, lease] = *it;
  by_expiry_.erase({lease.expires_at, entry});
  lease.agent->second.erase({lease.visible_at, entry});
  leases_.erase(it);
}

void LeaseBook::Insert(int64_t entry, const Lease& lease) {
  leases_.emplace(entry, lease);
  by_expiry_.insert({lease.expires_at, entry});
  lease.agent->second.insert({lease.visible_at, entry});
}

void LeaseBook::Add(int64_t entry, absl::string_view agent, int64_t expires_at,
                    int64_t visible_at, int64_t claimed_at) {
  auto node = by_agent_.find(agent);
  if (node == by_agent_.end()) node = by_agent_.try_emplace(std::string(agent)).first;
  if (const auto it = leases_.find(entry); it != leases_.end()) {
    undo_.push_back({entry, it->second});
    Erase(it);
  } else {
    undo_.push_back({entry, std::nullopt});
  }
  Insert(entry, Lease{&*node, expires_at, visible_at, claimed_at});
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
  after.visible_at = expires_at + (before.visible_at - before.expires_at);
  Insert(entry, after);
}

const std::string* LeaseBook::AgentOf(int64_t entry) const {
  const auto it = leases_.find(entry);
  return it == leases_.end() ? nullptr : &it->second.agent->first;
}

std::vector<int64_t> LeaseBook::Expired(int64_t now) const {
  std::vector<int64_t> entries;
  for (auto it = by_expiry_.begin(); it != by_expiry_.end() && it->first <= now; ++it) {
    entries.push_back(it->second);
  }
  return entries;
}

LeaseBook::AgentLeases LeaseBook::ForAgent(absl::string_view agent) const {
  AgentLeases answer;
  const auto node = by_agent_.find(agent);
  if (node == by_agent_.end() || node->second.empty()) return answer;
  const ByTime& by_visibility = node->second;
  answer.leased = static_cast<int64_t>(by_visibility.size());
  for (const auto& [visible_at, entry] : by_visibility) {
    const int64_t claimed_at = leases_.at(entry).claimed_at;
    answer.oldest_claimed_at = std::min(answer.oldest_claimed_at.value_or(claimed_at), claimed_at);
  }
  return answer;
}

std::optional<int64_t> LeaseBook::NextVisibleAt(absl::string_view agent) const {
  const auto node = by_agent_.find(agent);
  if (node == by_agent_.end() || node->second.empty()) return std::nullopt;
  return node->second.begin()->first;
}

std::vector<int64_t> LeaseBook::EntriesOf(absl::string_view agent) const {
  std::vector<int64_t> entries;
  if (const auto node = by_agent_.find(agent); node != by_agent_.end()) {
    for (const auto& [visible_at, entry] : node->second) entries.push_back(entry);
  }
  return entries;
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
