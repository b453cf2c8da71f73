// switchboard: the router. Thin: flags -> load config -> App::Create -> serve until SIGTERM/SIGINT,
// reloading the config on SIGHUP or when its file changes.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "router/app/app.h"
#include "router/common/build_version.h"
#include "router/common/clock.h"
#include "router/common/cpus.h"
#include "router/common/crash_report.h"
#include "router/common/logging.h"
#include "router/config/config_loader.h"
#include "spdlog/spdlog.h"

namespace {

// Writes {"http": PORT, "grpc": PORT} atomically (temp file + rename), so a reader never sees half.
bool WriteReadyFile(const std::string& path, int http, int grpc) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"http\": " << http << ", \"grpc\": " << grpc << "}\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// The config file's modification time (following symlinks, as a mounted ConfigMap swaps them);
// nullopt while it cannot be read.
std::optional<std::filesystem::file_time_type> ConfigMtime(const std::string& path) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  return mtime;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"switchboard: a router for email-event webhooks"};
  std::string config_path = "switchboard.yaml";
  std::string ready_file;
  std::string check_config;
  cli.add_option("--config", config_path, "config file");
  cli.add_option("--ready-file", ready_file,
                 "after listening, write {\"http\": PORT, \"grpc\": PORT} here");
  cli.add_option("--check-config", check_config, "validate this config file and exit");
  cli.set_version_flag("--version", std::string(switchboard::BuildVersion()),
                       "print the build's version (router/common/build_version.h) and exit");
  CLI11_PARSE(cli, argc, argv);
  // Before any thread starts: a crash leaves the signal and the failing thread's stack in the log.
  switchboard::InstallCrashReport(argv[0], std::string(switchboard::BuildVersion()).c_str());

  // Debian's Abseil is built with its debug checks, which include a lock-order (deadlock) check
  // on every absl::Mutex acquired while another is held, which makes each such lock about four
  // times as expensive; the router's hot paths nest locks (dispatcher -> stream). The tests keep
  // the check on, so a lock-order inversion still fails them; the router does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  switchboard::InitJsonLogging();
  const switchboard::Clock& clock = switchboard::SystemClock::Get();

  if (!check_config.empty()) {
    auto config = switchboard::config::LoadConfigFile(check_config);
    absl::Status status = config.ok() ? switchboard::app::CheckConfig(*config, clock)
                                      : config.status();
    if (!status.ok()) {
      std::cerr << "switchboard: " << status.message() << "\n";
      return 1;
    }
    std::cout << check_config << ": ok\n";
    return 0;
  }

  // Block the stop and reload signals before any thread starts, so every thread inherits the
  // mask and the main thread alone takes them with sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = switchboard::config::LoadConfigFile(config_path);
  if (!config.ok()) {
    spdlog::critical(absl::StrCat("config: ", config.status().message()));
    return 1;
  }
  // Before any thread starts, like the signal mask: each thread the router starts inherits it.
  // `normal` is set too, not assumed: the router may have been started under `chrt --batch`.
  std::string scheduling = config->process.scheduling;
  if (absl::Status set = switchboard::UseBatchScheduling(scheduling == "batch"); !set.ok()) {
    scheduling = "inherited";
    spdlog::warn(absl::StrCat(R"({"event":"startup","scheduling":"inherited","reason":)",
                              boost::json::serialize(boost::json::string(
                                  std::string(set.message()))),
                              "}"));
  }
  auto app = switchboard::app::App::Create(*std::move(config), clock);
  if (!app.ok()) {
    spdlog::critical(absl::StrCat("startup: ", app.status().message()));
    return 1;
  }
  if (auto s = (*app)->Start(); !s.ok()) {
    spdlog::critical(absl::StrCat("startup: ", s.message()));
    return 1;
  }
  spdlog::info(absl::StrCat("{\"event\":\"listening\",\"version\":\"",
                            std::string(switchboard::BuildVersion()), "\",\"http\":",
                            (*app)->http_port(),
                            ",\"grpc\":", (*app)->grpc_port(),
                            ",\"http_io_threads\":", (*app)->http_io_threads(),
                            ",\"scheduling\":\"", scheduling, "\"}"));
  if (!ready_file.empty() &&
      !WriteReadyFile(ready_file, (*app)->http_port(), (*app)->grpc_port())) {
    spdlog::critical(absl::StrCat("cannot write --ready-file ", ready_file));
    return 1;
  }

  // Until SIGTERM/SIGINT: reload on SIGHUP, and when the config file's mtime changes (polled
  // every second; secrets in *_file files are re-read on SIGHUP or with the config file).
  std::optional<std::filesystem::file_time_type> seen = ConfigMtime(config_path);
  int sig = 0;
  for (;;) {
    const timespec poll{.tv_sec = 1, .tv_nsec = 0};
    sig = sigtimedwait(&signals, nullptr, &poll);
    if (sig == SIGTERM || sig == SIGINT) break;
    const std::optional<std::filesystem::file_time_type> mtime = ConfigMtime(config_path);
    if (sig != SIGHUP && mtime == seen) continue;
    seen = mtime;  // a broken file is reported once, not every second
    spdlog::info(absl::StrCat("{\"event\":\"reload\",\"trigger\":\"",
                              sig == SIGHUP ? "SIGHUP" : "file changed", "\"}"));
    auto next = switchboard::config::LoadConfigFile(config_path);
    if (!next.ok()) {
      spdlog::error(absl::StrCat("{\"event\":\"reload\",\"result\":\"refused\",\"error\":",
                                 boost::json::serialize(boost::json::string(
                                     std::string(next.status().message()))),
                                 ",\"note\":\"the running config stays\"}"));
      continue;
    }
    (void)(*app)->Reload(*std::move(next));  // logs its own outcome
  }
  spdlog::info(absl::StrCat("{\"event\":\"shutdown\",\"signal\":", sig, "}"));
  (*app)->Shutdown(absl::Seconds(10));
  app->reset();
  spdlog::info("{\"event\":\"stopped\"}");
  return 0;
}
