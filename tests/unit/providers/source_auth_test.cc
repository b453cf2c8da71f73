#include "router/providers/source_auth.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/providers/provider_factory.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::MakeRequest;

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "s";
  source.provider = "postmark";
  return source;
}

std::string Basic(std::string_view user_colon_password) {
  return "Basic " + crypto::Base64Encode(user_colon_password);
}

absl::StatusCode Check(const SourceAuth& auth,
                       std::vector<std::pair<std::string, std::string>> headers) {
  return auth.Check(MakeRequest("s", headers, "{}")).code();
}

TEST(SourceAuthTest, NothingConfiguredChecksNothing) {
  auto auth = SourceAuth::Create(Source(), "sources[0]");
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE(auth->configured());
  EXPECT_EQ(Check(*auth, {}), absl::StatusCode::kOk);
  EXPECT_EQ(SourceAuth::CreateRequired(Source(), "sources[0]").status().message(),
            "sources[0].basic_auth: provider postmark signs nothing, so one of basic_auth, "
            "bearer_token or header is required");
}

TEST(SourceAuthTest, Basic) {
  config::SourceConfig source = Source();
  source.basic_auth = config::BasicAuth{"user", "pa:ss word"};
  auto auth = SourceAuth::Create(source, "sources[0]");
  ASSERT_TRUE(auth.ok());
  EXPECT_TRUE(auth->uses_basic_auth());
  // RFC 7617 2: the password may hold ':'; only the user-id may not.
  EXPECT_EQ(Check(*auth, {{"authorization", Basic("user:pa:ss word")}}), absl::StatusCode::kOk);
  EXPECT_EQ(Check(*auth, {{"Authorization", "bAsIc  " + crypto::Base64Encode("user:pa:ss word")}}),
            absl::StatusCode::kOk);
  for (const std::string& bad :
       {Basic("user:pa:ss wor"), Basic("user:pa:ss word "), Basic("User:pa:ss word"),
        Basic("user"), Basic(""), std::string("Basic dXNlcjpwYTpzcyB3b3Jk="),  // not canonical
        std::string("Basic"), std::string("Bearer pa:ss word"), std::string("")}) {
    EXPECT_EQ(Check(*auth, {{"authorization", bad}}), absl::StatusCode::kUnauthenticated) << bad;
  }
  EXPECT_EQ(Check(*auth, {}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(*auth, {{"authorization", Basic("user:pa:ss word")},
                          {"Authorization", Basic("user:pa:ss word")}}),
            absl::StatusCode::kUnauthenticated)
      << "a repeated Authorization header is refused even when both copies match";
}

TEST(SourceAuthTest, BearerAndHeaderCombine) {
  config::SourceConfig source = Source();
  source.bearer_token = "tok-1";
  source.header = config::HeaderAuth{"X-Hook-Secret", "h-2"};
  auto auth = SourceAuth::Create(source, "sources[0]");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE(auth->uses_basic_auth());
  EXPECT_EQ(Check(*auth, {{"authorization", "Bearer tok-1"}, {"x-hook-secret", "h-2"}}),
            absl::StatusCode::kOk);
  EXPECT_EQ(Check(*auth, {{"authorization", "Bearer tok-1"}}),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(*auth, {{"x-hook-secret", "h-2"}}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(*auth, {{"authorization", "Bearer tok-2"}, {"x-hook-secret", "h-2"}}),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check(*auth, {{"authorization", "Bearer tok-1"},
                          {"x-hook-secret", "h-2"},
                          {"X-Hook-Secret", "h-2"}}),
            absl::StatusCode::kUnauthenticated);
}

TEST(SourceAuthTest, RefusesUnusableOptionsNamingTheField) {
  struct Case {
    config::SourceConfig source;
    std::string prefix;
  };
  std::vector<Case> cases;
  cases.push_back({Source(), "sources[1].basic_auth.username: "});
  cases.back().source.basic_auth = config::BasicAuth{"a:b", "p"};
  cases.push_back({Source(), "sources[1].basic_auth.password: "});
  cases.back().source.basic_auth = config::BasicAuth{"a", ""};
  cases.push_back({Source(), "sources[1].bearer_token: "});
  cases.back().source.basic_auth = config::BasicAuth{"a", "p"};
  cases.back().source.bearer_token = "t";
  cases.push_back({Source(), "sources[1].header.name: "});
  cases.back().source.header = config::HeaderAuth{"X Bad", "v"};
  cases.push_back({Source(), "sources[1].header.name: "});
  cases.back().source.bearer_token = "t";
  cases.back().source.header = config::HeaderAuth{"authorization", "v"};
  cases.push_back({Source(), "sources[1].header.value: "});
  cases.back().source.header = config::HeaderAuth{"X-Ok", ""};
  for (const Case& c : cases) {
    auto auth = SourceAuth::Create(c.source, "sources[1]");
    EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument) << c.prefix;
    EXPECT_TRUE(absl::StartsWith(auth.status().message(), c.prefix)) << auth.status();
  }
}

TEST(SourceAuthTest, FactoryPutsAuthInFrontOfSignatureProviders) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  config::SourceConfig source;
  source.name = "resend";
  source.provider = "standard-webhooks";
  source.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
  source.basic_auth = config::BasicAuth{"rs", "pw"};
  auto provider = CreateProvider(source, "sources[0]", clock);
  ASSERT_TRUE(provider.ok()) << provider.status();
  EXPECT_TRUE((*provider)->UsesBasicAuth());
  EXPECT_EQ((*provider)->Tolerance(), absl::Minutes(5)) << "the inner provider's window";
  // Right signature headers are not enough without the credentials.
  EXPECT_EQ((*provider)->Verify(MakeRequest("resend", {}, "{}")).code(),
            absl::StatusCode::kUnauthenticated);
  // Credentials alone are not enough either: the signature is still checked.
  EXPECT_EQ((*provider)->Verify(MakeRequest("resend", {{"authorization", Basic("rs:pw")}}, "{}"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  source.basic_auth.reset();
  auto plain = CreateProvider(source, "sources[0]", clock);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->UsesBasicAuth());
}

}  // namespace
}  // namespace switchboard::providers
