#include "router/providers/postmark_provider.h"

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

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "postmark";
  source.provider = "postmark";
  source.basic_auth = config::BasicAuth{"pm", "s3cret:with-colon"};
  return source;
}

std::string BasicHeader(std::string_view credentials) {
  return "Basic " + crypto::Base64Encode(credentials);
}

WebhookRequest Authorized(std::string body) {
  return MakeRequest("postmark", {{"authorization", BasicHeader("pm:s3cret:with-colon")}},
                     std::move(body), absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<PostmarkProvider> Make() {
  auto provider = PostmarkProvider::Create(Source(), "sources[0]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

TEST(PostmarkProviderTest, RequiresAnAuthOption) {
  config::SourceConfig source = Source();
  source.basic_auth.reset();
  auto provider = PostmarkProvider::Create(source, "sources[0]");
  EXPECT_EQ(provider.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(provider.status().message(), "sources[0].basic_auth: "));
  source.header = config::HeaderAuth{"X-Postmark-Token", "tok"};
  EXPECT_TRUE(PostmarkProvider::Create(source, "sources[0]").ok());
}

TEST(PostmarkProviderTest, VerifiesBasicAuth) {
  auto provider = Make();
  EXPECT_TRUE(provider->UsesBasicAuth());
  EXPECT_TRUE(provider->Verify(Authorized("{}")).ok());
  for (const std::string& bad : {BasicHeader("pm:wrong"), BasicHeader("PM:s3cret:with-colon"),
                                 std::string("Bearer s3cret"), std::string("Basic !!!"),
                                 std::string("Basic")}) {
    WebhookRequest request = MakeRequest("postmark", {{"authorization", bad}}, "{}");
    EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated) << bad;
  }
  WebhookRequest missing = MakeRequest("postmark", {}, "{}");
  EXPECT_EQ(provider->Verify(missing).code(), absl::StatusCode::kUnauthenticated);
  WebhookRequest duplicated = Authorized("{}");
  duplicated.headers.push_back(duplicated.headers.front());
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
}

TEST(PostmarkProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  for (std::string body : {"", "{", "42", "[1]", "{\"Foo\":1}",
                           "{\"RecordType\":\"Delivery\",\"DeliveredAt\":\"yesterday\"}",
                           "{\"RecordType\":\"Delivery\",\"Recipient\":\"not an address\"}"}) {
    EXPECT_EQ(provider->Decode(Authorized(body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(PostmarkProviderTest, UnknownRecordTypeAndNullsAreKept) {
  auto provider = Make();
  auto result = provider->Decode(Authorized(
      "{\"RecordType\":\"SomethingNew\",\"MessageID\":null,\"Recipient\":null,\"Metadata\":null,"
      "\"Tag\":null}"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->events.size(), 1u);
  EXPECT_EQ(result->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(result->events[0].provider_event_type(), "SomethingNew");
  EXPECT_TRUE(absl::StartsWith(result->events[0].raw(), "{\"RecordType\":\"SomethingNew\""));
}

TEST(PostmarkProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::PostmarkFixtureEvents();
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"postmark", ".json", "postmark", "postmark"}, expected, [&](const std::string& fixture) {
        WebhookRequest request = Authorized(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 17u);
}

TEST(PostmarkProviderTest, FieldsOfBounceClickAndInbound) {
  auto provider = Make();
  auto bounce = provider->Decode(Authorized(ReadFixture("postmark/bounce.json")));
  ASSERT_TRUE(bounce.ok());
  const v1::EmailEvent& b = bounce->events.at(0);
  EXPECT_EQ(b.bounce().smtp_code(), "550");
  EXPECT_EQ(b.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(b.bounce().provider_type(), "HardBounce");
  EXPECT_EQ(b.bounce().diagnostic(),
            "smtp;550 5.1.1 The email account that you tried to reach does not exist.");
  EXPECT_EQ(b.message_id(), "883953f4-6105-42a2-a16a-77a8eac79483");
  EXPECT_EQ(b.metadata().at("customer_id"), "12345");
  ASSERT_EQ(b.tags_size(), 1);
  EXPECT_EQ(b.tags(0), "welcome-email");
  EXPECT_EQ(b.raw(), ReadFixture("postmark/bounce.json").substr(0, b.raw().size()));

  auto click = provider->Decode(Authorized(ReadFixture("postmark/click.json")));
  ASSERT_TRUE(click.ok());
  EXPECT_EQ(click->events.at(0).click().url(), "https://yourdomain.com/pricing");
  EXPECT_EQ(click->events.at(0).ip(), "203.0.113.1");

  auto inbound = provider->Decode(Authorized(ReadFixture("postmark/inbound.skills.json")));
  ASSERT_TRUE(inbound.ok());
  const v1::Inbound& in = inbound->events.at(0).inbound();
  EXPECT_EQ(in.from(), "john@example.com");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "support+ticket-456@yourdomain.com");
  EXPECT_EQ(in.subject(), "Re: Issue with my order");
  EXPECT_EQ(in.text(), "I still haven't received my order.");
  EXPECT_EQ(in.html(), "<p>I still haven't received my order.</p>");
  EXPECT_EQ(in.message_key(), "73e6d360-66eb-11e1-8e72-a8206ea7d3ea");

  auto test_inbound = provider->Decode(Authorized(ReadFixture("postmark/inbound.json")));
  ASSERT_TRUE(test_inbound.ok());
  const v1::Inbound& t = test_inbound->events.at(0).inbound();
  ASSERT_EQ(t.cc_size(), 2);
  EXPECT_EQ(t.cc(0), "firstcc@postmarkapp.com");
  EXPECT_EQ(t.cc(1), "secondCc@postmarkapp.com");
}

TEST(PostmarkProviderTest, InboundThreadingHeaders) {
  auto provider = Make();
  auto result = provider->Decode(Authorized(
      "{\"MessageStream\":\"inbound\",\"FromFull\":{\"Email\":\"a@example.com\"},"
      "\"OriginalRecipient\":\"Reply@Example.com\",\"MessageID\":\"m1\","
      "\"Headers\":[{\"Name\":\"in-reply-to\",\"Value\":\"<x@y>\"},"
      "{\"Name\":\"References\",\"Value\":\"<w@y>\\r\\n <x@y>\"}]}"));
  ASSERT_TRUE(result.ok()) << result.status();
  const v1::EmailEvent& e = result->events.at(0);
  EXPECT_EQ(e.recipient(), "Reply@example.com");
  EXPECT_EQ(e.inbound().in_reply_to(), "<x@y>");
  ASSERT_EQ(e.inbound().references_size(), 2);
  EXPECT_EQ(e.inbound().references(1), "<x@y>");
  EXPECT_EQ(e.occurred_at().seconds(), kReceivedAtSeconds) << "no Date: received_at";
}

}  // namespace
}  // namespace switchboard::providers
