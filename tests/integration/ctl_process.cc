#include "tests/integration/ctl_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/router_process.h"

extern char** environ;

namespace switchboard::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CtlProcess SpawnCtl(const std::string& dir, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env) {
  static std::atomic<int> runs{0};
  const int run = ++runs;
  CtlProcess process;
  process.out_path = absl::StrCat(dir, "/ctl.", run, ".out");
  process.err_path = absl::StrCat(dir, "/ctl.", run, ".err");
  const std::string binary = BinaryPath("tools/switchboardctl/switchboardctl");
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // The child's environment, built before fork: the caller's minus SWITCHBOARD_*, plus `env`.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "SWITCHBOARD_")) env_storage.emplace_back(*e);
  }
  for (const auto& [name, value] : env) env_storage.push_back(absl::StrCat(name, "=", value));
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  process.pid = fork();
  if (process.pid == 0) {
    const int out = open(process.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(process.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  return process;
}

std::optional<CtlResult> Collect(const CtlProcess& process, bool block) {
  if (process.pid <= 0) return CtlResult{};
  int status = 0;
  const pid_t done = waitpid(process.pid, &status, block ? 0 : WNOHANG);
  if (done == 0) return std::nullopt;
  CtlResult result;
  if (done == process.pid && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = Slurp(process.out_path);
  result.err = Slurp(process.err_path);
  return result;
}

CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env) {
  return *Collect(SpawnCtl(dir, args, env));
}

std::string Describe(const CtlResult& result) {
  return absl::StrCat("exit ", result.exit_code, "\nstdout:\n", result.out, "\nstderr:\n",
                      result.err);
}

}  // namespace switchboard::testing
