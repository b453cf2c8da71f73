// A fresh folder for one test, removed when the test ends. Header-only test support: needs
// GoogleTest (for the running test's name) and Abseil.
#ifndef SWITCHBOARD_TESTS_COMMON_SCOPED_TEST_DIR_H_
#define SWITCHBOARD_TESTS_COMMON_SCOPED_TEST_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace switchboard::test_support {

// Creates `<temp dir>/<prefix>-<pid>-<test name>` empty (a leftover of a crashed earlier run is
// removed first) and removes it with everything in it on destruction. The pid keeps concurrent
// test programs apart; the test name keeps the tests of one program apart. Construct it in a
// fixture's SetUp or a test body, while a test is running.
class ScopedTestDir {
 public:
  explicit ScopedTestDir(const std::string& prefix)
      : path_(std::filesystem::temp_directory_path() /
              absl::StrCat(prefix, "-", getpid(), "-",
                           ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScopedTestDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTestDir(const ScopedTestDir&) = delete;
  ScopedTestDir& operator=(const ScopedTestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // `path() / name`.
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace switchboard::test_support

#endif  // SWITCHBOARD_TESTS_COMMON_SCOPED_TEST_DIR_H_
