#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::testing {

// What a finished switchboardctl run left: its exit status (-1: it did not exit normally) and
// everything it wrote.
struct CtlResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A switchboardctl process started by SpawnCtl.
struct CtlProcess {
  pid_t pid = -1;
  std::string out_path;
  std::string err_path;
};

// Starts the built switchboardctl with `args`, with none of the caller's SWITCHBOARD_* variables
// but those in `env`; stdout and stderr go to files in `dir`.
CtlProcess SpawnCtl(const std::string& dir, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {});

// Waits for `process` (or, with `block` false, only checks whether it ended). nullopt: still
// running.
std::optional<CtlResult> Collect(const CtlProcess& process, bool block = true);

// SpawnCtl, then Collect: runs switchboardctl to the end.
CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});

// "exit N", stdout and stderr, for failure messages.
std::string Describe(const CtlResult& result);

}  // namespace switchboard::testing
