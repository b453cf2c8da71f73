// Mailgun through the real HTTP path: a `switchboard` process with a mailgun source; every fixture
// of mailgun/ posted re-signed with the test key (the bare event-data samples wrapped in Mailgun's
// {"signature","event-data"} body), each event the agent receives checked against the shared
// table (tests/common/expected_mailgun.cc); then the
// token replay cache (the signature covers timestamp + token only, not the body), a bad signature,
// a stale timestamp and a legacy urlencoded webhook.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/integration/fixture_post.h"
#include "tests/integration/router_process.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

namespace json = boost::json;

constexpr char kKey[] = "key-mailgun-integration-test";

constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: mailgun, provider: mailgun, signing_key: "key-mailgun-integration-test", tolerance: 5m }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "mailgun";
  source.provider = "mailgun";
  source.signing_key = kKey;
  return source;
}

// A fresh 50-hex-digit token, as Mailgun sends.
std::string Token(int n) {
  std::string token = absl::StrCat("integration", n, "-", absl::ToUnixNanos(absl::Now()));
  token.resize(50, '0');
  return token;
}

std::string Signed(const std::string& body, absl::Time at, const std::string& token) {
  auto signed_body = ctl::MailgunSignedBody(Source(), body, at, token);
  EXPECT_TRUE(signed_body.ok()) << signed_body.status();
  return signed_body.value_or("");
}

struct Answer {
  int status = -1;
  int64_t accepted = -1;
  int64_t duplicates = -1;
};

class ProvidersMailgunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("switchboard-mailgun");
    ASSERT_FALSE(dir_.empty());
    auto router = RouterProcess::Start(dir_, kConfig);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
  }
  void TearDown() override {
    if (router_) router_->Kill();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  Answer Post(const std::string& body) {
    auto headers = ctl::SignWebhook(Source(), {body, absl::Now(), "", ""});
    EXPECT_TRUE(headers.ok()) << headers.status();
    auto result = ctl::HttpPost(router_->webhook_url("mailgun"), headers.value_or(ctl::Headers{}),
                                body);
    if (!result.ok()) {
      ADD_FAILURE() << result.status();
      return {};
    }
    Answer answer;
    answer.status = result->status;
    if (result->status == 200) {
      const json::object reply = json::parse(result->body).as_object();
      if (const auto* a = reply.if_contains("accepted")) answer.accepted = a->to_number<int64_t>();
      if (const auto* d = reply.if_contains("duplicates")) {
        answer.duplicates = d->to_number<int64_t>();
      }
    }
    return answer;
  }

  std::string dir_;
  std::unique_ptr<RouterProcess> router_;
};

// Every event the agent receives, checked against the table the unit test uses
// (tests/common/expected_mailgun.cc).
TEST_F(ProvidersMailgunTest, EveryFixtureResigned) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  int n = 0;
  const size_t checked = providers::testing::ExpectFixtures(
      {"mailgun", ".json", "mailgun", "mailgun", providers::testing::FixturePath::kHttp},
      providers::testing::MailgunFixtureEvents(),
      [&](const std::string& fixture) -> absl::StatusOr<providers::testing::FixtureOutcome> {
        std::string body = ReadFixture(fixture);
        // The *.event-data.json samples are the event-data object alone.
        if (absl::StrContains(fixture, ".event-data.")) {
          body = absl::StrCat(R"({"event-data":)", body, "}");
        }
        const std::string resigned = Signed(body, absl::Now(), Token(++n));
        auto headers = ctl::SignWebhook(Source(), {resigned, absl::Now(), "", ""});
        if (!headers.ok()) return headers.status();
        return PostAndCollect(*router_, agent, "mailgun", *headers, resigned);
      });
  EXPECT_EQ(checked, 16u);  // the two mgphp vectors: the provider unit test
}

TEST_F(ProvidersMailgunTest, TokenReplayBadSignatureAndStaleTimestamp) {
  const std::string token = Token(100);
  const absl::Time now = absl::Now();
  const std::string body = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/delivered.event-data.json"), "}"), now,
      token);
  Answer first = Post(body);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.accepted, 1);
  // Mailgun's retry: the same bytes, the same token: a duplicate.
  Answer retry = Post(body);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.accepted, 0);
  EXPECT_EQ(retry.duplicates, 1);
  // The same token (so the same valid signature) on another body: a replay, refused.
  const std::string other = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/opened.event-data.json"), "}"), now,
      token);
  EXPECT_EQ(Post(other).status, 401);

  // A signature that does not match: the last hex digit changed.
  std::string bad = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/clicked.event-data.json"), "}"), now,
      Token(101));
  const size_t at = bad.find(R"("signature":")", bad.find(R"("signature":{)") + 1);
  ASSERT_NE(at, std::string::npos);
  char& digit = bad[at + 13 + 63];
  digit = digit == '0' ? '1' : '0';
  EXPECT_EQ(Post(bad).status, 401);

  // Correctly signed, but an hour old against a 5-minute tolerance.
  EXPECT_EQ(Post(Signed(absl::StrCat(R"({"event-data":)",
                                     ReadFixture("mailgun/complained.event-data.json"), "}"),
                        now - absl::Hours(1), Token(102)))
                .status,
            401);
}

// A legacy webhook: a urlencoded form with the event fields and timestamp / token / signature
// (https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/ legacy webhooks).
TEST_F(ProvidersMailgunTest, LegacyFormWebhook) {
  const std::string form =
      "event=delivered&recipient=alice%40example.com&domain=example.com"
      "&Message-Id=%3C20130503182626.18666.16540%40example.com%3E"
      "&timestamp=1&token=old&signature=00";
  const std::string body = Signed(form, absl::Now(), Token(200));
  EXPECT_FALSE(absl::StrContains(body, "token=old"));
  Answer answer = Post(body);
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.accepted, 1);
}

}  // namespace
}  // namespace switchboard::testing
