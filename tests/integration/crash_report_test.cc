// What a crash leaves in the router's log (router/common/crash_report.h): the crash line and the
// failing thread's stack, and the process still dies of the signal.
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {
namespace {

constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }
agents:
  - { name: audit, tokens: ["audit-token"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

TEST(CrashReportTest, ASegfaultLogsTheSignalAndTheThreadsStackThenKillsTheProcess) {
  // The router inherits the limit: no core file from this test.
  const rlimit no_core{0, 0};
  ASSERT_EQ(setrlimit(RLIMIT_CORE, &no_core), 0);
  auto router = RouterProcess::Start(MakeTempDir("crash-report"), kConfig);
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
