#pragma once

#include <deque>
#include <map>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "router/providers/provider.h"
#include "router/routing/rule_set.h"
#include "router/store/store.h"

namespace switchboard::ingress::testing {

// A provider whose Verify/Decode are whatever the test says. Records the last request it saw.
class FakeProvider : public providers::Provider {
 public:
  std::function<absl::Status(const providers::WebhookRequest&)> verify =
      [](const providers::WebhookRequest&) { return absl::OkStatus(); };
  std::function<absl::StatusOr<providers::DecodeResult>(const providers::WebhookRequest&)> decode =
      [](const providers::WebhookRequest& request) -> absl::StatusOr<providers::DecodeResult> {
    providers::DecodeResult result;
    result.events.emplace_back().set_id(request.body);
    return result;
  };
  bool basic_auth = false;
  bool probes = false;

  absl::Status Verify(const providers::WebhookRequest& request) const override {
    absl::MutexLock lock(&mu_);
    last_request_ = request;
    return verify(request);
  }
  absl::StatusOr<providers::DecodeResult> Decode(
      const providers::WebhookRequest& request) const override {
    return decode(request);
  }
  bool UsesBasicAuth() const override { return basic_auth; }
  bool AcceptsProbes() const override { return probes; }

  providers::WebhookRequest last_request() const {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable providers::WebhookRequest last_request_ ABSL_GUARDED_BY(mu_);
};

// Routes events whose recipient ends in "@example.com" to agent "audit" (rule "audit-example").
class FakeRuleSet : public routing::RuleSet {
 public:
  std::vector<routing::RouteTarget> Route(const v1::EmailEvent& event) const override {
    const std::string& r = event.recipient();
    const std::string domain = "@example.com";
    if (r.ends_with(domain)) {
      return {{"audit", {"audit-example"}}};
    }
    return {};
  }
  routing::RouteExplanation Explain(const v1::EmailEvent& event) const override {
    return {.rules = {}, .targets = Route(event)};
  }
  const std::vector<config::RuleConfig>& rules() const override { return rules_; }

 private:
  std::vector<config::RuleConfig> rules_;
};

// A store whose commits wait until the test completes them, or (auto_commit) complete at once as
// new. RememberToken keeps tokens in memory (no expiry), or fails with `token_failure` when set.
// Everything else answers kUnimplemented.
class FakeStore : public store::Store {
 public:
  explicit FakeStore(bool auto_commit = false) : auto_commit_(auto_commit) {}

  void Commit(std::vector<store::EventToCommit> events, store::CommitCallback done) override {
    if (auto_commit_) {
      const size_t n = events.size();
      {
        absl::MutexLock lock(&mu_);
        committed_.push_back(std::move(events));
      }
      std::move(done)(std::vector<store::CommitOutcome>(n, store::CommitOutcome::kCommitted));
      return;
    }
    absl::MutexLock lock(&mu_);
    pending_.push_back({std::move(events), std::move(done)});
  }

  // Blocks until `n` commits are pending (bounded by the test's own timeout).
  void AwaitPending(size_t n) {
    absl::MutexLock lock(&mu_);
    awaited_ = n;
    mu_.Await(absl::Condition(this, &FakeStore::EnoughPending));
  }

  size_t pending() const {
    absl::MutexLock lock(&mu_);
    return pending_.size();
  }
  // The events of the oldest pending commit.
  std::vector<store::EventToCommit> PendingEvents() const {
    absl::MutexLock lock(&mu_);
    return pending_.front().events;
  }
  std::vector<std::vector<store::EventToCommit>> committed() const {
    absl::MutexLock lock(&mu_);
    return committed_;
  }

  // Calls back the oldest pending commit.
  void Complete(absl::StatusOr<std::vector<store::CommitOutcome>> outcomes) {
    Pending p;
    {
      absl::MutexLock lock(&mu_);
      p = std::move(pending_.front());
      pending_.pop_front();
      if (outcomes.ok()) committed_.push_back(p.events);
    }
    std::move(p.done)(std::move(outcomes));
  }

  void RememberToken(std::string key, std::string body_hash, absl::Duration,
                     store::TokenCallback done) override {
    absl::StatusOr<store::TokenOutcome> outcome = store::TokenOutcome::kNew;
    {
      absl::MutexLock lock(&mu_);
      if (!token_failure.ok()) {
        outcome = token_failure;
      } else if (auto [it, inserted] = tokens_.emplace(std::move(key), body_hash); !inserted) {
        outcome = it->second == body_hash ? store::TokenOutcome::kSameBody
                                          : store::TokenOutcome::kOtherBody;
      }
    }
    std::move(done)(std::move(outcome));
  }
  absl::Status token_failure;  // set before traffic

  // Quarantine entries are kept in memory with ids "q1", "q2", ...; `quarantine_failure` (set
  // before traffic) fails PutQuarantine instead.
  void PutQuarantine(store::QuarantineEntry entry,
                     absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) override {
    absl::StatusOr<std::string> id;
    {
      absl::MutexLock lock(&mu_);
      if (quarantine_failure.ok()) {
        entry.id = "q" + std::to_string(quarantined_.size() + 1);
        entry.body_size = static_cast<int64_t>(entry.body.size());
        id = entry.id;
        quarantined_.push_back(std::move(entry));
      } else {
        id = quarantine_failure;
      }
    }
    std::move(done)(std::move(id));
  }
  std::vector<store::QuarantineEntry> quarantined() const {
    absl::MutexLock lock(&mu_);
    return quarantined_;
  }
  absl::Status quarantine_failure;

  void Claim(std::string, int, absl::Duration, uint32_t, store::ExpiryBackoff,
             store::ClaimCallback done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void Ack(std::string, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void Nack(std::string, absl::Duration, std::string, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void Extend(std::string, absl::Duration, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void Release(std::vector<std::string>, store::DoneCallback done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void NextVisibleAt(std::string,
                     absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void Stats(std::string,
             absl::AnyInvocable<void(absl::StatusOr<store::QueueStats>) &&> done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void ListDeadLetters(
      std::string, int,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<store::DeadLetter>>) &&> done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void SetEnqueueListener(std::function<void(const std::string&)>) override {}
  bool Healthy() const override { return true; }
  void GetRules(absl::AnyInvocable<void(absl::StatusOr<store::RulesDocument>) &&> done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void PutRules(std::string, int64_t,
                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override {
    std::move(done)(absl::UnimplementedError("fake"));
  }
  void SetRulesListener(std::function<void(int64_t)>) override {}

 private:
  struct Pending {
    std::vector<store::EventToCommit> events;
    store::CommitCallback done;
  };
  bool EnoughPending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.size() >= awaited_;
  }

  const bool auto_commit_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::vector<store::QuarantineEntry> quarantined_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<store::EventToCommit>> committed_ ABSL_GUARDED_BY(mu_);
  size_t awaited_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace switchboard::ingress::testing
