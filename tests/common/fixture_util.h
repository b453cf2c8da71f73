#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "router/providers/webhook_request.h"

// Reading tests/testdata/fixtures: the SHA256SUMS manifest and files by their manifest path.
namespace switchboard::providers::testing {

// Absolute path of a fixture given as in SHA256SUMS ("sendgrid/bounce.json").
std::string FixturePath(std::string_view relative);
// The exact bytes of a fixture; fails the test (empty string) if unreadable.
std::string ReadFixture(std::string_view relative);
// The exact bytes of tests/testdata/<relative> (files outside the vendored fixtures).
std::string ReadTestdata(std::string_view relative);
// SHA256SUMS as {relative path -> lower-case hex SHA-256}, in file order.
std::vector<std::pair<std::string, std::string>> ReadManifest();
// Manifest entries under `folder` whose name ends with `suffix`.
std::vector<std::string> ManifestFiles(std::string_view folder, std::string_view suffix);

// A POST request as the ingress would build it (header names lower-cased).
WebhookRequest MakeRequest(std::string source,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::string body, absl::Time received_at = absl::UnixEpoch());

}  // namespace switchboard::providers::testing
