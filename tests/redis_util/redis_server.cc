#include "tests/redis_util/redis_server.h"

#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace switchboard::testing {

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("bind port 0: ", error));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(std::string dir) {
  const bool made_dir = dir.empty();
  if (made_dir) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "switchboard-redis-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
    }
    dir = pattern;
  }
  // Another process may take the port between the probe and redis-server's bind: try a few.
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    auto server = std::unique_ptr<RedisServer>(new RedisServer(dir, *port));
    last = server->Launch();
    if (last.ok()) {
      server->owns_dir_ = made_dir;
      return server;
    }
  }
  return last;  // the folder stays: the error names its redis.log
}

RedisServer::~RedisServer() {
  Kill();
  if (owns_dir_ && !::testing::UnitTest::GetInstance()->Failed()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string RedisServer::url(int db) const {
  return absl::StrCat("redis://127.0.0.1:", port_, "/", db);
}

absl::Status RedisServer::Launch() {
  const char* from_env = std::getenv("SWITCHBOARD_REDIS_SERVER");
  const std::string binary = from_env != nullptr ? from_env : "redis-server";
  const std::string port = absl::StrCat(port_);
  const std::string log = dir_ + "/redis.log";
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    // Dies with the test program, whatever ends it (a crash, a ctest timeout), and holds none of
    // its output pipes: it logs to its own file.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    execlp(binary.c_str(), binary.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1",
           "--dir", dir_.c_str(), "--save", "", "--appendonly", "yes", "--appendfsync", "always",
           "--logfile", log.c_str(), "--daemonize", "no", static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::Status last = absl::UnavailableError("not started");
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat(binary, " exited (status ", status, ") on port ", port_,
                       "; is redis-server installed (tools/install-deps.sh)? log: ", log));
    }
    absl::StatusOr<store::RedisReply> pong = Command({"PING"});
    if (pong.ok() && pong->str == "PONG") return absl::OkStatus();
    last = pong.ok() ? absl::UnavailableError(pong->str) : pong.status();
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return absl::UnavailableError(absl::StrCat("redis-server did not answer: ", last.message()));
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::Status RedisServer::Restart() {
  Kill();
  return Launch();
}

absl::StatusOr<store::RedisReply> RedisServer::Command(
    const std::vector<std::string>& argv) const {
  absl::StatusOr<std::unique_ptr<store::RedisConnection>> connection =
      store::RedisConnection::Connect({.host = "127.0.0.1", .port = port_}, absl::Seconds(1),
                                      absl::Seconds(5));
  if (!connection.ok()) return connection.status();
  return (*connection)->Command(argv);
}

}  // namespace switchboard::testing
