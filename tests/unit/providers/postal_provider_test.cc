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
#include "tests/unit/providers/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::ManifestFiles;
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

struct Expected {
  std::string envelope_event;  // non-empty: a payload-only docs sample, wrapped as this event
  v1::EventType type;
  std::string recipient;
  int64_t seconds;
  int32_t nanos;
  std::string key;
  v1::BounceClass bounce_class = v1::BOUNCE_CLASS_UNSPECIFIED;
};

// Envelope timestamp used for the wrapped docs samples: 1477945180.5.
const std::map<std::string, Expected>& Expectations() {
  static const auto* e = new std::map<std::string, Expected>{
      {"postal/MessageSent.json",
       {"", v1::EVENT_TYPE_DELIVERED, "recipient@example.com", 1606752106, 985806200,
        "58e8d7ee-2cd5-4db2-9af3-3f436105795a"}},
      {"postal/MessageDelayed.json",
       {"", v1::EVENT_TYPE_DEFERRED, "deferred@example.com", 1606753101, 911014300,
        "0fcc831f-92b9-4e2b-97f2-d873abc77fab"}},
      {"postal/MessageDelayed.bounce-payload.json",
       {"", v1::EVENT_TYPE_BOUNCED, "bounce@example.com", 1606753101, 911014300,
        "0fcc831f-92b9-4e2b-97f2-d873abc77fab", v1::BOUNCE_CLASS_UNDETERMINED}},
      {"postal/MessageDeliveryFailed.json",
       {"", v1::EVENT_TYPE_BOUNCED, "failed@example.com", 1606753318, 701034300,
        "5fec5077-dae7-4989-94d5-e1963f3e9181", v1::BOUNCE_CLASS_HARD}},
      {"postal/MessageHeld.json",
       {"", v1::EVENT_TYPE_DROPPED, "suppressed@example.com", 1606752751, 893366600,
        "9be13015-2e54-456c-bf66-eacbe33da824"}},
      {"postal/message-status.payload.json",
       {"MessageSent", v1::EVENT_TYPE_DELIVERED, "test@example.com", 1477945177, 129940000,
        "uuid-message-status"}},
      {"postal/message-bounced.payload.json",
       {"MessageBounced", v1::EVENT_TYPE_BOUNCED, "test@example.com", 1477945180, 500000000,
        "uuid-message-bounced", v1::BOUNCE_CLASS_UNDETERMINED}},
      {"postal/message-link-clicked.payload.json",
       {"MessageLinkClicked", v1::EVENT_TYPE_CLICKED, "test@example.com", 1477945180, 500000000,
        "uuid-message-link-clicked"}},
      {"postal/message-loaded.payload.json",
       {"MessageLoaded", v1::EVENT_TYPE_OPENED, "test@example.com", 1477945180, 500000000,
        "uuid-message-loaded"}},
      {"postal/domain-dns-error.payload.json",
       {"DomainDNSError", v1::EVENT_TYPE_UNKNOWN, "", 1477945180, 500000000,
        "uuid-domain-dns-error"}},
      {"postal/inbound.processed.json",
       {"", v1::EVENT_TYPE_RECEIVED, "sales@awesomeapp.com", 1478169798, 924355000,
        "inbound:12345"}},
      // The raw format carries no timestamp and no envelope recipient: received_at, none.
      {"postal/inbound.raw.json",
       {"", v1::EVENT_TYPE_RECEIVED, "", 1700000000, 0, "inbound:12345"}},
  };
  return *e;
}

TEST(PostalProviderTest, EveryFixtureSignedVerifiesAndDecodes) {
  auto provider = Make();
  int files = 0;
  for (const std::string& path : ManifestFiles("postal", ".json")) {
    SCOPED_TRACE(path);
    ++files;
    const auto it = Expectations().find(path);
    ASSERT_NE(it, Expectations().end()) << "no expectation written for " << path;
    const Expected& want = it->second;
    std::string body = ReadFixture(path);
    if (!want.envelope_event.empty()) {
      std::string name = path.substr(path.find('/') + 1);
      name = name.substr(0, name.find('.'));
      body = absl::StrCat("{\"event\":\"", want.envelope_event,
                          "\",\"timestamp\":1477945180.5,\"payload\":", body, ",\"uuid\":\"uuid-",
                          name, "\"}");
    }
    const WebhookRequest request = Signed(body);
    ASSERT_TRUE(provider->Verify(request).ok()) << provider->Verify(request);
    auto decoded = provider->Decode(request);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->events.size(), 1u);
    const v1::EmailEvent& e = decoded->events[0];
    EXPECT_EQ(e.type(), want.type);
    EXPECT_EQ(e.recipient(), want.recipient);
    EXPECT_EQ(e.occurred_at().seconds(), want.seconds);
    EXPECT_EQ(e.occurred_at().nanos(), want.nanos);
    EXPECT_EQ(e.provider_event_key(), want.key);
    EXPECT_EQ(e.bounce().bounce_class(), want.bounce_class);
    EXPECT_EQ(e.provider(), "postal");
    EXPECT_EQ(e.raw(), body);
  }
  EXPECT_EQ(files, 12);
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
