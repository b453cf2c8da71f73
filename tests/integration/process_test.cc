// How the router process ends when it cannot start, and what a crash leaves in its log
// (router/common/crash_report.h).
#include <signal.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {
namespace {

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
  auto router = RouterProcess::Start(MakeTempDir("port-in-use-http"),
                                     MinimalRouterConfig(taken.address(), "127.0.0.1:0"));
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
  auto router = RouterProcess::Start(MakeTempDir("port-in-use-grpc"),
                                     MinimalRouterConfig("127.0.0.1:0", taken.address()));
  ASSERT_FALSE(router.ok());
  EXPECT_NE(router.status().message().find("(exit status 1)"), std::string::npos)
      << router.status();
  EXPECT_NE(router.status().message().find(
                absl::StrCat("startup: grpc.listen: cannot bind 127.0.0.1:", taken.port())),
            std::string::npos)
      << router.status();
}

// Two routers on one embedded store file would both claim and deliver its events: the second
// is refused at open (an flock on the database file) and names the first one's pid.
TEST(StartupTest, ASecondRouterOnTheSameStoreFileExits1NamingTheFirst) {
  auto first = RouterProcess::Start(MakeTempDir("store-in-use-first"), MinimalRouterConfig());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string store = (*first)->dir() + "/data/switchboard.db";
  std::string config = MinimalRouterConfig();
  const std::string relative = "\"./data/switchboard.db\"";
  config.replace(config.find(relative), relative.size(), absl::StrCat("\"", store, "\""));

  auto second = RouterProcess::Start(MakeTempDir("store-in-use-second"), config);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("(exit status 1)"), std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find(absl::StrCat(
                "is in use by another process (pid ", (*first)->pid(), ")")),
            std::string::npos)
      << second.status();

  // The lock is on the file, not the path: a hard link to it is refused the same way.
  const std::string link_dir = MakeTempDir("store-in-use-link");
  ASSERT_EQ(link(store.c_str(), (link_dir + "/switchboard.db").c_str()), 0) << errno;
  std::string link_config = MinimalRouterConfig();
  link_config.replace(link_config.find(relative), relative.size(),
                      absl::StrCat("\"", link_dir, "/switchboard.db\""));
  auto through_link = RouterProcess::Start(MakeTempDir("store-in-use-third"), link_config);
  ASSERT_FALSE(through_link.ok());
  EXPECT_NE(through_link.status().message().find(absl::StrCat(
                "is in use by another process (pid ", (*first)->pid(), ")")),
            std::string::npos)
      << through_link.status();

  // Once the first stops, the same file opens.
  EXPECT_EQ((*first)->Terminate(), 0);
  second = RouterProcess::Start(MakeTempDir("store-in-use-second"), config);
  EXPECT_TRUE(second.ok()) << second.status();
}

TEST(CrashReportTest, ASegfaultLogsTheSignalAndTheThreadsStackThenKillsTheProcess) {
  // The router inherits the limit. 1, not 0: a core_pattern that pipes to a program ignores 0
  // but refuses 1 (core(5)); a core file needs at least a page.
  const rlimit no_core{1, 1};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);
  auto router = RouterProcess::Start(MakeTempDir("crash-report"), MinimalRouterConfig());
  ASSERT_TRUE(router.ok()) << router.status();
  const pid_t pid = (*router)->pid();
  // To the main thread (its thread id is the process id), which waits in main for signals: so
  // the stack is known. SIGSEGV as a fault raises it, on the thread that faulted.
  ASSERT_EQ(syscall(SYS_tgkill, pid, pid, SIGSEGV), 0);
  const int status = (*router)->Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "wait status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);

  // Every crash line is one JSON object in the log's shape.
  const std::string log = (*router)->log();
  std::vector<boost::json::object> crash;
  std::vector<boost::json::object> frames;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, R"("event":"crash)")) continue;
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(std::string(line), ec);
    ASSERT_FALSE(ec) << ec.message() << ": " << line;
    ASSERT_TRUE(parsed.is_object()) << line;
    const boost::json::object& object = parsed.as_object();
    ASSERT_TRUE(object.contains("time")) << line;
    EXPECT_EQ(object.at("level"), "critical") << line;
    (object.at("event") == "crash" ? crash : frames).push_back(object);
  }
  ASSERT_EQ(crash.size(), 1u) << log;
  EXPECT_EQ(crash[0].at("signal"), "SIGSEGV");
  EXPECT_EQ(crash[0].at("code"), SI_TKILL);  // sent, so the sender's pid and no address
  EXPECT_EQ(crash[0].at("sender_pid"), getpid());
  EXPECT_FALSE(crash[0].contains("address"));
  EXPECT_EQ(crash[0].at("tid"), pid);
  EXPECT_TRUE(crash[0].at("version").as_string().starts_with("0.")) << log;

  // The unwind crossed the signal frame into the code that was interrupted, named it, and
  // located the router's own frames in its binary.
  ASSERT_GE(frames.size(), 2u) << log;
  bool main_named = false;
  bool module_given = false;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].at("frame"), static_cast<int64_t>(i)) << log;
    EXPECT_EQ(frames[i].at("tid"), pid) << log;
    main_named |= frames[i].contains("symbol") && frames[i].at("symbol") == "main";
    module_given |= frames[i].contains("module") &&
                    frames[i].at("module").as_string().starts_with("switchboard+0x");
  }
  EXPECT_TRUE(main_named) << log;
  EXPECT_TRUE(module_given) << log;
  // The handler's own frames are left out.
  EXPECT_FALSE(absl::StrContains(log, "OnCrash")) << log;
}

}  // namespace
}  // namespace switchboard::testing
