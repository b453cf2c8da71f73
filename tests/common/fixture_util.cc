#include "tests/common/fixture_util.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"

namespace switchboard::providers::testing {

std::string FixturePath(std::string_view relative) {
  return std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/testdata/fixtures/" + std::string(relative);
}

std::string ReadFixture(std::string_view relative) {
  std::ifstream in(FixturePath(relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read fixture " << relative;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReadTestdata(std::string_view relative) {
  return ReadFixture("../" + std::string(relative));
}

std::vector<std::pair<std::string, std::string>> ReadManifest() {
  std::vector<std::pair<std::string, std::string>> entries;
  std::istringstream in(ReadFixture("SHA256SUMS"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // sha256sum format: 64 hex digits, two spaces (or " *"), the path.
    EXPECT_GT(line.size(), 66u) << line;
    if (line.size() <= 66) continue;
    entries.emplace_back(line.substr(66), line.substr(0, 64));
  }
  return entries;
}

std::vector<std::string> ManifestFiles(std::string_view folder, std::string_view suffix) {
  std::vector<std::string> files;
  const std::string prefix = std::string(folder) + "/";
  for (const auto& [path, digest] : ReadManifest()) {
    if (path.starts_with(prefix) && path.ends_with(suffix)) files.push_back(path);
  }
  return files;
}

WebhookRequest MakeRequest(std::string source,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string body, absl::Time received_at) {
  WebhookRequest request;
  request.source = source;
  request.method = "POST";
  request.target = "/v1/webhooks/" + source;
  for (const auto& [name, value] : headers) {
    request.headers.emplace_back(absl::AsciiStrToLower(name), value);
  }
  request.body = std::move(body);
  request.received_at = received_at;
  return request;
}

}  // namespace switchboard::providers::testing
