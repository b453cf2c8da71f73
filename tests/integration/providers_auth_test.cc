// The auth-option providers (Postmark, Mailjet, Brevo, SparkPost) and Mandrill through the real
// HTTP path: a `switchboard` process on its embedded store, every fixture of their folders posted
// as the provider would post it (credentials / signature made with the switchboardctl signer),
// answered 200 with the event counts written below by hand.
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/event_type_names.h"
#include "router/providers/form_urlencoded.h"
#include "tests/integration/router_process.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

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

// Manifest paths under `folder`, in SHA256SUMS order.
std::vector<std::string> ManifestFiles(const std::string& folder) {
  std::ifstream in(std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/testdata/fixtures/SHA256SUMS");
  std::vector<std::string> files;
  std::string hash, path;
  while (in >> hash >> path) {
    if (absl::StartsWith(path, folder + "/")) files.push_back(path);
  }
  return files;
}

struct Answer {
  int status = -1;
  int64_t accepted = -1;
  int64_t duplicates = -1;
  std::string control;
};

Answer Post(const RouterProcess& router, const config::SourceConfig& source, std::string body) {
  if (source.provider == "mandrill") {
    // The fixtures hold the JSON of the mandrill_events field; Mandrill posts it as a form.
    body = "mandrill_events=" + providers::FormUrlEncode(body);
  }
  auto headers = ctl::SignWebhook(source, {body, absl::Now(), "", ""});
  EXPECT_TRUE(headers.ok()) << headers.status();
  if (!headers.ok()) return {};
  auto result = ctl::HttpPost(router.webhook_url(source.name), *headers, body);
  if (!result.ok()) return {};
  Answer answer{result->status};
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(result->body, ec);
  if (!ec && json.is_object()) {
    const boost::json::object& o = json.get_object();
    if (auto* v = o.if_contains("accepted")) answer.accepted = v->to_number<int64_t>();
    if (auto* v = o.if_contains("duplicates")) answer.duplicates = v->to_number<int64_t>();
    if (auto* v = o.if_contains("control")) answer.control = std::string(v->as_string());
  }
  return answer;
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

struct FixtureExpectation {
  std::string fixture;
  int64_t accepted;    // new events
  int64_t duplicates;  // events already committed (an earlier fixture or the same request)
};

class ProvidersAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("switchboard-providers-auth");
    ASSERT_FALSE(dir_.empty());
    auto router = RouterProcess::Start(
        dir_, absl::StrReplaceAll(kConfig, {{"MANDRILL_URL", kMandrillUrl}}));
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
  }
  void TearDown() override {
    if (router_) router_->Kill();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Posts every fixture of `folder` to its source, in manifest order, and checks each answer.
  void PostFolder(const std::string& folder, const std::vector<FixtureExpectation>& expected) {
    const config::SourceConfig source = Sources().at(folder);
    const std::vector<std::string> files = ManifestFiles(folder);
    ASSERT_EQ(files.size(), expected.size()) << "one row per fixture of " << folder;
    for (size_t i = 0; i < files.size(); ++i) {
      SCOPED_TRACE(files[i]);
      ASSERT_EQ(files[i], expected[i].fixture);
      const Answer answer = Post(*router_, source, ReadFixture(files[i]));
      EXPECT_EQ(answer.status, 200) << router_->log();
      EXPECT_EQ(answer.accepted, expected[i].accepted);
      EXPECT_EQ(answer.duplicates, expected[i].duplicates);
    }
  }

  std::string dir_;
  std::unique_ptr<RouterProcess> router_;
};

TEST_F(ProvidersAuthTest, PostmarkFixtures) {
  PostFolder("postmark", {
                             {"postmark/bounce.json", 1, 0},
                             {"postmark/bounce.offset-timestamp.json", 1, 0},
                             {"postmark/bounce.unsubscribe-variant.json", 1, 0},
                             {"postmark/click.anymail.json", 1, 0},
                             {"postmark/click.json", 1, 0},
                             {"postmark/delivery.json", 1, 0},
                             {"postmark/delivery.offset-timestamp.json", 1, 0},
                             {"postmark/inbound.json", 1, 0},
                             {"postmark/inbound.skills.json", 1, 0},
                             // The same test mail (MessageID 0000..., same recipient) again.
                             {"postmark/inbound.with-raw.json", 0, 1},
                             {"postmark/open.json", 1, 0},
                             {"postmark/open.offset-timestamp.json", 1, 0},
                             {"postmark/spam-complaint.anymail.json", 1, 0},
                             {"postmark/spam-complaint.json", 1, 0},
                             {"postmark/subscription-change.hard-bounce.json", 1, 0},
                             {"postmark/subscription-change.json", 1, 0},
                             {"postmark/subscription-change.resubscribe.json", 1, 0},
                         });
}

TEST_F(ProvidersAuthTest, MailjetFixtures) {
  PostFolder("mailjet", {
                            {"mailjet/blocked.json", 1, 0},
                            {"mailjet/bounce.greylisted.json", 1, 0},
                            {"mailjet/bounce.json", 1, 0},
                            {"mailjet/click.json", 1, 0},
                            {"mailjet/inbound.parse.json", 1, 0},
                            {"mailjet/open.json", 1, 0},
                            {"mailjet/sent.grouped-anymail.json", 1, 0},
                            {"mailjet/sent.grouped-batch.json", 2, 0},
                            // The docs' single "sent" is the batch's first event.
                            {"mailjet/sent.json", 0, 1},
                            // anymail's non-grouped sample is its grouped one unwrapped.
                            {"mailjet/sent.non-grouped.json", 0, 1},
                            {"mailjet/spam.json", 1, 0},
                            {"mailjet/unsub.json", 1, 0},
                        });
}

TEST_F(ProvidersAuthTest, BrevoFixtures) {
  PostFolder("brevo", {
                          {"brevo/blocked.json", 1, 0},
                          {"brevo/click.json", 1, 0},
                          {"brevo/complaint.json", 1, 0},
                          {"brevo/deferred.json", 1, 0},
                          {"brevo/delivered.json", 1, 0},
                          {"brevo/error.json", 1, 0},
                          {"brevo/hard_bounce.json", 1, 0},
                          {"brevo/inbound.json", 2, 0},  // To and Cc
                          {"brevo/opened.json", 1, 0},
                          {"brevo/proxy_open.json", 1, 0},
                          {"brevo/request.json", 1, 0},
                          {"brevo/soft_bounce.json", 1, 0},
                          {"brevo/unique_opened.json", 1, 0},
                          {"brevo/unique_proxy_open.json", 1, 0},
                      });
}

TEST_F(ProvidersAuthTest, SparkpostFixtures) {
  PostFolder("sparkpost", {
                              {"sparkpost/amp-events.batch.json", 3, 0},
                              {"sparkpost/bounce.challenge-response.json", 1, 0},
                              {"sparkpost/bounce.json", 1, 0},
                              {"sparkpost/click.amp.json", 1, 0},
                              {"sparkpost/delay.json", 1, 0},
                              {"sparkpost/delivery.json", 1, 0},
                              {"sparkpost/generation-failure.json", 1, 0},
                              {"sparkpost/generation-rejection.json", 1, 0},
                              {"sparkpost/initial-open.json", 1, 0},
                              // Its event_id 92356927693813856 and recipient are delivery.json's.
                              {"sparkpost/injection.json", 0, 1},
                              {"sparkpost/list-unsubscribe.json", 1, 0},
                              {"sparkpost/open.json", 1, 0},
                              {"sparkpost/ping.json", 0, 0},
                              {"sparkpost/relay-message.json", 1, 0},
                          });
  const Answer ping =
      Post(*router_, Sources().at("sparkpost"), ReadFixture("sparkpost/ping.json"));
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.control, "ping");
}

TEST_F(ProvidersAuthTest, MandrillFixturesProbeAndTestCall) {
  PostFolder("mandrill", {
                             // The sample lists one inbound message twice.
                             {"mandrill/inbound-batch.json", 1, 1},
                             {"mandrill/inbound.empty-headers.json", 1, 0},
                             {"mandrill/sample-webhook.compact.json", 3, 0},
                             {"mandrill/sync-blacklist.json", 1, 0},
                             {"mandrill/test-webhook-batch.json", 14, 0},
                         });
  EXPECT_EQ(StatusOf(*router_, "HEAD", "/v1/webhooks/mandrill"), 200);
  EXPECT_EQ(StatusOf(*router_, "GET", "/v1/webhooks/mandrill"), 200);
  EXPECT_EQ(StatusOf(*router_, "GET", "/v1/webhooks/postmark"), 405);
  const Answer test_call = Post(*router_, Sources().at("mandrill"), "[]");
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
