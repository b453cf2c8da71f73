#include "router/common/cpus.h"

#include <sched.h>

#include <thread>

#include "gtest/gtest.h"

namespace switchboard {
namespace {

// cpu.max contents as Documentation/admin-guide/cgroup-v2.rst describes them: "$MAX $PERIOD" in
// microseconds, "max" for no limit; the default is "max 100000".
TEST(CpusTest, CgroupQuotaIsRoundedUpToWholeCpus) {
  EXPECT_EQ(CpusOfCgroupQuota("200000 100000\n"), 2);
  EXPECT_EQ(CpusOfCgroupQuota("150000 100000\n"), 2);  // 1.5 CPUs: two threads can use it
  EXPECT_EQ(CpusOfCgroupQuota("50000 100000\n"), 1);   // half a CPU still needs one thread
  EXPECT_EQ(CpusOfCgroupQuota("100000 100000"), 1);
}

TEST(CpusTest, NoQuotaOrMalformedContentsMeanNoLimit) {
  EXPECT_EQ(CpusOfCgroupQuota("max 100000\n"), std::nullopt);
  EXPECT_EQ(CpusOfCgroupQuota(""), std::nullopt);
  EXPECT_EQ(CpusOfCgroupQuota("100000"), std::nullopt);
  EXPECT_EQ(CpusOfCgroupQuota("abc 100000"), std::nullopt);
  EXPECT_EQ(CpusOfCgroupQuota("100000 0"), std::nullopt);
  EXPECT_EQ(CpusOfCgroupQuota("-5 100000"), std::nullopt);
}

// cgroup v1 (Documentation/scheduler/sched-bwc.rst): cpu.cfs_quota_us of -1 is no limit; the
// period defaults to 100000.
TEST(CpusTest, CfsQuotaIsRoundedUpAndMinusOneMeansNoLimit) {
  EXPECT_EQ(CpusOfCfsQuota("250000\n", "100000\n"), 3);
  EXPECT_EQ(CpusOfCfsQuota("100000\n", "100000\n"), 1);
  EXPECT_EQ(CpusOfCfsQuota("20000\n", "100000\n"), 1);
  EXPECT_EQ(CpusOfCfsQuota("-1\n", "100000\n"), std::nullopt);
  EXPECT_EQ(CpusOfCfsQuota("", "100000"), std::nullopt);
  EXPECT_EQ(CpusOfCfsQuota("100000", "x"), std::nullopt);
}

// UsableCpus follows the affinity mask (what `taskset -c 1` sets), not the machine's CPU count.
TEST(CpusTest, UsableCpusFollowsTheAffinityMask) {
  int seen = 0;
  std::thread pinned([&seen] {
    cpu_set_t all;
    CPU_ZERO(&all);
    ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
    int first = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && first < 0; ++cpu) {
      if (CPU_ISSET(cpu, &all)) first = cpu;
    }
    ASSERT_GE(first, 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    seen = UsableCpus();
  });
  pinned.join();
  EXPECT_EQ(seen, 1);
  EXPECT_GE(UsableCpus(), 1);
}

}  // namespace
}  // namespace switchboard
