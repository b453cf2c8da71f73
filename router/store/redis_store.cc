#include "router/store/redis_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/store/archived_event.h"
#include "router/store/lifecycle_match.h"
#include "router/store/redis_admin_scripts.h"
#include "router/store/redis_scripts.h"
#include "spdlog/spdlog.h"

namespace switchboard::store {
namespace redis_internal {

// What the ops of one pipelined round trip share.
struct Batch {
  absl::Time now;  // one reading of the clock per batch
  const std::string& prefix;
  const ScriptShas* scripts = nullptr;  // reset before every round
  std::vector<std::string> enqueued_agents;  // by committed events, for the listener
  std::vector<std::unique_ptr<Op>> follow_ups;  // to queue after this batch
  // The claims built into this round's pipeline (Build is const: written by the claim op only).
  mutable std::vector<LostClaim> claims_sent;
};

// One queued store operation: the commands it sends and what it makes of their replies.
class Op {
 public:
  virtual ~Op() = default;
  // Its commands (maybe none). Called again with the same batch if a script had to be reloaded.
  virtual std::vector<RedisCommand> Build(const Batch& batch) = 0;
  // One reply per command built; runs the callback.
  virtual void Complete(absl::Span<const RedisReply> replies, Batch& batch) = 0;
  // The commands could not run (or their outcome is unknown); runs the callback with `status`.
  virtual void Fail(absl::Status status) = 0;
};

}  // namespace redis_internal

namespace {

using redis_internal::Batch;
using redis_internal::LostClaim;
using redis_internal::Op;
using Type = RedisReply::Type;

constexpr auto kReconnectBackoff = std::chrono::milliseconds(250);
constexpr absl::Duration kIdlePing = absl::Seconds(1);
constexpr absl::Duration kSubscriberPoll = absl::Milliseconds(250);

std::string Micros(absl::Time t) { return absl::StrCat(absl::ToUnixMicros(t)); }

absl::Status ReplyError(const RedisReply& reply) {
  return absl::UnavailableError(absl::StrCat("redis: ", reply.str.substr(0, 200)));
}
absl::Status BadReply(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat("redis: unexpected reply to ", what));
}

bool IsString(const RedisReply& r) { return r.type == Type::kString || r.type == Type::kStatus; }

std::optional<int64_t> AsInt(const RedisReply& r) {
  if (r.type == Type::kInteger) return r.integer;
  int64_t value = 0;
  if (IsString(r) && absl::SimpleAtoi(r.str, &value)) return value;
  return std::nullopt;
}

// "<ms>-<seq>": the only stream ids this store hands out.
bool IsStreamId(absl::string_view id) {
  const size_t dash = id.find('-');
  if (dash == absl::string_view::npos || dash == 0 || dash + 1 == id.size() || dash > 20 ||
      id.size() - dash - 1 > 20) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
  }
  return true;
}

struct DeliveryRef {
  std::string stream_id;
  uint32_t attempt = 0;
  std::string agent;
};

std::string DeliveryId(absl::string_view stream_id, int64_t attempt, absl::string_view agent) {
  return absl::StrCat(stream_id, ".", attempt, ".", agent);
}

// Delivery ids come from agents: anything this store did not make is simply unknown.
std::optional<DeliveryRef> ParseDeliveryId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, absl::MaxSplits('.', 2));
  if (parts.size() != 3 || !IsStreamId(parts[0])) return std::nullopt;
  DeliveryRef ref;
  if (!absl::SimpleAtoi(parts[1], &ref.attempt) || ref.attempt == 0) return std::nullopt;
  ref.stream_id = std::string(parts[0]);
  ref.agent = std::string(parts[2]);
  return ref;
}

absl::Status NotFound(absl::string_view delivery_id) {
  return absl::NotFoundError(
      absl::StrCat("no current lease for delivery id \"", delivery_id.substr(0, 64), "\""));
}

std::string RandomHex(int bytes) {
  std::random_device device;
  std::string out;
  for (int i = 0; i < bytes; ++i) absl::StrAppend(&out, absl::Hex(device() & 0xff, absl::kZeroPad2));
  return out;
}

std::string InstanceName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, ":", getpid(), ":", RandomHex(4));
}

// A generic op: `build` makes the commands, `parse` turns their replies into the callback's value.
template <typename Result>
class CallOp final : public Op {
 public:
  using BuildFn = absl::AnyInvocable<std::vector<RedisCommand>(const Batch&)>;
  using ParseFn = absl::AnyInvocable<Result(absl::Span<const RedisReply>, Batch&)>;
  CallOp(BuildFn build, ParseFn parse, absl::AnyInvocable<void(Result) &&> done)
      : build_(std::move(build)), parse_(std::move(parse)), done_(std::move(done)) {}

  std::vector<RedisCommand> Build(const Batch& batch) override {
    return build_(batch);
  }
  void Complete(absl::Span<const RedisReply> replies, Batch& batch) override {
    std::move(done_)(parse_(replies, batch));
  }
  void Fail(absl::Status status) override { std::move(done_)(Result(std::move(status))); }

 private:
  BuildFn build_;
  ParseFn parse_;
  absl::AnyInvocable<void(Result) &&> done_;
};

template <typename Result, typename Build, typename Parse, typename Done>
std::unique_ptr<Op> MakeOp(Build build, Parse parse, Done done) {
  return std::make_unique<CallOp<Result>>(std::move(build), std::move(parse), std::move(done));
}

// EVALSHA <script> 0 <prefix> <args...>: every script takes the key prefix as ARGV[1].
RedisCommand Eval(const std::string& sha, const std::string& prefix,
                  std::initializer_list<std::string> args) {
  RedisCommand command = {"EVALSHA", sha, "0", prefix};
  command.insert(command.end(), args);
  return command;
}

RedisCommand WatchReplicasCommand(const std::string& prefix) {
  return {"EVAL", absl::StrCat(redis_scripts::kPrelude, redis_scripts::kWatchReplicas), "0",
          prefix};
}

}  // namespace

absl::StatusOr<RedisStore::Scripts> RedisStore::LoadScripts(RedisConnection& connection) {
  const std::string prelude = redis_scripts::kPrelude;
  const std::vector<const char*> bodies = {redis_scripts::kCommit, redis_scripts::kClaim,
                                           redis_scripts::kSettle, redis_scripts::kStats,
                                           redis_scripts::kNextVisible, redis_scripts::kRetire,
                                           redis_scripts::kArmBackoff};
  std::vector<RedisCommand> commands;
  for (const char* body : bodies) commands.push_back({"SCRIPT", "LOAD", prelude + body});
  ASSIGN_OR_RETURN(const std::vector<RedisReply> replies, connection.Pipeline(commands));
  std::vector<std::string> shas;
  for (const RedisReply& reply : replies) {
    if (reply.IsError()) {
      return absl::FailedPreconditionError(absl::StrCat("redis: SCRIPT LOAD: ", reply.str));
    }
    if (!IsString(reply)) return BadReply("SCRIPT LOAD");
    shas.push_back(reply.str);
  }
  return Scripts{shas[0], shas[1], shas[2], shas[3], shas[4], shas[5], shas[6]};
}

absl::StatusOr<std::unique_ptr<RedisStore>> RedisStore::Create(Options options,
                                                               const Clock& clock) {
  if (options.dedupe_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dedupe window must be positive");
  }
  if (options.archive_retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("archive retention must be positive");
  }
  if (options.key_prefix.empty()) return absl::InvalidArgumentError("key prefix must not be empty");
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis timeouts must be positive");
  }
  ASSIGN_OR_RETURN(RedisEndpoint endpoint, ParseRedisUrl(options.url));
  if (!options.password.empty()) endpoint.password = options.password;
  ASSIGN_OR_RETURN(std::unique_ptr<RedisConnection> connection,
                   RedisConnection::Connect(endpoint, options.connect_timeout,
                                            options.io_timeout));
  // What a user who may log in but lacks a permission the store needs gets at start, instead of
  // a router that reports ready and answers every webhook 503.
  const auto acl_refusal = [&endpoint, &options](const std::string& what,
                                                 const std::string& redis_says) {
    return absl::PermissionDeniedError(absl::StrCat(
        "redis ", endpoint.host, ":", endpoint.port, ": the user ", what, " (ACL; the store needs "
        "the keys ~", options.key_prefix, "*, the channels &", options.key_prefix,
        "*, and the scripting, pub/sub, stream, sorted set, hash, set and string commands): ",
        redis_says));
  };
  // A command refused by the ACL answers NOPERM (inside a script the wording differs by release;
  // the script probe below asks the ACL instead of running commands).
  const auto acl_refused = [](const RedisReply& reply) {
    return reply.IsError() && reply.ErrorCode() == "NOPERM";
  };
  ASSIGN_OR_RETURN(const RedisReply info, connection->Command({"INFO", "server"}));
  if (acl_refused(info)) {
    // INFO is in @dangerous, which hardened ACLs often deny; the store does not need it.
    spdlog::warn("redis store: INFO is not allowed to this user (ACL), so the server version "
                 "(6.2 or newer needed) is not checked: {}",
                 info.str);
  } else if (!IsString(info)) {
    return BadReply("INFO server");
  }
  const size_t at = IsString(info) ? info.str.find("redis_version:") : std::string::npos;
  if (at != std::string::npos) {
    const std::vector<std::string> version = absl::StrSplit(
        info.str.substr(at + 14, info.str.find_first_of("\r\n", at) - at - 14), '.');
    int major = 0;
    int minor = 0;
    if (version.size() >= 2 && absl::SimpleAtoi(version[0], &major) &&
        absl::SimpleAtoi(version[1], &minor) && (major < 6 || (major == 6 && minor < 2))) {
      return absl::FailedPreconditionError(absl::StrCat(
          "redis ", endpoint.host, ":", endpoint.port, " is ", version[0], ".", version[1],
          "; the redis store needs 6.2 or newer (XADD MINID)"));
    }
  }
  // Durability is the server's: say so when it is weaker than `appendfsync always`, or when a
  // full Redis may evict keys instead of refusing writes. CONFIG may be disabled (managed
  // services); then nothing is known and nothing is said.
  const auto config_value = [](const absl::StatusOr<std::vector<RedisReply>>& config,
                               size_t i) -> std::optional<std::string> {
    if (!config.ok() || config->size() <= i || (*config)[i].type != Type::kArray ||
        (*config)[i].elements.size() != 2) {
      return std::nullopt;
    }
    return (*config)[i].elements[1].str;
  };
  const absl::StatusOr<std::vector<RedisReply>> config = connection->Pipeline(
      {{"CONFIG", "GET", "appendonly"}, {"CONFIG", "GET", "appendfsync"},
       {"CONFIG", "GET", "maxmemory"}, {"CONFIG", "GET", "maxmemory-policy"}});
  const std::optional<std::string> appendonly = config_value(config, 0);
  const std::optional<std::string> appendfsync = config_value(config, 1);
  if (appendonly.has_value() && appendfsync.has_value() &&
      (*appendonly != "yes" || *appendfsync != "always")) {
    spdlog::warn(
        "redis store: the server runs appendonly={} appendfsync={}: a Redis crash can lose "
        "events already acknowledged with 200 (appendonly yes + appendfsync always loses none)",
        *appendonly, *appendfsync);
  }
  const std::optional<std::string> maxmemory = config_value(config, 2);
  const std::optional<std::string> policy = config_value(config, 3);
  if (maxmemory.has_value() && policy.has_value() && *maxmemory != "0" &&
      *policy != "noeviction") {
    // allkeys-*: any key, the archive and the queues included; volatile-*: keys with a TTL, which
    // are the dedupe keys and the out-of-line bytes (PutAttachments), and the upgrade marker.
    if (absl::StartsWith(*policy, "allkeys")) {
      spdlog::error(
          "redis store: the server runs maxmemory={} maxmemory-policy={}: once full it evicts "
          "any key instead of refusing the commit, so events already acknowledged with 200 can "
          "be lost (maxmemory-policy noeviction answers 503 instead)",
          *maxmemory, *policy);
    } else {
      spdlog::error(
          "redis store: the server runs maxmemory={} maxmemory-policy={}: once full it evicts "
          "keys with a TTL instead of refusing the commit: dedupe keys (a provider's retry of an "
          "evicted event id is delivered again) and the out-of-line bytes of attachments and "
          "large bodies of events already acknowledged with 200 (maxmemory-policy noeviction "
          "answers 503 instead)",
          *maxmemory, *policy);
    }
  }
  // A user who may log in but not touch the store's keys (an ACL key pattern for another
  // prefix) would otherwise start, report ready while idle, and answer every webhook 503. EVAL
  // checks read and write access to its declared key without touching it.
  if (absl::StatusOr<RedisReply> probe = connection->Command(
          {"EVAL", "return 1", "1", absl::StrCat(options.key_prefix, "rules")});
      probe.ok() && acl_refused(*probe)) {
    return acl_refusal(absl::StrCat("may not run EVAL on the keys ", options.key_prefix, "*"),
                       probe->str);
  }
  // The same for the pub/sub channels (Redis 7 gives a new ACL user none by default:
  // acl-pubsub-default resetchannels), on a connection of its own since SUBSCRIBE takes it over.
  if (absl::StatusOr<std::unique_ptr<RedisConnection>> subscriber = RedisConnection::Connect(
          endpoint, options.connect_timeout, options.io_timeout);
      subscriber.ok()) {
    absl::StatusOr<RedisReply> subscribed = (*subscriber)->Command(
        {"SUBSCRIBE", absl::StrCat(options.key_prefix, "enqueued"),
         absl::StrCat(options.key_prefix, "rules"), absl::StrCat(options.key_prefix, "refs")});
    if (subscribed.ok() && acl_refused(*subscribed)) {
      return acl_refusal(
          absl::StrCat("may not subscribe to the channels ", options.key_prefix, "*"),
          subscribed->str);
    }
  }
  ASSIGN_OR_RETURN(Scripts scripts, LoadScripts(*connection));
  // The commands the scripts run are checked when a script runs them, so ask the ACL up front
  // (redis.acl_check_cmd, Redis 7.0+: nothing runs, nothing is written), through EVALSHA as every
  // commit goes. On 6.2 the script fails for want of acl_check_cmd, and nothing is said.
  if (absl::StatusOr<std::vector<RedisReply>> probe =
          connection->Pipeline({{"SCRIPT", "LOAD", redis_scripts::kAclProbe}});
      probe.ok() && IsString((*probe)[0])) {
    absl::StatusOr<RedisReply> denied = connection->Command(
        {"EVALSHA", (*probe)[0].str, "1", absl::StrCat(options.key_prefix, "acl-probe"),
         absl::StrCat(options.key_prefix, "enqueued")});
    if (denied.ok() && acl_refused(*denied)) {
      return acl_refusal("may not run the commands the store's scripts run", denied->str);
    }
    if (denied.ok() && denied->type == Type::kArray && !denied->elements.empty()) {
      std::vector<std::string> names;
      for (const RedisReply& name : denied->elements) names.push_back(name.str);
      return acl_refusal(absl::StrCat("may not run ", absl::StrJoin(names, ", ")),
                         "redis.acl_check_cmd refused them");
    }
  }
  return absl::WrapUnique(new RedisStore(std::move(options), std::move(endpoint), clock,
                                         std::move(connection), std::move(scripts)));
}

RedisStore::RedisStore(Options options, RedisEndpoint endpoint, const Clock& clock,
                       std::unique_ptr<RedisConnection> connection, Scripts scripts)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      clock_(clock),
      instance_(InstanceName()),
      channel_(options_.key_prefix + "enqueued"),
      rules_channel_(options_.key_prefix + "rules"),
      refs_channel_(options_.key_prefix + "refs"),
      connection_(std::move(connection)),
      scripts_(std::move(scripts)) {
  io_thread_ = std::thread([this] { IoLoop(); });
  subscriber_thread_ = std::thread([this] { SubscriberLoop(); });
}

RedisStore::~RedisStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  io_thread_.join();
  subscriber_thread_.join();
}

void RedisStore::Submit(std::unique_ptr<Op> op) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      pending_.push_back(std::move(op));
      return;
    }
  }
  op->Fail(absl::UnavailableError("store is shutting down"));
}

std::function<void(const std::string&)> RedisStore::Listener() const {
  absl::MutexLock lock(&mu_);
  return listener_;
}

std::function<void(int64_t)> RedisStore::RulesListener() const {
  absl::MutexLock lock(&mu_);
  return rules_listener_;
}

void RedisStore::IoLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Op>> ops;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](RedisStore* store) {
                                 return store->stopping_ || !store->pending_.empty();
                               },
                               this),
                           kIdlePing);
      ops.swap(pending_);
      stopping = stopping_;
    }
    if (!ops.empty()) {
      RunBatch(std::move(ops));
    } else if (stopping) {
      break;  // everything queued is answered
    } else {
      Ping();
    }
  }
  Retire();
  connection_.reset();
}

absl::Status RedisStore::EnsureConnected() {
  // An idle connection that Redis closed (a restart) is noticed before it is used.
  if (connection_ != nullptr && !connection_->Broken() && !connection_->ClosedByPeer()) {
    return absl::OkStatus();
  }
  connection_.reset();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  if (last_connect_attempt_ns_ != 0 &&
      now_ns - last_connect_attempt_ns_ <
          std::chrono::duration_cast<std::chrono::nanoseconds>(kReconnectBackoff).count() &&
      !last_connect_error_.ok()) {
    return last_connect_error_;
  }
  last_connect_attempt_ns_ = now_ns;
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Connect(endpoint_, options_.connect_timeout, options_.io_timeout);
  absl::StatusOr<Scripts> scripts =
      connection.ok() ? LoadScripts(**connection) : absl::StatusOr<Scripts>(connection.status());
  if (!scripts.ok()) {
    last_connect_error_ = absl::UnavailableError(scripts.status().message());
    return last_connect_error_;
  }
  last_connect_error_ = absl::OkStatus();
  connection_ = *std::move(connection);
  scripts_ = *std::move(scripts);
  spdlog::info("redis store: connected to {}:{}", endpoint_.host, endpoint_.port);
  return absl::OkStatus();
}

void RedisStore::Disconnect(const absl::Status& why) {
  if (healthy_.exchange(false) || connection_ != nullptr) {
    spdlog::error("redis store: {}", why.ToString());
  }
  connection_.reset();
}

void RedisStore::Ping() {
  if (absl::Status status = EnsureConnected(); !status.ok()) {
    Disconnect(status);
    return;
  }
  absl::StatusOr<RedisReply> pong = connection_->Command({"PING"});
  if (!pong.ok()) {
    Disconnect(pong.status());
  } else if (pong->IsError()) {
    healthy_ = false;  // e.g. LOADING after a restart, MISCONF: not usable yet
  } else {
    healthy_ = true;
    if (absl::Status status = WatchReplicas(); !status.ok()) Disconnect(status);
  }
}

absl::Status RedisStore::WatchReplicas() {
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  if (now_ns - last_watch_ns_ < std::chrono::nanoseconds(std::chrono::seconds(1)).count()) {
    return absl::OkStatus();
  }
  last_watch_ns_ = now_ns;
  ASSIGN_OR_RETURN(const RedisReply reply,
                   connection_->Command(WatchReplicasCommand(options_.key_prefix)));
  if (reply.IsError()) {
    spdlog::warn("redis store: checking for replicas of an earlier release: {}", reply.str);
    return absl::OkStatus();
  }
  const int64_t earlier = AsInt(reply).value_or(0);
  if (earlier != earlier_replicas_seen_) {
    spdlog::info("redis store: {} replicas of an earlier release connected{}", earlier,
                 earlier > 0 ? ": queue entries hold their own copy of the event"
                             : " (queue entries refer to the archive 10 minutes after the last)");
    earlier_replicas_seen_ = earlier;
  }
  return absl::OkStatus();
}

void RedisStore::RunBatch(std::vector<std::unique_ptr<Op>> ops) {
  Batch batch{clock_.Now(), options_.key_prefix, nullptr, {}, {}, {}};
  if (absl::Status status = EnsureConnected(); !status.ok()) {
    Disconnect(status);
    for (auto& op : ops) op->Fail(status);
    return;
  }
  absl::Status ready = ReleaseLostClaims(batch.now);
  if (ready.ok()) ready = WatchReplicas();
  if (!ready.ok()) {
    Disconnect(ready);
    for (auto& op : ops) op->Fail(ready);
    return;
  }
  // A NOSCRIPT reply (the server lost its script cache: restart, failover, SCRIPT FLUSH) means the
  // command did not run: reload the scripts and send those ops once more.
  for (int round = 0; round < 2 && !ops.empty(); ++round) {
    batch.scripts = &scripts_;
    batch.claims_sent.clear();
    std::vector<RedisCommand> commands;
    std::vector<std::pair<size_t, size_t>> spans;
    for (auto& op : ops) {
      std::vector<RedisCommand> built = op->Build(batch);
      spans.emplace_back(commands.size(), built.size());
      for (RedisCommand& command : built) commands.push_back(std::move(command));
    }
    absl::StatusOr<std::vector<RedisReply>> replies =
        commands.empty() ? std::vector<RedisReply>() : connection_->Pipeline(commands);
    if (!replies.ok()) {
      // The claims may have run: release their leases once connected again.
      for (LostClaim& claim : batch.claims_sent) lost_claims_.push_back(std::move(claim));
      Disconnect(replies.status());
      for (auto& op : ops) op->Fail(replies.status());
      return;
    }
    // Before any callback runs, so that a caller sees the health this batch found.
    healthy_ = std::none_of(replies->begin(), replies->end(), [](const RedisReply& r) {
      return r.IsError() && r.ErrorCode() != "NOSCRIPT";
    });
    std::vector<std::unique_ptr<Op>> retry;
    for (size_t i = 0; i < ops.size(); ++i) {
      const absl::Span<const RedisReply> mine =
          absl::MakeConstSpan(*replies).subspan(spans[i].first, spans[i].second);
      const bool noscript = std::any_of(mine.begin(), mine.end(), [](const RedisReply& r) {
        return r.ErrorCode() == "NOSCRIPT";
      });
      if (noscript && round == 0) {
        retry.push_back(std::move(ops[i]));
      } else {
        ops[i]->Complete(mine, batch);
      }
    }
    ops = std::move(retry);
    if (!ops.empty()) {
      absl::StatusOr<Scripts> scripts = LoadScripts(*connection_);
      if (!scripts.ok()) {
        Disconnect(scripts.status());
        for (auto& op : ops) op->Fail(absl::UnavailableError(scripts.status().message()));
        return;
      }
      scripts_ = *std::move(scripts);
    }
  }
  Announce(batch.enqueued_agents);
  for (auto& op : batch.follow_ups) Submit(std::move(op));
}

absl::Status RedisStore::ReleaseLostClaims(absl::Time now) {
  if (lost_claims_.empty()) return absl::OkStatus();
  std::vector<LostClaim> live;  // a lease already over needs nothing: any claim takes it back
  for (LostClaim& claim : lost_claims_) {
    if (claim.lease_until > now) live.push_back(std::move(claim));
  }
  lost_claims_ = std::move(live);
  if (lost_claims_.empty()) return absl::OkStatus();
  std::vector<RedisCommand> commands;
  for (const LostClaim& claim : lost_claims_) {
    commands.push_back({"EVAL",
                        absl::StrCat(redis_scripts::kPrelude, redis_scripts::kReleaseLostClaim),
                        "0", options_.key_prefix, claim.agent, instance_,
                        Micros(claim.claimed_at), Micros(claim.lease_until), Micros(now)});
  }
  absl::StatusOr<std::vector<RedisReply>> replies = connection_->Pipeline(commands);
  if (!replies.ok()) return replies.status();
  int64_t released = 0;
  std::vector<LostClaim> again;  // an error reply (e.g. LOADING after a restart): next batch
  for (size_t i = 0; i < replies->size(); ++i) {
    const RedisReply& reply = (*replies)[i];
    if (reply.IsError()) {
      spdlog::warn("redis store: releasing the leases of a lost claim: {}", reply.str);
      again.push_back(std::move(lost_claims_[i]));
    } else {
      released += AsInt(reply).value_or(0);
    }
  }
  spdlog::warn("redis store: {} entries leased by {} claims whose reply was lost are visible again",
               released, lost_claims_.size() - again.size());
  lost_claims_ = std::move(again);
  return absl::OkStatus();
}

void RedisStore::Announce(const std::vector<std::string>& agents) {
  if (agents.empty()) return;
  absl::flat_hash_set<std::string> seen;
  std::vector<RedisCommand> publish;
  const std::function<void(const std::string&)> listener = Listener();
  for (const std::string& agent : agents) {
    if (!seen.insert(agent).second) continue;
    if (listener) listener(agent);
    publish.push_back({"PUBLISH", channel_, absl::StrCat(instance_, "\n", agent)});
  }
  // Other replicas wake their delivery; if this fails they still poll (the Dispatcher's safety
  // net), and the next operation reconnects.
  if (connection_ == nullptr) return;
  if (absl::StatusOr<std::vector<RedisReply>> replies = connection_->Pipeline(publish);
      !replies.ok()) {
    Disconnect(replies.status());
  }
}

void RedisStore::Retire() {
  std::set<std::string> agents;
  {
    absl::MutexLock lock(&mu_);
    agents = claimed_agents_;
  }
  if (agents.empty() || !EnsureConnected().ok()) return;
  const std::string now = Micros(clock_.Now());
  std::vector<RedisCommand> commands;
  for (const std::string& agent : agents) {
    commands.push_back(Eval(scripts_.retire, options_.key_prefix, {agent, instance_, now}));
  }
  absl::StatusOr<std::vector<RedisReply>> replies = connection_->Pipeline(commands);
  if (!replies.ok()) {
    spdlog::warn("redis store: leases not released at shutdown (they end by themselves): {}",
                 replies.status().ToString());
    return;
  }
  for (const RedisReply& reply : *replies) {
    if (reply.IsError()) spdlog::warn("redis store: release at shutdown: {}", reply.str);
  }
}

void RedisStore::SubscriberLoop() {
  std::unique_ptr<RedisConnection> connection;
  bool missed = false;  // messages may have been lost while disconnected
  bool subscribe_refused = false;  // said in the log
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  auto pause = [this](absl::Duration d) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  };
  while (!stopping()) {
    if (connection == nullptr) {
      absl::StatusOr<std::unique_ptr<RedisConnection>> connected =
          RedisConnection::Connect(endpoint_, options_.connect_timeout, options_.io_timeout);
      absl::StatusOr<RedisReply> subscribed =
          connected.ok()
              ? (*connected)->Command({"SUBSCRIBE", channel_, rules_channel_, refs_channel_})
              : absl::StatusOr<RedisReply>(connected.status());
      if (!subscribed.ok() || subscribed->type != Type::kArray) {
        // A refusal (not a lost connection) is said once per outage: without the subscription,
        // rules changes and other replicas' enqueues go unannounced.
        if (subscribed.ok() && !subscribe_refused) {
          spdlog::error("redis store: SUBSCRIBE refused, retrying every 500ms: {}",
                        subscribed->str);
          subscribe_refused = true;
        }
        missed = true;
        pause(absl::Milliseconds(500));
        continue;
      }
      if (subscribe_refused) spdlog::info("redis store: SUBSCRIBE accepted again");
      subscribe_refused = false;
      connection = *std::move(connected);
      // A rules change may have been published before this subscription: re-read.
      if (const auto rules_listener = RulesListener()) rules_listener(0);
      if (missed) {
        // Wake delivery for every agent this replica serves: enqueues may have been announced
        // while this connection was down.
        std::set<std::string> agents;
        {
          absl::MutexLock lock(&mu_);
          agents = claimed_agents_;
        }
        if (const auto listener = Listener()) {
          for (const std::string& agent : agents) listener(agent);
        }
        missed = false;
      }
    }
    absl::StatusOr<std::optional<RedisReply>> message = connection->ReadPushed(kSubscriberPoll);
    if (!message.ok()) {
      connection.reset();
      missed = true;
      continue;
    }
    if (!message->has_value()) continue;
    const RedisReply& push = **message;
    // ["message", "<prefix>rules", "<version>"] from any store's PutRules, this one's included.
    // (The other channels' "subscribe" confirmations arrive here too and are skipped below.)
    if (push.type == Type::kArray && push.elements.size() == 3 &&
        push.elements[0].str == "message" && push.elements[1].str == rules_channel_) {
      int64_t version = 0;
      if (absl::SimpleAtoi(push.elements[2].str, &version) && version > 0) {
        if (const auto rules_listener = RulesListener()) rules_listener(version);
      }
      continue;
    }
    // ["message", channel, "<instance>\n<agent>"]; this store's own announcements were already
    // delivered locally, right after their commit.
    if (push.type != Type::kArray || push.elements.size() != 3 ||
        push.elements[0].str != "message") {
      continue;
    }
    const std::string& payload = push.elements[2].str;
    const size_t newline = payload.find('\n');
    if (newline == std::string::npos || payload.compare(0, newline, instance_) == 0) continue;
    if (const auto listener = Listener()) listener(payload.substr(newline + 1));
  }
}

void RedisStore::SetEnqueueListener(std::function<void(const std::string& agent)> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

bool RedisStore::Healthy() const { return healthy_; }

// --- Operations ----------------------------------------------------------------------------------

namespace {

std::string AgentKey(const std::string& prefix, absl::string_view kind, absl::string_view agent) {
  return absl::StrCat(prefix, kind, ":{", agent, "}");
}

// The first 16 bytes of SHA-256(id): fixed-size dedupe keys whatever the provider's id looks like.
absl::StatusOr<std::string> DedupeHash(const std::string& id) {
  ASSIGN_OR_RETURN(std::string digest, crypto::Sha256(id));
  digest.resize(16);
  return digest;
}

// Replies are untrusted: a field lookup over a stream entry's flat [field, value, ...] array.
const RedisReply* EntryField(const RedisReply& fields, absl::string_view name) {
  if (fields.type != Type::kArray) return nullptr;
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].str == name) return &fields.elements[i + 1];
  }
  return nullptr;
}

// Ack / Nack / Extend / Release / bury of one delivery: `op` of the settle script.
struct Settle {
  std::string op;
  absl::Duration offset;  // nack: visible at now + offset; extend: deadline now + offset
  std::string reason;
};

RedisCommand SettleCommand(const Batch& batch, const DeliveryRef& ref, const Settle& settle) {
  return Eval(batch.scripts->settle, batch.prefix,
              {ref.agent, ref.stream_id, absl::StrCat(ref.attempt), Micros(batch.now), settle.op,
               Micros(batch.now + settle.offset), settle.reason});
}

std::unique_ptr<Op> SettleOp(std::string delivery_id, Settle settle, DoneCallback done) {
  std::optional<DeliveryRef> ref = ParseDeliveryId(delivery_id);
  return MakeOp<absl::Status>(
      [ref, settle = std::move(settle)](const Batch& batch) -> std::vector<RedisCommand> {
        if (!ref.has_value()) return {};
        return {SettleCommand(batch, *ref, settle)};
      },
      [id = std::move(delivery_id)](absl::Span<const RedisReply> replies, Batch&) -> absl::Status {
        if (replies.empty()) return NotFound(id);
        if (replies[0].IsError()) return ReplyError(replies[0]);
        const std::optional<int64_t> applied = AsInt(replies[0]);
        if (!applied.has_value()) return BadReply("a settle script");
        return *applied == 1 ? absl::OkStatus() : NotFound(id);
      },
      std::move(done));
}

// The expiry backoffs of leases just claimed (kArmBackoff); failures are only logged: such a lease
// ends without a backoff.
std::unique_ptr<Op> ArmBackoffOp(std::string agent, std::vector<std::string> args) {
  return MakeOp<absl::Status>(
      [agent = std::move(agent), args = std::move(args)](const Batch& batch) {
        RedisCommand command = Eval(batch.scripts->arm_backoff, batch.prefix, {agent});
        command.insert(command.end(), args.begin(), args.end());
        return std::vector<RedisCommand>{std::move(command)};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::Status {
        if (!replies.empty() && replies[0].IsError()) return ReplyError(replies[0]);
        return absl::OkStatus();
      },
      [](absl::Status status) {
        if (!status.ok()) {
          spdlog::warn("redis store: expiry backoff not set: {}", status.ToString());
        }
      });
}

}  // namespace

void RedisStore::Commit(std::vector<EventToCommit> events, CommitCallback done) {
  // Serialized and hashed here, so the I/O thread only sends.
  struct Prepared {
    absl::Status status;
    std::vector<std::string> args;                 // per event: hash, id, bytes, targets, ...
    std::vector<std::vector<std::string>> agents;  // per event: its target agents
  };
  Prepared prepared;
  for (const EventToCommit& item : events) {
    const std::string& id = item.event.id();
    if (id.empty()) {
      prepared.status = absl::InvalidArgumentError("an event to commit has no id");
      break;
    }
    absl::StatusOr<std::string> hash = DedupeHash(id);
    std::string bytes;
    if (!hash.ok() || !item.event.SerializeToString(&bytes)) {
      prepared.status = absl::InvalidArgumentError(absl::StrCat("event ", id, " cannot be encoded"));
      break;
    }
    prepared.args.insert(prepared.args.end(), {*std::move(hash), id, std::move(bytes),
                                               absl::StrCat(item.targets.size())});
    std::vector<std::string>& agents = prepared.agents.emplace_back();
    for (const EventToCommit::Target& target : item.targets) {
      prepared.args.push_back(target.agent);
      prepared.args.push_back(absl::StrJoin(target.matched_rules, "\n"));
      agents.push_back(target.agent);
    }
  }
  auto shared = std::make_shared<Prepared>(std::move(prepared));
  Submit(MakeOp<absl::StatusOr<std::vector<CommitOutcome>>>(
      [this, shared](const Batch& batch) -> std::vector<RedisCommand> {
        if (!shared->status.ok() || shared->agents.empty()) return {};
        const int64_t min_id =
            std::max<int64_t>(0, absl::ToUnixMillis(batch.now - options_.archive_retention));
        RedisCommand command =
            Eval(batch.scripts->commit, batch.prefix,
                 {Micros(batch.now), Micros(batch.now - options_.dedupe_window),
                  absl::StrCat(absl::ToInt64Milliseconds(options_.dedupe_window)),
                  absl::StrCat(min_id), absl::StrCat(shared->agents.size())});
        command.insert(command.end(), shared->args.begin(), shared->args.end());
        return {std::move(command)};
      },
      [shared](absl::Span<const RedisReply> replies,
               Batch& batch) -> absl::StatusOr<std::vector<CommitOutcome>> {
        if (!shared->status.ok()) return shared->status;
        std::vector<CommitOutcome> outcomes;
        if (replies.empty()) return outcomes;  // an empty batch
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray || reply.elements.size() != shared->agents.size()) {
          return BadReply("the commit script");
        }
        for (size_t i = 0; i < reply.elements.size(); ++i) {
          const std::optional<int64_t> committed = AsInt(reply.elements[i]);
          if (!committed.has_value()) return BadReply("the commit script");
          outcomes.push_back(*committed == 1 ? CommitOutcome::kCommitted
                                             : CommitOutcome::kDuplicate);
          if (*committed == 1) {
            for (const std::string& agent : shared->agents[i]) {
              batch.enqueued_agents.push_back(agent);
            }
          }
        }
        return outcomes;
      },
      std::move(done)));
}

void RedisStore::Claim(std::string agent, int max, absl::Duration lease, uint32_t max_attempts,
                       ExpiryBackoff expiry_backoff, ClaimCallback done) {
  absl::Status invalid;
  // A zero lease would leave claimed entries visible within this very claim.
  if (lease <= absl::ZeroDuration()) invalid = absl::InvalidArgumentError("lease must be positive");
  if (max_attempts == 0) invalid = absl::InvalidArgumentError("max_attempts must be at least 1");
  if (invalid.ok()) {
    absl::MutexLock lock(&mu_);
    claimed_agents_.insert(agent);
  }
  Submit(MakeOp<absl::StatusOr<std::vector<ClaimedDelivery>>>(
      [this, agent, max, lease, max_attempts,
       invalid](const Batch& batch) -> std::vector<RedisCommand> {
        if (!invalid.ok() || max <= 0) return {};
        // Unique per claim of this consumer (I/O thread only): a lost claim's release
        // (kReleaseLostClaim) must not match another claim of the same clock reading.
        last_claimed_at_ = std::max(batch.now, last_claimed_at_ + absl::Microseconds(1));
        batch.claims_sent.push_back({agent, last_claimed_at_, batch.now + lease});
        return {Eval(batch.scripts->claim, batch.prefix,
                     {agent, instance_, Micros(batch.now), Micros(batch.now + lease),
                      absl::StrCat(max), absl::StrCat(max_attempts),
                      Micros(last_claimed_at_)})};
      },
      [this, agent, lease, invalid, expiry_backoff = std::move(expiry_backoff)](
          absl::Span<const RedisReply> replies,
          Batch& batch) -> absl::StatusOr<std::vector<ClaimedDelivery>> {
        if (!invalid.ok()) return invalid;
        std::vector<ClaimedDelivery> claimed;
        if (replies.empty()) return claimed;  // max <= 0
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray) return BadReply("the claim script");
        std::vector<std::string> arm_args;  // per lease: stream id, attempt, backoff (us)
        for (const RedisReply& entry : reply.elements) {
          if (entry.type != Type::kArray || entry.elements.size() != 5 ||
              !IsString(entry.elements[0]) || !IsStreamId(entry.elements[0].str)) {
            return BadReply("the claim script");
          }
          const std::optional<int64_t> attempt = AsInt(entry.elements[1]);
          if (!attempt.has_value() || *attempt < 1 || *attempt > UINT32_MAX) {
            return BadReply("the claim script");
          }
          ClaimedDelivery& delivery = claimed.emplace_back();
          delivery.delivery_id = DeliveryId(entry.elements[0].str, *attempt, agent);
          delivery.attempt = static_cast<uint32_t>(*attempt);
          delivery.lease_expires_at = batch.now + lease;
          delivery.matched_rules = absl::StrSplit(entry.elements[4].str, '\n', absl::SkipEmpty());
          // Empty bytes are no event (every committed one has an id): a dead letter of an
          // event whose archived bytes were gone, replayed.
          // Checked, not parsed: the bytes go to the agent as they are (ClaimedDelivery).
          const absl::StatusOr<ArchivedEventFacts> facts =
              entry.elements[3].str.empty()
                  ? absl::DataLossError("no event")
                  : InspectArchivedEvent(entry.elements[3].str);
          if (!facts.ok()) {
            // Nothing can deliver it: straight to the dead letters, with the bytes kept there.
            batch.follow_ups.push_back(SettleOp(
                delivery.delivery_id, {"bury", absl::ZeroDuration(), "stored event is unreadable"},
                [](absl::Status status) {
                  if (!status.ok()) spdlog::warn("redis store: {}", status.ToString());
                }));
            claimed.pop_back();
            continue;
          }
          delivery.event_bytes = entry.elements[3].str;
          delivery.received_at = facts->received_at;
          const absl::Duration backoff =
              expiry_backoff ? expiry_backoff(delivery.attempt) : absl::ZeroDuration();
          if (backoff > absl::ZeroDuration()) {
            arm_args.insert(arm_args.end(), {entry.elements[0].str, absl::StrCat(*attempt),
                                             absl::StrCat(absl::ToInt64Microseconds(backoff))});
          }
        }
        // The claim script cannot call back into C++: the expiry backoffs of the new leases
        // follow in one script of the next pipeline, queued here before the Claim's callback
        // runs, so that anything the caller sends next (a claim after the lease end) comes after
        // it. Should this router die in between, those leases end without a backoff, as after a
        // Release.
        if (!arm_args.empty()) Submit(ArmBackoffOp(agent, std::move(arm_args)));
        return claimed;
      },
      std::move(done)));
}

void RedisStore::Ack(std::string delivery_id, DoneCallback done) {
  Submit(SettleOp(std::move(delivery_id), {"ack", absl::ZeroDuration(), ""}, std::move(done)));
}

void RedisStore::Nack(std::string delivery_id, absl::Duration retry_after, std::string reason,
                      DoneCallback done) {
  Submit(SettleOp(std::move(delivery_id),
                  {"nack", std::max(retry_after, absl::ZeroDuration()), std::move(reason)},
                  std::move(done)));
}

void RedisStore::Extend(std::string delivery_id, absl::Duration extension, DoneCallback done) {
  Submit(SettleOp(std::move(delivery_id),
                  {"extend", std::max(extension, absl::ZeroDuration()), ""}, std::move(done)));
}

void RedisStore::Release(std::vector<std::string> delivery_ids, DoneCallback done) {
  std::vector<DeliveryRef> refs;
  for (const std::string& id : delivery_ids) {
    if (std::optional<DeliveryRef> ref = ParseDeliveryId(id)) refs.push_back(*std::move(ref));
  }
  Submit(MakeOp<absl::Status>(
      [refs = std::move(refs)](const Batch& batch) {
        std::vector<RedisCommand> commands;
        for (const DeliveryRef& ref : refs) {
          commands.push_back(SettleCommand(batch, ref, {"release", absl::ZeroDuration(), ""}));
        }
        return commands;
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::Status {
        for (const RedisReply& reply : replies) {
          if (reply.IsError()) return ReplyError(reply);  // unknown ids just answer 0
        }
        return absl::OkStatus();
      },
      std::move(done)));
}

// The replay cache entry is "<expires_at micros>|<body hash>", expiry by the injected Clock like
// every other time here; PX (Redis time, plus a margin for clock skew) only collects garbage.
// KEYS[1] token key; ARGV: body hash, expires_at, now, px. Returns 0 new, 1 same body, 2 other.
// Sent with EVAL (it runs once per Mailgun request, not per event: no script cache needed).
constexpr char kRememberTokenScript[] = R"lua(
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  if sep and tonumber(string.sub(v, 1, sep - 1)) > tonumber(ARGV[3]) then
    if string.sub(v, sep + 1) == ARGV[1] then return 1 end
    return 2
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[4])
return 0
)lua";

void RedisStore::RememberToken(std::string key, std::string body_hash, absl::Duration ttl,
                               TokenCallback done) {
  ttl = std::max(ttl, absl::ZeroDuration());
  Submit(MakeOp<absl::StatusOr<TokenOutcome>>(
      [key = std::move(key), body_hash = std::move(body_hash),
       ttl](const Batch& batch) -> std::vector<RedisCommand> {
        const int64_t px = absl::ToInt64Milliseconds(ttl + absl::Minutes(5));
        return {{"EVAL", kRememberTokenScript, "1", absl::StrCat(batch.prefix, "token:", key),
                 body_hash, Micros(batch.now + ttl), Micros(batch.now), absl::StrCat(px)}};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<TokenOutcome> {
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        switch (AsInt(reply).value_or(-1)) {
          case 0: return TokenOutcome::kNew;
          case 1: return TokenOutcome::kSameBody;
          case 2: return TokenOutcome::kOtherBody;
          default: return BadReply("the replay token script");
        }
      },
      std::move(done)));
}

// KEYS[1] the rules hash; ARGV: yaml, expected version, channel. Returns {1, new version} or
// {0, stored version}. The PUBLISH is part of the script, so no written version goes unannounced.
// Sent with EVAL (rules change rarely: no script cache needed).
constexpr char kPutRulesScript[] = R"lua(
local stored = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if stored ~= tonumber(ARGV[2]) then return {0, stored} end
local version = stored + 1
redis.call('HSET', KEYS[1], 'yaml', ARGV[1], 'version', version)
redis.call('PUBLISH', ARGV[3], tostring(version))
return {1, version}
)lua";

void RedisStore::GetRules(absl::AnyInvocable<void(absl::StatusOr<RulesDocument>) &&> done) {
  Submit(MakeOp<absl::StatusOr<RulesDocument>>(
      [](const Batch& batch) -> std::vector<RedisCommand> {
        return {{"HMGET", absl::StrCat(batch.prefix, "rules"), "yaml", "version"}};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<RulesDocument> {
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray || reply.elements.size() != 2) return BadReply("HMGET");
        RulesDocument document;
        if (reply.elements[1].type == Type::kNil) return document;  // none stored
        const std::optional<int64_t> version = AsInt(reply.elements[1]);
        if (!version.has_value() || *version < 1 || !IsString(reply.elements[0])) {
          return BadReply("HMGET of the rules");
        }
        document.yaml = reply.elements[0].str;
        document.version = *version;
        return document;
      },
      std::move(done)));
}

void RedisStore::PutRules(std::string yaml, int64_t expected_version,
                          absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [this, yaml = std::move(yaml),
       expected_version](const Batch& batch) -> std::vector<RedisCommand> {
        if (expected_version < 0) return {};
        return {{"EVAL", kPutRulesScript, "1", absl::StrCat(batch.prefix, "rules"), yaml,
                 absl::StrCat(expected_version), rules_channel_}};
      },
      [expected_version](absl::Span<const RedisReply> replies,
                         Batch&) -> absl::StatusOr<int64_t> {
        if (replies.empty()) {
          return absl::InvalidArgumentError("expected rules version must not be negative");
        }
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray || reply.elements.size() != 2) {
          return BadReply("the rules script");
        }
        const std::optional<int64_t> written = AsInt(reply.elements[0]);
        const std::optional<int64_t> version = AsInt(reply.elements[1]);
        if (!written.has_value() || !version.has_value()) return BadReply("the rules script");
        if (*written != 1) {
          return absl::FailedPreconditionError(
              absl::StrCat("rules version ", expected_version, " is not the stored one (",
                           *version, "): re-read and retry"));
        }
        return *version;
      },
      std::move(done)));
}

void RedisStore::SetRulesListener(std::function<void(int64_t version)> listener) {
  absl::MutexLock lock(&mu_);
  rules_listener_ = std::move(listener);
}

void RedisStore::NextVisibleAt(std::string agent,
                               absl::AnyInvocable<void(absl::StatusOr<absl::Time>) &&> done) {
  Submit(MakeOp<absl::StatusOr<absl::Time>>(
      [agent](const Batch& batch) -> std::vector<RedisCommand> {
        return {Eval(batch.scripts->next_visible, batch.prefix, {agent, Micros(batch.now)})};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<absl::Time> {
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (IsString(reply) && reply.str.empty()) return absl::InfiniteFuture();
        const std::optional<int64_t> micros = AsInt(reply);
        if (!micros.has_value()) return BadReply("the next-visible script");
        return absl::FromUnixMicros(*micros);
      },
      std::move(done)));
}

void RedisStore::Stats(std::string agent,
                       absl::AnyInvocable<void(absl::StatusOr<QueueStats>) &&> done) {
  Submit(MakeOp<absl::StatusOr<QueueStats>>(
      [agent](const Batch& batch) -> std::vector<RedisCommand> {
        return {Eval(batch.scripts->stats, batch.prefix, {agent, Micros(batch.now)})};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<QueueStats> {
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray || reply.elements.size() != 5) {
          return BadReply("the stats script");
        }
        QueueStats stats;
        int64_t* counts[] = {&stats.ready, &stats.leased, &stats.delayed, &stats.dead_letters};
        for (int i = 0; i < 4; ++i) {
          const std::optional<int64_t> value = AsInt(reply.elements[i]);
          if (!value.has_value()) return BadReply("the stats script");
          *counts[i] = *value;
        }
        if (const std::optional<int64_t> oldest = AsInt(reply.elements[4])) {
          stats.oldest_leased = absl::FromUnixMicros(*oldest);
        }
        return stats;
      },
      std::move(done)));
}

// --- Operator replays (store.h; scripts in redis_admin_scripts.h) ------------------------------

namespace {

RedisCommand EvalReplay(const char* body, const std::string& prefix,
                        std::vector<std::string> args) {
  RedisCommand command = {
      "EVAL", absl::StrCat(redis_scripts::kPrelude, redis_scripts::kReplayPrelude, body), "0",
      prefix};
  for (std::string& arg : args) command.push_back(std::move(arg));
  return command;
}

absl::StatusOr<int64_t> ReplayCount(absl::Span<const RedisReply> replies, absl::string_view what) {
  if (replies.empty()) return 0;
  if (replies[0].IsError()) return ReplyError(replies[0]);
  const std::optional<int64_t> n = AsInt(replies[0]);
  if (!n.has_value()) return BadReply(what);
  return *n;
}

}  // namespace

void RedisStore::ReplayDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                   absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent, event_ids = std::move(event_ids)](const Batch& batch) -> std::vector<RedisCommand> {
        std::vector<std::string> args = {agent, "replay", Micros(batch.now)};
        args.insert(args.end(), event_ids.begin(), event_ids.end());
        return {EvalReplay(redis_scripts::kDeadLetters, batch.prefix, std::move(args))};
      },
      [agent](absl::Span<const RedisReply> replies, Batch& batch) -> absl::StatusOr<int64_t> {
        ASSIGN_OR_RETURN(const int64_t n, ReplayCount(replies, "the dead-letter replay script"));
        if (n > 0) batch.enqueued_agents.push_back(agent);
        return n;
      },
      std::move(done)));
}

void RedisStore::PurgeDeadLetters(std::string agent, std::vector<std::string> event_ids,
                                  absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent = std::move(agent),
       event_ids = std::move(event_ids)](const Batch& batch) -> std::vector<RedisCommand> {
        std::vector<std::string> args = {agent, "purge", Micros(batch.now)};
        args.insert(args.end(), event_ids.begin(), event_ids.end());
        return {EvalReplay(redis_scripts::kDeadLetters, batch.prefix, std::move(args))};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<int64_t> {
        return ReplayCount(replies, "the dead-letter purge script");
      },
      std::move(done)));
}

void RedisStore::ScanArchive(absl::Time since, absl::Time until, std::string cursor, int limit,
                             absl::AnyInvocable<void(absl::StatusOr<ArchivePage>) &&> done) {
  if (!cursor.empty() && !IsStreamId(cursor)) {
    std::move(done)(absl::InvalidArgumentError("archive cursor is not one of this store's"));
    return;
  }
  if (limit <= 0) {
    std::move(done)(absl::InvalidArgumentError("archive scan limit must be positive"));
    return;
  }
  // Stream ids are Redis time, `at` is the router's clock: the range is applied to `at` here, the
  // scan itself walks the stream in id order (commit order).
  Submit(MakeOp<absl::StatusOr<ArchivePage>>(
      [cursor = std::move(cursor), limit](const Batch& batch) -> std::vector<RedisCommand> {
        return {{"XRANGE", absl::StrCat(batch.prefix, "archive"),
                 cursor.empty() ? "-" : absl::StrCat("(", cursor), "+", "COUNT",
                 absl::StrCat(limit)}};
      },
      [since, until, limit](absl::Span<const RedisReply> replies,
                            Batch&) -> absl::StatusOr<ArchivePage> {
        ArchivePage page;
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray) return BadReply("XRANGE archive");
        std::string last;
        for (const RedisReply& entry : reply.elements) {
          if (entry.type != Type::kArray || entry.elements.size() != 2 ||
              !IsString(entry.elements[0])) {
            return BadReply("XRANGE archive");
          }
          last = entry.elements[0].str;
          const RedisReply& fields = entry.elements[1];
          const RedisReply* at = EntryField(fields, "at");
          const absl::Time committed_at =
              absl::FromUnixMicros(at != nullptr ? AsInt(*at).value_or(0) : 0);
          if (committed_at < since || committed_at >= until) continue;
          ArchivedEvent& archived = page.events.emplace_back();
          archived.ref = last;
          archived.committed_at = committed_at;
          if (const RedisReply* event = EntryField(fields, "event")) {
            (void)archived.event.ParseFromString(event->str);
          }
          if (const RedisReply* agents = EntryField(fields, "agents"); agents && !agents->str.empty()) {
            archived.agents = absl::StrSplit(agents->str, '\n');
          }
        }
        if (static_cast<int>(reply.elements.size()) == limit) page.next_cursor = last;
        return page;
      },
      std::move(done)));
}

void RedisStore::EnqueueArchived(std::string agent, std::vector<std::string> refs,
                                 absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  std::vector<std::string> ids;
  for (std::string& ref : refs) {
    if (IsStreamId(ref)) ids.push_back(std::move(ref));  // others are not ours: unknown
  }
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [agent, ids = std::move(ids)](const Batch& batch) -> std::vector<RedisCommand> {
        if (ids.empty()) return {};
        std::vector<std::string> args = {agent, Micros(batch.now)};
        args.insert(args.end(), ids.begin(), ids.end());
        return {EvalReplay(redis_scripts::kEnqueueArchived, batch.prefix, std::move(args))};
      },
      [agent](absl::Span<const RedisReply> replies, Batch& batch) -> absl::StatusOr<int64_t> {
        ASSIGN_OR_RETURN(const int64_t n, ReplayCount(replies, "the archive replay script"));
        if (n > 0) batch.enqueued_agents.push_back(agent);
        return n;
      },
      std::move(done)));
}

void RedisStore::ListDeadLetters(
    std::string agent, int limit,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<DeadLetter>>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::vector<DeadLetter>>>(
      [agent, limit](const Batch& batch) -> std::vector<RedisCommand> {
        if (limit <= 0) return {};
        return {{"XRANGE", AgentKey(batch.prefix, "dead", agent), "-", "+", "COUNT",
                 absl::StrCat(limit)}};
      },
      [agent](absl::Span<const RedisReply> replies,
              Batch&) -> absl::StatusOr<std::vector<DeadLetter>> {
        std::vector<DeadLetter> letters;
        if (replies.empty()) return letters;
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray) return BadReply("XRANGE");
        for (const RedisReply& entry : reply.elements) {
          if (entry.type != Type::kArray || entry.elements.size() != 2) return BadReply("XRANGE");
          const RedisReply& fields = entry.elements[1];
          DeadLetter& letter = letters.emplace_back();
          letter.agent = agent;
          if (const RedisReply* id = EntryField(fields, "id")) letter.event_id = id->str;
          if (const RedisReply* reason = EntryField(fields, "reason")) letter.reason = reason->str;
          if (const RedisReply* attempts = EntryField(fields, "attempts")) {
            letter.attempts = static_cast<uint32_t>(AsInt(*attempts).value_or(0));
          }
          if (const RedisReply* at = EntryField(fields, "at")) {
            letter.dead_at = absl::FromUnixMicros(AsInt(*at).value_or(0));
          }
          // An unreadable event still lists, with an empty event.
          if (const RedisReply* event = EntryField(fields, "event")) {
            (void)letter.event.ParseFromString(event->str);
          }
        }
        return letters;
      },
      std::move(done)));
}

// --- Data lifecycle: quarantine, retention sweeps, recipient purge ------------------------------

namespace {

RedisCommand EvalLifecycle(const char* body, const std::string& prefix,
                           std::vector<std::string> args) {
  // Rare operator/sweeper calls: the script text goes along each time (no script cache to manage).
  RedisCommand command = {
      "EVAL", absl::StrCat(redis_scripts::kPrelude, redis_scripts::kLifecyclePrelude, body), "0",
      prefix};
  for (std::string& arg : args) command.push_back(std::move(arg));
  return command;
}

absl::StatusOr<int64_t> CountReply(absl::Span<const RedisReply> replies, absl::string_view what) {
  int64_t total = 0;
  for (const RedisReply& reply : replies) {
    if (reply.IsError()) return ReplyError(reply);
    const std::optional<int64_t> n = AsInt(reply);
    if (!n.has_value()) return BadReply(what);
    total += *n;
  }
  return total;
}

std::optional<int64_t> CutoffMicros(absl::Time now, absl::Duration age) {
  if (age == absl::InfiniteDuration()) return std::nullopt;
  return absl::ToUnixMicros(now - age);
}

}  // namespace

void RedisStore::PutQuarantine(QuarantineEntry entry,
                               absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::string>>(
      [entry = std::move(entry)](const Batch& batch) -> std::vector<RedisCommand> {
        return {{"XADD", absl::StrCat(batch.prefix, "quarantine"), "*", "source", entry.source,
                 "reason", entry.reason, "version", entry.code_version, "at",
                 Micros(entry.received_at), "headers", EncodeHeaderLines(entry.headers), "body",
                 entry.body}};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<std::string> {
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (!IsString(reply) || !IsStreamId(reply.str)) return BadReply("XADD quarantine");
        return reply.str;
      },
      std::move(done)));
}

void RedisStore::ListQuarantine(
    QuarantineFilter filter, int limit, bool with_bodies,
    absl::AnyInvocable<void(absl::StatusOr<std::vector<QuarantineEntry>>) &&> done) {
  // Ids this store did not make match nothing (and must not reach XRANGE as a range).
  std::vector<std::string> ids;
  for (const std::string& id : filter.ids) {
    if (IsStreamId(id)) ids.push_back(id);
  }
  const bool none = limit <= 0 || (!filter.ids.empty() && ids.empty());
  Submit(MakeOp<absl::StatusOr<std::vector<QuarantineEntry>>>(
      [source = std::move(filter.source), ids = std::move(ids), limit, with_bodies,
       none](const Batch& batch) -> std::vector<RedisCommand> {
        if (none) return {};
        std::vector<std::string> args = {source, absl::StrCat(limit), with_bodies ? "1" : "0"};
        args.insert(args.end(), ids.begin(), ids.end());
        return {EvalLifecycle(redis_scripts::kListQuarantine, batch.prefix, std::move(args))};
      },
      [](absl::Span<const RedisReply> replies,
         Batch&) -> absl::StatusOr<std::vector<QuarantineEntry>> {
        std::vector<QuarantineEntry> entries;
        if (replies.empty()) return entries;
        const RedisReply& reply = replies[0];
        if (reply.IsError()) return ReplyError(reply);
        if (reply.type != Type::kArray) return BadReply("the quarantine list script");
        for (const RedisReply& row : reply.elements) {
          if (row.type != Type::kArray || row.elements.size() < 7) {
            return BadReply("the quarantine list script");
          }
          QuarantineEntry& entry = entries.emplace_back();
          entry.id = row.elements[0].str;
          entry.source = row.elements[1].str;
          entry.reason = row.elements[2].str;
          entry.code_version = row.elements[3].str;
          entry.received_at = absl::FromUnixMicros(AsInt(row.elements[4]).value_or(0));
          entry.headers = DecodeHeaderLines(row.elements[5].str);
          entry.body_size = AsInt(row.elements[6]).value_or(0);
          if (row.elements.size() > 7) entry.body = row.elements[7].str;
        }
        return entries;
      },
      std::move(done)));
}

void RedisStore::DeleteQuarantine(QuarantineFilter filter,
                                  absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  std::vector<std::string> ids;
  for (const std::string& id : filter.ids) {
    if (IsStreamId(id)) ids.push_back(id);
  }
  const bool none = !filter.ids.empty() && ids.empty();
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [source = std::move(filter.source), ids = std::move(ids),
       none](const Batch& batch) -> std::vector<RedisCommand> {
        if (none) return {};
        std::vector<std::string> args = {source};
        args.insert(args.end(), ids.begin(), ids.end());
        return {EvalLifecycle(redis_scripts::kDeleteQuarantine, batch.prefix, std::move(args))};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<int64_t> {
        return CountReply(replies, "the quarantine delete script");
      },
      std::move(done)));
}

void RedisStore::Sweep(RetentionPolicy policy,
                       absl::AnyInvocable<void(absl::StatusOr<SweepResult>) &&> done) {
  for (const absl::Duration age :
       {policy.archive, policy.quarantine, policy.dead_letters, policy.queue}) {
    if (age <= absl::ZeroDuration()) {
      std::move(done)(absl::InvalidArgumentError("retention durations must be positive"));
      return;
    }
  }
  // The commands in order: the queue expiry per agent, the dead letters per agent, the
  // quarantine, the archive; `kinds` says which SweepResult field each reply adds to.
  enum Kind { kExpired, kDead, kQuarantine, kArchive };
  auto kinds = std::make_shared<std::vector<Kind>>();
  Submit(MakeOp<absl::StatusOr<SweepResult>>(
      [policy = std::move(policy), kinds](const Batch& batch) -> std::vector<RedisCommand> {
        kinds->clear();
        std::vector<RedisCommand> commands;
        const std::string limit = absl::StrCat(kSweepLimit);
        if (const std::optional<int64_t> cutoff = CutoffMicros(batch.now, policy.queue)) {
          for (const std::string& agent : policy.agents) {
            commands.push_back(EvalLifecycle(redis_scripts::kExpireQueue, batch.prefix,
                                             {agent, absl::StrCat(*cutoff), Micros(batch.now),
                                              limit}));
            kinds->push_back(kExpired);
          }
          RedisCommand undeclared = EvalLifecycle(
              redis_scripts::kExpireUndeclaredQueues, batch.prefix,
              {absl::StrCat(*cutoff), Micros(batch.now), limit});
          undeclared.insert(undeclared.end(), policy.agents.begin(), policy.agents.end());
          commands.push_back(std::move(undeclared));
          kinds->push_back(kExpired);
        }
        if (const std::optional<int64_t> cutoff = CutoffMicros(batch.now, policy.dead_letters)) {
          for (const std::string& agent : policy.agents) {
            commands.push_back(EvalLifecycle(redis_scripts::kTrimByAge, batch.prefix,
                                             {absl::StrCat("dead:{", agent, "}"),
                                              absl::StrCat(*cutoff), limit}));
            kinds->push_back(kDead);
          }
        }
        if (const std::optional<int64_t> cutoff = CutoffMicros(batch.now, policy.quarantine)) {
          commands.push_back(EvalLifecycle(redis_scripts::kTrimByAge, batch.prefix,
                                           {"quarantine", absl::StrCat(*cutoff), limit}));
          kinds->push_back(kQuarantine);
        }
        if (const std::optional<int64_t> cutoff = CutoffMicros(batch.now, policy.archive)) {
          commands.push_back(EvalLifecycle(redis_scripts::kTrimArchive, batch.prefix,
                                           {absl::StrCat(*cutoff), limit}));
          kinds->push_back(kArchive);
        }
        return commands;
      },
      [kinds](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<SweepResult> {
        SweepResult result;
        if (replies.size() != kinds->size()) return BadReply("the sweep scripts");
        for (size_t i = 0; i < replies.size(); ++i) {
          ASSIGN_OR_RETURN(const int64_t n, CountReply(replies.subspan(i, 1), "a sweep script"));
          switch ((*kinds)[i]) {
            case kExpired: result.expired += n; break;
            case kDead: result.dead_letters += n; break;
            case kQuarantine: result.quarantine += n; break;
            case kArchive: result.archive += n; break;
          }
        }
        return result;
      },
      std::move(done)));
}

void RedisStore::PurgeRecipient(std::string recipient, std::vector<std::string> agents,
                                absl::AnyInvocable<void(absl::StatusOr<int64_t>) &&> done) {
  if (recipient.empty()) {
    std::move(done)(absl::InvalidArgumentError("recipient is empty"));
    return;
  }
  const std::string key = RecipientKey(recipient);
  std::vector<std::string> args = {RecipientKeyNeedle(key), key};
  args.insert(args.end(), agents.begin(), agents.end());
  Submit(MakeOp<absl::StatusOr<int64_t>>(
      [args = std::move(args)](const Batch& batch) -> std::vector<RedisCommand> {
        return {EvalLifecycle(redis_scripts::kPurgeRecipient, batch.prefix, args)};
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::StatusOr<int64_t> {
        return CountReply(replies, "the purge script");
      },
      std::move(done)));
}

void RedisStore::Backup(std::string /*path*/,
                        absl::AnyInvocable<void(absl::StatusOr<BackupResult>) &&> done) {
  std::move(done)(absl::FailedPreconditionError(
      "the redis store has no file to copy: use Redis persistence (RDB/AOF) for backups"));
}

namespace {

// Out-of-line bytes (store.h StoredAttachment): "<prefix>blob:<sha256>" holds the bytes once,
// "<prefix>blobrefs:<sha256>" the set of event ids naming them, and "<prefix>eventblobs:<event id>"
// the set of hashes an event names (what PurgeRecipient's script releases, redis_scripts.h).
std::string BlobKey(absl::string_view prefix, absl::string_view sha256) {
  return absl::StrCat(prefix, "blob:", sha256);
}
std::string BlobRefsKey(absl::string_view prefix, absl::string_view sha256) {
  return absl::StrCat(prefix, "blobrefs:", sha256);
}
std::string EventBlobsKey(absl::string_view prefix, absl::string_view event_id) {
  return absl::StrCat(prefix, "eventblobs:", event_id);
}
// The layout before content addressing, one copy per event: still read, never written.
std::string LegacyAttachmentKey(absl::string_view prefix, absl::string_view event_id,
                                absl::string_view sha256) {
  return absl::StrCat(prefix, "attachment:", event_id, ":", sha256);
}

}  // namespace

void RedisStore::PutAttachments(std::vector<StoredAttachment> attachments, DoneCallback done) {
  // Every key lives archive_retention past its last Put, as long as the archive entry of the
  // event committed right after it: the bytes expire with the last archived event naming them.
  const absl::Duration ttl = options_.archive_retention;
  const bool expires = ttl != absl::InfiniteDuration();
  const std::string ttl_ms = absl::StrCat(absl::ToInt64Milliseconds(ttl));
  Submit(MakeOp<absl::Status>(
      [attachments = std::move(attachments), expires, ttl_ms](const Batch& batch) {
        std::vector<RedisCommand> commands;
        for (const StoredAttachment& a : attachments) {
          const std::string blob = BlobKey(batch.prefix, a.sha256);
          const std::string refs = BlobRefsKey(batch.prefix, a.sha256);
          // NX: the same hash is the same bytes, already stored.
          commands.push_back({"SET", blob, a.bytes, "NX"});
          if (expires) commands.push_back({"PEXPIRE", blob, ttl_ms});
          for (const std::string& event_id : a.event_ids) {
            const std::string named = EventBlobsKey(batch.prefix, event_id);
            commands.push_back({"SADD", refs, event_id});
            commands.push_back({"SADD", named, a.sha256});
            if (expires) commands.push_back({"PEXPIRE", named, ttl_ms});
          }
          if (expires && !a.event_ids.empty()) commands.push_back({"PEXPIRE", refs, ttl_ms});
        }
        return commands;
      },
      [](absl::Span<const RedisReply> replies, Batch&) -> absl::Status {
        for (const RedisReply& reply : replies) {
          if (reply.IsError()) return ReplyError(reply);
        }
        return absl::OkStatus();
      },
      std::move(done)));
}

void RedisStore::GetAttachment(std::string event_id, std::string sha256,
                               absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  Submit(MakeOp<absl::StatusOr<std::string>>(
      [event_id, sha256](const Batch& batch) -> std::vector<RedisCommand> {
        return {{"SISMEMBER", BlobRefsKey(batch.prefix, sha256), event_id},
                {"GET", BlobKey(batch.prefix, sha256)},
                {"GET", LegacyAttachmentKey(batch.prefix, event_id, sha256)}};
      },
      [event_id, sha256](absl::Span<const RedisReply> replies,
                         Batch&) -> absl::StatusOr<std::string> {
        if (replies.size() != 3) return BadReply("GET attachment");
        for (const RedisReply& reply : replies) {
          if (reply.IsError()) return ReplyError(reply);
        }
        const RedisReply& named = replies[0];
        const RedisReply& blob = replies[1];
        const RedisReply& legacy = replies[2];
        if (named.type != Type::kInteger) return BadReply("SISMEMBER attachment");
        if (named.integer == 1 && blob.type != Type::kNil) {
          if (!IsString(blob)) return BadReply("GET attachment");
          return blob.str;
        }
        if (legacy.type != Type::kNil) {
          if (!IsString(legacy)) return BadReply("GET attachment");
          return legacy.str;
        }
        return absl::NotFoundError(
            absl::StrCat("no attachment ", sha256, " of event ", event_id));
      },
      std::move(done)));
}

}  // namespace switchboard::store
