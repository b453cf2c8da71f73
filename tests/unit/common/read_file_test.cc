// ReadRegularFile (router/common/read_file.h): what it reads, and what it refuses without
// opening it.
#include "router/common/read_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/scoped_test_dir.h"

namespace switchboard {
namespace {

using ::testing::HasSubstr;

class ReadRegularFileTest : public ::testing::Test {
 protected:
  test_support::ScopedTestDir dir_{"switchboard-read-file"};
};

TEST_F(ReadRegularFileTest, ReadsAFileAndALinkToOneByteForByte) {
  const std::string bytes("line one\n\0binary\r\n", 18);
  std::ofstream(dir_ / "file.pem", std::ios::binary) << bytes;
  std::filesystem::create_symlink(dir_ / "file.pem", dir_ / "link.pem");
  EXPECT_EQ(ReadRegularFile((dir_ / "file.pem").string()).value(), bytes);
  EXPECT_EQ(ReadRegularFile((dir_ / "link.pem").string()).value(), bytes);
  std::ofstream(dir_ / "empty.pem");
  EXPECT_EQ(ReadRegularFile((dir_ / "empty.pem").string()).value(), "");
}

TEST_F(ReadRegularFileTest, AMissingFileNamesTheSystemsReason) {
  const std::string path = (dir_ / "missing.pem").string();
  absl::StatusOr<std::string> read = ReadRegularFile(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(read.status().message(),
            absl::StrCat("cannot read \"", path, "\": No such file or directory"));
}

TEST_F(ReadRegularFileTest, AFifoADirectoryAndADeviceAreRefusedWithoutOpeningThem) {
  // A FIFO with no writer: opening it would block this test forever.
  const std::string fifo = (dir_ / "fifo.pem").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, dir_.path().string(), std::string("/dev/null")}) {
    absl::StatusOr<std::string> read = ReadRegularFile(path);
    ASSERT_FALSE(read.ok()) << path;
    EXPECT_THAT(read.status().message(),
                HasSubstr(absl::StrCat("\"", path, "\" is not a regular file")));
  }
}

}  // namespace
}  // namespace switchboard
