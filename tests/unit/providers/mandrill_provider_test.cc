#include "router/providers/mandrill_provider.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/common/expected_events.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

using testing::ExpectedEvent;
using testing::kReceivedAtSeconds;
using testing::MakeRequest;
using testing::ReadFixture;

constexpr char kKey[] = "mandrill-webhook-key";
constexpr char kUrl[] = "https://hooks.example.com/v1/webhooks/mandrill";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "mandrill";
  source.provider = "mandrill";
  source.key = kKey;
  source.url = kUrl;
  return source;
}

// Every byte but [A-Za-z0-9] as %XX: a valid form encoding made independently of the decoder.
std::string PercentEncodeAll(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte)) {
      out.push_back(c);
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 0xF]};
    }
  }
  return out;
}

// As Mandrill signs: base64(HMAC-SHA1(key, url + "mandrill_events" + <the JSON>)).
WebhookRequest Signed(const std::string& events_json, std::string url = kUrl) {
  const std::string signature = crypto::Base64Encode(
      crypto::HmacSha1(kKey, url + "mandrill_events" + events_json).value());
  return MakeRequest("mandrill",
                     {{"content-type", "application/x-www-form-urlencoded"},
                      {"x-mandrill-signature", signature}},
                     "mandrill_events=" + PercentEncodeAll(events_json),
                     absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<MandrillProvider> Make() {
  auto provider = MandrillProvider::Create(Source(), "sources[6]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

TEST(MandrillProviderTest, CreateNamesTheField) {
  config::SourceConfig source = Source();
  source.key.clear();
  auto no_key = MandrillProvider::Create(source, "sources[6]");
  EXPECT_EQ(no_key.status().message(), "sources[6].key: required");
  source = Source();
  source.url = "/v1/webhooks/mandrill";
  EXPECT_TRUE(absl::StartsWith(MandrillProvider::Create(source, "sources[6]").status().message(),
                               "sources[6].url: "));
}

TEST(MandrillProviderTest, VerifiesTheSignature) {
  auto provider = Make();
  EXPECT_TRUE(provider->AcceptsProbes());
  EXPECT_TRUE(provider->Verify(Signed("[]")).ok());
  // Mandrill's "+" for a space decodes before signing, like any form value.
  WebhookRequest plus = Signed("[ ]");
  plus.body = "mandrill_events=%5B+%5D";
  EXPECT_TRUE(provider->Verify(plus).ok());

  EXPECT_EQ(provider->Verify(Signed("[]", "https://hooks.example.com/other")).code(),
            absl::StatusCode::kUnauthenticated);
  WebhookRequest tampered = Signed("[]");
  tampered.body = "mandrill_events=%5B%20%5D";
  EXPECT_EQ(provider->Verify(tampered).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest extra_field = Signed("[]");
  extra_field.body += "&x=1";
  EXPECT_EQ(provider->Verify(extra_field).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest missing = Signed("[]");
  missing.headers.pop_back();
  EXPECT_EQ(provider->Verify(missing).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest duplicated = Signed("[]");
  duplicated.headers.push_back(duplicated.headers.back());
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest bad_escape = Signed("[]");
  bad_escape.body = "mandrill_events=%5";
  EXPECT_EQ(provider->Verify(bad_escape).code(), absl::StatusCode::kUnauthenticated);
}

TEST(MandrillProviderTest, SignatureCoversEveryFieldSorted) {
  auto provider = Make();
  // Two fields, posted in reverse order: signed as url + "a" + "1" + "mandrill_events" + "[]".
  const std::string signature = crypto::Base64Encode(
      crypto::HmacSha1(kKey, std::string(kUrl) + "a1mandrill_events[]").value());
  WebhookRequest request = MakeRequest("mandrill", {{"x-mandrill-signature", signature}},
                                       "mandrill_events=%5B%5D&a=1");
  EXPECT_TRUE(provider->Verify(request).ok());
}

TEST(MandrillProviderTest, EmptyBatchIsTheTestCall) {
  auto provider = Make();
  auto result = provider->Decode(Signed("[]"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->events.empty());
  EXPECT_EQ(result->control, "empty-batch");
}

TEST(MandrillProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  for (std::string json : {"", "{}", "[1]", "[{\"event\":\"send\",\"ts\":\"x\"}]",
                           "[{\"event\":\"send\",\"ts\":1,\"msg\":{\"email\":\"nobody\"}}]"}) {
    EXPECT_EQ(provider->Decode(Signed(json)).status().code(), absl::StatusCode::kInvalidArgument)
        << json;
  }
  WebhookRequest no_field = Signed("[]");
  no_field.body = "other=1";
  EXPECT_EQ(provider->Decode(no_field).status().code(), absl::StatusCode::kInvalidArgument);
  WebhookRequest twice = Signed("[]");
  twice.body = "mandrill_events=%5B%5D&mandrill_events=%5B%5D";
  EXPECT_EQ(provider->Decode(twice).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MandrillProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::MandrillFixtureEvents();
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"mandrill", ".json", "mandrill", "mandrill"}, expected, [&](const std::string& fixture) {
        WebhookRequest request = Signed(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 5u);
}

TEST(MandrillProviderTest, Fields) {
  auto provider = Make();
  const std::string batch_json = ReadFixture("mandrill/test-webhook-batch.json");
  auto batch = provider->Decode(Signed(batch_json));
  ASSERT_TRUE(batch.ok());
  const v1::EmailEvent& hard = batch->events.at(2);
  EXPECT_EQ(hard.bounce().smtp_code(), "550");
  EXPECT_EQ(hard.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(hard.bounce().provider_type(), "bad_mailbox");
  EXPECT_EQ(hard.message_id(), "fa239ebedd0a4831a3eefa59e880d8b2");
  EXPECT_EQ(hard.sender(), "example.sender@mandrillapp.com");
  EXPECT_EQ(hard.metadata().at("user_id"), "111");
  ASSERT_EQ(hard.tags_size(), 1);
  EXPECT_EQ(hard.tags(0), "webhook-example");
  EXPECT_NE(batch_json.find(hard.raw()), std::string::npos) << "raw is the element's bytes";
  EXPECT_EQ(batch->events.at(3).bounce().smtp_code(), "552");
  EXPECT_EQ(batch->events.at(5).click().url(), "http://mandrill.com");
  EXPECT_EQ(batch->events.at(4).ip(), "127.0.0.1");

  auto compact = provider->Decode(Signed(ReadFixture("mandrill/sample-webhook.compact.json")));
  ASSERT_TRUE(compact.ok());
  EXPECT_EQ(compact->events.at(2).user_agent(),
            "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; en-US; rv:1.9.1.8) "
            "Gecko/20100317 Postbox/1.1.3")
      << "JSON \\/ escapes decoded";

  auto inbound = provider->Decode(Signed(ReadFixture("mandrill/inbound-batch.json")));
  ASSERT_TRUE(inbound.ok());
  const v1::Inbound& in = inbound->events.at(0).inbound();
  EXPECT_EQ(in.from(), "example.sender@mandrillapp.com");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "test@inbound.example.com");
  EXPECT_EQ(in.subject(), "This is an example webhook message");
  EXPECT_EQ(in.text(), "This is an example inbound message.\n");
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "pass");
  EXPECT_EQ(in.message_key(),
            "<999.20130510192820.aaaaaaaaaaaaaa.aaaaaaaa@mail115.us4.mandrillapp.com>");
  EXPECT_EQ(inbound->events.at(0).id(), inbound->events.at(1).id());
}

}  // namespace
}  // namespace switchboard::providers
