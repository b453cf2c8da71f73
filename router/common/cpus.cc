#include "router/common/cpus.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
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

std::optional<int> CgroupQuotaCpus() {
  std::vector<std::string> candidates;
  if (const std::optional<std::string> own = OwnCgroup(); own && *own != "/") {
    candidates.push_back("/sys/fs/cgroup" + *own + "/cpu.max");
  }
  candidates.push_back("/sys/fs/cgroup/cpu.max");
  for (const std::string& path : candidates) {
    if (const std::optional<std::string> text = ReadFile(path)) return CpusOfCgroupQuota(*text);
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> CpusOfCgroupQuota(absl::string_view cpu_max) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(cpu_max), ' ', absl::SkipEmpty());
  if (fields.size() != 2 || fields[0] == "max") return std::nullopt;
  int64_t quota = 0;
  int64_t period = 0;
  if (!absl::SimpleAtoi(fields[0], &quota) || !absl::SimpleAtoi(fields[1], &period) ||
      quota <= 0 || period <= 0) {
    return std::nullopt;
  }
  return static_cast<int>(std::max<int64_t>(1, (quota + period - 1) / period));
}

int UsableCpus() {
  const int affinity = CpusInAffinityMask();
  const std::optional<int> quota = CgroupQuotaCpus();
  return quota ? std::min(affinity, *quota) : affinity;
}

}  // namespace switchboard
