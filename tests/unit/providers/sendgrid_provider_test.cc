#include "router/providers/sendgrid_provider.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::MakeRequest;
using testing::ReadFixture;

constexpr char kSignatureHeader[] = "X-Twilio-Email-Event-Webhook-Signature";
constexpr char kTimestampHeader[] = "X-Twilio-Email-Event-Webhook-Timestamp";

// A key pair made for this test run: the published vectors carry no private key for the batch
// samples, so requests over arbitrary fixture bodies are signed here.
const crypto::P256KeyPair& Keys() {
  static const auto* keys = new crypto::P256KeyPair(crypto::GenerateP256KeyPair().value());
  return *keys;
}

config::SourceConfig Source(std::string public_key = Keys().public_key_der_base64) {
  config::SourceConfig source;
  source.name = "sendgrid";
  source.provider = "sendgrid";
  source.public_key = std::move(public_key);
  return source;
}

WebhookRequest Signed(std::string timestamp, std::string body) {
  const std::string signature =
      crypto::EcdsaP256Sign(Keys().private_key_pem, timestamp + body).value();
  return MakeRequest("sendgrid",
                     {{kSignatureHeader, crypto::Base64Encode(signature)},
                      {kTimestampHeader, timestamp}},
                     std::move(body), absl::FromUnixSeconds(1700000000));
}

std::unique_ptr<SendgridProvider> Make(const config::SourceConfig& source, const Clock& clock) {
  auto provider = SendgridProvider::Create(source, "sources[1]", clock);
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(SendgridVerifyTest, SignedRequestVerifies) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  EXPECT_TRUE(provider->Verify(Signed("1700000000", "[]\r\n")).ok());
}

TEST(SendgridVerifyTest, RefusesTamperedBodyAndTimestamp) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  WebhookRequest request = Signed("1700000000", "[{\"event\":\"open\"}]\r\n");
  request.body = "[{\"event\":\"open\"}]";  // a framework that trims the CRLF
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  request = Signed("1700000000", "[]");
  request.headers[1].second = "1700000001";
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SendgridVerifyTest, TimestampWindowDefaults24Hours) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  WebhookRequest request = Signed("1700000000", "[]");
  clock.Set(kNow + absl::Hours(24));
  EXPECT_TRUE(provider->Verify(request).ok());
  clock.Set(kNow + absl::Hours(24) + absl::Seconds(1));  // stale
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kNow - absl::Hours(24) - absl::Seconds(1));  // from the future
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  config::SourceConfig short_window = Source();
  short_window.tolerance = absl::Minutes(10);
  clock.Set(kNow + absl::Minutes(11));
  EXPECT_EQ(Make(short_window, clock)->Verify(request).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SendgridVerifyTest, RefusesMissingDuplicatedAndLenientHeaders) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  const WebhookRequest good = Signed("1700000000", "[]");
  for (size_t drop = 0; drop < 2; ++drop) {
    WebhookRequest request = good;
    request.headers.erase(request.headers.begin() + drop);
    EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  }
  for (size_t dup = 0; dup < 2; ++dup) {
    WebhookRequest request = good;
    request.headers.push_back(good.headers[dup]);
    EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  }
  WebhookRequest spaced = good;
  spaced.headers[0].second += " ";  // strict base64: no whitespace
  EXPECT_EQ(provider->Verify(spaced).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SendgridCreateTest, RefusesBadKeys) {
  FakeClock clock(kNow);
  for (std::string key : {"", "not base64!", "Zm9vYmFy",
                          "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjc"}) {
    auto provider = SendgridProvider::Create(Source(key), "sources[1]", clock);
    EXPECT_EQ(provider.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_TRUE(absl::StartsWith(provider.status().message(), "sources[1].public_key: "))
        << provider.status();
  }
  // PEM is accepted too.
  std::string pem = "-----BEGIN PUBLIC KEY-----\n" + Keys().public_key_der_base64 +
                    "\n-----END PUBLIC KEY-----\n";
  EXPECT_TRUE(SendgridProvider::Create(Source(pem), "sources[1]", clock).ok());
}

DecodeResult DecodeFixture(std::string_view fixture) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  auto request = Signed("1700000000", ReadFixture(fixture));
  EXPECT_TRUE(provider->Verify(request).ok());
  auto result = provider->Decode(request);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : DecodeResult{};
}

TEST(SendgridDecodeTest, EveryFixture) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  const size_t files = testing::ExpectFixtures(
      {"sendgrid", ".json", "sendgrid", "sendgrid"}, testing::SendgridFixtureEvents(),
      [&](const std::string& fixture) {
        WebhookRequest request = Signed("1700000000", ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 27u);
}

// The other fields of the batch (type, recipient, time and key per event: EveryFixture).
TEST(SendgridDecodeTest, AllEventsBatch) {
  DecodeResult r = DecodeFixture("sendgrid/all-events.batch.json");
  ASSERT_EQ(r.events.size(), 11u);
  for (size_t i = 0; i < 11; ++i) {
    SCOPED_TRACE(i);
    const v1::EmailEvent& e = r.events[i];
    EXPECT_EQ(e.message_id(), "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0");
    ASSERT_EQ(e.tags_size(), 1);
    EXPECT_EQ(e.tags(0), "cat facts");
    EXPECT_TRUE(e.metadata().empty());
    EXPECT_EQ(e.raw().front(), '{');
    EXPECT_EQ(e.raw().back(), '}');
  }
  // Python: hashlib.sha256(b"\0".join([b"sendgrid", b"3VQNwQVlOAoGt_mNmMf7Uw==",
  //                                     b"example@test.com"])).hexdigest()
  EXPECT_EQ(r.events[0].id(), "265e016e2b1d89d68481da7aef01a3c448235a112551b3daa1962a88e126bcc5");
  EXPECT_EQ(r.events[4].click().url(), "http://www.sendgrid.com/");
  EXPECT_EQ(r.events[3].ip(), "255.255.255.255");
  const v1::Bounce& bounce = r.events[5].bounce();
  EXPECT_EQ(bounce.bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(bounce.smtp_code(), "500");
  EXPECT_EQ(bounce.enhanced_status(), "5.0.0");
  EXPECT_EQ(bounce.diagnostic(), "500 unknown recipient");
  // raw is the element's exact bytes, sliced from the body (2-space indented as published).
  const std::string body = ReadFixture("sendgrid/all-events.batch.json");
  EXPECT_NE(body.find(r.events[0].raw()), std::string::npos);
  EXPECT_TRUE(absl::StartsWith(r.events[0].raw(), "{\n    \"email\": \"example@test.com\","));
}

TEST(SendgridDecodeTest, SignedCrlfBatch) {
  DecodeResult r = DecodeFixture("sendgrid/batch.signed-crlf.json");
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].type(), v1::EVENT_TYPE_SENT);
  EXPECT_EQ(r.events[0].provider_event_key(),
            "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA");
  EXPECT_EQ(r.events[0].occurred_at().seconds(), 1619651146);
  EXPECT_EQ(r.events[0].recipient(), "invalid@gmail.com");
  EXPECT_TRUE(absl::EndsWith(r.events[0].raw(), "\"timestamp\":1619651146}"));
  const v1::EmailEvent& bounce = r.events[1];
  EXPECT_EQ(bounce.type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(bounce.provider_event_key(), "Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w");
  EXPECT_EQ(bounce.occurred_at().seconds(), 1619651147);
  EXPECT_EQ(bounce.bounce().bounce_class(), v1::BOUNCE_CLASS_BLOCK);
  EXPECT_EQ(bounce.bounce().smtp_code(), "552");
  EXPECT_EQ(bounce.bounce().enhanced_status(), "5.2.2");
  EXPECT_TRUE(absl::StartsWith(bounce.raw(), "{\"email\":\"invalid@gmail.com\",\"event\":\"bounce\""));
  EXPECT_TRUE(absl::EndsWith(bounce.raw(), "\"type\":\"blocked\"}"));
  EXPECT_EQ(bounce.ip(), "167.89.101.76");
}

TEST(SendgridDecodeTest, TimestampsKeysAndCustomArgs) {
  // Marketing Single Send: 13-digit milliseconds.
  DecodeResult single_send = DecodeFixture("sendgrid/open.singlesend-ms-timestamp.json");
  ASSERT_EQ(single_send.events.size(), 1u);
  EXPECT_EQ(single_send.events[0].occurred_at().seconds(), 1591726752);
  EXPECT_EQ(single_send.events[0].occurred_at().nanos(), 372000000);
  EXPECT_EQ(single_send.events[0].tags_size(), 0);

  // "Processed" capitalised, string timestamp, no sg_event_id: the composite key.
  DecodeResult reserved = DecodeFixture("sendgrid/processed.reserved-keys.json");
  ASSERT_EQ(reserved.events.size(), 1u);
  const v1::EmailEvent& e = reserved.events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_SENT);
  EXPECT_EQ(e.provider_event_key(), "|Processed|123456789");
  EXPECT_EQ(e.occurred_at().seconds(), 123456789);
  EXPECT_EQ(e.metadata().at("customerAccountNumber"), "55555");
  EXPECT_EQ(e.metadata().at("activationAttempt"), "1");
  EXPECT_EQ(e.metadata().at("New Argument 1"), "New Value 1");
  EXPECT_EQ(e.metadata().size(), 3u);

  DecodeResult unique_args = DecodeFixture("sendgrid/click.unique-args.json");
  ASSERT_EQ(unique_args.events.size(), 1u);
  EXPECT_EQ(unique_args.events[0].metadata().at("userid"), "1123");
  EXPECT_EQ(unique_args.events[0].metadata().at("template"), "welcome");
  EXPECT_EQ(unique_args.events[0].provider_event_key(),
            "sendgrid_internal_message_id|click|1337966815");

  // A bare object is one event; its raw is the object.
  DecodeResult bare = DecodeFixture("sendgrid/processed.marketing-campaign.json");
  ASSERT_EQ(bare.events.size(), 1u);
  EXPECT_EQ(bare.events[0].raw().front(), '{');

  DecodeResult categories = DecodeFixture("sendgrid/open.category-array.json");
  ASSERT_EQ(categories.events.size(), 2u);
  EXPECT_GE(categories.events[0].tags_size(), 1);
  EXPECT_EQ(categories.events[1].tags_size(), 1);
}

TEST(SendgridDecodeTest, EmptyBatchIsControl) {
  FakeClock clock(kNow);
  auto r = Make(Source(), clock)->Decode(Signed("1700000000", "[]\r\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->events.empty());
  EXPECT_EQ(r->control, "empty-batch");
}

TEST(SendgridDecodeTest, RefusesMalformedPayloads) {
  FakeClock clock(kNow);
  auto provider = Make(Source(), clock);
  for (std::string body : {"payload", "[1]", "\"x\"", "[{\"event\":\"open\",\"timestamp\":1}]",
                           "[{\"email\":\"a@example.com\",\"timestamp\":1}]",
                           "[{\"email\":\"a@example.com\",\"event\":\"open\"}]",
                           "[{\"email\":\"a@example.com\",\"event\":\"open\",\"timestamp\":\"x\"}]"}) {
    EXPECT_EQ(provider->Decode(Signed("1700000000", body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

}  // namespace
}  // namespace switchboard::providers
