#pragma once

#include <map>
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

// Runs the built switchboardctl with `args` to the end, with none of the caller's SWITCHBOARD_*
// variables but those in `env`; stdout and stderr go through files in `dir`.
CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});

// "exit N", stdout and stderr, for failure messages.
std::string Describe(const CtlResult& result);

}  // namespace switchboard::testing
