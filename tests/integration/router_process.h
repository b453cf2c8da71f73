#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace switchboard::testing {

// A real `switchboard` process started with a config file in a fresh temporary folder, with ports
// read from its --ready-file (the config binds port 0). Killed (SIGKILL) on destruction.
class RouterProcess {
 public:
  // `config_yaml` is written to <dir>/switchboard.yaml; relative paths in it resolve against <dir>.
  // Starts the process and waits (up to 20 s) for the ready file.
  static absl::StatusOr<std::unique_ptr<RouterProcess>> Start(const std::string& dir,
                                                              const std::string& config_yaml);
  ~RouterProcess();

  // Starts the same config again in the same folder (after Kill/Terminate): same store file.
  absl::Status Restart();
  void Kill();            // SIGKILL, waits for the process
  int Terminate();        // SIGTERM, waits; returns the exit status
  bool Signal(int sig);   // sends `sig` without waiting (SIGHUP: reload; SIGTERM: stop)
  int Wait();             // waits for the process to exit; returns its wait status
  bool Running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when not running

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  std::string webhook_url(const std::string& source) const;
  std::string grpc_target() const;
  const std::string& dir() const { return dir_; }
  std::string log() const;  // the process's stderr/stdout so far

 private:
  explicit RouterProcess(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Launch();

  std::string dir_;
  pid_t pid_ = -1;
  int http_port_ = 0;
  int grpc_port_ = 0;
  int launches_ = 0;
};

// Path of a built binary, e.g. BinaryPath("router/switchboard").
std::string BinaryPath(const std::string& relative);
// A fresh empty folder under the test temp dir.
std::string MakeTempDir(const std::string& prefix);
// A config that starts: the http and grpc listen addresses, an embedded store at
// ./data/switchboard.db, `extra` (top-level YAML lines, e.g. "process: { scheduling: normal }"),
// a Standard Webhooks source "resend" with the Resend sample's secret, an agent "audit" (token
// "audit-token") and a rule sending every event to it.
std::string MinimalRouterConfig(const std::string& http = "127.0.0.1:0",
                                const std::string& grpc = "127.0.0.1:0",
                                const std::string& extra = "");
// The vendored fixture file's bytes (tests/testdata/fixtures/<relative>).
std::string ReadFixture(const std::string& relative);

// grpc.health.v1.Health/Check of the whole server (service "") at `target`: the answer's
// HealthCheckResponse.ServingStatus (grpc/health/v1/health.proto: 0 UNKNOWN, 1 SERVING,
// 2 NOT_SERVING), or -1 on an RPC error. 10 s deadline.
int GrpcHealthStatus(const std::string& target);
inline constexpr int kGrpcServing = 1;
inline constexpr int kGrpcNotServing = 2;

}  // namespace switchboard::testing
