#include "router/providers/mailjet_provider.h"

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
  source.name = "mailjet";
  source.provider = "mailjet";
  source.basic_auth = config::BasicAuth{"mj", "hunter2"};
  return source;
}

WebhookRequest Authorized(std::string body) {
  return MakeRequest("mailjet", {{"authorization", "Basic " + crypto::Base64Encode("mj:hunter2")}},
                     std::move(body), absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<MailjetProvider> Make() {
  auto provider = MailjetProvider::Create(Source(), "sources[3]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

TEST(MailjetProviderTest, VerifiesBasicAuth) {
  auto provider = Make();
  EXPECT_TRUE(provider->UsesBasicAuth());
  EXPECT_TRUE(provider->Verify(Authorized("[]")).ok());
  // The scheme name is case-insensitive (RFC 9110 11.1).
  EXPECT_TRUE(provider
                  ->Verify(MakeRequest("mailjet",
                                       {{"authorization",
                                         "basic " + crypto::Base64Encode("mj:hunter2")}},
                                       "[]"))
                  .ok());
  EXPECT_EQ(provider->Verify(MakeRequest("mailjet", {}, "[]")).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(provider
                ->Verify(MakeRequest(
                    "mailjet", {{"authorization", "Basic " + crypto::Base64Encode("mj:hunter3")}},
                    "[]"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  WebhookRequest duplicated = Authorized("[]");
  duplicated.headers.emplace_back("authorization", "Basic " + crypto::Base64Encode("x:y"));
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
  config::SourceConfig none = Source();
  none.basic_auth.reset();
  EXPECT_EQ(MailjetProvider::Create(none, "sources[3]").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MailjetProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  for (std::string body : {"", "nope", "\"sent\"", "[1]", "[{\"time\":1}]",
                           "{\"event\":\"sent\",\"email\":\"a@b.c\"}",
                           "{\"event\":\"sent\",\"time\":\"-1\",\"email\":\"a@b.c\"}",
                           "{\"event\":\"sent\",\"time\":1,\"email\":\"@\"}"}) {
    EXPECT_EQ(provider->Decode(Authorized(body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
  auto empty = provider->Decode(Authorized("[]"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->events.empty());
  EXPECT_EQ(empty->control, "empty-batch");
}

TEST(MailjetProviderTest, UnknownEventsAndNullsAreKept) {
  auto provider = Make();
  auto result = provider->Decode(Authorized(
      "{\"event\":\"new_kind\",\"time\":1433334941,\"MessageID\":null,\"email\":\"A@B.example\","
      "\"customcampaign\":null,\"CustomID\":null,\"Payload\":null}"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->events.size(), 1u);
  EXPECT_EQ(result->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(result->events[0].recipient(), "A@b.example");
}

TEST(MailjetProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::MailjetFixtureEvents();
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"mailjet", ".json", "mailjet", "mailjet"}, expected, [&](const std::string& fixture) {
        WebhookRequest request = Authorized(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 12u);
}

TEST(MailjetProviderTest, Fields) {
  auto provider = Make();
  auto batch = provider->Decode(Authorized(ReadFixture("mailjet/sent.grouped-batch.json")));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->events.at(0).message_id(), "19421777835146490");
  EXPECT_EQ(batch->events.at(1).message_id(), "19421777835146491");
  EXPECT_NE(batch->events.at(0).id(), batch->events.at(1).id());
  EXPECT_EQ(batch->events.at(0).metadata().at("CustomID"), "helloworld");
  EXPECT_TRUE(absl::StartsWith(batch->events.at(1).raw(), "{\n      \"event\": \"sent\""));
  EXPECT_TRUE(absl::EndsWith(batch->events.at(1).raw(), "\"Payload\": \"\"\n   }"));

  auto bounce = provider->Decode(Authorized(ReadFixture("mailjet/bounce.json")));
  ASSERT_TRUE(bounce.ok());
  EXPECT_EQ(bounce->events.at(0).bounce().provider_type(), "user unknown");
  EXPECT_TRUE(absl::StartsWith(bounce->events.at(0).bounce().diagnostic(),
                               "Host or domain name not found."));

  auto click = provider->Decode(Authorized(ReadFixture("mailjet/click.json")));
  ASSERT_TRUE(click.ok());
  EXPECT_EQ(click->events.at(0).click().url(), "https://mailjet.com");
  EXPECT_EQ(click->events.at(0).ip(), "127.0.0.1");

  auto anymail = provider->Decode(Authorized(ReadFixture("mailjet/sent.grouped-anymail.json")));
  ASSERT_TRUE(anymail.ok());
  ASSERT_EQ(anymail->events.at(0).tags_size(), 1);
  EXPECT_EQ(anymail->events.at(0).tags(0), "tag1");
  EXPECT_EQ(anymail->events.at(0).metadata().at("Payload"),
            "{\"meta1\": \"simple string\", \"meta2\": 2}");

  auto inbound = provider->Decode(Authorized(ReadFixture("mailjet/inbound.parse.json")));
  ASSERT_TRUE(inbound.ok());
  const v1::Inbound& in = inbound->events.at(0).inbound();
  EXPECT_EQ(in.from(), "Pilot <pilot@mailjet.com>");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "passenger@mailjet.com");
  EXPECT_EQ(in.subject(), "Hey! It's Friday!");
  EXPECT_TRUE(absl::StartsWith(in.text(), "Hi,\n\nImportant notice: it's Friday."));
  EXPECT_TRUE(absl::StartsWith(in.html(), "<div dir=\"ltr\">Hi,"));
  EXPECT_EQ(in.message_key(),
            "<CAE5Zh0ZpHZ6G5DC+He5426a4RkVab7uWaTDwiMcHzOR=YB3urA@mail.gmail.com>");
  EXPECT_EQ(inbound->events.at(0).sender(), "pilot@mailjet.com");
}

}  // namespace
}  // namespace switchboard::providers
