#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace switchboard {

// The number of CPUs this process can keep busy at once: the CPUs in its affinity mask
// (sched_getaffinity(2): `taskset`, a container's cpuset, Kubernetes' static CPU manager), lowered
// to the cgroup v2 CPU quota when one is set (`cpu.max`, rounded up: Kubernetes' CPU limit). At
// least 1. Unlike std::thread::hardware_concurrency, which counts every online CPU of the machine,
// this is what a thread pool should be sized by.
//
// The quota is read from /sys/fs/cgroup/<the process's cgroup, /proc/self/cgroup>/cpu.max, else
// /sys/fs/cgroup/cpu.max (a container with its own cgroup namespace). Without either (cgroup v1,
// or a hybrid host), from cpu.cfs_quota_us and cpu.cfs_period_us of the v1 cpu controller's
// group, under its mount or at the mount's root. Files that are missing or unreadable mean no
// quota.
int UsableCpus();

// Parses the contents of a cgroup v2 `cpu.max` file, "$MAX $PERIOD" in microseconds, where $MAX
// "max" means no limit (Linux, Documentation/admin-guide/cgroup-v2.rst, "CPU Interface Files").
// Returns the quota as whole CPUs, rounded up (at least 1), or nullopt for no limit or malformed
// contents.
std::optional<int> CpusOfCgroupQuota(absl::string_view cpu_max);

// The same for cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us contents (microseconds; a quota
// of -1 means no limit: Linux, Documentation/scheduler/sched-bwc.rst).
std::optional<int> CpusOfCfsQuota(absl::string_view cfs_quota_us, absl::string_view cfs_period_us);

// Puts the calling thread in the SCHED_BATCH class if `batch`, else in the default SCHED_OTHER
// (sched(7), sched_setscheduler(2)). Under SCHED_BATCH a thread woken while another of the same
// CPU runs waits for the running one's slice instead of preempting it. Threads the caller starts
// afterwards inherit the class. Neither needs a privilege. kInternal (with the kernel's reason)
// if refused, e.g. by a seccomp profile; the thread keeps its class then.
absl::Status UseBatchScheduling(bool batch);

}  // namespace switchboard
