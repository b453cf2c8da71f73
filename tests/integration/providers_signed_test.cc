// The signature providers through the real HTTP path: a `switchboard` process with SendGrid, SES
// (SNS), Postal, Customer.io, generic-HMAC, Resend and AgentMail sources. Every fixture is posted
// signed as the provider signs (SES records wrapped in SNS messages signed with a test certificate
// pinned in the config; SendGrid and Postal with test key pairs) and the events an agent receives
// are checked against the hand-written tables the unit tests use (tests/common/expected_tables.h).
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "router/providers/ses_provider.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"
#include "tests/integration/fixture_post.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

namespace json = boost::json;

constexpr char kTopic[] = "arn:aws:sns:us-east-1:123456789012:ses-events";
constexpr char kCertUrl[] =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
// The Customer.io signing key of the published vectors (customerio/cio.vector.json).
constexpr char kCioKey[] = "755781b5e03a973f3405a85474d5a032a60fd56fabaad66039b12eadd83955fa";
// The Standard Webhooks secret of the published vector (resend_svix/stdwh-sign.vector.json).
constexpr char kWhsec[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kAuditToken[] = "audit-token-0123456789";

using providers::testing::ExpectFixtures;
using providers::testing::FixtureOutcome;
using providers::testing::FixturePath;
using providers::testing::FixtureRun;

struct Keys {
  crypto::RsaKeyPair sns;
  crypto::RsaKeyPair postal;
  crypto::P256KeyPair sendgrid;
};

const Keys& TestKeys() {
  static const Keys* keys = [] {
    const absl::Time now = absl::Now();
    return new Keys{
        crypto::GenerateRsaKeyPair(2048, "sns.amazonaws.com", now - absl::Hours(1),
                                   now + absl::Hours(24))
            .value(),
        crypto::GenerateRsaKeyPair(2048, "postal", now, now + absl::Hours(24)).value(),
        crypto::GenerateP256KeyPair().value()};
  }();
  return *keys;
}

std::string Config() {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: ses, provider: ses, topic_arns: ["TOPIC"], auto_confirm: true,
      pinned_certs: { "CERT_URL": certs/sns.pem } }
  - { name: postal, provider: postal, public_key: "POSTAL_KEY" }
  - { name: customerio, provider: customerio, signing_key: "CIO_KEY", tolerance: 5m }
  - { name: acme, provider: generic-hmac, secret: "acme-secret", header: X-Signature,
      algorithm: sha256, encoding: hex, prefix: "sha256=", signed: "{timestamp}.{body}",
      timestamp_header: X-Timestamp, tolerance: 5m,
      mapping: { id: /id, type: /type, recipient: /email, occurred_at: /ts },
      types: { "email.clicked": clicked, "email.bounced": bounced } }
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["WHSEC"] }
  - { name: agentmail, provider: standard-webhooks, vendor: agentmail, secrets: ["WHSEC"] }
  - { name: sendgrid, provider: sendgrid, public_key: "SENDGRID_KEY" }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)",
                             {{"TOPIC", kTopic},
                              {"CERT_URL", kCertUrl},
                              {"POSTAL_KEY", TestKeys().postal.public_key_der_base64},
                              {"CIO_KEY", kCioKey},
                              {"WHSEC", kWhsec},
                              {"SENDGRID_KEY", TestKeys().sendgrid.public_key_der_base64}});
}

class ProvidersSignedTest : public RouterTest {
 protected:
  ProvidersSignedTest() : RouterTest("switchboard-signed") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(MakeDir());
    std::filesystem::create_directories(dir_ + "/certs");
    std::ofstream(dir_ + "/certs/sns.pem") << TestKeys().sns.certificate_pem;
    StartRouter(Config());
  }
  void TearDown() override {
    agent_.reset();
    RouterTest::TearDown();
  }

  // Posts and returns the response's "accepted" count, or -status for a non-200 answer.
  int64_t Post(const std::string& source, const ctl::Headers& headers, const std::string& body) {
    auto result = ctl::HttpPost(router_->webhook_url(source), headers, body);
    if (!result.ok()) {
      ADD_FAILURE() << result.status();
      return -1;
    }
    if (result->status != 200) {
      ADD_FAILURE() << source << ": HTTP " << result->status << " " << result->body << "\n"
                    << router_->log();
      return -result->status;
    }
    return json::parse(result->body).at("accepted").to_number<int64_t>();
  }

  // Checks every sample of `run` over HTTP: `sign` gives the headers for a body signed at a time.
  void ExpectOverHttp(FixtureRun run, const std::vector<providers::testing::ExpectedEvent>& table,
                      size_t files, const std::function<std::string(const std::string&)>& body_of,
                      const std::function<absl::StatusOr<ctl::Headers>(
                          const std::string& fixture, const std::string& body, absl::Time at)>&
                          sign) {
    // One agent for the whole test: acks still in flight when an agent goes away would come back
    // to the next one as redeliveries.
    if (agent_ == nullptr) {
      agent_ = std::make_unique<RawAgent>(router_->grpc_target(), "audit", kAuditToken);
      ASSERT_TRUE(agent_->WaitWelcome().ok());
    }
    RawAgent& agent = *agent_;
    run.path = FixturePath::kHttp;
    const size_t checked =
        ExpectFixtures(run, table, [&](const std::string& fixture) -> absl::StatusOr<FixtureOutcome> {
          const std::string body = body_of(fixture);
          const absl::Time at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
          auto headers = sign(fixture, body, at);
          if (!headers.ok()) return headers.status();
          auto outcome = PostAndCollect(*router_, agent, run.source, *headers, body);
          if (outcome.ok()) outcome->signed_at_seconds = absl::ToUnixSeconds(at);
          return outcome;
        });
    EXPECT_EQ(checked, files);
  }

  std::unique_ptr<RawAgent> agent_;  // created by the first ExpectOverHttp
};

config::SourceConfig SourceOf(const std::string& name, const std::string& provider) {
  config::SourceConfig source;
  source.name = name;
  source.provider = provider;
  return source;
}

TEST_F(ProvidersSignedTest, EveryResendAndAgentMailFixture) {
  for (const auto& [name, folder] : {std::pair<std::string, std::string>{"resend", "resend_svix"},
                                     {"agentmail", "agentmail"}}) {
    SCOPED_TRACE(name);
    config::SourceConfig source = SourceOf(name, "standard-webhooks");
    source.vendor = name;
    source.secrets = {kWhsec};
    ExpectOverHttp(
        {folder, ".json", name, name},
        name == "resend" ? providers::testing::ResendFixtureEvents()
                         : providers::testing::AgentMailFixtureEvents(),
        name == "resend" ? 9u : 10u, [](const std::string& f) { return ReadFixture(f); },
        [&](const std::string& fixture, const std::string& body, absl::Time at) {
          return ctl::SignWebhook(source,
                                  {body, at, providers::testing::StandardWebhooksId(fixture), ""});
        });
  }
}

// SendGrid's event samples signed with a test key pair (ECDSA P-256 over timestamp + body, as
// SendGrid signs); the published signed vectors are checked in tests/unit/providers.
TEST_F(ProvidersSignedTest, EverySendgridEventFixture) {
  config::SourceConfig sendgrid = SourceOf("sendgrid", "sendgrid");
  ExpectOverHttp({"sendgrid", ".json", "sendgrid", "sendgrid"},
                 providers::testing::SendgridFixtureEvents(), 27u,
                 [](const std::string& f) { return ReadFixture(f); },
                 [&](const std::string&, const std::string& body, absl::Time at) {
                   return ctl::SignWebhook(sendgrid,
                                           {body, at, "", TestKeys().sendgrid.private_key_pem});
                 });
}

TEST_F(ProvidersSignedTest, EveryPostalCustomerioAndGenericHmacSampleAtTheAgent) {
  const config::SourceConfig postal = SourceOf("postal", "postal");
  ExpectOverHttp({"postal", ".json", "postal", "postal"}, providers::testing::PostalFixtureEvents(),
                 12u, [](const std::string& f) { return providers::testing::PostalFixtureBody(f); },
                 [&](const std::string&, const std::string& body, absl::Time at) {
                   return ctl::SignWebhook(postal, {body, at, "", TestKeys().postal.private_key_pem});
                 });
  FixtureRun raw{"postal", ".json", "postal", "postal"};
  raw.files = {"postal/inbound.raw-full.json"};  // a complete raw-format message, hand-written
  ExpectOverHttp(raw, providers::testing::PostalRawSampleEvents(), 1u,
                 [](const std::string& f) { return providers::testing::ReadTestdata(f); },
                 [&](const std::string&, const std::string& body, absl::Time at) {
                   return ctl::SignWebhook(postal, {body, at, "", TestKeys().postal.private_key_pem});
                 });
  config::SourceConfig cio = SourceOf("customerio", "customerio");
  cio.signing_key = kCioKey;
  ExpectOverHttp({"customerio", ".json", "customerio", "customerio"},
                 providers::testing::CustomerioFixtureEvents(), 1u,
                 [](const std::string& f) { return ReadFixture(f); },
                 [&](const std::string&, const std::string& body, absl::Time at) {
                   return ctl::SignWebhook(cio, {body, at, "", ""});
                 });
  FixtureRun acme{"generic_hmac", ".json", "generic-hmac", "acme"};
  acme.files = {"generic_hmac/acme.batch.json"};
  ExpectOverHttp(acme, providers::testing::GenericHmacFixtureEvents(), 1u,
                 [](const std::string& f) { return providers::testing::ReadTestdata(f); },
                 [&](const std::string&, const std::string& body, absl::Time at) {
                   const std::string ts = absl::StrCat(absl::ToUnixSeconds(at));
                   const std::string mac = crypto::HmacSha256("acme-secret", ts + "." + body).value();
                   return absl::StatusOr<ctl::Headers>(ctl::Headers{
                       {"X-Signature", "sha256=" + crypto::HexEncode(mac)}, {"X-Timestamp", ts}});
                 });
}

TEST_F(ProvidersSignedTest, EverySesRecordInASignedSnsMessage) {
  const std::string now =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  int n = 0;
  auto signed_message = [&](const std::string& fixture) {
    providers::SesProvider::SnsFields fields;
    fields.message_id = providers::testing::SesMessageId(fixture);
    fields.topic_arn = kTopic;
    fields.message = ReadFixture(fixture);
    fields.timestamp = now;
    fields.signing_cert_url = kCertUrl;
    fields.signature_version = ++n % 2 == 0 ? "1" : "2";
    return providers::SesProvider::SignedMessage(fields, TestKeys().sns.private_key_pem).value();
  };
  const ctl::Headers headers{{"Content-Type", "text/plain; charset=UTF-8"},
                             {"x-amz-sns-message-type", "Notification"},
                             {"x-amz-sns-topic-arn", kTopic}};
  FixtureRun run{"ses_sns", ".json", "ses", "ses"};
  run.skip_prefix = "ses_sns/sns-";
  ExpectOverHttp(run, providers::testing::SesRecordFixtureEvents(), 17u, signed_message,
                 [&](const std::string&, const std::string&, absl::Time) {
                   return absl::StatusOr<ctl::Headers>(headers);
                 });
  // SNS retries the same message: a duplicate, answered 200 with nothing new accepted.
  const std::string retry = signed_message("ses_sns/delivery.event.json");
  EXPECT_EQ(Post("ses", headers, retry), 0);
  // A subscription confirmation: 200, no events.
  providers::SesProvider::SnsFields confirm;
  confirm.type = "SubscriptionConfirmation";
  confirm.message_id = "it-confirm";
  confirm.topic_arn = kTopic;
  confirm.message = "You have chosen to subscribe to the topic.";
  confirm.timestamp = now;
  confirm.signing_cert_url = kCertUrl;
  confirm.token = "2336412f37";
  confirm.subscribe_url = absl::StrCat(
      "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=", kTopic,
      "&Token=2336412f37");
  EXPECT_EQ(Post("ses", {{"x-amz-sns-message-type", "SubscriptionConfirmation"}},
                 providers::SesProvider::SignedMessage(confirm, TestKeys().sns.private_key_pem)
                     .value()),
            0);
  // A certificate URL that is allowlisted but not pinned: 503 (SNS retries), never 4xx.
  providers::SesProvider::SnsFields unpinned;
  unpinned.message_id = "it-unpinned";
  unpinned.topic_arn = kTopic;
  unpinned.message = ReadFixture("ses_sns/delivery.event.json");
  unpinned.timestamp = now;
  unpinned.signing_cert_url =
      "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-fedcba.pem";
  auto result = ctl::HttpPost(
      router_->webhook_url("ses"), {},
      providers::SesProvider::SignedMessage(unpinned, TestKeys().sns.private_key_pem).value());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status, 503);
}

TEST_F(ProvidersSignedTest, UnsignedPostalIsRefused) {
  // Unsigned: 401.
  auto unsigned_result =
      ctl::HttpPost(router_->webhook_url("postal"), {}, ReadFixture("postal/MessageSent.json"));
  ASSERT_TRUE(unsigned_result.ok());
  EXPECT_EQ(unsigned_result->status, 401);
}

TEST_F(ProvidersSignedTest, CustomerioAndGenericHmac) {
  config::SourceConfig cio;
  cio.name = "customerio";
  cio.provider = "customerio";
  cio.signing_key = kCioKey;
  const std::string body = ReadFixture("customerio/email.sent.signed.json");
  auto headers = ctl::SignWebhook(cio, {body, absl::Now(), "", ""});
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_EQ(Post("customerio", *headers, body), 1);
  EXPECT_EQ(Post("customerio", *headers, body), 0);  // a retry
  // The published vector itself is from 2023: outside the 5-minute window, refused.
  auto stale = ctl::HttpPost(
      router_->webhook_url("customerio"),
      {{"X-CIO-Signature", "c097b83a7d57a0810625180a61213eab7e0389a54b33dd11c3a6f17790c8427a"},
       {"X-CIO-Timestamp", "1692633432"}},
      body);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->status, 401);

  const std::string ts = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
  const std::string acme =
      R"([{"id":"a1","type":"email.bounced","email":["x@example.com","y@example.com"],"ts":)" + ts +
      R"(},{"id":"a2","type":"email.clicked","email":"z@example.com","ts":)" + ts + "}]";
  const std::string mac = crypto::HmacSha256("acme-secret", ts + "." + acme).value();
  EXPECT_EQ(Post("acme", {{"X-Signature", "sha256=" + crypto::HexEncode(mac)}, {"X-Timestamp", ts}},
                 acme),
            3);
}

}  // namespace
}  // namespace switchboard::testing
