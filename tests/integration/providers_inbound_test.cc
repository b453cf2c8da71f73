// SendGrid Inbound Parse through the real HTTP path: a `switchboard` process on its embedded store,
// both Inbound Parse captures posted as SendGrid posts them (multipart/form-data with boundary
// xYzZY, basic credentials from the URL), each event the agent receives checked against the shared
// table; refusals, the switchboardctl sample and a 12 MiB mail.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/common/expected_tables.h"
#include "tests/integration/fixture_post.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

// No max_body on the source: sendgrid-inbound's 30 MiB default applies (http.max_body is 10 MiB).
constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: parse, provider: sendgrid-inbound, basic_auth: { username: sg, password: "parse-pass" } }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "parse";
  source.provider = "sendgrid-inbound";
  source.basic_auth = config::BasicAuth{"sg", "parse-pass"};
  return source;
}

WebhookAnswer Post(const RouterProcess& router, const std::string& body,
                   std::vector<std::pair<std::string, std::string>> headers) {
  WebhookAnswer answer = PostForAnswer(router, "parse", headers, body);
  EXPECT_TRUE(answer.error.empty()) << answer.error;
  return answer;
}

// Headers as SendGrid sends them for this source (switchboardctl's signer: Content-Type with the
// body's boundary, Authorization from the source's basic_auth).
std::vector<std::pair<std::string, std::string>> SendgridHeaders(const std::string& body) {
  auto headers = ctl::SignWebhook(Source(), {body, absl::Now(), "", ""});
  EXPECT_TRUE(headers.ok()) << headers.status();
  return headers.ok() ? *headers : std::vector<std::pair<std::string, std::string>>{};
}

class ProvidersInboundTest : public RouterTest {
 protected:
  ProvidersInboundTest() : RouterTest("switchboard-providers-inbound") {}
  void SetUp() override { StartRouter(kConfig); }
};

// Both captures are the same mail (same Message-ID, same envelope recipient): the same event id,
// so the second is answered as a duplicate and delivered once. Each event the agent receives is
// checked against the table the unit test uses (tests/common/expected_sendgrid_inbound.cc).
TEST_F(ProvidersInboundTest, BothCapturesOverHttp) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  const size_t checked = providers::testing::ExpectFixtures(
      {"sendgrid", ".multipart", "sendgrid-inbound", "parse",
       providers::testing::FixturePath::kHttp},
      providers::testing::SendgridInboundFixtureEvents(), [&](const std::string& fixture) {
        const std::string body = ReadFixture(fixture);
        return PostAndCollect(*router_, agent, "parse", SendgridHeaders(body), body);
      });
  EXPECT_EQ(checked, 2u);
}

TEST_F(ProvidersInboundTest, RefusesBadCredentialsAndMalformedForms) {
  const std::string lf = ReadFixture("sendgrid/inbound-parse.multipart");
  auto headers = SendgridHeaders(lf);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(Post(*router_, lf, {headers[0]}).status, 401);  // no Authorization
  EXPECT_EQ(Post(*router_, lf, {headers[0], {"Authorization", "Basic c2c6d3Jvbmc="}}).status,
            401);  // sg:wrong
  // Authentic but not a form SendGrid posts: quarantined and answered 200 with nothing
  // accepted (never 400, so SendGrid neither retries it forever nor drops it unseen).
  const WebhookAnswer malformed = Post(*router_, "not a form", headers);
  EXPECT_EQ(malformed.status, 200) << router_->log();
  EXPECT_EQ(malformed.quarantined, 1);
}

TEST_F(ProvidersInboundTest, SampleFromSwitchboardctlAndLargeMail) {
  auto sample = ctl::SamplePayload("sendgrid-inbound", "", v1::EVENT_TYPE_RECEIVED,
                                   "reply@parse.example.com", absl::Now(), "sample-1");
  ASSERT_TRUE(sample.ok()) << sample.status();
  const WebhookAnswer answer = Post(*router_, *sample, SendgridHeaders(*sample));
  EXPECT_EQ(answer.status, 200) << router_->log();
  EXPECT_EQ(answer.accepted, 1);

  // A 12 MiB attachment: above http.max_body (10 MiB), inside the inbound default (30 MiB).
  std::string large = ReadFixture("sendgrid/inbound-parse.multipart");
  const std::string attachment = absl::StrCat(
      "\n--xYzZY\nContent-Disposition: form-data; name=\"attachment1\"; filename=\"big.bin\"\n"
      "Content-Type: application/octet-stream\n\n",
      std::string(12u << 20, 'a'), "\n--xYzZY--");
  large = absl::StrReplaceAll(large, {{"\n--xYzZY--", attachment}});
  ASSERT_GT(large.size(), 12u << 20);
  const WebhookAnswer big = Post(*router_, large, SendgridHeaders(large));
  EXPECT_EQ(big.status, 200) << router_->log();
  EXPECT_EQ(big.accepted, 1);
}

}  // namespace
}  // namespace switchboard::testing
