#include "router/providers/brevo_provider.h"

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
  source.name = "brevo";
  source.provider = "brevo";
  source.bearer_token = "brevo-token-1";
  return source;
}

WebhookRequest Authorized(std::string body) {
  return MakeRequest("brevo", {{"authorization", "Bearer brevo-token-1"}}, std::move(body),
                     absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<BrevoProvider> Make() {
  auto provider = BrevoProvider::Create(Source(), "sources[4]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

TEST(BrevoProviderTest, VerifiesBearerToken) {
  auto provider = Make();
  EXPECT_FALSE(provider->UsesBasicAuth());
  EXPECT_TRUE(provider->Verify(Authorized("[]")).ok());
  EXPECT_TRUE(provider->Verify(MakeRequest("brevo", {{"authorization", "BEARER brevo-token-1"}},
                                           "[]"))
                  .ok());
  for (std::string bad : {"Bearer brevo-token-2", "Bearer brevo-token-1x", "Bearer ",
                          "Basic YnJldm86YnJldm8=", "brevo-token-1"}) {
    EXPECT_EQ(provider->Verify(MakeRequest("brevo", {{"authorization", bad}}, "[]")).code(),
              absl::StatusCode::kUnauthenticated)
        << bad;
  }
  WebhookRequest duplicated = Authorized("[]");
  duplicated.headers.push_back(duplicated.headers.front());
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
}

TEST(BrevoProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  for (std::string body : {"", "[", "true", "[[]]", "{\"email\":\"a@b.c\"}",
                           "{\"event\":\"delivered\",\"email\":\"a@b.c\",\"ts_epoch\":\"soon\"}",
                           "{\"items\":{}}", "{\"items\":[1]}"}) {
    EXPECT_EQ(provider->Decode(Authorized(body)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(BrevoProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::BrevoFixtureEvents();
  auto provider = Make();
  const size_t files = testing::ExpectFixtures(
      {"brevo", ".json", "brevo", "brevo"}, expected, [&](const std::string& fixture) {
        WebhookRequest request = Authorized(ReadFixture(fixture));
        EXPECT_TRUE(provider->Verify(request).ok());
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 14u);
}

TEST(BrevoProviderTest, Fields) {
  auto provider = Make();
  auto bounce = provider->Decode(Authorized(ReadFixture("brevo/hard_bounce.json")));
  ASSERT_TRUE(bounce.ok());
  const v1::Bounce& b = bounce->events.at(0).bounce();
  EXPECT_EQ(b.smtp_code(), "550");
  EXPECT_EQ(b.enhanced_status(), "5.5.0");
  EXPECT_EQ(b.diagnostic(),
            " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.");
  ASSERT_EQ(bounce->events.at(0).tags_size(), 1);
  EXPECT_EQ(bounce->events.at(0).tags(0), "header-tag");

  auto proxy = provider->Decode(Authorized(ReadFixture("brevo/unique_proxy_open.json")));
  ASSERT_TRUE(proxy.ok());
  EXPECT_TRUE(proxy->events.at(0).open().machine_open());
  ASSERT_EQ(proxy->events.at(0).tags_size(), 1);
  EXPECT_EQ(proxy->events.at(0).tags(0), "transactionalTag");
  auto opened = provider->Decode(Authorized(ReadFixture("brevo/opened.json")));
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(opened->events.at(0).open().machine_open());

  auto request = provider->Decode(Authorized(ReadFixture("brevo/request.json")));
  ASSERT_TRUE(request.ok());
  const v1::EmailEvent& r = request->events.at(0);
  ASSERT_EQ(r.tags_size(), 2);
  EXPECT_EQ(r.tags(0), "tag1");
  EXPECT_EQ(r.tags(1), "tag2");
  EXPECT_EQ(r.metadata().at("X-Mailin-custom"), "{\"meta\": \"data\"}");
  EXPECT_EQ(r.subject(), "Test subject");

  auto inbound = provider->Decode(Authorized(ReadFixture("brevo/inbound.json")));
  ASSERT_TRUE(inbound.ok());
  const v1::Inbound& in = inbound->events.at(1).inbound();
  EXPECT_EQ(in.from(), "from@example.com");
  EXPECT_EQ(in.subject(), "Testing Brevo inbound");
  EXPECT_EQ(in.text(), "This is a *test message*.\r\n\n- Sender\r\n");
  EXPECT_EQ(in.message_key(), "<ABCDE12345@mail.example.com>");
  ASSERT_EQ(in.cc_size(), 1);
  EXPECT_EQ(in.cc(0), "test+cc@anymail.dev");
}

TEST(BrevoProviderTest, BatchesSplitAndDuplicatesInInboundCollapse) {
  auto provider = Make();
  auto batch = provider->Decode(Authorized(
      "[{\"event\":\"delivered\",\"email\":\"a@example.com\",\"ts_epoch\":1520363423001,"
      "\"message-id\":\"<m>\"},{\"event\":\"list_addition\",\"email\":\"b@example.com\","
      "\"ts_event\":1520363424}]"));
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(batch->events[0].occurred_at().nanos(), 1000000);
  EXPECT_EQ(batch->events[1].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(batch->events[1].raw(),
            "{\"event\":\"list_addition\",\"email\":\"b@example.com\",\"ts_event\":1520363424}");
  auto inbound = provider->Decode(Authorized(
      "{\"items\":[{\"MessageId\":\"<x>\",\"To\":[{\"Address\":\"a@example.com\"}],"
      "\"Cc\":[{\"Address\":\"A@example.com\"}]}]}"));
  ASSERT_TRUE(inbound.ok()) << inbound.status();
  EXPECT_EQ(inbound->events.size(), 1u);
}

}  // namespace
}  // namespace switchboard::providers
