#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/store/redis_connection.h"
#include "router/store/redis_url.h"
#include "router/store/store.h"

namespace switchboard::store {
namespace redis_internal {
class Op;      // one queued operation
struct Batch;  // what one pipelined round trip shares
// A claim whose pipeline failed once sent: Redis may have run it (RedisStore::ReleaseLostClaims).
struct LostClaim {
  std::string agent;
  absl::Time claimed_at;   // the lease start it wrote: unique per claim of this store
  absl::Time lease_until;  // the deadline it gave its leases
};
struct ScriptShas {
  std::string commit, claim, settle, stats, next_visible, retire, arm_backoff;  // SCRIPT LOAD
};
}  // namespace redis_internal

// The Store on a shared Redis (>= 6.2; Debian 12 ships 7.0), so that any number of router replicas
// share queues, dedupe and dead letters. Layout and scripts: router/store/redis_scripts.h.
//
// - Per agent: a stream with the consumer group "switchboard" (competing consumers across replicas:
//   each RedisStore is one consumer, named "<host>:<pid>:<random>"), a lease sorted set, a delay
//   sorted set (Nack retry_after, Release, expired leases waiting out their expiry backoff), a
//   meta hash (attempt, lease start, last error: the attempt lives with the entry, not in the PEL
//   delivery counter; and the current lease's expiry backoff, set by a follow-up round trip after
//   the claim), a dead-letter stream.
// - Commit: ONE Lua script per Commit call, so dedupe + archive + enqueue of every event of the call
//   are atomic together (a superset of "atomic per event"). Dedupe keys are SHA-256(id)[0:16]
//   holding the commit time, with PX = the dedupe window for garbage collection. The event bytes
//   are written once, to the archive stream; a queue entry refers to its archive entry (so the
//   AOF carries the bytes once, whatever the number of agents), and the archive keeps an entry
//   as long as a queue entry refers to it (the pin the archive sweep sets, below which commits
//   trim by MINID).
// - Time: every lease deadline, delay and dedupe time is computed from the injected Clock and
//   stored, never Redis' own clock: XAUTOCLAIM's idle time is Redis server time, which tests cannot
//   fake and which differs from the router's clock, so expired leases are found in the lease sorted
//   set and taken over with XCLAIM instead. Stream entry ids (FIFO order, archive MINID trimming)
//   are Redis time.
// - Threads: one I/O thread owns a synchronous connection (redisConnectWithTimeout,
//   redisSetTimeout). Each time it wakes it sends EVERYTHING queued so far as one pipeline and reads
//   the replies (group commit: with `appendfsync always` Redis fsyncs once per event-loop turn, and
//   answers only after the fsync). Callbacks run on that thread after the replies arrived. One more
//   thread holds a SUBSCRIBE connection: when another replica enqueues for an agent, the enqueue
//   listener fires here too; after a reconnect it fires for every agent this store has claimed for
//   (messages may have been missed meanwhile).
// - Redis down: a broken connection fails the whole pipeline with kUnavailable (the commands may or
//   may not have run: dedupe makes a provider's retry safe), Healthy() turns false, and the next
//   operation reconnects (at most one attempt per 250 ms; in between, operations fail at once).
//   The entries a failed Claim may have leased are made visible again before the next batch
//   (kReleaseLostClaim), so they do not wait for their lease to end.
//   While idle the I/O thread pings once a second so Healthy() follows Redis without traffic.
// - Rules: the hash "<prefix>rules" {yaml, version}; PutRules is one EVAL that compares the version,
//   writes, and PUBLISHes the new version on "<prefix>rules", which the SUBSCRIBE thread of every
//   store (this one included) hands to the rules listener; each (re)subscription also fires it
//   with version 0 (changes may have been missed meanwhile).
// - Leases at shutdown: the destructor makes this store's current leases visible at once (their
//   agent streams end with the process). After a crash (kill -9) they become visible when their
//   lease ends, for any replica.
// - Delivery ids are "<stream id>.<attempt>.<agent>" (opaque to agents).
// - RememberToken: one EVAL per call on "<prefix>token:<key>" holding "<expires_at>|<body hash>"
//   (expiry by the injected Clock; PX = ttl + 5 min collects the garbage).
//
// Durability is Redis': `appendonly yes` + `appendfsync always` loses nothing acknowledged;
// `everysec` may lose about one second on a crash (README "Scaling out on Redis").
// Shutdown (destructor): new requests get kUnavailable on the calling thread; everything already
// queued is answered, leases are released, then the threads join.
// Thread-safe; the Clock must outlive the store.
class RedisStore final : public Store {
 public:
  struct Options {
    std::string url;                                      // redis://[[user]:password@]host:port/db
    std::string password;                                 // non-empty: replaces the URL's password
    std::string key_prefix = "switchboard:";              // every key and the channel start with it
    absl::Duration dedupe_window = absl::Hours(72);       // an id committed this recently: kDuplicate
    // Archive stream entries older are trimmed at commit (MINID, by stream id), unless a queue
    // entry still refers to them (the pin of the last Sweep; none before the first).
    absl::Duration archive_retention = absl::Hours(72);
    absl::Duration connect_timeout = absl::Seconds(1);
    absl::Duration io_timeout = absl::Seconds(2);         // one pipeline's send + receive
  };

  // Connects once to check the URL and credentials and to load the scripts.
  // kInvalidArgument: bad options or URL. kFailedPrecondition: AUTH / SELECT refused, or the server
  // is older than 6.2. kUnavailable: Redis cannot be reached.
  static absl::StatusOr<std::unique_ptr<RedisStore>> Create(Options options, const Clock& clock);

  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  void Commit(std::vector<EventToCommit> events, CommitCallback done) override;
  void Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
             ExpiryBackoff expiry_backoff, ClaimCallback done) override;
  void Ack(std::string delivery_id, DoneCallback done) override;
  void Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
            DoneCallback done) override;
  void Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) override;
  void Release(std::vector<std::string> delivery_ids, DoneCallback done) override;
  void RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                     TokenCallback done) override;
  // Operator replays (store.h; scripts in redis_admin_scripts.h). Archive refs and cursors are
  // stream ids of "<prefix>archive"; a scan walks the stream and applies [since, until) to each
  // entry's commit time (the router's clock), so a scan of a narrow range still reads the
  // archive from the oldest kept entry (bounded by its retention).
  void ReplayDeadLetters(std::string agent, std::vector<std::string> event_ids,
                         absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void PurgeDeadLetters(std::string agent, std::vector<std::string> event_ids,
                        absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void ScanArchive(absl::Time since, absl::Time until, std::string cursor, int limit,
                   absl::AnyInvocable<void(absl::StatusOr<ArchivePage>) &&> done) override;
  void EnqueueArchived(std::string agent, std::vector<std::string> refs,
                       absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void NextVisibleAt(std::string agent,
                     absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) override;
  void Stats(std::string agent,
             absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) override;
  void ListDeadLetters(std::string agent, int limit,
                       absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&> done)
      override;
  void SetEnqueueListener(std::function<void(const std::string& agent)> listener) override;
  void GetRules(absl::AnyInvocable<void(absl::StatusOr<RulesDocument>) &&> done) override;
  void PutRules(std::string yaml, int64_t expected_version,
                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void SetRulesListener(std::function<void(int64_t version)> listener) override;
  bool Healthy() const override;

  // Data lifecycle (store.h; scripts in redis_scripts.h). Quarantine ids are stream ids of
  // "<prefix>quarantine". Sweep and PurgeRecipient cover the agents they are given; each sweep
  // script handles at most kSweepLimit entries per stream. PurgeRecipient scans every stream it
  // covers in one script each (Redis serves nothing else meanwhile: an operator action, rare).
  // Backup: kFailedPrecondition (use Redis persistence, RDB/AOF).
  static constexpr int64_t kSweepLimit = 5000;
  void PutQuarantine(QuarantineEntry entry,
                     absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) override;
  void ListQuarantine(
      QuarantineFilter filter, int limit, bool with_bodies,
      absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done) override;
  void DeleteQuarantine(QuarantineFilter filter,
                        absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void Sweep(RetentionPolicy policy,
             absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done) override;
  void PurgeRecipient(std::string recipient, std::vector<std::string> agents,
                      absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) override;
  void Backup(std::string path,
              absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done) override;
  // Out-of-line bytes (store.h): "<prefix>blob:<sha256>" (the bytes, once), the set
  // "<prefix>blobrefs:<sha256>" of event ids naming them and "<prefix>eventblobs:<event id>"; all
  // expire archive_retention after their last PutAttachments (never when it is infinite), and
  // PurgeRecipient deletes what only the erased events named. GetAttachment also reads the
  // earlier per-event keys "<prefix>attachment:<event_id>:<sha256>" (not expired: remove them by
  // hand once the archive retention has passed).
  void PutAttachments(std::vector<StoredAttachment> attachments, DoneCallback done) override;
  void GetAttachment(std::string event_id, std::string sha256,
                     absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) override;

  // This store's consumer name in every agent's consumer group (for operators and tests).
  const std::string& instance() const { return instance_; }

 private:
  using Op = redis_internal::Op;
  using Batch = redis_internal::Batch;
  using Scripts = redis_internal::ScriptShas;

  RedisStore(Options options, RedisEndpoint endpoint, const Clock& clock,
             std::unique_ptr<RedisConnection> connection, Scripts scripts);

  static absl::StatusOr<Scripts> LoadScripts(RedisConnection& connection);

  void Submit(std::unique_ptr<Op> op);
  void IoLoop();
  void RunBatch(std::vector<std::unique_ptr<Op>> ops);
  // I/O thread: a usable connection, connecting if needed (fails fast within the backoff).
  absl::Status EnsureConnected();
  void Disconnect(const absl::Status& why);
  void Ping();
  void Retire();  // I/O thread, at shutdown
  // I/O thread, before each batch: makes the entries of lost_claims_ visible again (one EVAL per
  // claim, only after a failure). Error: the round trip failed (the claims stay listed).
  absl::Status ReleaseLostClaims(absl::Time now);
  // I/O thread, before the first batch and then at most once a second: kWatchReplicas (whether
  // replicas of an earlier release are connected, so that commits give queue entries their own
  // copy). Error: the round trip failed.
  absl::Status WatchReplicas();
  void Announce(const std::vector<std::string>& agents);  // local listener + PUBLISH
  void SubscriberLoop();
  std::function<void(const std::string&)> Listener() const;
  std::function<void(int64_t)> RulesListener() const;

  const Options options_;
  const RedisEndpoint endpoint_;
  const Clock& clock_;
  const std::string instance_;
  const std::string channel_;
  const std::string rules_channel_;
  // Subscribed to besides channel_ by every replica that reads queue entries referring to the
  // archive (an earlier release subscribes to channel_ alone): see kWatchReplicas.
  const std::string refs_channel_;
  std::atomic<bool> healthy_{true};

  // I/O thread only.
  std::unique_ptr<RedisConnection> connection_;
  Scripts scripts_;
  absl::Status last_connect_error_;
  int64_t last_connect_attempt_ns_ = 0;  // steady clock
  // Claims whose reply was lost: their entries may be leased to this consumer with nobody to
  // deliver them until the lease ends. Released once connected again; dropped once that lease
  // is over anyway.
  std::vector<redis_internal::LostClaim> lost_claims_;
  absl::Time last_claimed_at_ = absl::InfinitePast();  // the claimed_at of this store's last claim
  int64_t last_watch_ns_ = 0;                          // steady clock
  int64_t earlier_replicas_seen_ = 0;  // by the last WatchReplicas (logged when it changes)

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Op>> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const std::string&)> listener_ ABSL_GUARDED_BY(mu_);
  std::function<void(int64_t)> rules_listener_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> claimed_agents_ ABSL_GUARDED_BY(mu_);  // for Retire and resync

  std::thread io_thread_;          // last: start after everything above
  std::thread subscriber_thread_;
};

}  // namespace switchboard::store
