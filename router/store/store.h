#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
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
  // The event as the store keeps it: a v1::EmailEvent in protobuf wire format, which the store
  // checked with InspectArchivedEvent (archived_event.h). It goes to the agent as these bytes
  // (Delivery.event is encoded as the same bytes), so the router never parses it on the way out.
  std::string event_bytes;
  absl::Time received_at = absl::InfinitePast();  // the event's received_at; InfinitePast if unset
  std::vector<std::string> matched_rules;
  absl::Time lease_expires_at;

  // The event parsed, for tests and tools (the router itself never parses it); an empty event if
  // the bytes do not parse.
  v1::EmailEvent ParsedEvent() const {
    v1::EmailEvent event;
    if (!event.ParseFromString(event_bytes)) event.Clear();
    return event;
  }
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

// One archived (committed) event, for operator replays.
struct ArchivedEvent {
  std::string ref;  // opaque, the store's position of this archive entry
  absl::Time committed_at;
  v1::EmailEvent event;
  std::vector<std::string> agents;  // routed to when committed; empty: no rule matched
};

struct ArchivePage {
  std::vector<ArchivedEvent> events;
  std::string next_cursor;  // "" when the scan is over
};

// Answer of Store::RememberToken.
enum class TokenOutcome {
  kNew,        // first seen (or its last sighting expired): now remembered with this body hash
  kSameBody,   // seen before with this same body hash: a retry of the same request
  kOtherBody,  // seen before with another body: a replay of a captured token, to refuse
};

// ---- Data lifecycle (quarantine, retention, erasure, backup) ----

// An authentic webhook that its provider could not decode (DESIGN.md "Status codes"), kept so an
// operator can replay it after a fix instead of the provider retrying it forever.
struct QuarantineEntry {
  std::string id;  // assigned by the store; opaque, unique within the store
  std::string source;
  std::string reason;        // the decode error
  std::string code_version;  // the router build that failed to decode it (SWITCHBOARD_VERSION)
  absl::Time received_at;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-cased names, secrets removed
  std::string body;        // the exact bytes; empty in listings made without bodies
  int64_t body_size = 0;   // bytes of the body, also when it is left out
};

// Which entries ListQuarantine / DeleteQuarantine cover: `source` "" = every source, `ids` empty =
// every entry (of the source). Ids of another source, or unknown ids, match nothing.
struct QuarantineFilter {
  std::string source;
  std::vector<std::string> ids;
};

// How long data is kept (config `retention` and `delivery.retention`). InfiniteDuration keeps
// forever. Ages count from: archive commit time, quarantine receipt, dead-letter time, and for a
// queue entry its enqueue time.
struct RetentionPolicy {
  absl::Duration archive = absl::InfiniteDuration();
  absl::Duration quarantine = absl::InfiniteDuration();
  absl::Duration dead_letters = absl::InfiniteDuration();
  absl::Duration queue = absl::InfiniteDuration();  // a never-acked entry older moves to dead letters
  // The agents whose queues and dead letters are swept (the declared agents). The embedded store
  // covers every agent; the Redis store (it cannot list its keys cheaply) covers the dead letters
  // of these only, and the queues of these and of every agent it wrote a queue ref for.
  std::vector<std::string> agents;
};

// What one Store::Sweep removed or moved.
struct SweepResult {
  int64_t archive = 0;       // archived events deleted
  int64_t quarantine = 0;    // quarantine entries deleted
  int64_t dead_letters = 0;  // dead letters deleted
  int64_t expired = 0;       // queue entries moved to dead letters with reason "expired"
};

struct BackupResult {
  std::string path;
  int64_t bytes = 0;
  absl::Duration took;
};

// Bytes kept out of line: an inbound attachment (v1::Inbound::Attachment with stored=true) or an
// event's raw body (v1::EmailEvent raw_stored), content-addressed by their lower-case hex SHA-256
// and named by the events that carry them. The recipients of one mail name the same bytes: one
// copy is kept, with one reference per event id.
struct StoredAttachment {
  std::vector<std::string> event_ids;  // the events naming these bytes
  std::string sha256;
  std::string bytes;
};

using CommitCallback =
    absl::AnyInvocable<void(absl::StatusOr<std::vector<CommitOutcome>>) &&>;
using ClaimCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<ClaimedDelivery>>) &&>;
using DoneCallback = absl::AnyInvocable<void(absl::Status) &&>;
using TokenCallback = absl::AnyInvocable<void(absl::StatusOr<TokenOutcome>) &&>;

// How long an entry whose lease ran out (no ack, nack or release before the lease end) stays
// invisible after the lease end, by the attempt that expired (1-based): the agent's backoff, so a
// hung agent is not handed the same work again at once. Called on a store thread before the
// Claim's callback (must not block); a negative answer counts as zero. An empty function makes
// the entry visible at the lease end. The Redis store records the backoff in a second round trip
// right after the claim: should the router die in between, that lease ends without a backoff.
using ExpiryBackoff = std::function<absl::Duration(uint32_t attempt)>;

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
//   `expiry_backoff` (see ExpiryBackoff) is asked once per entry this Claim leases, with its
//   attempt, for the wait after the lease end should the lease run out.
// - Ack / Nack / Extend name a delivery_id; an unknown, superseded, already acked or expired
//   (lease over) id gets kNotFound and changes nothing.
//   Nack: the entry becomes visible again after `retry_after` (the next claim is attempt+1).
//   Extend: the lease now ends `extension` after now (its expiry backoff moves with it).
// - Release: the entries of these (still current) delivery ids become visible at once (used when
//   a stream ends); unknown ids are skipped silently.
// - RememberToken: atomically, and shared by every router using the same store: a `key` not seen
//   within its ttl is stored with `body_hash` for `ttl` (kNew); a live key with the same hash is
//   kSameBody and a live key with another hash kOtherBody, both leaving the entry as it was.
//   Durable like a commit (the answer comes after the entry is); expired entries are pruned.
// - An entry whose lease expires becomes visible again by itself, expiry_backoff(attempt) after
//   the lease end; its next claim is attempt+1 with last error "lease expired".
// Thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  virtual void Commit(std::vector<EventToCommit> events, CommitCallback done) = 0;

  virtual void Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
                     ExpiryBackoff expiry_backoff, ClaimCallback done) = 0;
  virtual void Ack(std::string delivery_id, DoneCallback done) = 0;
  virtual void Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
                    DoneCallback done) = 0;
  virtual void Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) = 0;
  virtual void Release(std::vector<std::string> delivery_ids, DoneCallback done) = 0;

  // The replay cache for signatures that do not cover the body (providers::ReplayGuard).
  virtual void RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                             TokenCallback done) = 0;

  // The earliest time at which a delivered-before (delayed, leased or expired) entry of `agent`
  // is visible: at or before now when one is visible now, since it may have become visible after
  // the caller's last under-full Claim (a nack's retry time come, an expired lease past its
  // backoff): claim again at once rather than miss it. InfiniteFuture if none. New entries may be
  // left out (their commit fires the enqueue listener). A leased entry may answer its lease end,
  // which is at or before the end of the expiry backoff that follows it: the Claim made then
  // ends the lease, and the next NextVisibleAt answers the backoff's end. Lets delivery sleep
  // until the next redelivery, waking at most once more per lease end it was answered (an
  // Extend after the answer, an ack, or an expiry with a backoff make that wake-up find nothing).
  virtual void NextVisibleAt(std::string agent,
                             absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) = 0;

  virtual void Stats(std::string agent,
                     absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) = 0;
  virtual void ListDeadLetters(std::string agent, int limit,
                               absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&>
                                   done) = 0;

  // ---- Operator replays (AdminService). Every backend implements these; the in-class defaults
  // (kUnimplemented) exist only for test fakes. Same threading and callback rules as above.
  // Replayed entries are fresh queue entries (visible now, the next claim is attempt 1, matched
  // rules "replay"); the enqueue listener fires for `agent` as after a commit.

  // Moves `agent`'s dead letters with these event ids (empty: all of them) back to its queue.
  // Answers how many moved; unknown ids are skipped.
  virtual void ReplayDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                 absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
    (void)agent, (void)event_ids;
    std::move(done)(absl::UnimplementedError("this store cannot replay dead letters"));
  }
  // Deletes `agent`'s dead letters with these event ids (empty: all); answers how many.
  virtual void PurgeDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
    (void)agent, (void)event_ids;
    std::move(done)(absl::UnimplementedError("this store cannot purge dead letters"));
  }
  // One page of the archive: events committed (store clock) in [since, until), in commit order,
  // after `cursor` ("" = from the oldest kept), looking at no more than `limit` (> 0) archived
  // events. ArchivePage::next_cursor is "" once the range is exhausted; a page may hold fewer
  // events than it looked at (outside the range), even none, with a non-empty cursor.
  virtual void ScanArchive(absl::Time since, absl::Time until, std::string cursor, int limit,
                           absl::AnyInvocable<void(absl::StatusOr<ArchivePage>) &&> done) {
    (void)since, (void)until, (void)cursor, (void)limit;
    std::move(done)(absl::UnimplementedError("this store cannot scan its archive"));
  }
  // Enqueues the archived events `refs` (ArchivedEvent::ref) to `agent`, skipping an event whose
  // id the agent already has queued (ready, delayed or leased; dead letters do not count) and
  // unknown refs. Answers how many were enqueued.
  virtual void EnqueueArchived(std::string agent, std::vector<std::string> refs,
                               absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
    (void)agent, (void)refs;
    std::move(done)(absl::UnimplementedError("this store cannot replay its archive"));
  }

  // Called (on a store thread, after the commit is durable) with every agent name that got new
  // entries, so delivery wakes without polling. Set once, before traffic. The store calls it
  // holding none of its locks and never from inside one of its methods, so the listener may
  // call this store's methods (the Dispatcher claims from it); such a call only queues its work
  // (refused at shutdown, its callback may then run with kUnavailable on the calling thread).
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

  // ---- Data lifecycle. Every backend implements these; the defaults (kUnimplemented) exist only
  // for test fakes. Same threading and callback rules as above.

  // Stores one quarantine entry (its id and body_size are assigned here) and answers its id once
  // it is durable, like a commit. kUnavailable: not stored.
  virtual void PutQuarantine(QuarantineEntry entry,
                             absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done);
  // Entries matching `filter`, oldest first, at most `limit` (<= 0: none); bodies only when
  // `with_bodies`.
  virtual void ListQuarantine(
      QuarantineFilter filter, int limit, bool with_bodies,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done);
  // Deletes the entries matching `filter`; answers how many were deleted.
  virtual void DeleteQuarantine(QuarantineFilter filter,
                                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done);

  // Applies `policy` once at the store clock's now: queue entries older than policy.queue that
  // are not leased right now move to their agent's dead letters with reason "expired" (a leased
  // one is judged when its lease ends); then dead letters, quarantine entries and archived events
  // older than their limits are deleted (an archived event still referenced by a queue entry or
  // dead letter is kept until they are gone). Bounded work per call is allowed: what is left is
  // removed by the next call (run it periodically).
  virtual void Sweep(RetentionPolicy policy,
                     absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done);

  // Erases one person's events: every archived event, queue entry and dead letter whose
  // recipient_key equals the lower-cased `recipient`, and every quarantine entry whose body
  // mentions the address (case-insensitive, also URL-encoded, bounded by non-address
  // characters), with the out-of-line bytes (PutAttachments) no remaining event names. Dedupe
  // keys stay (they are hashes that name nobody; a provider retry of an
  // erased event stays a duplicate). `agents` as in RetentionPolicy. Answers the number of
  // entries deleted. kInvalidArgument: an empty recipient.
  virtual void PurgeRecipient(std::string recipient, std::vector<std::string> agents,
                              absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done);

  // Writes a consistent copy of the whole store to `path` (a file on this host) while the store
  // serves. kFailedPrecondition: the backend has no file to copy (Redis: use its persistence),
  // or `path` is the store's own file. kUnavailable: the copy failed (nothing left at `path`).
  virtual void Backup(std::string path,
                      absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done);

  // ---- Inbound attachments and raw bodies stored out of line (StoredAttachment). Every backend
  // implements these; the defaults (kUnimplemented) exist only for test fakes. Same threading
  // and callback rules as above.
  //
  // Lifecycle: one copy of the bytes per sha256, and one reference per (event id, sha256). The
  // bytes are deleted when no archived event names them any more: PurgeRecipient drops the
  // references of the events it erases and the bytes nobody else names; Sweep drops references
  // older than the archive's retention whose event is no longer archived (also those of a crash
  // between PutAttachments and Commit), then the bytes nobody names. (Redis: every key also
  // expires archive_retention after its last PutAttachments, also while its event is still
  // queued, which keeps the archive entry longer.)

  // Stores each blob once under its sha256 (bytes already stored under that hash are kept: the
  // same hash is the same bytes) and a reference from every one of its event_ids, and answers
  // once they are durable. The ingress calls it BEFORE the Commit of the events naming them.
  // kUnavailable: not stored.
  virtual void PutAttachments(std::vector<StoredAttachment> attachments, DoneCallback done);
  // The bytes stored under `sha256` if event `event_id` names them. kNotFound otherwise (unknown
  // hash, or a hash this event does not name).
  virtual void GetAttachment(std::string event_id, std::string sha256,
                             absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done);
};

// Defaults of the data lifecycle operations, for test fakes only (every backend overrides them).
inline void Store::PutQuarantine(QuarantineEntry,
                                 absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store keeps no quarantine"));
}
inline void Store::ListQuarantine(
    QuarantineFilter, int, bool,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store keeps no quarantine"));
}
inline void Store::DeleteQuarantine(QuarantineFilter,
                                    absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store keeps no quarantine"));
}
inline void Store::Sweep(RetentionPolicy,
                         absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store has no retention sweep"));
}
inline void Store::PurgeRecipient(std::string, std::vector<std::string>,
                                  absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store cannot purge a recipient"));
}
inline void Store::Backup(std::string,
                          absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store cannot be backed up"));
}
inline void Store::PutAttachments(std::vector<StoredAttachment>, DoneCallback done) {
  std::move(done)(absl::UnimplementedError("this store keeps no attachments"));
}
inline void Store::GetAttachment(std::string, std::string,
                                 absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  std::move(done)(absl::UnimplementedError("this store keeps no attachments"));
}

}  // namespace switchboard::store
