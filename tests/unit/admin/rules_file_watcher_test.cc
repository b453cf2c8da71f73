#include "router/admin/rules_file_watcher.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/common/scoped_test_dir.h"

namespace switchboard::admin {
namespace {

// The poll thread is given hours between looks; the tests call CheckNow, which does what one
// poll does, so nothing depends on timing.
constexpr absl::Duration kNoPoll = absl::Hours(24);

class RulesFileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "rules.yaml").string();
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  // An apply that refuses any text containing "bad" and records what it accepted.
  RulesFileWatcher::ApplyFn Recorder() {
    return [this](const std::string& yaml) -> absl::Status {
      absl::MutexLock lock(&mu_);
      if (yaml.find("bad") != std::string::npos) {
        ++refused_;
        return absl::InvalidArgumentError("<rules>:1:1: rules[0]: bad rule");
      }
      applied_.push_back(yaml);
      return absl::OkStatus();
    };
  }
  std::vector<std::string> applied() {
    absl::MutexLock lock(&mu_);
    return applied_;
  }

  test_support::ScopedTestDir dir_{"switchboard-watcher-test"};
  std::string path_;
  absl::Mutex mu_;
  std::vector<std::string> applied_;
  int refused_ = 0;
};

TEST_F(RulesFileWatcherTest, CreateAppliesTheFileOnce) {
  Write(path_, "- name: a\n");
  auto watcher = RulesFileWatcher::Create(path_, Recorder(), kNoPoll);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  EXPECT_EQ(applied(), std::vector<std::string>{"- name: a\n"});
  RulesFileWatcher::State state = (*watcher)->Current();
  EXPECT_EQ(state.path, path_);
  EXPECT_EQ(state.yaml, "- name: a\n");
  EXPECT_EQ(state.version, 1);
  EXPECT_TRUE(state.last_error.ok());

  (*watcher)->CheckNow();  // unchanged: not applied again
  EXPECT_EQ(applied().size(), 1u);
  EXPECT_EQ((*watcher)->Current().version, 1);
}

TEST_F(RulesFileWatcherTest, AMissingFileOrARefusedFirstTextFailsCreate) {
  auto missing = RulesFileWatcher::Create(path_, Recorder(), kNoPoll);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path_), std::string::npos) << missing.status();

  Write(path_, "- name: bad\n");
  auto refused = RulesFileWatcher::Create(path_, Recorder(), kNoPoll);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("rules[0]: bad rule"), std::string::npos);
}

TEST_F(RulesFileWatcherTest, AChangeIsAppliedABadOneKeepsTheRulesInUse) {
  Write(path_, "- name: a\n");
  auto watcher = RulesFileWatcher::Create(path_, Recorder(), kNoPoll);
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  Write(path_, "- name: a\n- name: b\n");  // another size: seen whatever the mtime resolution
  (*watcher)->CheckNow();
  EXPECT_EQ((*watcher)->Current().version, 2);
  EXPECT_EQ((*watcher)->Current().yaml, "- name: a\n- name: b\n");

  Write(path_, "- name: bad one\n");
  (*watcher)->CheckNow();
  RulesFileWatcher::State state = (*watcher)->Current();
  EXPECT_EQ(state.version, 2);
  EXPECT_EQ(state.yaml, "- name: a\n- name: b\n");
  EXPECT_EQ(state.last_error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(state.last_error.message().find(path_), std::string::npos) << state.last_error;

  Write(path_, "- name: c\n");
  (*watcher)->CheckNow();
  state = (*watcher)->Current();
  EXPECT_EQ(state.version, 3);
  EXPECT_EQ(state.yaml, "- name: c\n");
  EXPECT_TRUE(state.last_error.ok());
  EXPECT_EQ(applied(), (std::vector<std::string>{"- name: a\n", "- name: a\n- name: b\n",
                                                 "- name: c\n"}));
}

TEST_F(RulesFileWatcherTest, ARemovedFileKeepsTheRulesInUse) {
  Write(path_, "- name: a\n");
  auto watcher = RulesFileWatcher::Create(path_, Recorder(), kNoPoll);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  std::filesystem::remove(path_);
  (*watcher)->CheckNow();
  RulesFileWatcher::State state = (*watcher)->Current();
  EXPECT_EQ(state.version, 1);
  EXPECT_EQ(state.yaml, "- name: a\n");
  EXPECT_EQ(state.last_error.code(), absl::StatusCode::kNotFound);
}

// A Kubernetes ConfigMap volume updates by swapping a symlink to a new directory.
TEST_F(RulesFileWatcherTest, FollowsASwappedSymlink) {
  std::filesystem::create_directories(dir_ / "v1");
  std::filesystem::create_directories(dir_ / "v2");
  Write((dir_ / "v1" / "rules.yaml").string(), "- name: one\n");
  Write((dir_ / "v2" / "rules.yaml").string(), "- name: two, longer\n");
  std::filesystem::create_directory_symlink(dir_ / "v1", dir_ / "data");
  const std::string link = (dir_ / "data" / "rules.yaml").string();
  auto watcher = RulesFileWatcher::Create(link, Recorder(), kNoPoll);
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  std::filesystem::create_directory_symlink(dir_ / "v2", dir_ / "data.new");
  std::filesystem::rename(dir_ / "data.new", dir_ / "data");
  (*watcher)->CheckNow();
  EXPECT_EQ((*watcher)->Current().yaml, "- name: two, longer\n");
  EXPECT_EQ((*watcher)->Current().version, 2);
}

TEST_F(RulesFileWatcherTest, ThePollThreadPicksUpAChange) {
  Write(path_, "- name: a\n");
  auto watcher = RulesFileWatcher::Create(path_, Recorder(), absl::Milliseconds(10));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Write(path_, "- name: a\n- name: b\n");
  // Waits for the outcome, not for a time: the test's own timeout bounds it.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<std::string>* applied) { return applied->size() == 2; }, &applied_));
  EXPECT_EQ(applied_.back(), "- name: a\n- name: b\n");
}

}  // namespace
}  // namespace switchboard::admin
