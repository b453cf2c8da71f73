#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace switchboard::admin {

// GitOps mode (config `admin.rules_file`): the routing rules come from a file (typically a mounted
// Kubernetes ConfigMap) instead of the store, and the admin API refuses rule writes.
//
// The file holds a rules document (the `rules:` list on its own, as config::ParseRulesYaml reads
// it). Create reads and applies it once; then a thread looks at the file's modification time and
// size every `poll` and, when either changed, reads it again and hands the text to `apply`. A
// ConfigMap update swaps a symlink; the watcher follows symlinks, so it sees that too. If `apply`
// refuses a new text (kInvalidArgument: a bad rule) or the file cannot be read, the error is
// logged, kept in State::last_error, and the rules in use stay.
//
// Thread-safe. `apply` runs on the watcher's thread (and on the caller's in Create), never
// concurrently with itself.
class RulesFileWatcher {
 public:
  using ApplyFn = std::function<absl::Status(const std::string& yaml)>;

  struct State {
    std::string path;
    std::string yaml;      // the text in use
    int64_t version = 0;   // 1 after Create, +1 per applied change
    absl::Status last_error;  // of the last read or apply (OK once one succeeded since)
  };

  // kNotFound / kFailedPrecondition: the file cannot be read; or the error of the first `apply`.
  static absl::StatusOr<std::unique_ptr<RulesFileWatcher>> Create(
      std::string path, ApplyFn apply, absl::Duration poll = absl::Seconds(1));
  ~RulesFileWatcher();
  RulesFileWatcher(const RulesFileWatcher&) = delete;
  RulesFileWatcher& operator=(const RulesFileWatcher&) = delete;

  State Current() const;

  // Checks the file now, as the poll would (for tests and for a SIGHUP).
  void CheckNow();

 private:
  RulesFileWatcher(std::string path, ApplyFn apply, absl::Duration poll);
  absl::Status Load();  // read + apply; updates the stamp on success
  void Run();

  const std::string path_;
  const ApplyFn apply_;
  const absl::Duration poll_;

  absl::Mutex load_mu_;  // serializes Load (poll thread vs CheckNow)
  std::filesystem::file_time_type mtime_ ABSL_GUARDED_BY(load_mu_);
  uintmax_t size_ ABSL_GUARDED_BY(load_mu_) = 0;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // last
};

}  // namespace switchboard::admin
