#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {

// A GoogleTest fixture with one real router (router_) in a fresh temporary folder (dir_,
// MakeTempDir(<dir_prefix>)). TearDown kills the router and removes the folder when the test
// passed; after a failure the folder stays, with the router's store and its log
// (RouterProcess::log()). A fixture that owns more (agents, a second router) releases it in its
// own TearDown before calling RouterTest::TearDown().
class RouterTest : public ::testing::Test {
 protected:
  explicit RouterTest(std::string dir_prefix) : dir_prefix_(std::move(dir_prefix)) {}

  // Makes dir_ unless it exists already; a fatal failure when the folder cannot be made.
  void MakeDir() {
    if (!dir_.empty()) return;
    dir_ = MakeTempDir(dir_prefix_);
    ASSERT_FALSE(dir_.empty()) << "cannot make a folder " << dir_prefix_ << "-XXXXXX";
  }

  // Starts router_ on `config_yaml` (RouterProcess::Start) in dir_, made first when needed; a
  // fatal failure with RouterProcess::Start's error when the router does not come up.
  void StartRouter(const std::string& config_yaml) {
    ASSERT_NO_FATAL_FAILURE(MakeDir());
    auto router = RouterProcess::Start(dir_, config_yaml);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
  }

  void TearDown() override {
    if (router_) router_->Kill();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<RouterProcess> router_;

 private:
  std::string dir_prefix_;
};

}  // namespace switchboard::testing
