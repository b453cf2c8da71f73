#include "tests/integration/ctl_runner.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {

int64_t Int64Field(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_string()) return std::stoll(std::string(v->get_string()));
  return v->to_number<int64_t>();
}

std::string StringField(const boost::json::object& o, const char* key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

CtlProcess SpawnCtl(const std::string& dir, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env) {
  static int runs = 0;
  CtlProcess p;
  p.out_path = absl::StrCat(dir, "/ctl.", ++runs, ".out");
  p.err_path = absl::StrCat(dir, "/ctl.", runs, ".err");
  const std::string binary = BinaryPath("tools/switchboardctl/switchboardctl");
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  p.pid = fork();
  if (p.pid == 0) {
    const int out = open(p.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(p.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    // None of the caller's SWITCHBOARD_* variables (ADDR, ADMIN_TOKEN, CA_FILE, WEBHOOK_URL, ...)
    // reach the child: only those the test passes in `env`.
    std::vector<std::string> inherited;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.starts_with("SWITCHBOARD_")) inherited.push_back(entry.substr(0, entry.find('=')));
    }
    for (const std::string& name : inherited) unsetenv(name.c_str());
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return p;
}

std::optional<CtlResult> CollectCtl(const CtlProcess& p, bool block) {
  int status = 0;
  if (p.pid <= 0) return CtlResult{};
  const pid_t done = waitpid(p.pid, &status, block ? 0 : WNOHANG);
  if (done == 0) return std::nullopt;
  CtlResult result;
  if (done == p.pid && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadWholeFile(p.out_path);
  result.err = ReadWholeFile(p.err_path);
  return result;
}

CtlResult RunCtl(const std::string& dir, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env) {
  return *CollectCtl(SpawnCtl(dir, args, env));
}

std::string Describe(const CtlResult& r) {
  return absl::StrCat("exit ", r.exit_code, "\nstdout:\n", r.out, "\nstderr:\n", r.err);
}

}  // namespace switchboard::testing
