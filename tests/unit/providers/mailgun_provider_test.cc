// Mailgun: the mailgun-php signature vectors, every fixture signed with a test key and decoded
// against hand-written expectations, legacy form and inbound multipart posts, the replay guard,
// and refusals.
#include "router/providers/mailgun_provider.h"

#include <boost/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "router/providers/form_urlencoded.h"
#include "tests/common/expected_events.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;
using testing::ExpectedEvent;
using testing::MakeRequest;
using testing::ManifestFiles;
using testing::ReadFixture;

constexpr char kKey[] = "key-test-0123456789abcdef";
constexpr char kToken[] = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607182";
constexpr int64_t kNow = 1700000000;

config::SourceConfig Source(std::string key = kKey) {
  config::SourceConfig source;
  source.name = "mailgun";
  source.provider = "mailgun";
  source.signing_key = std::move(key);
  return source;
}

std::unique_ptr<MailgunProvider> Make(const Clock& clock,
                                      const config::SourceConfig& source = Source()) {
  auto provider = MailgunProvider::Create(source, "sources[0]", clock, absl::Hours(72));
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

// Computed independently of the provider: hex HMAC-SHA256(key, timestamp + token).
std::string Signature(const std::string& timestamp, const std::string& token,
                      const std::string& key = kKey) {
  return crypto::HexEncode(crypto::HmacSha256(key, timestamp + token).value());
}

std::string SignatureObject(const std::string& timestamp, const std::string& token = kToken) {
  return absl::StrCat(R"({"timestamp":")", timestamp, R"(","token":")", token,
                      R"(","signature":")", Signature(timestamp, token), R"("})");
}

// A JSON webhook as Mailgun posts it, around `event_data` kept byte for byte.
WebhookRequest JsonWebhook(const std::string& event_data, const std::string& ts = "1700000000") {
  return MakeRequest("mailgun", {{"Content-Type", "application/json"}},
                     absl::StrCat(R"({"signature":)", SignatureObject(ts), R"(,"event-data":)",
                                  event_data, "}"),
                     absl::FromUnixSeconds(kNow));
}

// The request for one fixture: event-data files are wrapped, anymail's whole webhooks get a real
// signature block (spliced in as text, so every digit of the body stays as published).
WebhookRequest FixtureRequest(const std::string& path, FakeClock& clock) {
  const std::string text = ReadFixture(path);
  clock.Set(absl::FromUnixSeconds(kNow));
  if (path.ends_with(".vector.json")) {
    const json::object v = json::parse(text).as_object();
    clock.Set(absl::FromUnixSeconds(1403645220));
    return MakeRequest("mailgun", {{"content-type", "application/json"}},
                       json::serialize(v.at("body_json")), absl::FromUnixSeconds(kNow));
  }
  if (path.ends_with(".event-data.json")) return JsonWebhook(text);
  if (text.find(R"("signature": "...")") != std::string::npos) {
    // delivered.json: its own timestamp and token, the placeholder signature replaced.
    clock.Set(absl::FromUnixSeconds(1534108637));
    const std::string token = "651869375b9df3c98fc15c4889b102119add1235c38fc92824";
    return MakeRequest("mailgun", {{"Content-Type", "application/json"}},
                       absl::StrReplaceAll(text, {{R"("signature": "...")",
                                                   absl::StrCat(R"("signature": ")",
                                                                Signature("1534108637", token),
                                                                R"(")")}}),
                       absl::FromUnixSeconds(kNow));
  }
  return MakeRequest("mailgun", {{"Content-Type", "application/json"}},
                     absl::StrCat(R"({"signature":)", SignatureObject("1700000000"), ",",
                                  text.substr(text.find('{') + 1)),
                     absl::FromUnixSeconds(kNow));
}

TEST(MailgunVectorsTest, EveryVectorVerifiesOrIsRefusedAsItSays) {
  int valid = 0;
  int invalid = 0;
  for (const std::string& path : ManifestFiles("mailgun", ".vector.json")) {
    SCOPED_TRACE(path);
    const json::object v = json::parse(ReadFixture(path)).as_object();
    FakeClock clock(absl::FromUnixSeconds(
        std::stoll(std::string(v.at("fields").at("timestamp").as_string()))));
    auto provider = Make(clock, Source(std::string(v.at("secret").as_string())));
    const WebhookRequest as_json =
        MakeRequest("mg", {{"Content-Type", "application/json"}},
                    json::serialize(v.at("body_json")));
    const WebhookRequest as_form =
        MakeRequest("mg", {{"Content-Type", "application/x-www-form-urlencoded"}},
                    std::string(v.at("body_form").as_string()));
    for (const WebhookRequest* request : {&as_json, &as_form}) {
      const absl::Status status = provider->Verify(*request);
      if (v.at("expected").as_string() == "valid") {
        EXPECT_TRUE(status.ok()) << status;
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
      }
      // No event-data: a signature-only post (a control message, nothing to route).
      auto decoded = provider->Decode(*request);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(decoded->control, "signature-only");
      EXPECT_TRUE(decoded->events.empty());
    }
    ++(v.at("expected").as_string() == "valid" ? valid : invalid);
  }
  EXPECT_EQ(valid, 1);
  EXPECT_EQ(invalid, 1);
}

TEST(MailgunDecodeTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::MailgunFixtureEvents();
  static_assert(testing::kReceivedAtSeconds == kNow);
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const size_t files = testing::ExpectFixtures(
      {"mailgun", ".json", "mailgun", "mailgun"}, expected, [&](const std::string& fixture) {
        const WebhookRequest request = FixtureRequest(fixture, clock);
        const absl::Status verified = provider->Verify(request);
        EXPECT_TRUE(verified.ok()) << verified;
        return testing::Decoded(provider->Decode(request));
      });
  EXPECT_EQ(files, 16u);  // the two mgphp vectors: MailgunVectorsTest
}

TEST(MailgunDecodeTest, Fields) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  auto bounce = provider->Decode(
      JsonWebhook(ReadFixture("mailgun/failed.permanent-delayed-bounce.event-data.json")));
  ASSERT_TRUE(bounce.ok()) << bounce.status();
  const v1::EmailEvent& b = bounce->events.at(0);
  EXPECT_EQ(b.bounce().smtp_code(), "550");
  EXPECT_EQ(b.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(b.bounce().diagnostic(),
            "smtp; 550-5.1.1 The email account that you tried to reach does not exist.");
  EXPECT_EQ(b.bounce().provider_type(), "generic");
  EXPECT_EQ(b.message_id(), "20221019211537.93011d31ea99c5a8@test.com");
  EXPECT_EQ(b.subject(), "Testing delayed bounce");
  EXPECT_EQ(b.raw_format(), v1::RAW_FORMAT_JSON);

  auto suppressed = provider->Decode(
      JsonWebhook(ReadFixture("mailgun/failed.permanent-suppress-bounce.event-data.json")));
  ASSERT_TRUE(suppressed.ok());
  EXPECT_EQ(suppressed->events.at(0).bounce().smtp_code(), "605");
  EXPECT_EQ(suppressed->events.at(0).bounce().diagnostic(),
            "Not delivering to previously bounced address");
  EXPECT_EQ(suppressed->events.at(0).sender(), "john@example.org");

  auto click = provider->Decode(JsonWebhook(ReadFixture("mailgun/clicked.event-data.json")));
  ASSERT_TRUE(click.ok());
  EXPECT_EQ(click->events.at(0).click().url(), "http://example.com/signup");
  EXPECT_EQ(click->events.at(0).ip(), "123.123.123.321");
  EXPECT_EQ(click->events.at(0).message_id(), "20130821085807.30688.67706@samples.mailgun.org");
  EXPECT_TRUE(click->events.at(0).user_agent().starts_with("Mozilla/5.0 (X11; Linux i686)"));

  FakeClock clock2(absl::FromUnixSeconds(kNow));
  const std::string opened = ReadFixture("mailgun/opened.json");
  auto open = Make(clock2)->Decode(FixtureRequest("mailgun/opened.json", clock2));
  ASSERT_TRUE(open.ok()) << open.status();
  const v1::EmailEvent& o = open->events.at(0);
  ASSERT_EQ(o.tags_size(), 2);
  EXPECT_EQ(o.tags(0), "welcome");
  EXPECT_EQ(o.tags(1), "variation-A");
  EXPECT_EQ(o.metadata().at("cohort"), "2018-08-B");
  EXPECT_EQ(o.metadata().at("user_id"), "123456");
}

TEST(MailgunDecodeTest, UnknownEventKeptAsUnknownAndMissingFieldsDoNotCrash) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const std::string data =
      R"({"event":"list_member_uploaded","id":"abc","timestamp":1700000000.5,)"
      R"("message":null,"delivery-status":null,"user-variables":{"n":12345678901234567890}})";
  auto decoded = provider->Decode(JsonWebhook(data));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 1u);
  EXPECT_EQ(decoded->events[0].type(), v1::EVENT_TYPE_UNKNOWN);
  EXPECT_EQ(decoded->events[0].provider_event_type(), "list_member_uploaded");
  EXPECT_EQ(decoded->events[0].occurred_at().nanos(), 500000000);
  // Lossless: above 2^64 even, as its source text.
  EXPECT_EQ(decoded->events[0].metadata().at("n"), "12345678901234567890");
  EXPECT_NE(decoded->events[0].raw().find(data), std::string::npos);

  // A failed event with no delivery-status and no severity is a (hard) bounce.
  auto failed = provider->Decode(
      JsonWebhook(R"({"event":"failed","timestamp":"1700000000","recipient":"A@Example.COM"})"));
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->events.at(0).type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(failed->events.at(0).recipient(), "A@example.com");
  EXPECT_EQ(failed->events.at(0).provider_event_key(), "|failed|1700000000");
}

TEST(MailgunDecodeTest, MalformedBodies) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  for (const std::string& body :
       {std::string("{"), std::string("[]"), std::string(R"({"event-data":[]})"),
        std::string(R"({"event-data":{"event":"delivered"}})"),
        std::string(R"({"event-data":{"event":"delivered","timestamp":"yesterday"}})"),
        std::string(R"({"event-data":{"event":"delivered","timestamp":1,"recipient":"nobody"}})"),
        std::string(R"({"nothing":1})")}) {
    SCOPED_TRACE(body);
    auto decoded = provider->Decode(
        MakeRequest("mailgun", {{"Content-Type", "application/json"}}, body));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
  }
  auto form = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "application/x-www-form-urlencoded"}}, "event=%zz"));
  EXPECT_EQ(form.status().code(), absl::StatusCode::kInvalidArgument);
  auto multipart = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=b"}}, "--b\r\nno end"));
  EXPECT_EQ(multipart.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MailgunVerifyTest, Refusals) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const std::string data = ReadFixture("mailgun/delivered.event-data.json");
  ASSERT_TRUE(provider->Verify(JsonWebhook(data)).ok());

  auto code = [&](const WebhookRequest& r) { return provider->Verify(r).code(); };
  // Another key.
  config::SourceConfig other = Source("key-other");
  EXPECT_EQ(Make(clock, other)->Verify(JsonWebhook(data)).code(),
            absl::StatusCode::kUnauthenticated);
  // Outside the 8 h window, both directions; inside it at the edge.
  EXPECT_EQ(code(JsonWebhook(data, "1699971199")), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(JsonWebhook(data, "1700028801")), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(JsonWebhook(data, "1699971200")), absl::StatusCode::kOk);
  // Tampered token, missing block, signature not hex, a float signed timestamp.
  WebhookRequest tampered = JsonWebhook(data);
  tampered.body = absl::StrReplaceAll(tampered.body, {{kToken, std::string(50, 'f')}});
  EXPECT_EQ(code(tampered), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(MakeRequest("m", {}, absl::StrCat(R"({"event-data":)", data, "}"))),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(MakeRequest("m", {},
                             R"({"signature":{"timestamp":"1700000000","token":"t",)"
                             R"("signature":"zz"}})")),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(MakeRequest("m", {}, "not json, not a form")),
            absl::StatusCode::kUnauthenticated);
  // Duplicated form fields: the first and the second could be checked differently.
  const std::string fields = absl::StrCat("timestamp=1700000000&token=", kToken,
                                          "&signature=", Signature("1700000000", kToken));
  const std::vector<std::pair<std::string, std::string>> form = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  EXPECT_EQ(code(MakeRequest("m", form, fields + "&event=opened&recipient=a@b.c")),
            absl::StatusCode::kOk);
  EXPECT_EQ(code(MakeRequest("m", form, fields + "&signature=" + std::string(64, '0'))),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code(MakeRequest("m", form, fields + "&token=other")),
            absl::StatusCode::kUnauthenticated);
  // Header names are case-insensitive.
  EXPECT_EQ(code(MakeRequest("m", {{"CONTENT-TYPE", "Application/X-WWW-Form-Urlencoded"}},
                             fields + "&event=opened")),
            absl::StatusCode::kOk);
}

TEST(MailgunCreateTest, RefusesMissingKeyAndNegativeTolerance) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto missing = MailgunProvider::Create(Source(""), "sources[3]", clock);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().ToString().find("sources[3].signing_key"), std::string::npos);
  config::SourceConfig negative = Source();
  negative.tolerance = absl::Seconds(-1);
  EXPECT_NE(MailgunProvider::Create(negative, "sources[3]", clock)
                .status()
                .ToString()
                .find("sources[3].tolerance"),
            std::string::npos);
}

TEST(MailgunReplayGuardTest, KeyPerSourceAndTokenHashOfTheBody) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const WebhookRequest request = JsonWebhook(ReadFixture("mailgun/opened.event-data.json"));
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(decoded->replay_guard.has_value());
  const ReplayGuard& guard = *decoded->replay_guard;
  EXPECT_EQ(guard.body_hash, crypto::HexEncode(crypto::Sha256(request.body).value()));
  EXPECT_EQ(guard.key, "mailgun:" + crypto::HexEncode(
                                        crypto::Sha256(std::string("mailgun\0", 8) + kToken)
                                            .value()));
  // Twice the 8 h window: a token stays known as long as its timestamp can be accepted.
  EXPECT_EQ(guard.ttl, absl::Hours(16));
  // Another source with the same token: another key.
  config::SourceConfig second = Source();
  second.name = "mailgun-eu";
  auto other = Make(clock, second)->Decode(request);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->replay_guard->key, guard.key);
  // Tolerance off: the dedupe window (72 h) bounds the token's life.
  config::SourceConfig off = Source();
  off.tolerance = absl::ZeroDuration();
  EXPECT_EQ(Make(clock, off)->Decode(request)->replay_guard->ttl, absl::Hours(144));
}

// Mailgun's legacy (pre-2018) webhooks post a urlencoded form, event fields next to the signature
// fields (https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/ "legacy").
TEST(MailgunLegacyTest, FormEncodedBounce) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const std::string headers =
      R"([["Message-Id", "<20130503182626.18666.16540@example.com>"], ["Subject", "Hi"]])";
  const std::string body = absl::StrCat(
      "Message-Id=", FormUrlEncode("<20130503182626.18666.16540@example.com>"),
      "&X-Mailgun-Sid=WyIwNzI5MCIsICJhbGljZUBleGFtcGxlLmNvbSIsICI2Il0%3D",
      "&attachment-count=1&code=550&domain=example.com",
      "&error=", FormUrlEncode("5.1.1 The email account that you tried to reach does not exist."),
      "&event=bounced&message-headers=", FormUrlEncode(headers),
      "&my_var_1=Mailgun+Variable+%231&recipient=Alice%40Example.com",
      "&timestamp=1700000000&token=", kToken, "&signature=", Signature("1700000000", kToken));
  const WebhookRequest request =
      MakeRequest("mailgun", {{"Content-Type", "application/x-www-form-urlencoded"}}, body);
  ASSERT_TRUE(provider->Verify(request).ok());
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 1u);
  const v1::EmailEvent& e = decoded->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(e.recipient(), "Alice@example.com");
  EXPECT_EQ(e.occurred_at().seconds(), 1700000000);
  EXPECT_EQ(e.provider_event_key(),
            "<20130503182626.18666.16540@example.com>|bounced|1700000000");
  EXPECT_EQ(e.bounce().bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(e.bounce().smtp_code(), "550");
  EXPECT_EQ(e.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(e.subject(), "Hi");
  EXPECT_EQ(e.metadata().at("my_var_1"), "Mailgun Variable #1");
  EXPECT_EQ(e.metadata().count("token"), 0u);
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
}

// An inbound route's forward() posts multipart/form-data (fields as in Mailgun's "Receiving
// messages via HTTP" table; message-headers is a JSON list of [name, value]).
TEST(MailgunInboundTest, MultipartRoutePostIsReceivedPerRecipient) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  auto provider = Make(clock);
  const std::string headers =
      R"([["Received", "by luna.mailgun.net"], ["X-Mailgun-Spf", "Pass"],)"
      R"( ["X-Mailgun-Dkim-Check-Result", "Pass"], ["From", "Bob <bob@example.net>"],)"
      R"( ["To", "Alice <alice@example.com>, support@Example.com"], ["Cc", "c@example.org"],)"
      R"( ["Subject", "Re: order 42"], ["Message-Id", "<reply-1@example.net>"],)"
      R"( ["In-Reply-To", "<order-42@example.com>"],)"
      R"( ["References", "<order-41@example.com> <order-42@example.com>"]])";
  auto part = [](const std::string& name, const std::string& value) {
    return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"", name, "\"\r\n\r\n",
                        value, "\r\n");
  };
  const std::string body = absl::StrCat(
      part("recipient", "alice@example.com, support@Example.com"),
      part("sender", "bob@example.net"), part("from", "Bob <bob@example.net>"),
      part("subject", "Re: order 42"), part("body-plain", "Thanks!\r\n\r\n> quoted\r\n"),
      part("body-html", "<p>Thanks!</p>"), part("message-headers", headers),
      part("timestamp", "1700000000"), part("token", kToken),
      part("signature", Signature("1700000000", kToken)),
      "--XyZ\r\nContent-Disposition: form-data; name=\"attachment-1\"; filename=\"a.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nattached\r\n--XyZ--\r\n");
  const WebhookRequest request = MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=\"XyZ\""}}, body);
  ASSERT_TRUE(provider->Verify(request).ok());
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 2u);
  for (const v1::EmailEvent& e : decoded->events) {
    EXPECT_EQ(e.type(), v1::EVENT_TYPE_RECEIVED);
    EXPECT_EQ(e.provider_event_key(), "<reply-1@example.net>");
    EXPECT_EQ(e.occurred_at().seconds(), 1700000000);
    EXPECT_EQ(e.inbound().message_key(), "<reply-1@example.net>");
    EXPECT_EQ(e.inbound().from(), "Bob <bob@example.net>");
    EXPECT_EQ(e.inbound().text(), "Thanks!\r\n\r\n> quoted\r\n");
    EXPECT_EQ(e.inbound().html(), "<p>Thanks!</p>");
    EXPECT_EQ(e.inbound().in_reply_to(), "<order-42@example.com>");
    ASSERT_EQ(e.inbound().references_size(), 2);
    EXPECT_EQ(e.inbound().references(1), "<order-42@example.com>");
    ASSERT_EQ(e.inbound().to_size(), 2);
    ASSERT_EQ(e.inbound().cc_size(), 1);
    EXPECT_EQ(e.inbound().spf(), "pass");
    EXPECT_EQ(e.inbound().dkim(), "pass");
    EXPECT_EQ(e.sender(), "bob@example.net");
    EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
  }
  EXPECT_EQ(decoded->events[0].recipient(), "alice@example.com");
  EXPECT_EQ(decoded->events[1].recipient(), "support@example.com");
  EXPECT_NE(decoded->events[0].id(), decoded->events[1].id());
}

// attachment-x file parts become inbound.attachments: inline up to the source's
// inline_attachments_max, else stored (bytes handed to the ingress by SHA-256); content-id-map
// gives the Content-ID. Expected hashes computed here with crypto::Sha256 over the posted bytes.
TEST(MailgunInboundTest, AttachmentsAreDescribedInlineOrStoredWithTheirContentId) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  config::SourceConfig source = Source();
  source.inline_attachments_max = 8;
  auto provider = Make(clock, source);
  auto part = [](const std::string& name, const std::string& value) {
    return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"", name, "\"\r\n\r\n",
                        value, "\r\n");
  };
  auto file = [](const std::string& name, const std::string& filename, const std::string& type,
                 const std::string& bytes) {
    return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"", name,
                        "\"; filename=\"", filename, "\"\r\nContent-Type: ", type, "\r\n\r\n",
                        bytes, "\r\n");
  };
  const std::string logo("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);  // 16 bytes > 8: stored
  const std::string body = absl::StrCat(
      part("recipient", "alice@example.com, bob@example.com"), part("body-plain", "see logo"),
      part("attachment-count", "2"),
      part("content-id-map", R"({"<logo-1@example.net>": "attachment-2"})"),
      part("timestamp", "1700000000"), part("token", kToken),
      part("signature", Signature("1700000000", kToken)),
      file("attachment-1", "a.txt", "text/plain", "small"),
      file("attachment-2", "logo.png", "image/png", logo), "--XyZ--\r\n");
  const WebhookRequest request = MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=XyZ"}}, body);
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 2u);
  const std::string logo_sha = crypto::HexEncode(crypto::Sha256(logo).value());
  for (const v1::EmailEvent& e : decoded->events) {
    ASSERT_EQ(e.inbound().attachments_size(), 2);
    const v1::Inbound::Attachment& small = e.inbound().attachments(0);
    EXPECT_EQ(small.filename(), "a.txt");
    EXPECT_EQ(small.content_type(), "text/plain");
    EXPECT_EQ(small.size(), 5u);
    EXPECT_EQ(small.sha256(), crypto::HexEncode(crypto::Sha256("small").value()));
    EXPECT_EQ(small.content(), "small");
    EXPECT_FALSE(small.stored());
    EXPECT_EQ(small.content_id(), "");
    const v1::Inbound::Attachment& stored = e.inbound().attachments(1);
    EXPECT_EQ(stored.filename(), "logo.png");
    EXPECT_EQ(stored.content_type(), "image/png");
    EXPECT_EQ(stored.size(), 16u);
    EXPECT_EQ(stored.sha256(), logo_sha);
    EXPECT_TRUE(stored.stored());
    EXPECT_TRUE(stored.content().empty());
    EXPECT_EQ(stored.content_id(), "logo-1@example.net");
  }
  ASSERT_EQ(decoded->stored_attachments.size(), 1u);
  EXPECT_EQ(decoded->stored_attachments.at(logo_sha), logo);

  // A legacy bounce's attachment-x is described the same way (not dropped): here stored, 16 > 8.
  const std::string bounce = absl::StrCat(
      part("event", "bounced"), part("recipient", "alice@example.com"),
      part("timestamp", "1700000000"), part("token", kToken),
      part("signature", Signature("1700000000", kToken)),
      file("attachment-1", "report.txt", "text/plain", logo), "--XyZ--\r\n");
  auto legacy = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=XyZ"}}, bounce));
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  ASSERT_EQ(legacy->events.size(), 1u);
  EXPECT_EQ(legacy->events[0].type(), v1::EVENT_TYPE_BOUNCED);
  ASSERT_EQ(legacy->events[0].inbound().attachments_size(), 1);
  const v1::Inbound::Attachment& report = legacy->events[0].inbound().attachments(0);
  EXPECT_EQ(report.filename(), "report.txt");
  EXPECT_EQ(report.size(), 16u);
  EXPECT_EQ(report.sha256(), logo_sha);
  EXPECT_TRUE(report.stored());
  ASSERT_EQ(legacy->stored_attachments.size(), 1u);
  EXPECT_EQ(legacy->stored_attachments.at(logo_sha), logo);
  EXPECT_TRUE(legacy->events[0].metadata().empty());

  // A legacy event without file parts carries no inbound part at all.
  const std::string plain = absl::StrCat(
      part("event", "bounced"), part("recipient", "alice@example.com"),
      part("timestamp", "1700000000"), part("token", kToken),
      part("signature", Signature("1700000000", kToken)), "--XyZ--\r\n");
  auto without = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=XyZ"}}, plain));
  ASSERT_TRUE(without.ok()) << without.status();
  ASSERT_EQ(without->events.size(), 1u);
  EXPECT_FALSE(without->events[0].has_inbound());
}

// Raw MIME route posts (a route URL ending in "mime"): body-mime is parsed with GMime. A large
// attachment inside it is stored like a parsed route's; a body-mime GMime reads no message from
// is a clear kInvalidArgument, not a crash and not an event without its mail.
TEST(MailgunInboundTest, RawMimeRoutePost) {
  FakeClock clock(absl::FromUnixSeconds(kNow));
  config::SourceConfig source = Source();
  source.inline_attachments_max = 8;
  auto provider = Make(clock, source);
  auto form = [](const std::string& mime) {
    const auto part = [](const std::string& name, const std::string& value) {
      return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"", name,
                          "\"\r\n\r\n", value, "\r\n");
    };
    return absl::StrCat(part("recipient", "alice@example.com"),
                        part("sender", "bob@example.net"), part("subject", "hi"),
                        part("body-mime", mime), part("timestamp", "1700000000"),
                        part("token", kToken), part("signature", Signature("1700000000", kToken)),
                        "--XyZ--\r\n");
  };
  const std::string mime =
      "Message-Id: <m-1@example.net>\r\nFrom: bob@example.net\r\nTo: alice@example.com\r\n"
      "Subject: hi\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nMDEyMzQ1Njc4OQ==\r\n--b--\r\n";
  auto decoded = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=XyZ"}}, form(mime)));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->events.size(), 1u);
  const v1::EmailEvent& e = decoded->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_RECEIVED);
  EXPECT_EQ(e.message_id(), "<m-1@example.net>");
  EXPECT_EQ(e.inbound().text(), "hello");
  ASSERT_EQ(e.inbound().to_size(), 1);
  EXPECT_EQ(e.inbound().to(0), "alice@example.com");
  ASSERT_EQ(e.inbound().attachments_size(), 1);
  const v1::Inbound::Attachment& big = e.inbound().attachments(0);
  EXPECT_EQ(big.filename(), "big.bin");
  EXPECT_EQ(big.size(), 10u);  // base64 "MDEyMzQ1Njc4OQ==" is "0123456789"
  EXPECT_TRUE(big.stored());
  const std::string sha = crypto::HexEncode(crypto::Sha256("0123456789").value());
  EXPECT_EQ(big.sha256(), sha);
  ASSERT_EQ(decoded->stored_attachments.size(), 1u);
  EXPECT_EQ(decoded->stored_attachments.at(sha), "0123456789");

  auto unreadable = provider->Decode(MakeRequest(
      "mailgun", {{"Content-Type", "multipart/form-data; boundary=XyZ"}}, form("")));
  ASSERT_FALSE(unreadable.ok());
  EXPECT_EQ(unreadable.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(unreadable.status().message(), "body-mime"))
      << unreadable.status();
}

}  // namespace
}  // namespace switchboard::providers
