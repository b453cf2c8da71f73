#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::testing {

// What one run of the switchboardctl binary did.
struct CtlResult {
  int exit_code = -1;  // -1: it did not exit normally
  std::string out;     // stdout
  std::string err;     // stderr
};

// A switchboardctl process started by SpawnCtl.
struct CtlProcess {
  pid_t pid = -1;
  std::string out_path;
  std::string err_path;
};

// Starts the built switchboardctl with `args` and exactly the SWITCHBOARD_* variables in `env`,
// stdout and stderr to files in `dir`.
CtlProcess SpawnCtl(const std::string& dir, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {});

// Waits for `p` (or, with `block` false, only checks whether it ended). nullopt: still running.
std::optional<CtlResult> Collect(const CtlProcess& p, bool block = true);

// Runs switchboardctl to the end.
CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});

// "exit N", then stdout and stderr: for assertion messages.
std::string Describe(const CtlResult& result);

// A whole file's bytes ("" when unreadable).
std::string Slurp(const std::string& path);

}  // namespace switchboard::testing
