#include "router/providers/postmark_provider.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "tests/unit/providers/expected_events.h"
#include "tests/unit/providers/fixture_util.h"

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
  constexpr int64_t kApril2025 = 1743870834;  // 2025-04-05T16:33:54Z
  constexpr int32_t kApril2025Nanos = 907025900;  // .9070259
  const std::string kId = "883953f4-6105-42a2-a16a-77a8eac79483";
  const std::string kApril2025Text = "2025-04-05T16:33:54.9070259Z";
  const std::vector<ExpectedEvent> expected = {
      {"postmark/bounce.json", v1::EVENT_TYPE_BOUNCED, "john@example.com", kApril2025,
       kApril2025Nanos, "Bounce|42", v1::BOUNCE_CLASS_HARD},
      // 2016-04-27T16:28:50.3963933-04:00 = 20:28:50Z
      {"postmark/bounce.offset-timestamp.json", v1::EVENT_TYPE_BOUNCED, "bounce@example.com",
       1461788930, 396393300, "Bounce|901542550", v1::BOUNCE_CLASS_HARD},
      // Type Unsubscribe, no Email, no BouncedAt.
      {"postmark/bounce.unsubscribe-variant.json", v1::EVENT_TYPE_UNSUBSCRIBED, "",
       kReceivedAtSeconds, 0, "Bounce|555555555"},
      // 2017-10-25T15:21:11.9065619Z
      {"postmark/click.anymail.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com",
       1508944871, 906561900,
       "Click|f4830d10-9c35-4f0c-bca3-3d9b459821f8|2017-10-25T15:21:11.9065619Z|"
       "https://example.com/click/me"},
      {"postmark/click.json", v1::EVENT_TYPE_CLICKED, "john@example.com", kApril2025,
       kApril2025Nanos, "Click|" + kId + "|" + kApril2025Text + "|https://yourdomain.com/pricing"},
      {"postmark/delivery.json", v1::EVENT_TYPE_DELIVERED, "john@example.com", kApril2025,
       kApril2025Nanos, "Delivery|" + kId + "|" + kApril2025Text},
      // 2014-08-01T13:28:10.2735393-04:00 = 17:28:10Z
      {"postmark/delivery.offset-timestamp.json", v1::EVENT_TYPE_DELIVERED,
       "recipient@example.com", 1406914090, 273539300,
       "Delivery|" + kId + "|2014-08-01T13:28:10.2735393-04:00"},
      // Date: Fri, 5 May 2023 17:44:33 -0400 = 21:44:33Z
      {"postmark/inbound.json", v1::EVENT_TYPE_RECEIVED,
       "mailbox+SampleHash@inbound.postmarkapp.com", 1683323073, 0,
       "Inbound|00000000-0000-0000-0000-000000000000"},
      // Date: Thu, 5 Apr 2025 16:59:01 +0200 = 14:59:01Z
      {"postmark/inbound.skills.json", v1::EVENT_TYPE_RECEIVED,
       "support+ticket-456@yourdomain.com", 1743865141, 0,
       "Inbound|73e6d360-66eb-11e1-8e72-a8206ea7d3ea"},
      // Date: Fri, 5 May 2023 17:41:16 -0400 = 21:41:16Z
      {"postmark/inbound.with-raw.json", v1::EVENT_TYPE_RECEIVED,
       "mailbox+SampleHash@inbound.postmarkapp.com", 1683322876, 0,
       "Inbound|00000000-0000-0000-0000-000000000000"},
      {"postmark/open.json", v1::EVENT_TYPE_OPENED, "john@example.com", kApril2025,
       kApril2025Nanos, "Open|" + kId + "|" + kApril2025Text},
      // 2016-04-27T16:21:41.2493688-04:00 = 20:21:41Z
      {"postmark/open.offset-timestamp.json", v1::EVENT_TYPE_OPENED, "recipient@example.com",
       1461788501, 249368800,
       "Open|f4830d10-9c35-4f0c-bca3-3d9b459821f8|2016-04-27T16:21:41.2493688-04:00"},
      {"postmark/spam-complaint.anymail.json", v1::EVENT_TYPE_COMPLAINED, "spam@example.com",
       1461788930, 396393300, "SpamComplaint|901542550"},
      {"postmark/spam-complaint.json", v1::EVENT_TYPE_COMPLAINED, "john@example.com", kApril2025,
       kApril2025Nanos, "SpamComplaint|42"},
      // 2022-06-05T17:17:32Z; SuppressionReason HardBounce.
      {"postmark/subscription-change.hard-bounce.json", v1::EVENT_TYPE_BOUNCED,
       "john@example.com", 1654449452, 0,
       "SubscriptionChange|b4cb783d-78ed-43f2-983b-63f55c712dc8|2022-06-05T17:17:32Z",
       v1::BOUNCE_CLASS_HARD},
      {"postmark/subscription-change.json", v1::EVENT_TYPE_UNSUBSCRIBED, "john@example.com",
       kApril2025, kApril2025Nanos, "SubscriptionChange|" + kId + "|" + kApril2025Text},
      // SuppressSending false: a resubscribe, never an unsubscribe.
      {"postmark/subscription-change.resubscribe.json", v1::EVENT_TYPE_RESUBSCRIBED,
       "john@example.com", 1654449452, 0,
       "SubscriptionChange|a4909a96-73d7-4c49-b148-a54522d3f7ac|2022-06-05T17:17:32Z"},
  };
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      "postmark", ".json", "postmark", expected, [&](const std::string& fixture) {
        WebhookRequest request = Authorized(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return provider->Decode(request);
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
