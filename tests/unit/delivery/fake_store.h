#pragma once

// An in-memory store::Store for delivery and SDK tests. It honours the contract of
// router/store/store.h that delivery relies on: every call is asynchronous and its callback runs
// on the store's own thread; leases expire by the injected Clock, and an expired lease is visible
// again after the Claim's expiry backoff; each claim is attempt+1 with a new delivery_id;
// ack/nack/extend of a non-current id is kNotFound; release makes entries visible at once;
// NextVisibleAt also answers entries visible now; the enqueue listener runs after a commit.
// Commit dedupes by event id (no window). Test helpers (Enqueue, Snapshot, ...) are synchronous.

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "router/common/clock.h"
#include "router/common/proto_time.h"
#include "router/store/store.h"

namespace switchboard::testing {

class FakeStore final : public store::Store {
 public:
  struct Entry {
    std::string agent;
    v1::EmailEvent event;
    std::vector<std::string> matched_rules;
    uint32_t attempts = 0;
    absl::Time visible_at = absl::InfinitePast();
    std::string delivery_id;  // the current lease, "" if none
    absl::Time lease_end;
    absl::Duration expiry_backoff;  // of the current lease
    bool acked = false;
    bool dead = false;
  };
  struct Nacked {
    std::string delivery_id;
    absl::Duration retry_after;
    std::string reason;
  };

  explicit FakeStore(const Clock& clock) : clock_(clock), thread_([this] { Run(); }) {}
  ~FakeStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // --- test helpers ---

  // Commits one event for `agent` (via Commit, so the listener fires) and waits for it.
  // `raw` fills EmailEvent.raw, to give a delivery a size.
  void Enqueue(const std::string& agent, const std::string& event_id,
               v1::EventType type = v1::EVENT_TYPE_DELIVERED, const std::string& raw = "") {
    store::EventToCommit commit;
    commit.event.set_id(event_id);
    commit.event.set_type(type);
    commit.event.set_raw(raw);
    commit.event.set_recipient("user@example.com");
    commit.targets.push_back({agent, {"rule-" + agent}});
    std::vector<store::EventToCommit> events;
    events.push_back(std::move(commit));
    std::promise<void> done;
    Commit(std::move(events), [&done](auto) { done.set_value(); });
    done.get_future().wait();
  }
  std::vector<Entry> Snapshot() const {
    std::lock_guard lock(mu_);
    return entries_;
  }
  std::vector<std::string> acked() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::vector<Nacked> nacked() const {
    std::lock_guard lock(mu_);
    return nacked_;
  }
  std::vector<std::string> released() const {
    std::lock_guard lock(mu_);
    return released_;
  }
  std::vector<std::string> extended() const {
    std::lock_guard lock(mu_);
    return extended_;
  }
  // While held, NextVisibleAt calls wait (unanswered, their answer not computed yet) until
  // ReleaseNextVisibleAt: lets a test move the clock between the question and the answer.
  void HoldNextVisibleAt() {
    std::lock_guard lock(mu_);
    hold_next_visible_ = true;
  }
  size_t HeldNextVisibleAt() const {
    std::lock_guard lock(mu_);
    return held_next_visible_.size();
  }
  void ReleaseNextVisibleAt() {
    std::vector<absl::AnyInvocable<void()>> held;
    {
      std::lock_guard lock(mu_);
      hold_next_visible_ = false;
      held.swap(held_next_visible_);
    }
    for (auto& task : held) Post(std::move(task));
  }
  // The threads that called Claim, in order.
  std::vector<std::thread::id> claim_callers() const {
    std::lock_guard lock(mu_);
    return claim_callers_;
  }
  // The store's own thread, which runs every callback and the enqueue listener.
  std::thread::id thread_id() const { return thread_.get_id(); }
  // The most entries of `agent` that were leased at the same time.
  int max_leased(const std::string& agent) const {
    std::lock_guard lock(mu_);
    auto it = max_leased_.find(agent);
    return it == max_leased_.end() ? 0 : it->second;
  }

  // --- store::Store ---

  void Commit(std::vector<store::EventToCommit> events, store::CommitCallback done) override {
    Post([this, events = std::move(events), done = std::move(done)]() mutable {
      std::vector<store::CommitOutcome> outcomes;
      std::set<std::string> agents;
      std::function<void(const std::string&)> listener;
      {
        std::lock_guard lock(mu_);
        for (auto& commit : events) {
          if (!ids_.insert(commit.event.id()).second) {
            outcomes.push_back(store::CommitOutcome::kDuplicate);
            continue;
          }
          for (auto& target : commit.targets) {
            Entry entry;
            entry.agent = target.agent;
            entry.event = commit.event;
            entry.matched_rules = target.matched_rules;
            entries_.push_back(std::move(entry));
            agents.insert(target.agent);
          }
          outcomes.push_back(store::CommitOutcome::kCommitted);
        }
        listener = listener_;
      }
      std::move(done)(std::move(outcomes));
      if (listener) {
        for (const auto& agent : agents) listener(agent);
      }
    });
  }

  void Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
             store::ExpiryBackoff expiry_backoff, store::ClaimCallback done) override {
    absl::AnyInvocable<void()> task = [this, agent, max, lease, max_attempts,
                                       expiry_backoff = std::move(expiry_backoff),
                                       done = std::move(done)]() mutable {
      std::vector<store::ClaimedDelivery> claimed;
      {
        std::lock_guard lock(mu_);
        const absl::Time now = clock_.Now();
        for (size_t i = 0; i < entries_.size() && static_cast<int>(claimed.size()) < max; ++i) {
          Entry& e = entries_[i];
          if (e.agent != agent || !VisibleLocked(e, now)) continue;
          if (e.attempts + 1 > max_attempts) {
            e.dead = true;
            e.delivery_id.clear();
            continue;
          }
          ++e.attempts;
          e.delivery_id = absl::StrCat("d-", i, "-", e.attempts);
          e.lease_end = now + lease;
          e.expiry_backoff = expiry_backoff ? std::max(expiry_backoff(e.attempts),
                                                       absl::ZeroDuration())
                                            : absl::ZeroDuration();
          // As a real store hands it out: the event's bytes, and its received_at beside them.
          claimed.push_back({e.delivery_id, e.attempts, e.event.SerializeAsString(),
                             e.event.has_received_at() ? FromTimestamp(e.event.received_at())
                                                       : absl::InfinitePast(),
                             e.matched_rules, e.lease_end});
        }
        int leased = 0;
        for (const auto& e : entries_) {
          if (e.agent == agent && !e.delivery_id.empty() && !e.acked && e.lease_end > now) {
            ++leased;
          }
        }
        max_leased_[agent] = std::max(max_leased_[agent], leased);
      }
      std::move(done)(std::move(claimed));
    };
    {
      // Under one lock, so that a test that has seen the call also finds its task queued.
      std::lock_guard lock(mu_);
      claim_callers_.push_back(std::this_thread::get_id());
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  void Ack(std::string delivery_id, store::DoneCallback done) override {
    Post([this, delivery_id, done = std::move(done)]() mutable {
      absl::Status status;
      {
        std::lock_guard lock(mu_);
        Entry* e = CurrentLocked(delivery_id);
        if (e == nullptr) {
          status = absl::NotFoundError("unknown delivery");
        } else {
          e->acked = true;
          e->delivery_id.clear();
          acked_.push_back(delivery_id);
        }
      }
      std::move(done)(status);
    });
  }

  void Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
            store::DoneCallback done) override {
    Post([this, delivery_id, retry_after, reason, done = std::move(done)]() mutable {
      absl::Status status;
      {
        std::lock_guard lock(mu_);
        Entry* e = CurrentLocked(delivery_id);
        if (e == nullptr) {
          status = absl::NotFoundError("unknown delivery");
        } else {
          e->delivery_id.clear();
          e->visible_at = clock_.Now() + retry_after;
          nacked_.push_back({delivery_id, retry_after, reason});
        }
      }
      std::move(done)(status);
    });
  }

  void Extend(std::string delivery_id, absl::Duration extension,
              store::DoneCallback done) override {
    Post([this, delivery_id, extension, done = std::move(done)]() mutable {
      absl::Status status;
      {
        std::lock_guard lock(mu_);
        Entry* e = CurrentLocked(delivery_id);
        if (e == nullptr) {
          status = absl::NotFoundError("unknown delivery");
        } else {
          e->lease_end = clock_.Now() + extension;
          extended_.push_back(delivery_id);
        }
      }
      std::move(done)(status);
    });
  }

  void Release(std::vector<std::string> delivery_ids, store::DoneCallback done) override {
    Post([this, delivery_ids, done = std::move(done)]() mutable {
      {
        std::lock_guard lock(mu_);
        for (const auto& id : delivery_ids) {
          Entry* e = CurrentLocked(id);
          if (e == nullptr) continue;
          e->delivery_id.clear();
          e->visible_at = clock_.Now();
          released_.push_back(id);
        }
      }
      std::move(done)(absl::OkStatus());
    });
  }

  void NextVisibleAt(std::string agent,
                     absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) override {
    absl::AnyInvocable<void()> task = [this, agent, done = std::move(done)]() mutable {
      absl::Time next = absl::InfiniteFuture();
      {
        std::lock_guard lock(mu_);
        const absl::Time now = clock_.Now();
        for (const auto& e : entries_) {
          if (e.agent != agent || e.acked || e.dead) continue;
          // As the embedded store: a current lease answers its end (Store::NextVisibleAt allows
          // it), one that ended answers the end of its expiry backoff.
          next = std::min(next, e.delivery_id.empty() ? e.visible_at
                                : e.lease_end > now   ? e.lease_end
                                                      : e.lease_end + e.expiry_backoff);
        }
      }
      std::move(done)(next);
    };
    {
      std::lock_guard lock(mu_);
      if (hold_next_visible_) {
        held_next_visible_.push_back(std::move(task));
        return;
      }
    }
    Post(std::move(task));
  }

  void Stats(std::string agent,
             absl::AnyInvocable<void(absl::StatusOr<store::QueueStats>) &&> done) override {
    Post([this, agent, done = std::move(done)]() mutable {
      store::QueueStats stats;
      {
        std::lock_guard lock(mu_);
        const absl::Time now = clock_.Now();
        for (const auto& e : entries_) {
          if (e.agent != agent || e.acked) continue;
          if (e.dead) {
            ++stats.dead_letters;
          } else if (VisibleLocked(e, now)) {
            ++stats.ready;
          } else if (!e.delivery_id.empty() && e.lease_end > now) {
            ++stats.leased;
          } else {
            ++stats.delayed;
          }
        }
      }
      std::move(done)(stats);
    });
  }

  void ListDeadLetters(std::string, int,
                       absl::AnyInvocable<void(absl::StatusOr<std::vector<store::DeadLetter>>) &&>
                           done) override {
    Post([done = std::move(done)]() mutable {
      std::move(done)(absl::UnimplementedError("not in the fake"));
    });
  }

  void RememberToken(std::string, std::string, absl::Duration, store::TokenCallback done) override {
    Post([done = std::move(done)]() mutable {
      std::move(done)(absl::UnimplementedError("not in the fake"));
    });
  }

  void SetEnqueueListener(std::function<void(const std::string& agent)> listener) override {
    std::lock_guard lock(mu_);
    listener_ = std::move(listener);
  }

  bool Healthy() const override { return true; }

  void GetRules(absl::AnyInvocable<void(absl::StatusOr<store::RulesDocument>) &&> done) override {
    Post([done = std::move(done)]() mutable {
      std::move(done)(absl::UnimplementedError("not in the fake"));
    });
  }
  void PutRules(std::string, int64_t,
                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override {
    Post([done = std::move(done)]() mutable {
      std::move(done)(absl::UnimplementedError("not in the fake"));
    });
  }
  void SetRulesListener(std::function<void(int64_t)>) override {}

 private:
  bool VisibleLocked(const Entry& e, absl::Time now) const {
    if (e.acked || e.dead) return false;
    if (e.delivery_id.empty()) return e.visible_at <= now;
    return e.lease_end + e.expiry_backoff <= now;  // the lease expired, its backoff is over
  }
  Entry* CurrentLocked(const std::string& delivery_id) {
    const absl::Time now = clock_.Now();
    for (auto& e : entries_) {
      if (!e.delivery_id.empty() && e.delivery_id == delivery_id && !e.acked && e.lease_end > now) {
        return &e;
      }
    }
    return nullptr;
  }
  void Post(absl::AnyInvocable<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<absl::AnyInvocable<void()>> tasks_;
  std::vector<Entry> entries_;
  std::set<std::string> ids_;
  std::vector<std::string> acked_;
  std::vector<Nacked> nacked_;
  std::vector<std::string> released_;
  std::vector<std::string> extended_;
  std::map<std::string, int> max_leased_;
  std::vector<std::thread::id> claim_callers_;
  bool hold_next_visible_ = false;
  std::vector<absl::AnyInvocable<void()>> held_next_visible_;
  std::function<void(const std::string&)> listener_;
  std::thread thread_;
};

}  // namespace switchboard::testing
