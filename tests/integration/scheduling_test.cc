// The scheduling classes of the real router's threads (`process.scheduling`, README
// "Configuration"): read back from the kernel, /proc/<pid>/task/<tid>/stat field 41 `policy`
// (proc(5)), whose values are the SCHED_* constants of sched.h.
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {
namespace {

struct ThreadPolicy {
  std::string name;  // /proc/<pid>/task/<tid>/comm
  int policy = -1;
};

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every thread of `pid` with its scheduling policy.
std::vector<ThreadPolicy> Threads(pid_t pid) {
  std::vector<ThreadPolicy> threads;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"))) {
    const std::string stat = ReadAll(task.path() / "stat");
    // "tid (comm) state ...": the name may hold spaces and parentheses, so the fields start after
    // the last ')'; the first of them is field 3, so field 41 is the 39th.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;  // the thread ended meanwhile
    const std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    ThreadPolicy thread;
    thread.name = std::string(absl::StripTrailingAsciiWhitespace(ReadAll(task.path() / "comm")));
    if (fields.size() < 39 || !absl::SimpleAtoi(fields[38], &thread.policy)) continue;
    threads.push_back(thread);
  }
  return threads;
}

std::string Describe(const std::vector<ThreadPolicy>& threads) {
  std::string out;
  for (const ThreadPolicy& t : threads) absl::StrAppend(&out, t.name, "=", t.policy, " ");
  return out;
}

// A sandbox (a seccomp profile, gVisor) may refuse a change of class; the router then logs it and
// runs on, which is what it should do, but there is nothing left to check here.
bool KernelRefused(const std::string& log) {
  return log.find(R"("scheduling":"inherited")") != std::string::npos ||
         log.find(R"("checkpointer_priority":"normal")") != std::string::npos;
}

TEST(SchedulingTest, ByDefaultEveryThreadIsBatchAndTheCheckpointerIdle) {
  auto router = RouterProcess::Start(MakeTempDir("scheduling-default"), MinimalRouterConfig());
  ASSERT_TRUE(router.ok()) << router.status();
  if (KernelRefused((*router)->log())) GTEST_SKIP() << "a class was refused: " << (*router)->log();
  EXPECT_NE((*router)->log().find(R"("scheduling":"batch")"), std::string::npos)
      << (*router)->log();
  const std::vector<ThreadPolicy> threads = Threads((*router)->pid());
  ASSERT_GE(threads.size(), 3u) << Describe(threads);
  int checkpointers = 0;
  for (const ThreadPolicy& t : threads) {
    if (t.name == "sb-checkpoint") {
      ++checkpointers;
      EXPECT_EQ(t.policy, SCHED_IDLE) << Describe(threads);
    } else {
      EXPECT_EQ(t.policy, SCHED_BATCH) << t.name << ": " << Describe(threads);
    }
  }
  EXPECT_EQ(checkpointers, 1) << Describe(threads);
}

TEST(SchedulingTest, NormalLeavesTheThreadsInTheDefaultClass) {
  auto router = RouterProcess::Start(MakeTempDir("scheduling-normal"),
                                     MinimalRouterConfig("127.0.0.1:0", "127.0.0.1:0",
                                                         "process: { scheduling: normal }\n"));
  ASSERT_TRUE(router.ok()) << router.status();
  if (KernelRefused((*router)->log())) GTEST_SKIP() << "a class was refused: " << (*router)->log();
  EXPECT_NE((*router)->log().find(R"("scheduling":"normal")"), std::string::npos)
      << (*router)->log();
  const std::vector<ThreadPolicy> threads = Threads((*router)->pid());
  ASSERT_GE(threads.size(), 3u) << Describe(threads);
  for (const ThreadPolicy& t : threads) {
    EXPECT_EQ(t.policy, t.name == "sb-checkpoint" ? SCHED_IDLE : SCHED_OTHER)
        << t.name << ": " << Describe(threads);
  }
}

}  // namespace
}  // namespace switchboard::testing
