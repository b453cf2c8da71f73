#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/store/redis_connection.h"

namespace switchboard::testing {

// A private `redis-server` for one test program: a free port (bound as port 0, closed, then handed
// to redis-server), a fresh data folder, AOF on with `appendfsync always` (nothing acknowledged is
// lost), no RDB snapshots. Never a Redis that happens to run on the machine. Killed (SIGKILL) on
// destruction, and when the thread that started it exits (PR_SET_PDEATHSIG: a crashed or timed-out
// test leaves no server behind). `redis-server` is found on PATH (tools/install-deps.sh installs
// it), or at $SWITCHBOARD_REDIS_SERVER. A folder Start made is removed on destruction, unless a
// test of the program has failed by then (its redis.log helps). Not thread-safe.
class RedisServer {
 public:
  // Starts it and waits (up to 10 s) until it answers PING. `dir` empty: a fresh temp folder,
  // which this server owns; a folder given is left as it is.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(std::string dir = "");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void Kill();               // SIGKILL (a crash), waits for the process
  absl::Status Restart();    // the same port and folder: the AOF is replayed

  int port() const { return port_; }
  std::string url(int db = 0) const;  // redis://127.0.0.1:<port>/<db>
  const std::string& dir() const { return dir_; }
  bool Running() const { return pid_ > 0; }

  // Runs one command on a new connection (for tests that inspect keys).
  absl::StatusOr<store::RedisReply> Command(const std::vector<std::string>& argv) const;

 private:
  RedisServer(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}
  absl::Status Launch();

  std::string dir_;
  int port_;
  bool owns_dir_ = false;
  pid_t pid_ = -1;
};

// A TCP port that was free a moment ago on 127.0.0.1 (bound as port 0, then closed).
absl::StatusOr<int> PickFreePort();

}  // namespace switchboard::testing
