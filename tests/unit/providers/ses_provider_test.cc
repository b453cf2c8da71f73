// Amazon SES via SNS: every published SNS vector (canonical string and signature, the clock pinned
// at verify_at), every SES record fixture wrapped in an SNS message signed here with a test key,
// the real SNS captures decoded, and the refusals. Expected values come from the fixtures' text
// (epoch seconds by `date -u -d ... +%s`).
#include "router/providers/ses_provider.h"

#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "router/providers/timestamps.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;
using testing::FixturePath;
using testing::ManifestFiles;
using testing::MakeRequest;
using testing::ReadFixture;

constexpr char kTopic[] = "arn:aws:sns:us-east-1:123456789012:ses-events";
constexpr char kCertUrl[] =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// A key and self-signed certificate made for this run, standing in for SNS's.
const crypto::RsaKeyPair& Keys() {
  static const auto* keys = new crypto::RsaKeyPair(
      crypto::GenerateRsaKeyPair(2048, "sns.amazonaws.com", kNow - absl::Hours(24 * 365),
                                 kNow + absl::Hours(24 * 365))
          .value());
  return *keys;
}

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "ses";
  source.provider = "ses";
  source.topic_arns = {kTopic};
  return source;
}

std::shared_ptr<const CertificateSource> Certs(std::map<std::string, std::string, std::less<>> m) {
  return std::make_shared<PinnedCertificateSource>(std::move(m));
}

std::unique_ptr<SesProvider> Make(const config::SourceConfig& source, const Clock& clock,
                                  std::shared_ptr<const CertificateSource> certs =
                                      Certs({{kCertUrl, Keys().certificate_pem}})) {
  auto provider = SesProvider::Create(source, "sources[0]", clock, absl::Hours(72), certs);
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

SesProvider::SnsFields Fields(std::string message, std::string message_id = "msg-1") {
  SesProvider::SnsFields fields;
  fields.message_id = std::move(message_id);
  fields.topic_arn = kTopic;
  fields.message = std::move(message);
  fields.timestamp = "2023-11-14T22:13:20.000Z";  // kNow
  fields.signing_cert_url = kCertUrl;
  return fields;
}

WebhookRequest Signed(const SesProvider::SnsFields& fields) {
  return MakeRequest("ses",
                     {{"x-amz-sns-message-type", fields.type},
                      {"x-amz-sns-topic-arn", fields.topic_arn},
                      {"Content-Type", "text/plain; charset=UTF-8"}},
                     SesProvider::SignedMessage(fields, Keys().private_key_pem).value(), kNow);
}

absl::Time ParseTime(std::string_view rfc3339) {
  auto ts = ParseRfc3339(rfc3339).value();
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// --- The published vectors --------------------------------------------------------------------

TEST(SesVectorsTest, CanonicalStringMatchesEveryDerivedStringToSign) {
  int checked = 0;
  for (const std::string& path : ManifestFiles("ses_sns", ".vector.json")) {
    SCOPED_TRACE(path);
    const json::object v = json::parse(ReadFixture(path)).as_object();
    if (!v.contains("derived_string_to_sign")) continue;
    const std::string body = ReadFixture("ses_sns/" + std::string(v.at("body_file").as_string()));
    auto canonical = SesProvider::StringToSign(body);
    ASSERT_TRUE(canonical.ok()) << canonical.status();
    EXPECT_EQ(*canonical, v.at("derived_string_to_sign").as_string());
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

TEST(SesVectorsTest, EveryVectorVerifiesOrIsRefusedAsItSays) {
  int valid = 0;
  int invalid = 0;
  const std::string cert = ReadFixture("ses_sns/sns-cert.pem");
  for (const std::string& path : ManifestFiles("ses_sns", ".vector.json")) {
    SCOPED_TRACE(path);
    const json::object v = json::parse(ReadFixture(path)).as_object();
    const std::string body =
        v.contains("body") ? std::string(v.at("body").as_string())
                           : ReadFixture("ses_sns/" + std::string(v.at("body_file").as_string()));
    const json::object envelope = json::parse(body).as_object();
    const std::string url(envelope.contains("SigningCertURL")
                              ? envelope.at("SigningCertURL").as_string()
                              : envelope.at("SigningCertUrl").as_string());
    config::SourceConfig source = Source();
    source.topic_arns = {std::string(envelope.at("TopicArn").as_string())};
    FakeClock clock(ParseTime(std::string(v.at("verify_at").as_string())));
    auto provider = Make(source, clock, Certs({{url, cert}}));
    std::vector<std::pair<std::string, std::string>> headers;
    if (const auto* h = v.if_contains("headers")) {
      for (const auto& [name, value] : h->as_object()) {
        headers.emplace_back(std::string(name), std::string(value.as_string()));
      }
    }
    const absl::Status status = provider->Verify(MakeRequest("ses", headers, body));
    if (v.at("expected").as_string() == "valid") {
      EXPECT_TRUE(status.ok()) << status;
      ++valid;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      ++invalid;
    }
  }
  EXPECT_EQ(valid, 10);
  EXPECT_EQ(invalid, 1);
}

TEST(SesVectorsTest, ExpiredCertificateAndVersionAllowlist) {
  const std::string body = ReadFixture("ses_sns/sns-1.sigv1.json");
  const std::string url =
      "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
  config::SourceConfig source = Source();
  source.topic_arns = {
      "arn:aws:sns:us-east-2:295079676684:publish-and-verify-892f85fe-4836-424d-8188-ab85bef0f362"};
  source.max_age = absl::ZeroDuration();  // only the certificate's validity matters here
  FakeClock clock(ParseTime("2022-07-28T21:23:58.317Z"));
  auto certs = Certs({{url, ReadFixture("ses_sns/sns-cert.pem")}});
  EXPECT_TRUE(Make(source, clock, certs)->Verify(MakeRequest("ses", {}, body)).ok());
  // After the certificate's notAfter (2022-08-17) it no longer vouches for anything.
  FakeClock later(ParseTime("2022-08-18T00:00:00Z"));
  auto no_horizon = SesProvider::Create(source, "s", later, absl::InfiniteDuration(), certs);
  EXPECT_EQ((*no_horizon)->Verify(MakeRequest("ses", {}, body)).code(),
            absl::StatusCode::kUnauthenticated);
  // A SignatureVersion 1 message where only 2 is allowed.
  source.signature_versions = {2};
  EXPECT_EQ(Make(source, clock, certs)->Verify(MakeRequest("ses", {}, body)).code(),
            absl::StatusCode::kUnauthenticated);
}

// --- Every SES record fixture through a signed SNS message --------------------------------------

// Every SES record fixture (not the whole-SNS captures sns-*, RealCapturesAndDocsMessages) in a
// signed SNS message, against the shared table (tests/common/expected_ses.cc).
TEST(SesDecodeTest, EverySesRecordFixture) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  testing::FixtureRun run{"ses_sns", ".json", "ses", "ses"};
  run.skip_prefix = "ses_sns/sns-";
  const size_t files = testing::ExpectFixtures(
      run, testing::SesRecordFixtureEvents(), [&](const std::string& fixture) {
        const WebhookRequest request =
            Signed(Fields(ReadFixture(fixture), testing::SesMessageId(fixture)));
        EXPECT_TRUE(provider->Verify(request).ok()) << provider->Verify(request);
        auto outcome = testing::Decoded(provider->Decode(request));
        if (outcome.ok()) {
          for (const v1::EmailEvent& e : outcome->events) EXPECT_EQ(e.raw(), request.body);
        }
        return outcome;
      });
  EXPECT_EQ(files, 17u);
}

TEST(SesDecodeTest, FieldsOfOneBounceClickAndInboundMail) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  auto bounce = provider->Decode(Signed(Fields(ReadFixture("ses_sns/bounce.event.json"))));
  ASSERT_TRUE(bounce.ok()) << bounce.status();
  const v1::EmailEvent& b = bounce->events.at(0);
  EXPECT_EQ(b.provider_event_type(), "Bounce");
  EXPECT_EQ(b.bounce().provider_type(), "Permanent/General");
  EXPECT_EQ(b.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(b.bounce().smtp_code(), "550");
  EXPECT_EQ(b.bounce().diagnostic(), "smtp; 550 5.1.1 user unknown");
  EXPECT_EQ(b.message_id(), "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000");
  EXPECT_EQ(b.sender(), "sender@example.com");

  auto click = provider->Decode(Signed(Fields(ReadFixture("ses_sns/click.event.json"))));
  ASSERT_TRUE(click.ok()) << click.status();
  EXPECT_EQ(click->events.at(0).click().url(),
            "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html");
  EXPECT_EQ(click->events.at(0).ip(), "192.0.2.1");

  auto sub = provider->Decode(Signed(Fields(ReadFixture("ses_sns/subscription.event.json"))));
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->events.at(0).metadata().at("myCustomTag1"), "myCustomValue1");
  EXPECT_FALSE(sub->events.at(0).metadata().contains("ses:operation"));

  auto inbound = provider->Decode(Signed(Fields(ReadFixture("ses_sns/received.sns-action.json"))));
  ASSERT_TRUE(inbound.ok()) << inbound.status();
  const v1::Inbound& in = inbound->events.at(0).inbound();
  EXPECT_EQ(in.from(), "sender@example.com");
  EXPECT_EQ(in.subject(), "Example subject");
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "pass");
  EXPECT_EQ(in.message_key(), "d6iitobk75ur44p8kdnnp7g2n800");
}

TEST(SesDecodeTest, RealCapturesAndDocsMessages) {
  FakeClock clock(kNow);
  config::SourceConfig source = Source();
  source.auto_confirm = true;
  auto provider = Make(source, clock);
  // mautic: a real SNS bounce for one recipient.
  auto bounce = provider->Decode(MakeRequest("ses", {}, ReadFixture("ses_sns/sns-bounce.mautic.json")));
  ASSERT_TRUE(bounce.ok()) << bounce.status();
  ASSERT_EQ(bounce->events.size(), 1u);
  EXPECT_EQ(bounce->events[0].recipient(), "nope@nope.com");
  EXPECT_EQ(bounce->events[0].provider_event_key(), "7c2d7069-7db3-53c8-87d0-20476a630fb6");
  EXPECT_EQ(bounce->events[0].occurred_at().seconds(), 1471419792);  // 2016-08-17T07:43:12.776Z
  EXPECT_EQ(bounce->events[0].occurred_at().nanos(), 776000000);
  EXPECT_EQ(bounce->events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(bounce->events[0].bounce().smtp_code(), "550");

  for (const char* path : {"ses_sns/sns-subscription-confirmation.mautic.json",
                           "ses_sns/sns-subscription-confirmation.docs.json"}) {
    SCOPED_TRACE(path);
    const std::string body = ReadFixture(path);
    auto confirm = provider->Decode(MakeRequest("ses", {}, body));
    ASSERT_TRUE(confirm.ok()) << confirm.status();
    EXPECT_TRUE(confirm->events.empty());
    EXPECT_EQ(confirm->control, "subscription-confirmation");
    EXPECT_EQ(confirm->confirm_url, json::parse(body).at("SubscribeURL").as_string());
    EXPECT_TRUE(confirm->confirm_url.starts_with("https://sns."));
  }
  auto unsubscribe = provider->Decode(
      MakeRequest("ses", {}, ReadFixture("ses_sns/sns-unsubscribe-confirmation.docs.json")));
  ASSERT_TRUE(unsubscribe.ok());
  EXPECT_EQ(unsubscribe->control, "unsubscribe-confirmation");
  EXPECT_TRUE(unsubscribe->confirm_url.empty());
  // A plain-text SNS message is not an SES record.
  EXPECT_EQ(provider->Decode(MakeRequest("ses", {}, ReadFixture("ses_sns/sns-notification.docs.json")))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // Without auto_confirm nothing is to be fetched.
  auto manual = Make(Source(), clock);
  auto confirm = manual->Decode(
      MakeRequest("ses", {}, ReadFixture("ses_sns/sns-subscription-confirmation.docs.json")));
  ASSERT_TRUE(confirm.ok());
  EXPECT_EQ(confirm->control, "subscription-confirmation");
  EXPECT_TRUE(confirm->confirm_url.empty());
}

TEST(SesDecodeTest, SignedSubscriptionConfirmationAndSesNotice) {
  FakeClock clock(kNow);
  config::SourceConfig source = Source();
  source.auto_confirm = true;
  auto provider = Make(source, clock);
  SesProvider::SnsFields fields = Fields("You have chosen to subscribe ...");
  fields.type = "SubscriptionConfirmation";
  fields.token = "2336412f37";
  fields.subscribe_url =
      "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" +
      std::string(kTopic) + "&Token=2336412f37";
  WebhookRequest request = Signed(fields);
  EXPECT_TRUE(provider->Verify(request).ok()) << provider->Verify(request);
  EXPECT_EQ(provider->Decode(request)->confirm_url, fields.subscribe_url);
  // A SubscribeURL elsewhere is never handed out for a GET, though the message is authentic.
  fields.subscribe_url = "https://attacker.example/?Action=ConfirmSubscription";
  request = Signed(fields);
  EXPECT_TRUE(provider->Verify(request).ok());
  EXPECT_EQ(provider->Decode(request)->control, "subscription-confirmation");
  EXPECT_TRUE(provider->Decode(request)->confirm_url.empty());

  auto notice = provider->Decode(Signed(Fields(
      "{\"notificationType\":\"AmazonSnsSubscriptionSucceeded\",\"message\":\"You have "
      "successfully subscribed your Amazon SNS topic\"}")));
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(notice->control, "ses-subscription-succeeded");
  EXPECT_TRUE(notice->events.empty());

  // Unknown record types are kept as UNKNOWN; null and missing fields do not crash.
  auto unknown = provider->Decode(Signed(Fields(
      "{\"eventType\":\"Frobnicate\",\"mail\":{\"timestamp\":null,\"destination\":[null,"
      "\"A@Example.COM\"],\"tags\":null,\"commonHeaders\":null},\"frobnicate\":null}")));
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  ASSERT_EQ(unknown->events.size(), 1u);
  EXPECT_EQ(unknown->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(unknown->events[0].recipient(), "A@example.com");
  EXPECT_EQ(unknown->events[0].occurred_at().seconds(), 1700000000);  // the SNS Timestamp
}

// --- Refusals ----------------------------------------------------------------------------------

TEST(SesVerifyTest, Refusals) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  const std::string record = ReadFixture("ses_sns/delivery.event.json");
  EXPECT_TRUE(provider->Verify(Signed(Fields(record))).ok());

  // Tampered Message.
  WebhookRequest tampered = Signed(Fields(record));
  tampered.body = absl::StrReplaceAll(tampered.body, {{"recipient@example.com", "x@example.com"}});
  EXPECT_EQ(provider->Verify(tampered).code(), absl::StatusCode::kUnauthenticated);
  // Another topic (signed correctly by the same certificate).
  SesProvider::SnsFields other_topic = Fields(record);
  other_topic.topic_arn = "arn:aws:sns:us-east-1:999999999999:not-ours";
  EXPECT_EQ(provider->Verify(Signed(other_topic)).code(), absl::StatusCode::kUnauthenticated);
  // Certificate URLs outside the allowlist.
  for (const char* url :
       {"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-01.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/evil/SimpleNotificationService-0123.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-0123.pem"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(SesProvider::CheckSigningCertUrl(url).code(), absl::StatusCode::kUnauthenticated);
    SesProvider::SnsFields fields = Fields(record);
    fields.signing_cert_url = url;
    EXPECT_EQ(provider->Verify(Signed(fields)).code(), absl::StatusCode::kUnauthenticated);
  }
  EXPECT_TRUE(SesProvider::CheckSigningCertUrl(
                  "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-ab12.pem")
                  .ok());
  // An allowlisted URL that is not pinned: 503 territory, never 4xx.
  SesProvider::SnsFields unpinned = Fields(record);
  unpinned.signing_cert_url =
      "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-fedcba9876543210.pem";
  EXPECT_EQ(provider->Verify(Signed(unpinned)).code(), absl::StatusCode::kUnavailable);
  // Age: default max_age 1 h, both directions; the dedupe window always.
  WebhookRequest request = Signed(Fields(record));
  clock.Set(kNow + absl::Hours(1));
  EXPECT_TRUE(provider->Verify(request).ok());
  clock.Set(kNow + absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kNow - absl::Hours(2));
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  config::SourceConfig no_age = Source();
  no_age.max_age = absl::ZeroDuration();
  clock.Set(kNow + absl::Hours(71));
  EXPECT_TRUE(Make(no_age, clock)->Verify(request).ok());
  clock.Set(kNow + absl::Hours(73));  // beyond the 72 h dedupe window
  EXPECT_EQ(Make(no_age, clock)->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kNow);
  // Headers that disagree with the body, or repeat.
  request.headers[0].second = "SubscriptionConfirmation";
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  request = Signed(Fields(record));
  request.headers.emplace_back("x-amz-sns-topic-arn", kTopic);
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  // Missing signature, unknown type, malformed body.
  json::object no_signature = json::parse(Signed(Fields(record)).body).as_object();
  no_signature.erase("Signature");
  EXPECT_EQ(provider->Verify(MakeRequest("ses", {}, json::serialize(no_signature))).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(provider->Verify(MakeRequest("ses", {}, "{\"Type\":\"Frob\"}")).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(provider->Verify(MakeRequest("ses", {}, "not json")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Verify(MakeRequest("ses", {}, "[1]")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Decode(MakeRequest("ses", {}, "[1]")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SesProvider::CheckSubscribeUrl("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe")
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(SesCreateTest, OptionsNameTheField) {
  FakeClock clock(kNow);
  config::SourceConfig source = Source();
  source.topic_arns.clear();
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().message(),
            "sources[3].topic_arns: required (any AWS account can sign SNS messages)");
  source = Source();
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().message(),
            "sources[3].pinned_certs: required where no HTTPS certificate fetcher is given");
  source.pinned_certs = {{kCertUrl, "/nonexistent/sns.pem"}};
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  source.pinned_certs = {{kCertUrl, FixturePath("ses_sns/sns-1.sigv1.json")}};  // not a PEM
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  source.pinned_certs = {{"https://example.com/cert.pem", FixturePath("ses_sns/sns-cert.pem")}};
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().code(),
            absl::StatusCode::kInvalidArgument);
  source.pinned_certs = {{kCertUrl, FixturePath("ses_sns/sns-cert.pem")}};
  EXPECT_TRUE(SesProvider::Create(source, "sources[3]", clock).ok());
  source.signature_versions = {3};
  EXPECT_EQ(SesProvider::Create(source, "sources[3]", clock).status().message(),
            "sources[3].signature_versions[0]: want 1 or 2, got 3");
}

}  // namespace
}  // namespace switchboard::providers
