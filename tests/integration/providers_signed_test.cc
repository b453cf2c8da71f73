// The signature providers through the real HTTP path: a `switchboard` process with an SES (SNS),
// a Postal, a Customer.io and a generic-HMAC source; every fixture of ses_sns/ (SES records wrapped
// in SNS messages signed with a test certificate pinned in the config), postal/ and customerio/
// posted signed as the provider signs, each answered 200 with the exact {"accepted":N}.
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
#include "tests/integration/router_process.h"
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

struct Keys {
  crypto::RsaKeyPair sns;
  crypto::RsaKeyPair postal;
};

const Keys& TestKeys() {
  static const Keys* keys = [] {
    const absl::Time now = absl::Now();
    return new Keys{
        crypto::GenerateRsaKeyPair(2048, "sns.amazonaws.com", now - absl::Hours(1),
                                   now + absl::Hours(24))
            .value(),
        crypto::GenerateRsaKeyPair(2048, "postal", now, now + absl::Hours(24)).value()};
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
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)",
                             {{"TOPIC", kTopic},
                              {"CERT_URL", kCertUrl},
                              {"POSTAL_KEY", TestKeys().postal.public_key_der_base64},
                              {"CIO_KEY", kCioKey}});
}

class ProvidersSignedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("switchboard-signed");
    ASSERT_FALSE(dir_.empty());
    std::filesystem::create_directories(dir_ + "/certs");
    std::ofstream(dir_ + "/certs/sns.pem") << TestKeys().sns.certificate_pem;
    auto router = RouterProcess::Start(dir_, Config());
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
  }
  void TearDown() override {
    if (router_) router_->Kill();
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
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

  std::string dir_;
  std::unique_ptr<RouterProcess> router_;
};

TEST_F(ProvidersSignedTest, EverySesRecordInASignedSnsMessage) {
  // Events per record: bounce.notification-no-dsn names two bounced recipients.
  const std::pair<const char*, int64_t> kRecords[] = {
      {"bounce.event.json", 1},
      {"bounce.notification-dsn.json", 1},
      {"bounce.notification-no-dsn.json", 2},
      {"click.event.json", 1},
      {"complaint.event.json", 1},
      {"complaint.notification-feedback.json", 1},
      {"complaint.notification-no-feedback.json", 1},
      {"delivery-delay.event.json", 1},
      {"delivery.event.json", 1},
      {"delivery.notification.json", 1},
      {"open.event.json", 1},
      {"received.alert.json", 1},
      {"received.sns-action.json", 1},
      {"reject.event.json", 1},
      {"rendering-failure.event.json", 1},
      {"send.event.json", 1},
      {"subscription.event.json", 1},
  };
  const std::string now =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  int n = 0;
  for (const auto& [file, events] : kRecords) {
    SCOPED_TRACE(file);
    providers::SesProvider::SnsFields fields;
    fields.message_id = absl::StrCat("it-", ++n);
    fields.topic_arn = kTopic;
    fields.message = ReadFixture(absl::StrCat("ses_sns/", file));
    fields.timestamp = now;
    fields.signing_cert_url = kCertUrl;
    fields.signature_version = n % 2 == 0 ? "1" : "2";
    const std::string body =
        providers::SesProvider::SignedMessage(fields, TestKeys().sns.private_key_pem).value();
    const ctl::Headers headers{{"Content-Type", "text/plain; charset=UTF-8"},
                               {"x-amz-sns-message-type", "Notification"},
                               {"x-amz-sns-topic-arn", kTopic}};
    EXPECT_EQ(Post("ses", headers, body), events);
    // SNS retries the same message: a duplicate, answered 200 with nothing new accepted.
    EXPECT_EQ(Post("ses", headers, body), 0);
  }
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

TEST_F(ProvidersSignedTest, EveryPostalFixtureSigned) {
  config::SourceConfig postal;
  postal.name = "postal";
  postal.provider = "postal";
  // The payload-only docs samples travel in Postal's envelope.
  const std::pair<const char*, const char*> kFiles[] = {
      {"MessageSent.json", ""},
      {"MessageDelayed.json", ""},
      {"MessageDelayed.bounce-payload.json", ""},
      {"MessageDeliveryFailed.json", ""},
      {"MessageHeld.json", ""},
      {"message-status.payload.json", "MessageSent"},
      {"message-bounced.payload.json", "MessageBounced"},
      {"message-link-clicked.payload.json", "MessageLinkClicked"},
      {"message-loaded.payload.json", "MessageLoaded"},
      {"domain-dns-error.payload.json", "DomainDNSError"},
      {"inbound.processed.json", ""},
      {"inbound.raw.json", ""},
  };
  int n = 0;
  for (const auto& [file, event] : kFiles) {
    SCOPED_TRACE(file);
    std::string body = ReadFixture(absl::StrCat("postal/", file));
    if (*event != '\0') {
      body = absl::StrCat("{\"event\":\"", event, "\",\"timestamp\":1477945180.5,\"payload\":",
                          body, ",\"uuid\":\"it-", ++n, "\"}");
    }
    auto headers = ctl::SignWebhook(
        postal, {body, absl::Now(), "", TestKeys().postal.private_key_pem});
    ASSERT_TRUE(headers.ok()) << headers.status();
    // MessageDelayed.json and MessageDelayed.bounce-payload.json share one uuid but name
    // different recipients: both are new events.
    EXPECT_EQ(Post("postal", *headers, body), 1);
  }
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
