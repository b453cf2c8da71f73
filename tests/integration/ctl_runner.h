#pragma once

#include <sys/types.h>

#include <cstdint>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace switchboard::testing {

// What one switchboardctl run left: its exit status (-1 if it did not exit normally), stdout and
// stderr.
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

// Starts the built switchboardctl with `args` and exactly the SWITCHBOARD_* variables in `env`
// (none of the test's own SWITCHBOARD_* variables are inherited), stdout and stderr to files in
// `dir`. Not thread-safe.
CtlProcess SpawnCtl(const std::string& dir, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {});
// Waits for `p` (or, with `block` false, only checks whether it ended). nullopt: still running.
std::optional<CtlResult> CollectCtl(const CtlProcess& p, bool block = true);
// Runs switchboardctl to the end (SpawnCtl + CollectCtl).
CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});
// "exit N", stdout and stderr, for failure messages.
std::string Describe(const CtlResult& r);

// The whole file's bytes ("" if it cannot be read).
std::string ReadWholeFile(const std::string& path);

// Lower-case hex SHA-256 of `bytes` through OpenSSL's one-shot SHA256(), not the router's crypto
// module, so a test's expected hash does not come from the code under test.
std::string Sha256Hex(const std::string& bytes);

// Fields of switchboardctl's `-o json` output (proto JSON: int64 as a string, zero values
// omitted). Int64Field: 0 when absent; StringField: "" when absent or not a string.
int64_t Int64Field(const boost::json::object& o, const char* key);
std::string StringField(const boost::json::object& o, const char* key);

}  // namespace switchboard::testing
