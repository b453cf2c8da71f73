// The auth-option providers (Postmark, Mailjet, Brevo, SparkPost) and Mandrill through the real
// HTTP path: a `switchboard` process on its embedded store, every fixture of their folders posted
// as the provider would post it (credentials / signature made with the switchboardctl signer), and
// every event an agent receives checked against the hand-written tables the unit tests use
// (tests/common/expected_tables.h).
#include <boost/asio.hpp>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/event_type_names.h"
#include "router/providers/form_urlencoded.h"
#include "tests/common/expected_tables.h"
#include "tests/integration/fixture_post.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

using providers::testing::ExpectedEvent;

constexpr char kAuditToken[] = "audit-token-0123456789";
constexpr char kMandrillUrl[] = "https://hooks.example.com/v1/webhooks/mandrill";

constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: postmark, provider: postmark, basic_auth: { username: pm, password: "pm-pass" } }
  - { name: mailjet, provider: mailjet, basic_auth: { username: mj, password: "mj-pass" } }
  - { name: brevo, provider: brevo, bearer_token: "brevo-token" }
  - { name: sparkpost, provider: sparkpost, header: { name: X-Webhook-Token, value: "sp-token" } }
  - { name: mandrill, provider: mandrill, key: "mandrill-key", url: "MANDRILL_URL" }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

// The same sources as the router holds, for the signer.
std::map<std::string, config::SourceConfig> Sources() {
  std::map<std::string, config::SourceConfig> sources;
  auto add = [&](std::string name) -> config::SourceConfig& {
    config::SourceConfig& s = sources[name];
    s.name = name;
    s.provider = name;
    return s;
  };
  add("postmark").basic_auth = config::BasicAuth{"pm", "pm-pass"};
  add("mailjet").basic_auth = config::BasicAuth{"mj", "mj-pass"};
  add("brevo").bearer_token = "brevo-token";
  add("sparkpost").header = config::HeaderAuth{"X-Webhook-Token", "sp-token"};
  config::SourceConfig& mandrill = add("mandrill");
  mandrill.key = "mandrill-key";
  mandrill.url = kMandrillUrl;
  return sources;
}

// The request body as the provider posts a fixture.
std::string Body(const config::SourceConfig& source, std::string fixture) {
  if (source.provider != "mandrill") return fixture;
  // The fixtures hold the JSON of the mandrill_events field; Mandrill posts it as a form.
  return "mandrill_events=" + providers::FormUrlEncode(fixture);
}

WebhookAnswer Post(const RouterProcess& router, const config::SourceConfig& source,
                   std::string body) {
  body = Body(source, std::move(body));
  auto headers = ctl::SignWebhook(source, {body, absl::Now(), "", ""});
  EXPECT_TRUE(headers.ok()) << headers.status();
  if (!headers.ok()) return {};
  return PostForAnswer(router, source.name, *headers, body);
}

// The status line of a bodiless request (GET / HEAD) to the router.
int StatusOf(const RouterProcess& router, const std::string& method, const std::string& path) {
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(router.http_port())},
                 ec);
  if (ec) return -1;
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  net::write(socket, net::buffer(request), ec);
  std::string response;
  char buffer[512];
  while (!ec && response.find("\r\n") == std::string::npos) {
    const size_t n = socket.read_some(net::buffer(buffer), ec);
    response.append(buffer, n);
  }
  if (!absl::StartsWith(response, "HTTP/1.1 ") || response.size() < 12) return -1;
  return std::stoi(response.substr(9, 3));
}

class ProvidersAuthTest : public RouterTest {
 protected:
  ProvidersAuthTest() : RouterTest("switchboard-providers-auth") {}
  void SetUp() override {
    StartRouter(absl::StrReplaceAll(kConfig, {{"MANDRILL_URL", kMandrillUrl}}));
  }

  // Posts every fixture of `folder` to its source, in manifest order, and checks that the agent
  // receives exactly the events `table` lists (less the duplicates the router answers as such).
  void ExpectFolder(const std::string& folder, const std::vector<ExpectedEvent>& table,
                    size_t files) {
    RawAgent agent(router_->grpc_target(), "audit", kAuditToken);
    ASSERT_TRUE(agent.WaitWelcome().ok());
    const config::SourceConfig source = Sources().at(folder);
    const size_t checked = providers::testing::ExpectFixtures(
        {folder, ".json", folder, folder, providers::testing::FixturePath::kHttp}, table,
        [&](const std::string& fixture) -> absl::StatusOr<providers::testing::FixtureOutcome> {
          const std::string body = Body(source, ReadFixture(fixture));
          auto headers = ctl::SignWebhook(source, {body, absl::Now(), "", ""});
          if (!headers.ok()) return headers.status();
          return PostAndCollect(*router_, agent, source.name, *headers, body);
        });
    EXPECT_EQ(checked, files);
  }
};

TEST_F(ProvidersAuthTest, PostmarkFixtures) {
  ExpectFolder("postmark", providers::testing::PostmarkFixtureEvents(), 17);
}

TEST_F(ProvidersAuthTest, MailjetFixtures) {
  ExpectFolder("mailjet", providers::testing::MailjetFixtureEvents(), 12);
}

TEST_F(ProvidersAuthTest, BrevoFixtures) {
  ExpectFolder("brevo", providers::testing::BrevoFixtureEvents(), 14);
}

TEST_F(ProvidersAuthTest, SparkpostFixtures) {
  ExpectFolder("sparkpost", providers::testing::SparkpostFixtureEvents(), 14);
  const WebhookAnswer ping =
      Post(*router_, Sources().at("sparkpost"), ReadFixture("sparkpost/ping.json"));
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.control, "ping");
}

TEST_F(ProvidersAuthTest, MandrillFixturesProbeAndTestCall) {
  ExpectFolder("mandrill", providers::testing::MandrillFixtureEvents(), 5);
  EXPECT_EQ(StatusOf(*router_, "HEAD", "/v1/webhooks/mandrill"), 200);
  EXPECT_EQ(StatusOf(*router_, "GET", "/v1/webhooks/mandrill"), 200);
  EXPECT_EQ(StatusOf(*router_, "GET", "/v1/webhooks/postmark"), 405);
  const WebhookAnswer test_call = Post(*router_, Sources().at("mandrill"), "[]");
  EXPECT_EQ(test_call.status, 200);
  EXPECT_EQ(test_call.control, "empty-batch");
}

TEST_F(ProvidersAuthTest, WrongCredentialsAre401) {
  std::map<std::string, config::SourceConfig> wrong = Sources();
  wrong["postmark"].basic_auth->password = "nope";
  wrong["mailjet"].basic_auth.reset();
  wrong["brevo"].bearer_token = "brevo-token2";
  wrong["sparkpost"].header->value = "sp-tokem";
  wrong["mandrill"].url = "https://hooks.example.com/v1/webhooks/mandrill/";
  for (const auto& [name, source] : wrong) {
    SCOPED_TRACE(name);
    auto body = ctl::SamplePayload(source.provider, "", v1::EVENT_TYPE_DELIVERED, "a@example.com",
                                   absl::Now(), "k1");
    if (!body.ok()) {
      body = ctl::SamplePayload(source.provider, "", v1::EVENT_TYPE_SENT, "a@example.com",
                                absl::Now(), "k1");
    }
    ASSERT_TRUE(body.ok()) << body.status();
    auto headers = ctl::SignWebhook(source, {*body, absl::Now(), "", ""});
    ASSERT_TRUE(headers.ok());
    auto result = ctl::HttpPost(router_->webhook_url(name), *headers, *body);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->status, 401);
  }
}

// What `switchboardctl send --source NAME --event TYPE` posts, for every type each provider has.
TEST_F(ProvidersAuthTest, SamplePayloadsOfEveryTypeAreAccepted) {
  const std::map<std::string, std::vector<v1::EventType>> types = {
      {"postmark",
       {v1::EVENT_TYPE_DELIVERED, v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_COMPLAINED,
        v1::EVENT_TYPE_OPENED, v1::EVENT_TYPE_CLICKED, v1::EVENT_TYPE_UNSUBSCRIBED,
        v1::EVENT_TYPE_RESUBSCRIBED, v1::EVENT_TYPE_RECEIVED}},
      {"mailjet",
       {v1::EVENT_TYPE_DELIVERED, v1::EVENT_TYPE_OPENED, v1::EVENT_TYPE_CLICKED,
        v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED,
        v1::EVENT_TYPE_UNSUBSCRIBED, v1::EVENT_TYPE_RECEIVED}},
      {"brevo",
       {v1::EVENT_TYPE_SENT, v1::EVENT_TYPE_DELIVERED, v1::EVENT_TYPE_DEFERRED,
        v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED,
        v1::EVENT_TYPE_OPENED, v1::EVENT_TYPE_CLICKED, v1::EVENT_TYPE_UNSUBSCRIBED,
        v1::EVENT_TYPE_RECEIVED}},
      {"sparkpost",
       {v1::EVENT_TYPE_SENT, v1::EVENT_TYPE_DELIVERED, v1::EVENT_TYPE_DEFERRED,
        v1::EVENT_TYPE_BOUNCED, v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED,
        v1::EVENT_TYPE_OPENED, v1::EVENT_TYPE_CLICKED, v1::EVENT_TYPE_UNSUBSCRIBED,
        v1::EVENT_TYPE_RECEIVED}},
      {"mandrill",
       {v1::EVENT_TYPE_SENT, v1::EVENT_TYPE_DEFERRED, v1::EVENT_TYPE_BOUNCED,
        v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED, v1::EVENT_TYPE_OPENED,
        v1::EVENT_TYPE_CLICKED, v1::EVENT_TYPE_UNSUBSCRIBED, v1::EVENT_TYPE_RECEIVED}},
  };
  const auto sources = Sources();
  for (const auto& [name, list] : types) {
    for (v1::EventType type : list) {
      SCOPED_TRACE(absl::StrCat(name, " ", EventTypeName(type)));
      const std::string key = absl::StrCat("ctl-", name, "-", EventTypeName(type));
      auto body = ctl::SamplePayload(name, "", type, "Someone@Example.com", absl::Now(), key);
      ASSERT_TRUE(body.ok()) << body.status();
      auto headers = ctl::SignWebhook(sources.at(name), {*body, absl::Now(), key, ""});
      ASSERT_TRUE(headers.ok()) << headers.status();
      auto result = ctl::HttpPost(router_->webhook_url(name), *headers, *body);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->status, 200) << result->body;
      EXPECT_EQ(result->body, "{\"accepted\":1,\"duplicates\":0}");
    }
    EXPECT_EQ(ctl::SamplePayload(name, "", v1::EVENT_TYPE_UNKNOWN, "a@example.com", absl::Now(),
                                 "k")
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace switchboard::testing
