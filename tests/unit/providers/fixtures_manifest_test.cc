#include <map>
#include <string>

#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers::testing {
namespace {

TEST(FixturesManifestTest, EveryListedFileHasItsChecksum) {
  const auto manifest = ReadManifest();
  ASSERT_FALSE(manifest.empty());
  for (const auto& [path, digest] : manifest) {
    auto actual = crypto::Sha256(ReadFixture(path));
    ASSERT_TRUE(actual.ok());
    EXPECT_EQ(crypto::HexEncode(*actual), digest) << path;
  }
}

// Counted from SHA256SUMS when the fixtures were vendored: 209 payload files + SOURCES.md.
TEST(FixturesManifestTest, CountsPerFolder) {
  std::map<std::string, int> counts;
  int files = 0;
  bool has_sources = false;
  for (const auto& [path, digest] : ReadManifest()) {
    const size_t slash = path.find('/');
    if (slash == std::string::npos) {
      has_sources = has_sources || path == "SOURCES.md";
      continue;
    }
    ++counts[path.substr(0, slash)];
    ++files;
  }
  EXPECT_TRUE(has_sources);
  EXPECT_EQ(files, 209);
  const std::map<std::string, int> expected = {
      {"agentmail", 10}, {"brevo", 14},    {"customerio", 6},   {"mailgun", 18},
      {"mailjet", 12},   {"mandrill", 5},  {"postal", 12},      {"postmark", 17},
      {"resend_svix", 16}, {"sendgrid", 41}, {"ses_sns", 44},   {"sparkpost", 14},
  };
  EXPECT_EQ(counts, expected);
}

}  // namespace
}  // namespace switchboard::providers::testing
