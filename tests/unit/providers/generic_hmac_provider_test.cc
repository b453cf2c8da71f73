// The generic HMAC profile with the issue's own sample source (acme), MACs computed independently
// with the HMAC primitives (RFC 2104, tested in common).
#include "router/providers/generic_hmac_provider.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::MakeRequest;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// issue 3: { name: acme, provider: generic-hmac, secret: "...", header: X-Signature,
//   algorithm: sha256, encoding: hex, prefix: "sha256=", signed: "{timestamp}.{body}",
//   timestamp_header: X-Timestamp, tolerance: 5m, mapping: { id: /id, type: /type,
//   recipient: /email, occurred_at: /ts }, types: { "email.clicked": clicked, "email.bounced": bounced } }
config::SourceConfig Acme() {
  config::SourceConfig source;
  source.name = "acme";
  source.provider = "generic-hmac";
  source.tolerance = absl::Minutes(5);
  config::SourceConfig::GenericHmac h;
  h.secret = "acme-shared-secret";
  h.signature_header = "X-Signature";
  h.prefix = "sha256=";
  h.signed_template = "{timestamp}.{body}";
  h.timestamp_header = "X-Timestamp";
  h.mapping = {{"id", "/id"}, {"type", "/type"}, {"recipient", "/email"}, {"occurred_at", "/ts"},
               {"message_id", "/message/id"}, {"metadata", "/meta"}};
  h.types = {{"email.clicked", "clicked"}, {"email.bounced", "bounced"}};
  source.generic_hmac = h;
  return source;
}

std::unique_ptr<GenericHmacProvider> Make(const Clock& clock,
                                          const config::SourceConfig& source = Acme()) {
  auto provider = GenericHmacProvider::Create(source, "sources[5]", clock, absl::Hours(72));
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

WebhookRequest AcmeRequest(const std::string& ts, std::string body) {
  const std::string mac = crypto::HmacSha256("acme-shared-secret", ts + "." + body).value();
  return MakeRequest("acme",
                     {{"X-Signature", "sha256=" + crypto::HexEncode(mac)}, {"X-Timestamp", ts}},
                     std::move(body), kNow);
}

TEST(GenericHmacTest, IssueSampleVerifiesAndDecodes) {
  FakeClock clock(kNow);
  auto provider = Make(clock);
  const std::string body =
      R"([{"id":"evt_1","type":"email.bounced","email":["A@Example.com","b@example.com"],)"
      R"("ts":1699999999.123456789,"message":{"id":"m-1"},"meta":{"team":"billing","n":7}},)"
      R"({"id":"evt_2","type":"email.clicked","email":"c@example.com","ts":"2023-11-14T22:13:19.5Z"},)"
      R"({"id":"evt_3","type":"email.new_thing","email":"d@example.com","ts":1699999998123}])";
  const WebhookRequest request = AcmeRequest("1700000000", body);
  ASSERT_TRUE(provider->Verify(request).ok()) << provider->Verify(request);
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 4u);
  const auto& e = decoded->events;
  EXPECT_EQ(e[0].type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(e[0].recipient(), "A@example.com");
  EXPECT_EQ(e[1].recipient(), "b@example.com");
  EXPECT_EQ(e[0].provider_event_key(), "evt_1");
  EXPECT_NE(e[0].id(), e[1].id());
  EXPECT_EQ(e[0].occurred_at().seconds(), 1699999999);
  EXPECT_EQ(e[0].occurred_at().nanos(), 123456789);
  EXPECT_EQ(e[0].message_id(), "m-1");
  EXPECT_EQ(e[0].metadata().at("team"), "billing");
  EXPECT_EQ(e[0].metadata().at("n"), "7");
  EXPECT_EQ(e[0].raw().substr(0, 11), R"({"id":"evt_)");
  EXPECT_EQ(e[2].type(), v1::EVENT_TYPE_CLICKED);
  EXPECT_EQ(e[2].occurred_at().seconds(), 1699999999);  // 2023-11-14T22:13:19.5Z
  EXPECT_EQ(e[2].occurred_at().nanos(), 500000000);
  EXPECT_EQ(e[3].type(), v1::EVENT_TYPE_UNKNOWN);  // not in the types table
  EXPECT_EQ(e[3].provider_event_type(), "email.new_thing");
  EXPECT_EQ(e[3].occurred_at().seconds(), 1699999998);  // 13 digits: milliseconds
  EXPECT_EQ(e[3].occurred_at().nanos(), 123000000);
  EXPECT_EQ(e[0].provider(), "generic-hmac");
}

// The hand-written sample against its hand-written table (tests/common/expected_generic_hmac.cc).
TEST(GenericHmacTest, EverySample) {
  FakeClock clock(kNow);
  auto provider = Make(clock);
  testing::FixtureRun run{"generic_hmac", ".json", "generic-hmac", "acme"};
  run.files = {"generic_hmac/acme.batch.json"};
  const size_t files = testing::ExpectFixtures(
      run, testing::GenericHmacFixtureEvents(), [&](const std::string& file) {
        const WebhookRequest request = AcmeRequest("1700000000", testing::ReadTestdata(file));
        EXPECT_TRUE(provider->Verify(request).ok());
        auto outcome = testing::Decoded(provider->Decode(request));
        if (outcome.ok()) outcome->signed_at_seconds = 1700000000;
        return outcome;
      });
  EXPECT_EQ(files, 1u);
}

TEST(GenericHmacTest, Refusals) {
  FakeClock clock(kNow);
  auto provider = Make(clock);
  const std::string body = R"({"id":"evt_1","type":"email.clicked","email":"c@example.com"})";
  WebhookRequest request = AcmeRequest("1700000000", body);
  EXPECT_TRUE(provider->Verify(request).ok());
  WebhookRequest no_prefix = request;
  no_prefix.headers[0].second = no_prefix.headers[0].second.substr(7);
  EXPECT_EQ(provider->Verify(no_prefix).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest tampered = request;
  tampered.body += " ";
  EXPECT_EQ(provider->Verify(tampered).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest shifted = request;
  shifted.headers[1].second = "1700000001";  // the timestamp is signed
  EXPECT_EQ(provider->Verify(shifted).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest twice = request;
  twice.headers.push_back(twice.headers[0]);
  EXPECT_EQ(provider->Verify(twice).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kNow + absl::Minutes(5) + absl::Seconds(1));
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(kNow);
  EXPECT_EQ(provider->Decode(AcmeRequest("1700000000", "7")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(provider->Decode(AcmeRequest("1700000000", R"({"ts":"soon"})")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Nulls and missing fields: one UNKNOWN event without recipient, keyed by the body's hash.
  auto bare = provider->Decode(AcmeRequest("1700000000", R"({"email":null,"type":null})"));
  ASSERT_TRUE(bare.ok()) << bare.status();
  ASSERT_EQ(bare->events.size(), 1u);
  EXPECT_EQ(bare->events[0].provider_event_key(),
            crypto::HexEncode(crypto::Sha256(R"({"email":null,"type":null})").value()));
  EXPECT_EQ(bare->events[0].occurred_at().seconds(), 1700000000);  // the signed timestamp
}

TEST(GenericHmacTest, Base64Sha512BodyOnlyAndSha1WithId) {
  FakeClock clock(kNow);
  config::SourceConfig source = Acme();
  source.generic_hmac->algorithm = "sha512";
  source.generic_hmac->encoding = "base64";
  source.generic_hmac->prefix = "";
  source.generic_hmac->signed_template = "{body}";
  source.generic_hmac->timestamp_header = "";
  const std::string body = R"({"id":"x","type":"email.clicked","email":"c@example.com"})";
  const std::string mac = crypto::HmacSha512("acme-shared-secret", body).value();
  EXPECT_TRUE(Make(clock, source)
                  ->Verify(MakeRequest("acme", {{"x-signature", crypto::Base64Encode(mac)}}, body))
                  .ok());
  source.generic_hmac->algorithm = "sha1";
  source.generic_hmac->encoding = "hex";
  source.generic_hmac->signed_template = "{id}.{body}";
  source.generic_hmac->id_header = "X-Event-Id";
  source.generic_hmac->mapping.erase("id");
  const std::string mac1 = crypto::HmacSha1("acme-shared-secret", "evt-9." + body).value();
  const WebhookRequest request = MakeRequest(
      "acme", {{"X-Signature", crypto::HexEncode(mac1)}, {"X-Event-Id", "evt-9"}}, body);
  auto provider = Make(clock, source);
  EXPECT_TRUE(provider->Verify(request).ok());
  EXPECT_EQ(provider->Decode(request)->events[0].provider_event_key(), "evt-9");
}

TEST(GenericHmacTest, OptionsNameTheField) {
  FakeClock clock(kNow);
  auto error = [&](const config::SourceConfig& source) {
    return std::string(GenericHmacProvider::Create(source, "sources[5]", clock).status().message());
  };
  config::SourceConfig source = Acme();
  source.generic_hmac->signed_template = "{ts}.{body}";
  EXPECT_EQ(error(source), "sources[5].signed: unknown placeholder (want {body}, {timestamp}, {id})");
  source = Acme();
  source.generic_hmac->timestamp_header = "";
  EXPECT_EQ(error(source), "sources[5].timestamp_header: required by {timestamp} in signed");
  source = Acme();
  source.generic_hmac->mapping["subject"] = "/subject";
  EXPECT_EQ(error(source),
            "sources[5].mapping.subject: unknown field (want id, type, recipient, occurred_at, "
            "message_id, metadata)");
  source = Acme();
  source.generic_hmac->mapping["id"] = "id";
  EXPECT_EQ(error(source), "sources[5].mapping.id: \"id\" is not a JSON Pointer (starts with /)");
  source = Acme();
  source.generic_hmac->types["email.opened"] = "seen";
  EXPECT_EQ(error(source),
            "sources[5].types.email.opened: \"seen\" is not an event type (e.g. bounced)");
}

}  // namespace
}  // namespace switchboard::providers
