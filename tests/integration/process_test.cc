// How the router process ends when it cannot start, and what a crash leaves in its log
// (router/common/crash_report.h).
#include <signal.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {
namespace {

constexpr char kSources[] = R"(
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }
agents:
  - { name: audit, tokens: ["audit-token"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

// http and grpc listen addresses, then the rest of a working config.
std::string Config(const std::string& http, const std::string& grpc) {
  return absl::StrCat("http:  { listen: \"", http, "\" }\ngrpc:  { listen: \"", grpc, "\" }\n",
                      kSources);
}

// A listening socket on 127.0.0.1 at a port the kernel picks; closed with the object.
class TakenPort {
 public:
  TakenPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        listen(fd_, 1) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~TakenPort() {
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }  // 0 if the socket could not be set up
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Init fails part way (the store is open, later parts are not built) and the router exits 1 with
// the reason; it once died of SIGSEGV here, tearing down parts it never built.
TEST(StartupTest, AnHttpPortInUseEndsTheProcessWithExit1AndTheReason) {
  TakenPort taken;
  ASSERT_NE(taken.port(), 0);
  auto router =
      RouterProcess::Start(MakeTempDir("port-in-use-http"), Config(taken.address(), "127.0.0.1:0"));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find(
                absl::StrCat(R"("startup: listen \"127.0.0.1:)", taken.port(),
                             R"(\": Address already in use")")),
            std::string::npos)
      << router.status();
}

TEST(StartupTest, AGrpcPortInUseEndsTheProcessWithExit1AndTheReason) {
  TakenPort taken;
  ASSERT_NE(taken.port(), 0);
  auto router =
      RouterProcess::Start(MakeTempDir("port-in-use-grpc"), Config("127.0.0.1:0", taken.address()));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find(
                absl::StrCat("startup: grpc.listen: cannot bind 127.0.0.1:", taken.port())),
            std::string::npos)
      << router.status();
}

TEST(CrashReportTest, ASegfaultLogsTheSignalAndTheThreadsStackThenKillsTheProcess) {
  // The router inherits the limit: no core file from this test.
  const rlimit no_core{0, 0};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);
  auto router =
      RouterProcess::Start(MakeTempDir("crash-report"), Config("127.0.0.1:0", "127.0.0.1:0"));
  ASSERT_TRUE(router.ok()) << router.status();
  const pid_t pid = (*router)->pid();
  // To the main thread (its thread id is the process id), which waits in main for signals: so
  // the stack is known. SIGSEGV as a fault raises it, on the thread that faulted.
  ASSERT_EQ(syscall(SYS_tgkill, pid, pid, SIGSEGV), 0);
  const int status = (*router)->Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "wait status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);

  const std::string log = (*router)->log();
  EXPECT_NE(log.find(absl::StrCat(R"({"level":"critical","event":"crash","signal":"SIGSEGV",)",
                                  R"("code":)", SI_TKILL, ",")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(absl::StrCat(R"("tid":)", pid, "}\n")), std::string::npos) << log;
  // The unwind crossed the signal frame into the code that was interrupted, and named it.
  EXPECT_NE(log.find(" main\n"), std::string::npos) << log;
  EXPECT_NE(log.find("OnCrash"), std::string::npos) << log;
}

}  // namespace
}  // namespace switchboard::testing
