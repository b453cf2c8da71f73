#include "router/store/redis_connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <cerrno>
#include <sys/time.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"

namespace switchboard::store {
namespace {

timeval ToHiredisTimeval(absl::Duration d) {
  const int64_t micros = std::max<int64_t>(absl::ToInt64Microseconds(d), 1000);
  return timeval{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
}

// hiredis limits nesting itself (REDIS_READER_STACK); the copy follows that bound.
RedisReply Copy(const redisReply* reply) {
  RedisReply out;
  if (reply == nullptr) return out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) out.elements.push_back(Copy(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};
using OwnedReply = std::unique_ptr<void, ReplyDeleter>;

}  // namespace

std::string RedisReply::ErrorCode() const {
  if (type != Type::kError) return "";
  return str.substr(0, str.find(' '));
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisEndpoint& endpoint, absl::Duration connect_timeout, absl::Duration io_timeout) {
  redisContext* context =
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToHiredisTimeval(connect_timeout));
  const std::string where = absl::StrCat(endpoint.host, ":", endpoint.port);
  if (context == nullptr) {
    return absl::UnavailableError(absl::StrCat("redis ", where, ": cannot allocate a context"));
  }
  auto connection = std::unique_ptr<RedisConnection>(new RedisConnection(context));
  if (context->err != 0) {
    return absl::UnavailableError(absl::StrCat("redis ", where, ": ", context->errstr));
  }
  if (redisSetTimeout(context, ToHiredisTimeval(io_timeout)) != REDIS_OK) {
    return absl::UnavailableError(absl::StrCat("redis ", where, ": cannot set the I/O timeout"));
  }
  (void)redisEnableKeepAlive(context);
  if (!endpoint.password.empty()) {
    RedisCommand auth = {"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    ASSIGN_OR_RETURN(const RedisReply reply, connection->Command(auth));
    if (reply.IsError()) {
      // The reply names no secret ("WRONGPASS invalid username-password pair ...").
      return absl::FailedPreconditionError(absl::StrCat("redis ", where, ": AUTH: ", reply.str));
    }
  }
  if (endpoint.db != 0) {
    ASSIGN_OR_RETURN(const RedisReply reply,
                     connection->Command({"SELECT", absl::StrCat(endpoint.db)}));
    if (reply.IsError()) {
      return absl::FailedPreconditionError(
          absl::StrCat("redis ", where, ": SELECT ", endpoint.db, ": ", reply.str));
    }
  }
  return connection;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

absl::Status RedisConnection::Fail(const char* during) {
  broken_ = true;
  return absl::UnavailableError(absl::StrCat(
      "redis connection lost during ", during, ": ",
      context_->err != 0 ? context_->errstr : "unexpected end of the reply stream"));
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    const std::vector<RedisCommand>& commands) {
  if (broken_) return absl::UnavailableError("redis connection is broken");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const RedisCommand& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return Fail("send");
    }
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return Fail("receive");
    OwnedReply reply(raw);
    replies.push_back(Copy(static_cast<const redisReply*>(reply.get())));
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisConnection::Command(const RedisCommand& command) {
  ASSIGN_OR_RETURN(std::vector<RedisReply> replies, Pipeline({command}));
  return std::move(replies.front());
}

bool RedisConnection::ClosedByPeer() {
  pollfd fd{context_->fd, POLLIN, 0};
  if (poll(&fd, 1, 0) > 0) broken_ = true;
  return broken_;
}

absl::StatusOr<std::optional<RedisReply>> RedisConnection::ReadPushed(absl::Duration wait) {
  if (broken_) return absl::UnavailableError("redis connection is broken");
  void* raw = nullptr;
  // Something may already be buffered from an earlier read.
  if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) return Fail("subscribe");
  if (raw == nullptr) {
    pollfd fd{context_->fd, POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(wait)));
    if (ready < 0 && errno == EINTR) return std::optional<RedisReply>();
    if (ready < 0) return Fail("subscribe (poll)");
    if (ready == 0) return std::optional<RedisReply>();
    if (redisBufferRead(context_) != REDIS_OK) return Fail("subscribe");
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) return Fail("subscribe");
    if (raw == nullptr) return std::optional<RedisReply>();  // a partial message so far
  }
  OwnedReply reply(raw);
  return std::optional<RedisReply>(Copy(static_cast<const redisReply*>(reply.get())));
}

}  // namespace switchboard::store
