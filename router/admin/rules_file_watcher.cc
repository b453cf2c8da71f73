#include "router/admin/rules_file_watcher.h"

#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "spdlog/spdlog.h"

namespace switchboard::admin {

absl::StatusOr<std::unique_ptr<RulesFileWatcher>> RulesFileWatcher::Create(std::string path,
                                                                           ApplyFn apply,
                                                                           absl::Duration poll) {
  std::unique_ptr<RulesFileWatcher> watcher(
      new RulesFileWatcher(std::move(path), std::move(apply), poll));
  {
    absl::MutexLock lock(&watcher->load_mu_);
    absl::Status loaded = watcher->Load();
    if (!loaded.ok()) return loaded;
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  return watcher;
}

RulesFileWatcher::RulesFileWatcher(std::string path, ApplyFn apply, absl::Duration poll)
    : path_(std::move(path)), apply_(std::move(apply)), poll_(poll) {
  state_.path = path_;
}

RulesFileWatcher::~RulesFileWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

RulesFileWatcher::State RulesFileWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::Status RulesFileWatcher::Load() {
  std::error_code error;
  const auto mtime = std::filesystem::last_write_time(path_, error);
  const uintmax_t size = error ? 0 : std::filesystem::file_size(path_, error);
  std::string text;
  if (!error) {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in) error = std::make_error_code(std::errc::io_error);
    text = buffer.str();
  }
  absl::Status status;
  if (error) {
    status = absl::NotFoundError(
        absl::StrCat("admin.rules_file: cannot read ", path_, ": ", error.message()));
  } else {
    status = apply_(text);
    if (!status.ok()) {
      status = absl::Status(status.code(),
                            absl::StrCat("admin.rules_file ", path_, ": ", status.message()));
    }
  }
  absl::MutexLock lock(&mu_);
  state_.last_error = status;
  if (!status.ok()) return status;
  mtime_ = mtime;
  size_ = size;
  state_.yaml = std::move(text);
  ++state_.version;
  return status;
}

void RulesFileWatcher::CheckNow() {
  absl::MutexLock lock(&load_mu_);
  std::error_code error;
  const auto mtime = std::filesystem::last_write_time(path_, error);
  const uintmax_t size = error ? 0 : std::filesystem::file_size(path_, error);
  if (!error && mtime == mtime_ && size == size_) return;
  // A failed load leaves the stamp as it was, so it is retried at the next poll; log once per
  // distinct error.
  const std::string previous = Current().last_error.ToString();
  absl::Status status = Load();
  if (status.ok()) {
    spdlog::info(boost::json::serialize(boost::json::object{
        {"event", "rules"}, {"origin", path_}, {"version", Current().version}}));
  } else if (status.ToString() != previous) {
    spdlog::error(boost::json::serialize(boost::json::object{
        {"event", "rules"},
        {"origin", path_},
        {"error", absl::StrCat("the rules in use stay: ", status.message())}}));
  }
}

void RulesFileWatcher::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), poll_);
    if (stopping_) break;
    mu_.Unlock();
    CheckNow();
    mu_.Lock();
  }
}

}  // namespace switchboard::admin
