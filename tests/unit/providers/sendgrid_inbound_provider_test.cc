#include "router/providers/sendgrid_inbound_provider.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// The fixtures' boundary (SOURCES.md: Content-Type: multipart/form-data; boundary=xYzZY).
constexpr char kFormType[] = "multipart/form-data; boundary=xYzZY";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "parse";
  source.provider = "sendgrid-inbound";
  source.basic_auth = config::BasicAuth{"sg", "parse-s3cret"};
  return source;
}

std::string BasicHeader(std::string_view credentials) {
  return "Basic " + crypto::Base64Encode(credentials);
}

WebhookRequest Authorized(std::string body, std::string content_type = kFormType) {
  return MakeRequest("parse",
                     {{"authorization", BasicHeader("sg:parse-s3cret")},
                      {"content-type", std::move(content_type)}},
                     std::move(body), absl::FromUnixSeconds(kReceivedAtSeconds));
}

std::unique_ptr<SendgridInboundProvider> Make() {
  auto provider = SendgridInboundProvider::Create(Source(), "sources[0]");
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? *std::move(provider) : nullptr;
}

// A multipart/form-data body (boundary xYzZY, CRLF) from {name, headers-after-disposition, value}.
struct Part {
  std::string name;
  std::string extra;  // e.g. "; filename=\"a.txt\"\r\nContent-Type: text/plain"
  std::string value;
};
std::string Form(const std::vector<Part>& parts) {
  std::string body;
  for (const Part& p : parts) {
    absl::StrAppend(&body, "--xYzZY\r\nContent-Disposition: form-data; name=\"", p.name, "\"",
                    p.extra, "\r\n\r\n", p.value, "\r\n");
  }
  absl::StrAppend(&body, "--xYzZY--\r\n");
  return body;
}

std::string Hex(std::string_view bytes) {
  auto digest = crypto::Sha256(bytes);
  EXPECT_TRUE(digest.ok());
  return crypto::HexEncode(*digest);
}

TEST(SendgridInboundProviderTest, RequiresAnAuthOption) {
  config::SourceConfig source = Source();
  source.basic_auth.reset();
  auto provider = SendgridInboundProvider::Create(source, "sources[0]");
  EXPECT_EQ(provider.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(provider.status().message(), "sources[0].basic_auth: "));
  source.bearer_token = "tok";
  EXPECT_TRUE(SendgridInboundProvider::Create(source, "sources[0]").ok());
}

TEST(SendgridInboundProviderTest, VerifiesBasicAuth) {
  auto provider = Make();
  EXPECT_TRUE(provider->UsesBasicAuth());
  EXPECT_TRUE(provider->Verify(Authorized("")).ok());
  for (const std::string& bad : {BasicHeader("sg:wrong"), BasicHeader("SG:parse-s3cret"),
                                 std::string("Bearer parse-s3cret"), std::string("Basic")}) {
    WebhookRequest request = MakeRequest("parse", {{"authorization", bad}}, "");
    EXPECT_EQ(provider->Verify(request).code(), absl::StatusCode::kUnauthenticated) << bad;
  }
  EXPECT_EQ(provider->Verify(MakeRequest("parse", {}, "")).code(),
            absl::StatusCode::kUnauthenticated);
  // Header names are case-insensitive; a repeated Authorization header is refused.
  WebhookRequest mixed_case = MakeRequest(
      "parse", {{"Authorization", BasicHeader("sg:parse-s3cret")}}, "");
  EXPECT_TRUE(provider->Verify(mixed_case).ok());
  WebhookRequest duplicated = Authorized("");
  duplicated.headers.push_back(duplicated.headers.front());
  EXPECT_EQ(provider->Verify(duplicated).code(), absl::StatusCode::kUnauthenticated);
}

TEST(SendgridInboundProviderTest, EveryFixture) {
  const std::vector<ExpectedEvent>& expected = testing::SendgridInboundFixtureEvents();
  auto provider = Make();
  const size_t checked = testing::ExpectFixtures(
      {"sendgrid", ".multipart", "sendgrid-inbound", "parse"}, expected,
      [&](const std::string& file) { return testing::Decoded(provider->Decode(Authorized(ReadFixture(file)))); });
  EXPECT_EQ(checked, 2u);
}

void ExpectFixtureFields(const v1::EmailEvent& e) {
  EXPECT_EQ(e.source(), "parse");
  EXPECT_EQ(e.provider_event_type(), "inbound");
  EXPECT_EQ(e.sender(), "aroach@example.com");
  EXPECT_EQ(e.subject(), "Fwd: testing webhook parse");
  EXPECT_EQ(e.message_id(),
            "<CAGsruKuAJk58E07TRMD28pA+mktpZ1mg2fjr6PAWj19e0jdnFg@mail.gmail.com>");
  EXPECT_EQ(e.received_at().seconds(), kReceivedAtSeconds);
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_MIME);
  const v1::Inbound& in = e.inbound();
  EXPECT_EQ(in.from(), "aroach@example.com");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "test@parse.example.com");
  EXPECT_EQ(in.cc_size(), 0);
  EXPECT_EQ(in.subject(), "Fwd: testing webhook parse");
  EXPECT_TRUE(absl::StartsWith(in.text(),
                               "---------- Forwarded message ---------\n"
                               "From: Ashley Roach <aroach@example.com>\n"
                               "Date: Mon, Oct 8, 2018 at 7:33 PM\n"))
      << in.text();
  EXPECT_TRUE(absl::EndsWith(in.text(), "\n\n\nthis is the body for webhook parse\n")) << in.text();
  EXPECT_TRUE(absl::StartsWith(in.html(), "<div dir=\"ltr\"><br><br><div class=\"gmail_quote\">"));
  EXPECT_TRUE(absl::EndsWith(in.html(), "<br></div>\n</div></div>\n")) << in.html();
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "{@gmail.com : pass}");
  EXPECT_EQ(in.dmarc(), "");
  EXPECT_EQ(in.in_reply_to(),
            "<CAGsruKux7HKgwztSSWCae8cMu71_pzgziWZRWYeYNo3aiCkjRw@mail.gmail.com>");
  ASSERT_EQ(in.references_size(), 1);
  EXPECT_EQ(in.references(0),
            "<CAGsruKux7HKgwztSSWCae8cMu71_pzgziWZRWYeYNo3aiCkjRw@mail.gmail.com>");
  EXPECT_EQ(in.message_key(), e.message_id());
  EXPECT_EQ(in.attachments_size(), 0);  // the capture says attachments=0
}

TEST(SendgridInboundProviderTest, LfAndCrlfFixturesDecodeToTheSameEvent) {
  auto provider = Make();
  const std::string lf_body = ReadFixture("sendgrid/inbound-parse.multipart");
  const std::string crlf_body = ReadFixture("sendgrid/inbound-parse.crlf.multipart");
  auto lf = provider->Decode(Authorized(lf_body));
  auto crlf = provider->Decode(Authorized(crlf_body));
  ASSERT_TRUE(lf.ok()) << lf.status();
  ASSERT_TRUE(crlf.ok()) << crlf.status();
  ASSERT_EQ(lf->events.size(), 1u);
  ASSERT_EQ(crlf->events.size(), 1u);
  ExpectFixtureFields(lf->events[0]);
  ExpectFixtureFields(crlf->events[0]);
  // Only raw differs: each is its request's exact bytes.
  EXPECT_EQ(lf->events[0].raw(), lf_body);
  EXPECT_EQ(crlf->events[0].raw(), crlf_body);
  v1::EmailEvent a = lf->events[0];
  v1::EmailEvent b = crlf->events[0];
  a.clear_raw();
  b.clear_raw();
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
}

TEST(SendgridInboundProviderTest, MalformedBodiesAreInvalidArgument) {
  auto provider = Make();
  const std::string fixture = ReadFixture("sendgrid/inbound-parse.multipart");
  struct Case {
    std::string body;
    std::string content_type;
  };
  const std::vector<Case> cases = {
      {fixture, "application/json"},
      {fixture, "multipart/form-data"},                      // no boundary
      {fixture, "multipart/form-data; boundary=other"},      // no part found
      {"", kFormType},
      {"not multipart at all", kFormType},
      {Form({{"to", "", "a@example.com"}}), kFormType},      // neither headers nor email
      {"--xYzZY\r\nContent-Type: text/plain\r\n\r\nx\r\n--xYzZY--\r\n", kFormType},  // no name
      {Form({{"headers", "", "Subject: x\r\n"}, {"envelope", "", "{\"to\":"}}), kFormType},
      {Form({{"headers", "", "Subject: x\r\n"}, {"envelope", "", "[1]"}}), kFormType},
      {Form({{"headers", "", "Subject: x\r\n"}, {"envelope", "", "{\"to\":[\"no address\"]}"}}),
       kFormType},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(provider->Decode(Authorized(c.body, c.content_type)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << c.content_type << "\n" << c.body.substr(0, 200);
  }
  WebhookRequest no_type = Authorized(fixture);
  no_type.headers.pop_back();
  EXPECT_EQ(provider->Decode(no_type).status().code(), absl::StatusCode::kInvalidArgument);
}

// Default mode with what the capture lacks: several envelope recipients (one repeated), cc, a
// non-UTF-8 charset, an attachment with attachment-info, and no Message-ID.
TEST(SendgridInboundProviderTest, DefaultModeRecipientsCharsetsAndAttachments) {
  auto provider = Make();
  const std::string headers =
      "From: =?utf-8?q?Andr=C3=A9?= <andre@example.org>\r\n"
      "To: Support <support@Example.COM>, sales@example.com\r\n"
      "Date: Wed, 10 Jan 2024 12:34:56 +0100\r\n"
      "Subject: =?iso-8859-1?q?R=E9sum=E9?=\r\n";
  const std::string body = Form({
      {"headers", "", headers},
      {"from", "", "Andr\xe9 <andre@example.org>"},
      {"to", "", "Support <support@Example.COM>, sales@example.com"},
      {"cc", "", "boss@example.net"},
      {"subject", "", "R\xe9sum\xe9"},
      {"text", "", "Bonjour\r\nvoil\xe0\r\n"},
      {"envelope", "",
       "{\"to\":[\"support@Example.COM\",\"sales@example.com\",\"SUPPORT@example.com\"],"
       "\"from\":\"bounces+123@example.org\"}"},
      {"charsets", "",
       "{\"to\":\"UTF-8\",\"from\":\"iso-8859-1\",\"subject\":\"iso-8859-1\","
       "\"text\":\"iso-8859-1\"}"},
      {"SPF", "", "softfail"},
      {"attachments", "", "1"},
      {"attachment-info", "",
       "{\"attachment1\":{\"filename\":\"hello.txt\",\"name\":\"hello.txt\","
       "\"type\":\"text/plain\",\"content-id\":\"ii_abc123\"}}"},
      {"attachment1", "; filename=\"hello.txt\"\r\nContent-Type: text/plain", "hello"},
  });
  auto result = provider->Decode(Authorized(body));
  ASSERT_TRUE(result.ok()) << result.status();
  // The repeated SUPPORT@example.com is the same recipient key: two events, not three.
  ASSERT_EQ(result->events.size(), 2u);
  const v1::EmailEvent& first = result->events[0];
  const v1::EmailEvent& second = result->events[1];
  EXPECT_EQ(first.recipient(), "support@example.com");
  EXPECT_EQ(first.recipient_key(), "support@example.com");
  EXPECT_EQ(second.recipient(), "sales@example.com");
  // No Message-ID: the key is the SHA-256 of the headers field, shared by both events.
  const std::string key = "sha256:" + Hex(headers);
  EXPECT_EQ(first.provider_event_key(), key);
  EXPECT_EQ(second.provider_event_key(), key);
  EXPECT_EQ(first.inbound().message_key(), key);
  EXPECT_NE(first.id(), second.id());
  // 2024-01-10T11:34:56Z: date -u -d "Wed, 10 Jan 2024 12:34:56 +0100" +%s = 1704886496.
  EXPECT_EQ(first.occurred_at().seconds(), 1704886496);
  EXPECT_EQ(first.sender(), "bounces+123@example.org");
  const v1::Inbound& in = first.inbound();
  EXPECT_EQ(in.from(), "andre@example.org");
  ASSERT_EQ(in.to_size(), 2);
  EXPECT_EQ(in.to(0), "support@Example.COM");
  EXPECT_EQ(in.to(1), "sales@example.com");
  ASSERT_EQ(in.cc_size(), 1);
  EXPECT_EQ(in.cc(0), "boss@example.net");
  EXPECT_EQ(in.subject(), "R\xc3\xa9sum\xc3\xa9");  // UTF-8 of "Résumé"
  EXPECT_EQ(in.text(), "Bonjour\nvoil\xc3\xa0\n");
  EXPECT_EQ(in.spf(), "softfail");
  EXPECT_EQ(in.dkim(), "");
  ASSERT_EQ(in.attachments_size(), 1);
  EXPECT_EQ(in.attachments(0).filename(), "hello.txt");
  EXPECT_EQ(in.attachments(0).content_type(), "text/plain");
  EXPECT_EQ(in.attachments(0).size(), 5u);
  // SHA-256("hello"), FIPS 180-4 test-vector style, well known.
  EXPECT_EQ(in.attachments(0).sha256(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(in.attachments(0).content_id(), "ii_abc123");
  // Attachment bytes are described only, never copied into the event's fields.
  EXPECT_FALSE(absl::StrContains(in.text(), "hello"));
}

// Raw mode: the whole MIME message in the email field; GMime undoes quoted-printable and base64
// and converts the charset.
TEST(SendgridInboundProviderTest, RawModeParsesTheMimeMessage) {
  auto provider = Make();
  const std::string email =
      "Received: by mx.sendgrid.net with SMTP id abc\r\n"
      "From: Bob <bob@example.org>\r\n"
      "To: inbox@parse.example.com\r\n"
      "Cc: Carol <carol@example.org>\r\n"
      "Subject: =?utf-8?b?SGVsbG8g8J+Ri/CfjI0=?=\r\n"
      "Date: Thu, 1 Feb 2024 08:00:00 -0500\r\n"
      "Message-ID: <raw-1@example.org>\r\n"
      "In-Reply-To: <orig@parse.example.com>\r\n"
      "References: <root@parse.example.com>\r\n <orig@parse.example.com>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
      "\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
      "\r\n"
      "--inner\r\n"
      "Content-Type: text/plain; charset=iso-8859-1\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "Caf=E9 at noon?\r\n"
      "--inner\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "\r\n"
      "<p>Caf\xc3\xa9 at noon?</p>\r\n"
      "--inner--\r\n"
      "--outer\r\n"
      "Content-Type: application/pdf; name=\"menu.pdf\"\r\n"
      "Content-Disposition: attachment; filename=\"menu.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n"
      "Content-ID: <menu@example.org>\r\n"
      "\r\n"
      "aGVsbG8=\r\n"
      "--outer--\r\n";
  const std::string body = Form({
      {"email", "", email},
      {"envelope", "", "{\"to\":[\"inbox@parse.example.com\"],\"from\":\"bob@example.org\"}"},
      {"SPF", "", "pass"},
      {"dkim", "", "{@example.org : pass}"},
  });
  auto result = provider->Decode(Authorized(body));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->events.size(), 1u);
  const v1::EmailEvent& e = result->events[0];
  EXPECT_EQ(e.recipient(), "inbox@parse.example.com");
  EXPECT_EQ(e.provider_event_key(), "<raw-1@example.org>");
  // date -u -d "Thu, 1 Feb 2024 08:00:00 -0500" +%s = 1706792400.
  EXPECT_EQ(e.occurred_at().seconds(), 1706792400);
  EXPECT_EQ(e.occurred_at().nanos(), 0);
  const v1::Inbound& in = e.inbound();
  EXPECT_EQ(in.from(), "bob@example.org");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "inbox@parse.example.com");
  ASSERT_EQ(in.cc_size(), 1);
  EXPECT_EQ(in.cc(0), "carol@example.org");
  EXPECT_EQ(in.subject(), "Hello \xf0\x9f\x91\x8b\xf0\x9f\x8c\x8d");  // "Hello 👋🌍"
  EXPECT_EQ(in.text(), "Caf\xc3\xa9 at noon?");
  EXPECT_EQ(in.html(), "<p>Caf\xc3\xa9 at noon?</p>");
  EXPECT_EQ(in.in_reply_to(), "<orig@parse.example.com>");
  ASSERT_EQ(in.references_size(), 2);
  EXPECT_EQ(in.references(0), "<root@parse.example.com>");
  EXPECT_EQ(in.references(1), "<orig@parse.example.com>");
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "{@example.org : pass}");
  ASSERT_EQ(in.attachments_size(), 1);
  EXPECT_EQ(in.attachments(0).filename(), "menu.pdf");
  EXPECT_EQ(in.attachments(0).content_type(), "application/pdf");
  EXPECT_EQ(in.attachments(0).size(), 5u);
  EXPECT_EQ(in.attachments(0).sha256(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_EQ(in.attachments(0).content_id(), "menu@example.org");
}

TEST(SendgridInboundProviderTest, MissingFieldsNeverCrash) {
  auto provider = Make();
  // No envelope: the To/Cc addresses are the recipients.
  auto to_only = provider->Decode(Authorized(
      Form({{"headers", "", "Subject: x\r\n"}, {"to", "", "a@example.com, B <b@example.com>"}})));
  ASSERT_TRUE(to_only.ok()) << to_only.status();
  ASSERT_EQ(to_only->events.size(), 2u);
  EXPECT_EQ(to_only->events[1].recipient(), "b@example.com");
  // No Date: occurred_at is when the request arrived.
  EXPECT_EQ(to_only->events[0].occurred_at().seconds(), kReceivedAtSeconds);
  // Nothing at all but an empty header block: one event without recipient.
  auto bare = provider->Decode(Authorized(Form({{"headers", "", ""}})));
  ASSERT_TRUE(bare.ok()) << bare.status();
  ASSERT_EQ(bare->events.size(), 1u);
  EXPECT_EQ(bare->events[0].recipient(), "");
  EXPECT_EQ(bare->events[0].type(), v1::EVENT_TYPE_RECEIVED);
  // Invalid UTF-8 without a charset and an unreadable Date are kept, not refused.
  auto odd = provider->Decode(Authorized(Form({{"headers", "", "Date: someday\r\n"},
                                               {"text", "", "caf\xe9"},
                                               {"charsets", "", "not json"},
                                               {"attachment-info", "", "{"},
                                               {"envelope", "", "{\"to\":null,\"from\":7}"}})));
  ASSERT_TRUE(odd.ok()) << odd.status();
  ASSERT_EQ(odd->events.size(), 1u);
  EXPECT_EQ(odd->events[0].inbound().text(), "caf\xef\xbf\xbd");  // U+FFFD
  EXPECT_EQ(odd->events[0].occurred_at().seconds(), kReceivedAtSeconds);
}

}  // namespace
}  // namespace switchboard::providers
