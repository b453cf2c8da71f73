#include "router/common/cpus.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace switchboard {
namespace {

int CpusInAffinityMask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The cgroup v2 path of this process: the "0::<path>" line of /proc/self/cgroup.
std::optional<std::string> OwnCgroup() {
  const std::optional<std::string> text = ReadFile("/proc/self/cgroup");
  if (!text) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) return std::string(line);
  }
  return std::nullopt;
}

// cgroup v1: the folders to look in for cpu.cfs_quota_us, from the /proc/self/cgroup line whose
// controller list names "cpu" ("4:cpu,cpuacct:/kubepods/..."): the group under the controller's
// mount (/sys/fs/cgroup/cpu,cpuacct), then the mount's root (a container with its own cgroup
// namespace sees its group there).
std::vector<std::string> CgroupV1CpuFolders() {
  std::vector<std::string> folders;
  const std::optional<std::string> text = ReadFile("/proc/self/cgroup");
  if (!text) return folders;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    const std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    const std::vector<absl::string_view> controllers = absl::StrSplit(fields[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "cpu") == controllers.end()) continue;
    const std::string mount = "/sys/fs/cgroup/" + std::string(fields[1]);
    if (fields[2] != "/") folders.push_back(mount + std::string(fields[2]));
    folders.push_back(mount);
  }
  return folders;
}

std::optional<int> CgroupQuotaCpus() {
  std::vector<std::string> candidates;
  if (const std::optional<std::string> own = OwnCgroup(); own && *own != "/") {
    candidates.push_back("/sys/fs/cgroup" + *own + "/cpu.max");
  }
  candidates.push_back("/sys/fs/cgroup/cpu.max");
  for (const std::string& path : candidates) {
    if (const std::optional<std::string> text = ReadFile(path)) return CpusOfCgroupQuota(*text);
  }
  for (const std::string& folder : CgroupV1CpuFolders()) {
    const std::optional<std::string> quota = ReadFile(folder + "/cpu.cfs_quota_us");
    const std::optional<std::string> period = ReadFile(folder + "/cpu.cfs_period_us");
    if (quota && period) return CpusOfCfsQuota(*quota, *period);
  }
  return std::nullopt;
}

// Whole CPUs in `quota` per `period` (both in microseconds, > 0), rounded up; else nullopt.
std::optional<int> CpusOfQuota(absl::string_view quota_text, absl::string_view period_text) {
  int64_t quota = 0;
  int64_t period = 0;
  if (!absl::SimpleAtoi(quota_text, &quota) || !absl::SimpleAtoi(period_text, &period) ||
      quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  return static_cast<int>(std::max<int64_t>(1, (quota + period - 1) / period));
}

}  // namespace

std::optional<int> CpusOfCgroupQuota(absl::string_view cpu_max) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(cpu_max), ' ', absl::SkipEmpty());
  if (fields.size() != 2 || fields[0] == "max") return std::nullopt;
  return CpusOfQuota(fields[0], fields[1]);
}

std::optional<int> CpusOfCfsQuota(absl::string_view cfs_quota_us, absl::string_view cfs_period_us) {
  return CpusOfQuota(absl::StripAsciiWhitespace(cfs_quota_us),
                     absl::StripAsciiWhitespace(cfs_period_us));
}

int UsableCpus() {
  const int affinity = CpusInAffinityMask();
  const std::optional<int> quota = CgroupQuotaCpus();
  return quota ? std::min(affinity, *quota) : affinity;
}

absl::Status UseBatchScheduling(bool batch) {
  // pthread_setschedparam, not sched_setscheduler(0, ...): POSIX makes the latter a process-wide
  // call, and glibc documents only the former as per-thread.
  const sched_param param{};
  const int error =
      pthread_setschedparam(pthread_self(), batch ? SCHED_BATCH : SCHED_OTHER, &param);
  if (error != 0) {
    return absl::InternalError(absl::StrCat(batch ? "SCHED_BATCH" : "SCHED_OTHER",
                                            " refused: ", std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace switchboard
