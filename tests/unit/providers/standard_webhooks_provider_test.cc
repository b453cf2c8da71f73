#include "router/providers/standard_webhooks_provider.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::MakeRequest;
using testing::ReadFixture;

// The published sign vector (resend_svix/stdwh-sign.vector.json).
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kBareSecret[] = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr char kTimestamp[] = "1614265330";
constexpr char kBody[] = "{\"test\": 2432232314}";
constexpr char kSignature[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
// Resend's svix-id in the django-anymail email.sent test.
constexpr char kResendId[] = "msg_2W2D3qXLS5fOaPja1GDg7rF2CwB";

const absl::Time kSignedAt = absl::FromUnixSeconds(1614265330);

config::SourceConfig Source(std::string vendor = "", std::vector<std::string> secrets = {kSecret}) {
  config::SourceConfig source;
  source.name = "resend";
  source.provider = "standard-webhooks";
  source.vendor = std::move(vendor);
  source.secrets = std::move(secrets);
  return source;
}

std::unique_ptr<StandardWebhooksProvider> Make(const config::SourceConfig& source,
                                               const Clock& clock) {
  auto provider = StandardWebhooksProvider::Create(source, "sources[0]", clock);
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

WebhookRequest Signed(std::string_view id, std::string_view timestamp, std::string body,
                      std::string_view prefix = "webhook-") {
  const std::string key = StandardWebhooksProvider::DecodeSecret(kSecret).value();
  const std::string signature = StandardWebhooksProvider::Sign(key, id, timestamp, body).value();
  return MakeRequest("resend",
                     {{std::string(prefix) + "id", std::string(id)},
                      {std::string(prefix) + "timestamp", std::string(timestamp)},
                      {std::string(prefix) + "signature", signature}},
                     std::move(body), absl::FromUnixSeconds(1700000000));
}

TEST(StandardWebhooksSignTest, ReproducesPublishedSignature) {
  const std::string key = StandardWebhooksProvider::DecodeSecret(kSecret).value();
  EXPECT_EQ(StandardWebhooksProvider::Sign(key, kId, kTimestamp, kBody).value(), kSignature);
}

TEST(StandardWebhooksVerifyTest, BareSecretAndRotation) {
  FakeClock clock(kSignedAt);
  auto request = MakeRequest(
      "resend", {{"webhook-id", kId}, {"webhook-timestamp", kTimestamp}, {"webhook-signature", kSignature}},
      kBody);
  EXPECT_TRUE(Make(Source("", {kBareSecret}), clock)->Verify(request).ok());
  // An old secret first, the current one second: either may match.
  EXPECT_TRUE(Make(Source("", {"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", kSecret}), clock)
                  ->Verify(request)
                  .ok());
  EXPECT_EQ(Make(Source("", {"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}), clock)
                ->Verify(request)
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StandardWebhooksVerifyTest, RefusesTamperedBody) {
  FakeClock clock(kSignedAt);
  auto request = MakeRequest(
      "resend", {{"webhook-id", kId}, {"webhook-timestamp", kTimestamp}, {"webhook-signature", kSignature}},
      "{\"test\": 2432232315}");
  EXPECT_EQ(Make(Source(), clock)->Verify(request).code(), absl::StatusCode::kUnauthenticated);
}

TEST(StandardWebhooksVerifyTest, TimestampWindowBothWays) {
  auto request = MakeRequest(
      "resend", {{"webhook-id", kId}, {"webhook-timestamp", kTimestamp}, {"webhook-signature", kSignature}},
      kBody);
  FakeClock clock(kSignedAt + absl::Minutes(5));
  auto provider = Make(Source(), clock);
  EXPECT_TRUE(provider->Verify(request).ok());
  clock.Set(kSignedAt + absl::Minutes(5) + absl::Seconds(1));  // stale
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kSignedAt - absl::Minutes(5) - absl::Seconds(1));  // from the future
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);

  config::SourceConfig no_window = Source();
  no_window.tolerance = absl::ZeroDuration();
  clock.Set(kSignedAt + absl::Hours(24 * 365));
  EXPECT_TRUE(Make(no_window, clock)->Verify(request).ok());

  // Even without a window, nothing older than the dedupe window (the replay horizon) gets in.
  auto bounded = StandardWebhooksProvider::Create(no_window, "sources[0]", clock, absl::Hours(72));
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  EXPECT_EQ((*bounded)->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kSignedAt + absl::Hours(71));
  EXPECT_TRUE((*bounded)->Verify(request).ok());
}

TEST(StandardWebhooksVerifyTest, RefusesAnEmptyId) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source(), clock);
  auto signature = StandardWebhooksProvider::Sign(
      *StandardWebhooksProvider::DecodeSecret(kSecret), "", kTimestamp, kBody);
  ASSERT_TRUE(signature.ok());
  // Correctly signed over an empty id, still refused: the id is part of the idempotency key.
  EXPECT_EQ(provider
                ->Verify(MakeRequest("resend",
                                     {{"webhook-id", ""},
                                      {"webhook-timestamp", kTimestamp},
                                      {"webhook-signature", *signature}},
                                     kBody))
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StandardWebhooksVerifyTest, RefusesMissingAndDuplicatedHeaders) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source(), clock);
  const std::vector<std::pair<std::string, std::string>> good = {
      {"webhook-id", kId}, {"webhook-timestamp", kTimestamp}, {"webhook-signature", kSignature}};
  for (size_t drop = 0; drop < good.size(); ++drop) {
    auto headers = good;
    headers.erase(headers.begin() + drop);
    EXPECT_EQ(provider->Verify(MakeRequest("resend", headers, kBody)).code(),
              absl::StatusCode::kUnauthenticated)
        << "without " << good[drop].first;
  }
  for (size_t dup = 0; dup < good.size(); ++dup) {
    auto headers = good;
    headers.push_back(good[dup]);
    EXPECT_EQ(provider->Verify(MakeRequest("resend", headers, kBody)).code(),
              absl::StatusCode::kUnauthenticated)
        << "duplicated " << good[dup].first;
  }
  // webhook-* and svix-* that disagree.
  auto headers = good;
  headers.emplace_back("svix-id", "msg_other");
  EXPECT_EQ(provider->Verify(MakeRequest("resend", headers, kBody)).code(),
            absl::StatusCode::kUnauthenticated);
  // A signature entry of another version only, or undecodable entries.
  for (std::string sig : {"v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,!!!!", "v1",
                          "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", ""}) {
    auto bad = good;
    bad[2].second = sig;
    EXPECT_EQ(provider->Verify(MakeRequest("resend", bad, kBody)).code(),
              absl::StatusCode::kUnauthenticated)
        << sig;
  }
  auto bad_ts = good;
  bad_ts[1].second = "1614265330.0";
  EXPECT_EQ(provider->Verify(MakeRequest("resend", bad_ts, kBody)).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StandardWebhooksCreateTest, RefusesBadSecrets) {
  FakeClock clock(kSignedAt);
  struct Case {
    std::vector<std::string> secrets;
    std::string field;
  };
  const Case cases[] = {
      {{}, "sources[3].secrets: "},
      {{"whsec_not base64!"}, "sources[3].secrets[0]: not valid base64 after whsec_"},
      {{kSecret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"}, "sources[3].secrets[1]: not valid base64"},
      {{"whsec_c2hvcnQ="}, "sources[3].secrets[0]: the secret decodes to 5 bytes"},  // "short"
      {{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"}, "sources[3].secrets[0]: not valid base64"},
      {{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=="}, "sources[3].secrets[0]: not valid base64 ("},
  };
  for (const Case& c : cases) {
    auto provider =
        StandardWebhooksProvider::Create(Source("", c.secrets), "sources[3]", clock);
    ASSERT_FALSE(provider.ok());
    EXPECT_EQ(provider.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(provider.status().message(), c.field)) << provider.status();
  }
  auto vendor = StandardWebhooksProvider::Create(Source("mailchimp"), "sources[3]", clock);
  EXPECT_EQ(vendor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(vendor.status().message(), "sources[3].vendor: "));
  config::SourceConfig negative = Source();
  negative.tolerance = -absl::Seconds(1);
  EXPECT_EQ(StandardWebhooksProvider::Create(negative, "sources[3]", clock).status().code(),
            absl::StatusCode::kInvalidArgument);
}

DecodeResult DecodeFixture(std::string_view vendor, std::string_view fixture,
                           std::string_view id = kResendId) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source(std::string(vendor)), clock);
  auto request = Signed(id, kTimestamp, ReadFixture(fixture), "svix-");
  EXPECT_TRUE(provider->Verify(request).ok());
  auto result = provider->Decode(request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : DecodeResult{};
}

TEST(ResendDecodeTest, SentSplitsRecipients) {
  DecodeResult r = DecodeFixture("resend", "resend_svix/email.sent.json");
  ASSERT_EQ(r.events.size(), 2u);
  const v1::EmailEvent& e = r.events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_SENT);
  EXPECT_EQ(e.provider(), "resend");
  EXPECT_EQ(e.source(), "resend");
  EXPECT_EQ(e.provider_event_type(), "email.sent");
  EXPECT_EQ(e.provider_event_key(), kResendId);
  EXPECT_EQ(e.recipient(), "to@example.org");
  EXPECT_EQ(e.recipient_key(), "to@example.org");
  EXPECT_EQ(r.events[1].recipient(), "to2@example.org");
  // The event's created_at 2023-09-28T17:19:43.736Z (data.created_at is the email's, 43.982).
  EXPECT_EQ(e.occurred_at().seconds(), 1695921583);
  EXPECT_EQ(e.occurred_at().nanos(), 736000000);
  EXPECT_EQ(e.received_at().seconds(), 1700000000);
  EXPECT_EQ(e.message_id(), "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  EXPECT_EQ(e.sender(), "from@example.com");
  EXPECT_EQ(e.subject(), "Sending test");
  ASSERT_EQ(e.tags_size(), 2);
  EXPECT_EQ(e.tags(0), "tag1:Tag_1_value");
  EXPECT_EQ(e.tags(1), "tag2:Tag_2_value");
  // Python: hashlib.sha256(b"\0".join([b"resend", b"msg_2W2D...", b"to@example.org"])).hexdigest()
  EXPECT_EQ(e.id(), "5e7830dae277a368f5031b3ef5b15edd69aef06bfec72f47b280485f6f97c31a");
  EXPECT_EQ(r.events[1].id(), "df1b1ed1fed6d767ac2ee8ab7aa2e88c872060c8b0544c3c10fdf61d08ecdb3a");
  EXPECT_EQ(e.raw(), ReadFixture("resend_svix/email.sent.json"));
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_JSON);
}

// Every Resend and AgentMail fixture, signed with the test secret under the webhook-id the shared
// tables use (tests/common/expected_standard_webhooks.cc).
size_t ExpectVendorFixtures(const std::string& vendor, const std::string& folder,
                            const std::vector<testing::ExpectedEvent>& expected) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source(vendor), clock);
  return testing::ExpectFixtures(
      {folder, ".json", vendor, "resend"}, expected, [&](const std::string& fixture) {
        auto request = Signed(testing::StandardWebhooksId(fixture), kTimestamp,
                              ReadFixture(fixture), "svix-");
        EXPECT_TRUE(provider->Verify(request).ok());
        auto outcome = testing::Decoded(provider->Decode(request));
        if (outcome.ok()) outcome->signed_at_seconds = absl::ToUnixSeconds(kSignedAt);
        return outcome;
      });
}

TEST(ResendDecodeTest, EveryFixture) {
  EXPECT_EQ(ExpectVendorFixtures("resend", "resend_svix", testing::ResendFixtureEvents()), 9u);
}

TEST(AgentMailDecodeTest, EveryFixture) {
  EXPECT_EQ(ExpectVendorFixtures("agentmail", "agentmail", testing::AgentMailFixtureEvents()),
            10u);
}

TEST(ResendDecodeTest, Details) {
  DecodeResult bounced = DecodeFixture("resend", "resend_svix/email.bounced.json");
  ASSERT_EQ(bounced.events.size(), 1u);
  EXPECT_EQ(bounced.events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_UNDETERMINED);
  EXPECT_TRUE(absl::StartsWith(bounced.events[0].bounce().diagnostic(),
                               "The recipient's email provider sent a hard bounce"));
  DecodeResult clicked = DecodeFixture("resend", "resend_svix/email.clicked.json");
  EXPECT_EQ(clicked.events[0].click().url(), "https://example.com/test");
  EXPECT_EQ(clicked.events[0].ip(), "192.168.1.101");
  EXPECT_EQ(clicked.events[0].user_agent(), "Mozilla/5.0 ...");
  DecodeResult received = DecodeFixture("resend", "resend_svix/email.received.json");
  EXPECT_EQ(received.events[0].inbound().from(), "Sender Name <from@example.com>");
  EXPECT_EQ(received.events[0].inbound().subject(), "Testing Resend inbound");
  EXPECT_EQ(received.events[0].inbound().message_key(), "56761188-7520-42d8-8898-ff6fc54ce618");
}

TEST(ResendDecodeTest, BounceClassFromType) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source("resend"), clock);
  for (auto [type, expected] : {std::pair{"Permanent", v1::BOUNCE_CLASS_HARD},
                                std::pair{"Transient", v1::BOUNCE_CLASS_SOFT},
                                std::pair{"Undetermined", v1::BOUNCE_CLASS_UNDETERMINED}}) {
    std::string body = std::string(R"({"type":"email.bounced","created_at":"2024-01-01T00:00:00.123456+00:00",)") +
                       R"("data":{"email_id":"e1","to":["a@example.com"],"bounce":{"type":")" +
                       type + R"(","subType":"General","message":"m"}}})";
    auto r = provider->Decode(Signed("msg_1", kTimestamp, body));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->events[0].bounce().bounce_class(), expected) << type;
    // The top-level created_at: 2024-01-01T00:00:00Z = 1704067200.
    EXPECT_EQ(r->events[0].occurred_at().seconds(), 1704067200);
    EXPECT_EQ(r->events[0].occurred_at().nanos(), 123456000);
  }
}

TEST(ResendDecodeTest, RefusesMalformedPayloads) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source("resend"), clock);
  for (std::string body : {"not json", "[]", R"({"type":"email.sent"})",
                           R"({"type":"email.sent","data":{"to":["not an address"]}})",
                           R"({"type":"email.sent","data":{"created_at":"yesterday"}})"}) {
    EXPECT_EQ(provider->Decode(Signed("msg_1", kTimestamp, body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(AgentMailDecodeTest, Details) {
  DecodeResult bounced = DecodeFixture("agentmail", "agentmail/message.bounced.json");
  EXPECT_EQ(bounced.events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(bounced.events[0].provider_event_type(), "message.bounced");
  DecodeResult received = DecodeFixture("agentmail", "agentmail/message.received.json");
  EXPECT_EQ(received.events[0].sender(), "jane@example.com");
  EXPECT_EQ(received.events[0].inbound().text(), "The full text body of the email.");
  EXPECT_EQ(received.events[0].message_id(), "<abc123@agentmail.to>");
}

TEST(GenericDecodeTest, OneUnknownEvent) {
  FakeClock clock(kSignedAt);
  auto provider = Make(Source(""), clock);
  auto r = provider->Decode(Signed(kId, kTimestamp, kBody));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].provider(), "standard-webhooks");
  EXPECT_EQ(r->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(r->events[0].recipient(), "");
  EXPECT_EQ(r->events[0].occurred_at().seconds(), 1614265330);
  EXPECT_EQ(r->events[0].raw(), kBody);
}

}  // namespace
}  // namespace switchboard::providers
