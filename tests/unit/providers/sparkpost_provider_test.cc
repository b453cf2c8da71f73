#include "router/providers/sparkpost_provider.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
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
  source.name = "sparkpost";
  source.provider = "sparkpost";
  source.header = config::HeaderAuth{"X-Webhook-Token", "sp-secret"};
  return source;
}

WebhookRequest Authorized(std::string body) {
  return MakeRequest("sparkpost", {{"x-webhook-token", "sp-secret"}}, std::move(body),
                     absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<SparkpostProvider> Make() {
  auto provider = SparkpostProvider::Create(Source(), "sources[5]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

TEST(SparkpostProviderTest, VerifiesCustomHeader) {
  auto provider = Make();
  EXPECT_TRUE(provider->Verify(Authorized("[]")).ok());
  // Header names are case-insensitive: the ingress lower-cases them, a test may not.
  EXPECT_TRUE(provider->Verify(MakeRequest("sparkpost", {{"X-WEBHOOK-TOKEN", "sp-secret"}}, "[]"))
                  .ok());
  EXPECT_EQ(provider->Verify(MakeRequest("sparkpost", {{"x-webhook-token", "sp-secreT"}}, "[]"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(provider->Verify(MakeRequest("sparkpost", {}, "[]")).code(),
            absl::StatusCode::kUnauthenticated);
  WebhookRequest duplicated = Authorized("[]");
  duplicated.headers.emplace_back("x-webhook-token", "sp-secret");
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SparkpostProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  for (std::string body : {"", "{}", "[1]", "[{}]", "[{\"msys\":[]}]",
                           "[{\"msys\":{\"a\":{},\"b\":{}}}]",
                           "[{\"msys\":{\"message_event\":{\"type\":\"delivery\","
                           "\"timestamp\":\"yesterday\"}}}]"}) {
    EXPECT_EQ(provider->Decode(Authorized(body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(SparkpostProviderTest, PingIsAControlMessage) {
  auto provider = Make();
  auto ping = provider->Decode(Authorized(ReadFixture("sparkpost/ping.json")));
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_TRUE(ping->events.empty());
  EXPECT_EQ(ping->control, "ping");
}

TEST(SparkpostProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::SparkpostFixtureEvents();
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"sparkpost", ".json", "sparkpost", "sparkpost"}, expected, [&](const std::string& fixture) {
        WebhookRequest request = Authorized(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 14u);
}

TEST(SparkpostProviderTest, Fields) {
  auto provider = Make();
  auto bounce = provider->Decode(Authorized(ReadFixture("sparkpost/bounce.json")));
  ASSERT_TRUE(bounce.ok());
  const v1::EmailEvent& b = bounce->events.at(0);
  EXPECT_EQ(b.bounce().smtp_code(), "550");
  EXPECT_EQ(b.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(b.bounce().provider_type(), "10");
  EXPECT_EQ(b.message_id(), "0004e3724f57753a3561");
  // raw is the whole array element, the "cust" sibling of msys included.
  EXPECT_TRUE(absl::StartsWith(b.raw(), "{\n    \"msys\": {"));
  EXPECT_TRUE(absl::EndsWith(b.raw(), "\"cust\": {\n      \"id\": \"00000\"\n    }\n  }"));

  auto injection = provider->Decode(Authorized(ReadFixture("sparkpost/injection.json")));
  ASSERT_TRUE(injection.ok());
  const v1::EmailEvent& i = injection->events.at(0);
  ASSERT_EQ(i.tags_size(), 2);
  EXPECT_EQ(i.tags(1), "US");
  EXPECT_EQ(i.metadata().at("customKey"), "customValue");
  EXPECT_EQ(i.subject(), "Summer deals are here!");
  EXPECT_EQ(i.sender(), "sender@example.com");

  auto click = provider->Decode(Authorized(ReadFixture("sparkpost/click.amp.json")));
  ASSERT_TRUE(click.ok());
  EXPECT_EQ(click->events.at(0).click().url(), "http://example.com");

  auto relay = provider->Decode(Authorized(ReadFixture("sparkpost/relay-message.json")));
  ASSERT_TRUE(relay.ok());
  const v1::Inbound& in = relay->events.at(0).inbound();
  EXPECT_EQ(in.from(), "me@here.com");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "your@yourdomain.com");
  EXPECT_EQ(in.subject(), "We come in peace");
  EXPECT_EQ(in.text(), "Hi there SparkPostians.");
  EXPECT_EQ(in.message_key(), "<484810298443-112311-xqxbby@mail.there.com>");
}

TEST(SparkpostProviderTest, UnknownClassesAndPingsInsideABatch) {
  auto provider = Make();
  auto result = provider->Decode(Authorized(
      "[{\"msys\":{}},{\"msys\":{\"ab_test_event\":{\"type\":\"ab_test_completed\","
      "\"event_id\":\"1\",\"timestamp\":\"1464894280\"}}}]"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->events.size(), 1u);
  EXPECT_EQ(result->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(result->events[0].provider_event_type(), "ab_test_completed");
  EXPECT_TRUE(result->control.empty());
}

}  // namespace
}  // namespace switchboard::providers
