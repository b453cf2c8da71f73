#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/store/redis_url.h"

struct redisContext;

namespace switchboard::store {

// One reply of a Redis server (RESP2), copied out of hiredis so it can be read without hiredis
// and without lifetime rules. Replies are untrusted input: readers check `type` first.
struct RedisReply {
  enum class Type { kString, kStatus, kError, kInteger, kNil, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool IsError() const { return type == Type::kError; }
  // The error's code word ("NOSCRIPT", "OOM", ...) or empty.
  std::string ErrorCode() const;
};

using RedisCommand = std::vector<std::string>;  // argv, binary-safe

// A synchronous hiredis 0.14 connection (redisConnectWithTimeout + redisSetTimeout: every read
// and write is bounded by `io_timeout`). Not thread-safe: one owner thread.
//
// Any I/O or protocol error breaks the connection for good (Broken() turns true; the owner drops it
// and connects anew): after a timeout the position in the reply stream is unknown.
class RedisConnection {
 public:
  // Connects, authenticates (AUTH) and selects the database.
  // kUnavailable: the server cannot be reached or did not answer in time.
  // kFailedPrecondition: the server refused AUTH or SELECT (a configuration error).
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint,
                                                                  absl::Duration connect_timeout,
                                                                  absl::Duration io_timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Pipelining: sends every command (redisAppendCommandArgv xN), then reads one reply per command
  // (redisGetReply xN). Error replies are returned as replies; kUnavailable only for a broken
  // connection (then some commands may have run: the caller cannot know which).
  absl::StatusOr<std::vector<RedisReply>> Pipeline(const std::vector<RedisCommand>& commands);
  absl::StatusOr<RedisReply> Command(const RedisCommand& command);

  // For a connection in SUBSCRIBE mode: waits up to `wait` for the next pushed message.
  // nullopt: nothing arrived in time (the connection stays usable). kUnavailable: broken.
  absl::StatusOr<std::optional<RedisReply>> ReadPushed(absl::Duration wait);

  bool Broken() const { return broken_; }
  // For a connection with no reply outstanding: true if the server closed it (or anything else
  // arrived unasked, which leaves the reply stream out of step). Does not block.
  bool ClosedByPeer();

 private:
  explicit RedisConnection(redisContext* context) : context_(context) {}
  absl::Status Fail(const char* during);

  redisContext* context_;  // owned
  bool broken_ = false;
};

}  // namespace switchboard::store
