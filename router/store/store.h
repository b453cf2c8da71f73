#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::store {

// One event of a webhook request, routed, ready to commit.
struct EventToCommit {
  v1::EmailEvent event;  // event.id() is the idempotency (dedupe) key
  // One queue entry per target agent name; empty = archived only (counted as unmatched).
  struct Target {
    std::string agent;
    std::vector<std::string> matched_rules;  // the rules that selected this agent
  };
  std::vector<Target> targets;
};

enum class CommitOutcome {
  kCommitted,  // new: archived and enqueued, durable
  kDuplicate,  // its id was committed before, within the dedupe window: nothing written
};

// The routing rules shared by every router on one store: YAML text in the shape of the config
// file's `rules:` list (config::ParseRulesYaml reads it) and its version.
struct RulesDocument {
  std::string yaml;
  int64_t version = 0;  // 0 (with empty yaml): no document stored yet; then 1, 2, ...
};

// A leased delivery: one attempt of one queue entry.
struct ClaimedDelivery {
  std::string delivery_id;  // opaque, unique per attempt
  uint32_t attempt = 0;     // 1 for the first delivery
  v1::EmailEvent event;
  std::vector<std::string> matched_rules;
  absl::Time lease_expires_at;
};

struct DeadLetter {
  std::string agent;
  std::string event_id;
  uint32_t attempts = 0;
  std::string reason;  // the last Nack reason, "lease expired", "expired", ...
  absl::Time dead_at;
  v1::EmailEvent event;
};

struct QueueStats {
  int64_t ready = 0;         // waiting, visible now
  int64_t leased = 0;        // delivered, not yet acked, lease not expired
  int64_t delayed = 0;       // waiting for a backoff / retry_after
  int64_t dead_letters = 0;
  absl::Time oldest_leased = absl::InfiniteFuture();  // lease start of the oldest unacked
};

// Answer of Store::RememberToken.
enum class TokenOutcome {
  kNew,        // first seen (or its last sighting expired): now remembered with this body hash
  kSameBody,   // seen before with this same body hash: a retry of the same request
  kOtherBody,  // seen before with another body: a replay of a captured token, to refuse
};

using CommitCallback =
    absl::AnyInvocable<void(absl::StatusOr<std::vector<CommitOutcome>>) &&>;
using ClaimCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<ClaimedDelivery>>) &&>;
using DoneCallback = absl::AnyInvocable<void(absl::Status) &&>;
using TokenCallback = absl::AnyInvocable<void(absl::StatusOr<TokenOutcome>) &&>;

// The durable core: dedupe, archive, per-agent queues with leases, dead letters.
//
// Contract (tests/unit/store/store_conformance_test.cc, which every backend passes unchanged):
// - All methods are asynchronous and never block the caller; callbacks run on a store thread, must
//   not block, and may call back into the store. Every callback is called exactly once, also on
//   shutdown (with kUnavailable).
// - Commit: per event, atomically: if event.id was committed within the dedupe window the event is
//   kDuplicate and nothing is written; else the event is archived and one queue entry per target
//   is enqueued. `done` runs only after the whole batch is durable. Concurrent calls share one
//   transaction / round trip (group commit); one failing event does not fail the others.
//   kUnavailable: the store cannot commit now (nothing of the failed batch is visible).
// - Claim: leases up to `max` visible entries of `agent`, oldest first, for `lease`; each claim is
//   a new attempt (attempt+1) with a new delivery_id. An entry whose next attempt would exceed
//   `max_attempts` moves to the agent's dead letters instead ("max attempts reached").
// - Ack / Nack / Extend name a delivery_id; an unknown, superseded, already acked or expired
//   (lease over) id gets kNotFound and changes nothing.
//   Nack: the entry becomes visible again after `retry_after` (the next claim is attempt+1).
//   Extend: the lease now ends `extension` after now.
// - Release: the entries of these (still current) delivery ids become visible at once (used when
//   a stream ends); unknown ids are skipped silently.
// - RememberToken: atomically, and shared by every router using the same store: a `key` not seen
//   within its ttl is stored with `body_hash` for `ttl` (kNew); a live key with the same hash is
//   kSameBody and a live key with another hash kOtherBody, both leaving the entry as it was.
//   Durable like a commit (the answer comes after the entry is); expired entries are pruned.
// - An entry whose lease expires becomes visible again by itself.
// Thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  virtual void Commit(std::vector<EventToCommit> events, CommitCallback done) = 0;

  virtual void Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
                     ClaimCallback done) = 0;
  virtual void Ack(std::string delivery_id, DoneCallback done) = 0;
  virtual void Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
                    DoneCallback done) = 0;
  virtual void Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) = 0;
  virtual void Release(std::vector<std::string> delivery_ids, DoneCallback done) = 0;

  // The replay cache for signatures that do not cover the body (providers::ReplayGuard).
  virtual void RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                             TokenCallback done) = 0;

  // The earliest time at which a currently invisible (leased or delayed) entry of `agent` becomes
  // visible, InfiniteFuture if none. Lets delivery sleep exactly until the next redelivery.
  virtual void NextVisibleAt(std::string agent,
                             absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) = 0;

  virtual void Stats(std::string agent,
                     absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) = 0;
  virtual void ListDeadLetters(std::string agent, int limit,
                               absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&>
                                   done) = 0;

  // Called (on a store thread, after the commit is durable) with every agent name that got new
  // entries, so delivery wakes without polling. Set once, before traffic.
  virtual void SetEnqueueListener(std::function<void(const std::string& agent)> listener) = 0;

  // The rules document (version 0 and empty yaml when none was ever stored).
  virtual void GetRules(absl::AnyInvocable<void(absl::StatusOr<RulesDocument>) &&> done) = 0;
  // Optimistic concurrency: stores `yaml` as version expected_version + 1 if the stored version is
  // still `expected_version` (0 = none stored yet), and answers the new version once it is
  // durable. kFailedPrecondition when another version is stored (nothing written: GetRules, merge,
  // retry). The store does not parse the text.
  virtual void PutRules(std::string yaml, int64_t expected_version,
                        absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) = 0;
  // Called on a store thread of EVERY router using this store (this one included) after a
  // PutRules is durable, with the new version; with version 0 when a change may have been missed
  // (a reconnect of the notification channel): then re-read. Must not block. Set once, before
  // traffic.
  virtual void SetRulesListener(std::function<void(int64_t version)> listener) = 0;

  // True when the last store operation succeeded (for /readyz).
  virtual bool Healthy() const = 0;
};

}  // namespace switchboard::store
