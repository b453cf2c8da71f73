// Postal: every fixture of tests/testdata/fixtures/postal signed here with a generated RSA key
// (Postal's fixtures are unsigned), with the payload-only docs samples wrapped in the envelope Postal
// sends ({"event","timestamp","payload","uuid"}, postal app/services/webhook_delivery_service.rb).
// Expected values are read off the fixture text.
#include "router/providers/postal_provider.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::MakeRequest;
using testing::ReadFixture;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

const crypto::RsaKeyPair& Keys() {
  static const auto* keys = new crypto::RsaKeyPair(
      crypto::GenerateRsaKeyPair(2048, "postal", kNow, kNow + absl::Hours(1)).value());
  return *keys;
}

std::unique_ptr<PostalProvider> Make(std::string public_key = Keys().public_key_der_base64) {
  config::SourceConfig source;
  source.name = "postal";
  source.provider = "postal";
  source.public_key = std::move(public_key);
  auto provider = PostalProvider::Create(source, "sources[0]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

// Signed as Postal 3 signs: both headers over the raw body.
WebhookRequest Signed(std::string body, bool sha256 = true, bool sha1 = true) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}};
  if (sha1) {
    headers.emplace_back("X-Postal-Signature",
                         crypto::Base64Encode(crypto::RsaSign(Keys().private_key_pem,
                                                              crypto::RsaDigest::kSha1, body)
                                                  .value()));
  }
  if (sha256) {
    headers.emplace_back("X-Postal-Signature-256",
                         crypto::Base64Encode(crypto::RsaSign(Keys().private_key_pem,
                                                              crypto::RsaDigest::kSha256, body)
                                                  .value()));
  }
  return MakeRequest("postal", headers, std::move(body), kNow);
}

// Every fixture against the shared table (tests/common/expected_postal.cc), the payload-only docs
// samples wrapped in Postal's envelope.
TEST(PostalProviderTest, EveryFixtureSignedVerifiesAndDecodes) {
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"postal", ".json", "postal", "postal"}, testing::PostalFixtureEvents(),
      [&](const std::string& fixture) {
        const std::string body = testing::PostalFixtureBody(fixture);
        const WebhookRequest request = Signed(body);
        EXPECT_TRUE(provider->Verify(request).ok()) << provider->Verify(request);
        auto outcome = testing::Decoded(provider->Decode(request));
        if (outcome.ok()) {
          for (const v1::EmailEvent& e : outcome->events) EXPECT_EQ(e.raw(), body);
        }
        return outcome;
      });
  EXPECT_EQ(files, 12u);
}

TEST(PostalProviderTest, Fields) {
  auto provider = Make();
  auto sent = provider->Decode(Signed(ReadFixture("postal/MessageSent.json")));
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->events[0].message_id(),
            "c462ad36-be49-469c-b7b2-dfd317eb40fa@rp.postal.example.com");
  EXPECT_EQ(sent->events[0].tags(0), "welcome-email");
  auto failed = provider->Decode(Signed(ReadFixture("postal/MessageDeliveryFailed.json")));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->events[0].bounce().provider_type(), "HardFail");
  EXPECT_EQ(failed->events[0].bounce().diagnostic(), "server output");
  auto inbound = provider->Decode(Signed(ReadFixture("postal/inbound.processed.json")));
  ASSERT_TRUE(inbound.ok());
  const v1::Inbound& in = inbound->events[0].inbound();
  EXPECT_EQ(in.from(), "John Doe <test@example.com>");
  EXPECT_EQ(in.text(), "Hello there!");
  EXPECT_EQ(in.html(), "<p>Hello there!</p>");
  EXPECT_EQ(inbound->events[0].sender(), "test@example.com");
}

// The raw format read with GMime: the hand-written complete sample against its table, then the
// inbound fields its headers give (tests/testdata/postal/README.md lists them).
TEST(PostalProviderTest, RawFormatGivesOneEventPerRecipient) {
  auto provider = Make();
  testing::FixtureRun run{"postal", ".json", "postal", "postal"};
  run.files = {"postal/inbound.raw-full.json"};
  const size_t files = testing::ExpectFixtures(
      run, testing::PostalRawSampleEvents(), [&](const std::string& fixture) {
        return testing::Decoded(provider->Decode(Signed(testing::ReadTestdata(fixture))));
      });
  EXPECT_EQ(files, 1u);

  const std::string body = testing::ReadTestdata("postal/inbound.raw-full.json");
  auto raw = provider->Decode(Signed(body));
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_EQ(raw->events.size(), 3u);
  for (const v1::EmailEvent& e : raw->events) {
    SCOPED_TRACE(e.recipient());
    EXPECT_EQ(e.raw(), body);
    EXPECT_EQ(e.provider_event_type(), "inbound.raw");
    EXPECT_EQ(e.message_id(), "<raw-sample-1@example.net>");
    EXPECT_EQ(e.sender(), "ann@example.net");
    EXPECT_EQ(e.subject(), "Caf\xC3\xA9 order");  // RFC 2047 decoded
    const v1::Inbound& in = e.inbound();
    EXPECT_EQ(in.message_key(), "<raw-sample-1@example.net>");  // shared by the three
    EXPECT_EQ(in.from(), "ann@example.net");
    ASSERT_EQ(in.to_size(), 2);
    EXPECT_EQ(in.to(0), "Sales@AwesomeApp.com");
    EXPECT_EQ(in.to(1), "support@awesomeapp.com");
    ASSERT_EQ(in.cc_size(), 2);
    EXPECT_EQ(in.cc(0), "bob@awesomeapp.com");
    EXPECT_EQ(in.cc(1), "sales@awesomeapp.com");
    EXPECT_EQ(in.subject(), "Caf\xC3\xA9 order");
    EXPECT_EQ(in.in_reply_to(), "<prev@awesomeapp.com>");
    ASSERT_EQ(in.references_size(), 2);
    EXPECT_EQ(in.references(0), "<first@awesomeapp.com>");
    EXPECT_EQ(in.references(1), "<prev@awesomeapp.com>");
  }

  // The envelope recipient, when the post names it, is the one recipient.
  const std::string with_rcpt =
      absl::StrCat("{\"rcpt_to\":\"inbox@awesomeapp.com\",", body.substr(1));
  auto enveloped = provider->Decode(Signed(with_rcpt));
  ASSERT_TRUE(enveloped.ok()) << enveloped.status();
  ASSERT_EQ(enveloped->events.size(), 1u);
  EXPECT_EQ(enveloped->events[0].recipient(), "inbox@awesomeapp.com");
  EXPECT_EQ(enveloped->events[0].inbound().to_size(), 2);

  // base64 false: the message as text. A message that does not decode: one event, no recipient.
  auto plain = provider->Decode(Signed(
      "{\"id\":7,\"message\":\"To: a@example.com\\r\\n\\r\\nhi\",\"base64\":false}"));
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->events.size(), 1u);
  EXPECT_EQ(plain->events[0].recipient(), "a@example.com");
  EXPECT_EQ(plain->events[0].occurred_at().seconds(), 1700000000);  // no Date: received_at
  EXPECT_EQ(plain->events[0].inbound().message_key(), "7");
  auto broken = provider->Decode(Signed("{\"id\":8,\"message\":\"@@@\",\"base64\":true}"));
  ASSERT_TRUE(broken.ok()) << broken.status();
  ASSERT_EQ(broken->events.size(), 1u);
  EXPECT_EQ(broken->events[0].recipient(), "");
}

TEST(PostalProviderTest, Refusals) {
  auto provider = Make();
  const std::string body = ReadFixture("postal/MessageSent.json");
  // SHA-1 alone (Postal before 3.0) verifies; SHA-256 alone verifies.
  EXPECT_TRUE(provider->Verify(Signed(body, false, true)).ok());
  EXPECT_TRUE(provider->Verify(Signed(body, true, false)).ok());
  // No signature; a tampered body; a duplicated header.
  EXPECT_EQ(provider->Verify(MakeRequest("postal", {}, body)).code(),
            absl::StatusCode::kUnauthenticated);
  WebhookRequest tampered = Signed(body);
  tampered.body.back() = ' ';
  EXPECT_EQ(provider->Verify(tampered).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest twice = Signed(body);
  twice.headers.push_back(twice.headers.back());
  EXPECT_EQ(provider->Verify(twice).code(), absl::StatusCode::kUnauthenticated);
  // With a SHA-256 header present a bad one is not rescued by a good SHA-1 (no downgrade).
  WebhookRequest downgrade = Signed(body);
  downgrade.headers.back().second = crypto::Base64Encode("not a signature");
  EXPECT_EQ(provider->Verify(downgrade).code(), absl::StatusCode::kUnauthenticated);
  // Another key.
  auto other = crypto::GenerateRsaKeyPair(1024, "other", kNow, kNow).value();
  EXPECT_EQ(Make(other.public_key_der_base64)->Verify(Signed(body)).code(),
            absl::StatusCode::kUnauthenticated);
  // Malformed bodies.
  EXPECT_EQ(provider->Decode(Signed("[]")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Decode(Signed("{\"x\":1}")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Decode(Signed("{\"event\":\"MessageSent\",\"payload\":null}")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Nulls do not crash: unknown event, null payload members.
  auto odd = provider->Decode(Signed(
      "{\"event\":\"MessageFrobbed\",\"timestamp\":1.5,\"payload\":{\"message\":null},\"uuid\":\"u\"}"));
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  // Key configuration.
  config::SourceConfig source;
  source.name = "postal";
  source.provider = "postal";
  EXPECT_EQ(PostalProvider::Create(source, "sources[2]").status().message(),
            "sources[2].public_key: required");
  source.public_key = crypto::GenerateP256KeyPair()->public_key_der_base64;
  EXPECT_EQ(PostalProvider::Create(source, "sources[2]").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::providers
