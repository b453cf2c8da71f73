// Every published signature vector, enumerated from SHA256SUMS: "valid" ones verify, "invalid" ones
// are refused with kUnauthenticated. The clock is pinned at the vector's verify_at_unix, else at
// its signed timestamp, so the default tolerance windows apply unchanged.
#include <string>

#include <boost/json/parse.hpp>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/providers/provider_factory.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers::testing {
namespace {

namespace json = boost::json;

struct Outcome {
  int valid = 0;
  int invalid = 0;
};

// void, so that gtest's ASSERT_* can return early.
void RunVectors(std::string_view folder, std::string_view provider_kind, Outcome& outcome) {
  for (const std::string& path : ManifestFiles(folder, ".vector.json")) {
    SCOPED_TRACE(path);
    json::value doc;
    ASSERT_NO_THROW(doc = json::parse(ReadFixture(path)));
    const json::object& v = doc.as_object();
    config::SourceConfig source;
    source.name = "test";
    source.provider = std::string(provider_kind);
    if (const auto* secret = v.if_contains("secret")) {
      source.secrets.push_back(std::string(secret->as_string()));
    }
    if (const auto* key = v.if_contains("public_key")) {
      source.public_key = std::string(key->as_string());
    }
    std::vector<std::pair<std::string, std::string>> headers;
    absl::Time now = absl::UnixEpoch();
    for (const auto& h : v.at("headers").as_object()) {
      headers.emplace_back(std::string(h.key()), std::string(h.value().as_string()));
      int64_t seconds = 0;
      if (h.key().ends_with("imestamp") &&
          absl::SimpleAtoi(absl::string_view(h.value().as_string().data(),
                                             h.value().as_string().size()),
                           &seconds)) {
        now = absl::FromUnixSeconds(seconds);
      }
    }
    if (const auto* at = v.if_contains("verify_at_unix")) now = absl::FromUnixSeconds(at->as_int64());
    std::string body = v.contains("body")
                           ? std::string(v.at("body").as_string())
                           : ReadFixture(std::string(folder) + "/" +
                                         std::string(v.at("body_file").as_string()));
    FakeClock clock(now);
    auto provider = CreateProvider(source, "sources[0]", clock);
    ASSERT_TRUE(provider.ok()) << provider.status();
    const absl::Status status = (*provider)->Verify(MakeRequest("test", headers, body));
    if (v.at("expected").as_string() == "valid") {
      EXPECT_TRUE(status.ok()) << status;
      ++outcome.valid;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      ++outcome.invalid;
    }
  }
}

TEST(SignatureVectorsTest, StandardWebhooks) {
  Outcome outcome;
  RunVectors("resend_svix", "standard-webhooks", outcome);
  EXPECT_EQ(outcome.valid, 4);
  EXPECT_EQ(outcome.invalid, 3);
}

TEST(SignatureVectorsTest, Sendgrid) {
  Outcome outcome;
  RunVectors("sendgrid", "sendgrid", outcome);
  EXPECT_EQ(outcome.valid, 3);
  EXPECT_EQ(outcome.invalid, 9);
}

}  // namespace
}  // namespace switchboard::providers::testing
