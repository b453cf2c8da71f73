// Customer.io reporting webhooks: every published vector (clock pinned at X-CIO-Timestamp), the
// signed sample decoded, and refusals.
#include "router/providers/customerio_provider.h"

#include <boost/json.hpp>

#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;
using testing::ManifestFiles;
using testing::MakeRequest;
using testing::ReadFixture;

constexpr char kKey[] = "755781b5e03a973f3405a85474d5a032a60fd56fabaad66039b12eadd83955fa";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "customerio";
  source.provider = "customerio";
  source.signing_key = kKey;
  return source;
}

std::unique_ptr<CustomerioProvider> Make(const Clock& clock,
                                         const config::SourceConfig& source = Source()) {
  auto provider = CustomerioProvider::Create(source, "sources[0]", clock, absl::Hours(72));
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

// Signed independently of the provider: HMAC-SHA256 hex over "v0:<ts>:<body>".
WebhookRequest Signed(const std::string& ts, std::string body) {
  const std::string mac = crypto::HmacSha256(kKey, "v0:" + ts + ":" + body).value();
  return MakeRequest("customerio",
                     {{"X-CIO-Signature", crypto::HexEncode(mac)}, {"X-CIO-Timestamp", ts}},
                     std::move(body), absl::FromUnixSeconds(1692633432));
}

TEST(CustomerioVectorsTest, EveryVectorVerifiesOrIsRefusedAsItSays) {
  int valid = 0;
  int invalid = 0;
  for (const std::string& path : ManifestFiles("customerio", ".vector.json")) {
    SCOPED_TRACE(path);
    const json::object v = json::parse(ReadFixture(path)).as_object();
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : v.at("headers").as_object()) {
      headers.emplace_back(std::string(name), std::string(value.as_string()));
    }
    const std::string body =
        v.contains("body") ? std::string(v.at("body").as_string())
                           : ReadFixture("customerio/" + std::string(v.at("body_file").as_string()));
    config::SourceConfig source = Source();
    source.signing_key = std::string(v.at("secret").as_string());
    FakeClock clock(absl::FromUnixSeconds(
        std::stoll(std::string(v.at("headers").at("X-CIO-Timestamp").as_string()))));
    const absl::Status status = Make(clock, source)->Verify(MakeRequest("cio", headers, body));
    if (v.at("expected").as_string() == "valid") {
      EXPECT_TRUE(status.ok()) << status;
      ++valid;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      ++invalid;
    }
  }
  EXPECT_EQ(valid, 2);
  EXPECT_EQ(invalid, 3);
}

TEST(CustomerioDecodeTest, EveryFixture) {
  FakeClock clock(absl::FromUnixSeconds(1692633432));
  auto provider = Make(clock);
  const size_t files = testing::ExpectFixtures(
      {"customerio", ".json", "customerio", "customerio"}, testing::CustomerioFixtureEvents(),
      [&](const std::string& fixture) {
        const WebhookRequest request = Signed("1692633432", ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 1u);  // and five vectors: CustomerioVectorsTest
}

TEST(CustomerioDecodeTest, SignedSample) {
  FakeClock clock(absl::FromUnixSeconds(1692633432));
  auto provider = Make(clock);
  const WebhookRequest request = Signed("1692633432", ReadFixture("customerio/email.sent.signed.json"));
  ASSERT_TRUE(provider->Verify(request).ok());
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 1u);
  const v1::EmailEvent& e = decoded->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_SENT);
  EXPECT_EQ(e.provider_event_type(), "sent");
  EXPECT_EQ(e.recipient(), "test@example.com");
  EXPECT_EQ(e.occurred_at().seconds(), 1692633432);
  EXPECT_EQ(e.occurred_at().nanos(), 0);
  EXPECT_EQ(e.provider_event_key(), "01E2EMRMM6TZ12TF9WGZN0WJQT");
  EXPECT_EQ(e.message_id(), "RAECAAFwnUSneIa0ZXkmq8EdkAM==");
  EXPECT_EQ(e.subject(), "Thanks for signing up");
  EXPECT_EQ(e.metadata().at("customer_id"), "user-123");
  EXPECT_EQ(e.metadata().at("identifiers.id"), "user-123");
  EXPECT_EQ(e.metadata().at("action_id"), "42");  // a number, by its text
  EXPECT_EQ(e.metadata().at("object_type"), "email");
  EXPECT_EQ(e.bounce().bounce_class(), v1::BOUNCE_CLASS_UNSPECIFIED);
}

TEST(CustomerioDecodeTest, MetricsBouncesAndOddRecipients) {
  FakeClock clock(absl::FromUnixSeconds(1692633432));
  auto provider = Make(clock);
  auto decode = [&](const std::string& body) { return provider->Decode(Signed("1692633432", body)); };
  auto bounced = decode(
      R"({"event_id":"e1","metric":"bounced","object_type":"email","timestamp":1692633000,)"
      R"("data":{"recipient":"Someone@Example.COM","failure_message":"550 5.1.1 no such user"}})");
  ASSERT_TRUE(bounced.ok()) << bounced.status();
  EXPECT_EQ(bounced->events[0].type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(bounced->events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(bounced->events[0].bounce().smtp_code(), "550");
  EXPECT_EQ(bounced->events[0].recipient(), "Someone@example.com");
  auto soft = decode(
      R"({"event_id":"e2","metric":"bounced","timestamp":1692633000,)"
      R"j("data":{"recipient":"a@b.example","failure_message":"mailbox full (452)"}})j");
  ASSERT_TRUE(soft.ok());
  EXPECT_EQ(soft->events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_SOFT);
  auto unclassified = decode(
      R"({"event_id":"e3","metric":"bounced","timestamp":1692633000,"data":{"recipient":"a@b.example"}})");
  ASSERT_TRUE(unclassified.ok());
  EXPECT_EQ(unclassified->events[0].bounce().bounce_class(), v1::BOUNCE_CLASS_UNDETERMINED);
  auto sms = decode(
      R"({"event_id":"e4","metric":"delivered","object_type":"sms","timestamp":1692633000,)"
      R"("data":{"recipient":"+15555550100"}})");
  ASSERT_TRUE(sms.ok());
  EXPECT_EQ(sms->events[0].recipient(), "");
  EXPECT_EQ(sms->events[0].metadata().at("recipient"), "+15555550100");
  auto unknown = decode(R"({"event_id":"e5","metric":"converted","timestamp":1692633000,"data":null})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  auto unsubscribed = decode(
      R"({"event_id":"e6","metric":"unsubscribed","object_type":"customer","timestamp":1692633000,)"
      R"("data":{"email_address":"c@d.example","customer_id":"42"}})");
  ASSERT_TRUE(unsubscribed.ok());
  EXPECT_EQ(unsubscribed->events[0].type(), v1::EVENT_TYPE_UNSUBSCRIBED);
  EXPECT_EQ(unsubscribed->events[0].recipient(), "c@d.example");
  for (const char* bad : {"[]", "not json", R"({"metric":"sent","timestamp":1})",
                          R"({"event_id":"x","metric":"sent","timestamp":"yesterday"})"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(decode(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(CustomerioVerifyTest, Refusals) {
  FakeClock clock(absl::FromUnixSeconds(1692633432));
  auto provider = Make(clock);
  const std::string body = ReadFixture("customerio/email.sent.signed.json");
  WebhookRequest request = Signed("1692633432", body);
  EXPECT_TRUE(provider->Verify(request).ok());
  // Missing / duplicated headers; header names are case-insensitive.
  request.headers[0].first = "x-cio-signature";
  EXPECT_TRUE(provider->Verify(request).ok());
  request.headers.push_back(request.headers[0]);
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(provider->Verify(MakeRequest("cio", {{"X-CIO-Timestamp", "1692633432"}}, body)).code(),
            absl::StatusCode::kUnauthenticated);
  // The window: 5 minutes by default, both ways.
  request = Signed("1692633432", body);
  clock.Set(absl::FromUnixSeconds(1692633432 + 300));
  EXPECT_TRUE(provider->Verify(request).ok());
  clock.Set(absl::FromUnixSeconds(1692633432 + 301));
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  clock.Set(absl::FromUnixSeconds(1692633432 - 301));
  EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated);
  // Milliseconds are not seconds.
  EXPECT_EQ(provider->Verify(Signed("1692633432000", body)).code(),
            absl::StatusCode::kUnauthenticated);
  config::SourceConfig source = Source();
  source.signing_key.clear();
  EXPECT_EQ(CustomerioProvider::Create(source, "sources[4]", clock).status().message(),
            "sources[4].signing_key: required");
}

}  // namespace
}  // namespace switchboard::providers
