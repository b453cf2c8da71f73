// Mailgun through the real HTTP path: a `switchboard` process with a mailgun source; every fixture
// of mailgun/ posted re-signed with the test key (the bare event-data samples wrapped in Mailgun's
// {"signature","event-data"} body), each event the agent receives checked against the shared
// table (tests/common/expected_mailgun.cc); then the
// token replay cache (the signature covers timestamp + token only, not the body), a bad signature,
// a stale timestamp and a legacy urlencoded webhook.
#include <cstring>
#include <fstream>
#include <map>
#include <string>


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "router/common/crypto.h"
#include "tests/common/expected_tables.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/fixture_post.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

constexpr char kKey[] = "key-mailgun-integration-test";

constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: mailgun, provider: mailgun, signing_key: "key-mailgun-integration-test", tolerance: 5m }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

config::SourceConfig Source() {
  config::SourceConfig source;
  source.name = "mailgun";
  source.provider = "mailgun";
  source.signing_key = kKey;
  return source;
}

// A fresh 50-hex-digit token, as Mailgun sends.
std::string Token(int n) {
  std::string token = absl::StrCat("integration", n, "-", absl::ToUnixNanos(absl::Now()));
  token.resize(50, '0');
  return token;
}

std::string Signed(const std::string& body, absl::Time at, const std::string& token) {
  auto signed_body = ctl::MailgunSignedBody(Source(), body, at, token);
  EXPECT_TRUE(signed_body.ok()) << signed_body.status();
  return signed_body.value_or("");
}

class ProvidersMailgunTest : public RouterTest {
 protected:
  ProvidersMailgunTest() : RouterTest("switchboard-mailgun") {}
  void SetUp() override { StartRouter(kConfig); }

  WebhookAnswer Post(const std::string& body) {
    auto headers = ctl::SignWebhook(Source(), {body, absl::Now(), "", ""});
    EXPECT_TRUE(headers.ok()) << headers.status();
    WebhookAnswer answer =
        PostForAnswer(*router_, "mailgun", headers.value_or(ctl::Headers{}), body);
    if (!answer.error.empty()) ADD_FAILURE() << answer.error;
    return answer;
  }
};

// Every event the agent receives, checked against the table the unit test uses
// (tests/common/expected_mailgun.cc).
TEST_F(ProvidersMailgunTest, EveryFixtureResigned) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  int n = 0;
  const size_t checked = providers::testing::ExpectFixtures(
      {"mailgun", ".json", "mailgun", "mailgun", providers::testing::FixturePath::kHttp},
      providers::testing::MailgunFixtureEvents(),
      [&](const std::string& fixture) -> absl::StatusOr<providers::testing::FixtureOutcome> {
        std::string body = ReadFixture(fixture);
        // The *.event-data.json samples are the event-data object alone.
        if (absl::StrContains(fixture, ".event-data.")) {
          body = absl::StrCat(R"({"event-data":)", body, "}");
        }
        const std::string resigned = Signed(body, absl::Now(), Token(++n));
        auto headers = ctl::SignWebhook(Source(), {resigned, absl::Now(), "", ""});
        if (!headers.ok()) return headers.status();
        return PostAndCollect(*router_, agent, "mailgun", *headers, resigned);
      });
  EXPECT_EQ(checked, 16u);  // the two mgphp vectors: the provider unit test
}

TEST_F(ProvidersMailgunTest, TokenReplayBadSignatureAndStaleTimestamp) {
  const std::string token = Token(100);
  const absl::Time now = absl::Now();
  const std::string body = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/delivered.event-data.json"), "}"), now,
      token);
  WebhookAnswer first = Post(body);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.accepted, 1);
  // Mailgun's retry: the same bytes, the same token: a duplicate.
  WebhookAnswer retry = Post(body);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.accepted, 0);
  EXPECT_EQ(retry.duplicates, 1);
  // The same token (so the same valid signature) on another body: a replay, refused.
  const std::string other = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/opened.event-data.json"), "}"), now,
      token);
  EXPECT_EQ(Post(other).status, 401);

  // A signature that does not match: the last hex digit changed.
  std::string bad = Signed(
      absl::StrCat(R"({"event-data":)", ReadFixture("mailgun/clicked.event-data.json"), "}"), now,
      Token(101));
  const size_t at = bad.find(R"("signature":")", bad.find(R"("signature":{)") + 1);
  ASSERT_NE(at, std::string::npos);
  char& digit = bad[at + 13 + 63];
  digit = digit == '0' ? '1' : '0';
  EXPECT_EQ(Post(bad).status, 401);

  // Correctly signed, but an hour old against a 5-minute tolerance.
  EXPECT_EQ(Post(Signed(absl::StrCat(R"({"event-data":)",
                                     ReadFixture("mailgun/complained.event-data.json"), "}"),
                        now - absl::Hours(1), Token(102)))
                .status,
            401);
}

// A legacy webhook: a urlencoded form with the event fields and timestamp / token / signature
// (https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/ legacy webhooks).
TEST_F(ProvidersMailgunTest, LegacyFormWebhook) {
  const std::string form =
      "event=delivered&recipient=alice%40example.com&domain=example.com"
      "&Message-Id=%3C20130503182626.18666.16540%40example.com%3E"
      "&timestamp=1&token=old&signature=00";
  const std::string body = Signed(form, absl::Now(), Token(200));
  EXPECT_FALSE(absl::StrContains(body, "token=old"));
  WebhookAnswer answer = Post(body);
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.accepted, 1);
}

// ---- Inputs written from Mailgun's documentation (tests/testdata/mailgun/SOURCES.md) ----------

constexpr char kTestdataKey[] = "key-switchboard-testdata-0123456789";

// The files carry fixed signed timestamps (November 2026): tolerance 0 turns the window off, and
// the dedupe window (which also bounds how old a signed timestamp may be) reaches back ten years.
constexpr char kTestdataConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
dedupe: { window: 87600h }
sources:
  - { name: mailgun, provider: mailgun, signing_key: "key-switchboard-testdata-0123456789", tolerance: 0s }
agents:
  - { name: audit, tokens: ["audit-token-0123456789"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

std::string Testdata(const std::string& name) {
  return ReadWholeFile(absl::StrCat(SWITCHBOARD_SOURCE_DIR, "/tests/testdata/mailgun/", name));
}

// The value of form field `name` in a urlencoded or multipart body ("" if absent): enough to read
// the three signature fields of these files.
std::string FieldOf(const std::string& body, const std::string& name) {
  const std::string multipart = absl::StrCat("name=\"", name, "\"\r\n\r\n");
  if (size_t at = body.find(multipart); at != std::string::npos) {
    at += multipart.size();
    return body.substr(at, body.find("\r\n", at) - at);
  }
  for (absl::string_view pair : absl::StrSplit(body, '&')) {
    if (absl::StartsWith(pair, name + "=")) return std::string(pair.substr(name.size() + 1));
  }
  return "";
}

// Mailgun's scheme, computed with OpenSSL's HMAC() directly: hex HMAC-SHA256(key, timestamp +
// token).
std::string MailgunSignature(const std::string& timestamp, const std::string& token) {
  const std::string data = timestamp + token;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kTestdataKey, static_cast<int>(std::strlen(kTestdataKey)),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[mac[i] >> 4]);
    hex.push_back(kHex[mac[i] & 15]);
  }
  return hex;
}

class MailgunDocumentedInputsTest : public RouterTest {
 protected:
  MailgunDocumentedInputsTest() : RouterTest("switchboard-mailgun-documented") {}
  void SetUp() override { StartRouter(kTestdataConfig); }

  // The file's exact bytes, as Mailgun posts them (no header carries a signature).
  absl::StatusOr<providers::testing::FixtureOutcome> PostFile(RawAgent& agent,
                                                              const std::string& body,
                                                              const std::string& content_type) {
    return PostAndCollect(*router_, agent, "mailgun", {{"Content-Type", content_type}}, body);
  }
  int PostStatus(const std::string& body, const std::string& content_type) {
    auto result = ctl::HttpPost(router_->webhook_url("mailgun"), {{"Content-Type", content_type}},
                                body);
    return result.ok() ? result->status : -1;
  }
};

constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr char kBouncedType[] =
    "multipart/form-data; boundary=bddb14a9-abe8-4d7d-bdb3-bfb779d9aa4a";
constexpr char kRouteType[] = "multipart/form-data; boundary=a8c6f7e1-6a3b-4c2d-9e8f-0b1c2d3e4f50";
constexpr char kRouteMimeType[] =
    "multipart/form-data; boundary=c4d5e6f7-1a2b-4c3d-8e9f-a0b1c2d3e4f5";

TEST_F(MailgunDocumentedInputsTest, EveryFileIsSignedPerMailgunsScheme) {
  for (const char* name :
       {"legacy-delivered.form", "legacy-bounced.multipart", "route-forward.multipart",
        "route-mime.multipart"}) {
    SCOPED_TRACE(name);
    const std::string body = Testdata(name);
    ASSERT_FALSE(body.empty());
    const std::string timestamp = FieldOf(body, "timestamp");
    const std::string token = FieldOf(body, "token");
    EXPECT_EQ(token.size(), 50u);  // "a randomly generated string with length 50"
    EXPECT_EQ(FieldOf(body, "signature"), MailgunSignature(timestamp, token));
  }
}

TEST_F(MailgunDocumentedInputsTest, LegacyDeliveredForm) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  const std::string body = Testdata("legacy-delivered.form");
  auto outcome = PostFile(agent, body, kFormType);
  ASSERT_TRUE(outcome.ok()) << outcome.status() << router_->log();
  ASSERT_EQ(outcome->events.size(), 1u);
  const v1::EmailEvent& e = outcome->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_DELIVERED);
  EXPECT_EQ(e.provider(), "mailgun");
  EXPECT_EQ(e.provider_event_type(), "delivered");
  EXPECT_EQ(e.recipient(), "alice@example.com");
  EXPECT_EQ(e.message_id(), "<20130503182626.18666.16540@example.com>");
  EXPECT_EQ(e.provider_event_key(),
            "<20130503182626.18666.16540@example.com>|delivered|1795000000");
  EXPECT_EQ(e.occurred_at().seconds(), 1795000000);
  EXPECT_EQ(e.subject(), "Test deliver webhook");
  EXPECT_EQ(e.metadata().size(), 2u);
  EXPECT_EQ(e.metadata().at("my_var_1"), "Mailgun Variable #1");
  EXPECT_EQ(e.metadata().at("my-var-2"), "awesome");
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
  EXPECT_EQ(e.raw(), body);

  // The same request again (Mailgun's retry) is a duplicate; the same signed token on another
  // body is refused; a signature with one hex digit changed is refused.
  EXPECT_EQ(PostStatus(body, kFormType), 200);
  std::string other = absl::StrReplaceAll(body, {{"alice%40example.com", "mallory%40example.com"}});
  ASSERT_NE(other, body);
  EXPECT_EQ(PostStatus(other, kFormType), 401);
  std::string forged = body;
  const size_t at = forged.find("&signature=") + 11;
  forged[at] = forged[at] == 'b' ? 'c' : 'b';
  EXPECT_EQ(PostStatus(forged, kFormType), 401);
}

TEST_F(MailgunDocumentedInputsTest, LegacyBouncedMultipart) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  const std::string body = Testdata("legacy-bounced.multipart");
  auto outcome = PostFile(agent, body, kBouncedType);
  ASSERT_TRUE(outcome.ok()) << outcome.status() << router_->log();
  ASSERT_EQ(outcome->events.size(), 1u);
  const v1::EmailEvent& e = outcome->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(e.provider_event_type(), "bounced");
  EXPECT_EQ(e.recipient(), "alice@example.com");
  EXPECT_EQ(e.message_id(), "<20130503182626.18666.16541@example.com>");
  EXPECT_EQ(e.provider_event_key(), "<20130503182626.18666.16541@example.com>|bounced|1795000060");
  EXPECT_EQ(e.occurred_at().seconds(), 1795000060);
  EXPECT_EQ(e.bounce().bounce_class(), v1::BOUNCE_CLASS_HARD);
  EXPECT_EQ(e.bounce().smtp_code(), "550");
  EXPECT_EQ(e.bounce().enhanced_status(), "5.1.1");
  EXPECT_EQ(e.bounce().diagnostic(),
            "5.1.1 The email account that you tried to reach does not exist. Please try\n"
            "5.1.1 double-checking the recipient's email address for typos or\n"
            "5.1.1 unnecessary spaces.");
  ASSERT_EQ(e.tags_size(), 1);
  EXPECT_EQ(e.tags(0), "newsletter");
  EXPECT_EQ(e.subject(), "Test bounces webhook");
  // Only the custom variable: the documented fields and the attachment are not metadata.
  EXPECT_EQ(e.metadata().size(), 1u);
  EXPECT_EQ(e.metadata().at("my_var_1"), "Mailgun Variable #1");
  // The attachment is described, not dropped: attachment-1, delivery-status.txt, the 113 bytes
  // between its part headers and the next boundary (SHA-256 in SOURCES.md).
  ASSERT_EQ(e.inbound().attachments_size(), 1);
  const v1::Inbound::Attachment& a = e.inbound().attachments(0);
  EXPECT_EQ(a.filename(), "delivery-status.txt");
  EXPECT_EQ(a.content_type(), "message/delivery-status");
  EXPECT_EQ(a.size(), 113u);
  EXPECT_EQ(a.sha256(), "2b1edcc2748e8d2754250f434c413b8bd5dae92c056ab4f8706f98f5dba7d1b3");
  EXPECT_EQ(a.content(),
            "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; alice@example.com\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n");
  EXPECT_FALSE(a.stored());
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
  EXPECT_EQ(e.raw(), body);
}

TEST_F(MailgunDocumentedInputsTest, InboundRouteForwardMultipartWithAttachment) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  const std::string body = Testdata("route-forward.multipart");
  auto outcome = PostFile(agent, body, kRouteType);
  ASSERT_TRUE(outcome.ok()) << outcome.status() << router_->log();
  ASSERT_EQ(outcome->events.size(), 1u);
  const v1::EmailEvent& e = outcome->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_RECEIVED);
  EXPECT_EQ(e.provider_event_type(), "inbound");
  EXPECT_EQ(e.recipient(), "support@in.example.com");
  EXPECT_EQ(e.sender(), "bob@sender.example");
  EXPECT_EQ(e.message_id(), "<CAF=reply-42@mail.sender.example>");
  EXPECT_EQ(e.provider_event_key(), "<CAF=reply-42@mail.sender.example>");
  EXPECT_EQ(e.occurred_at().seconds(), 1795000120);
  EXPECT_EQ(e.subject(), "Re: Invoice 42");
  const v1::Inbound& in = e.inbound();
  EXPECT_EQ(in.from(), "Bob Sender <bob@sender.example>");
  EXPECT_EQ(in.subject(), "Re: Invoice 42");
  EXPECT_EQ(in.text(), "Paid, see the notes.\r\n\r\n> Invoice 42 is due.\r\n--\r\nBob");
  EXPECT_EQ(in.html(),
            "<p>Paid, see the notes.</p>\r\n<blockquote>Invoice 42 is due.</blockquote>");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "Support <support@in.example.com>");
  ASSERT_EQ(in.cc_size(), 1);
  EXPECT_EQ(in.cc(0), "Carol <carol@in.example.com>");
  EXPECT_EQ(in.in_reply_to(), "<invoice-42@in.example.com>");
  ASSERT_EQ(in.references_size(), 2);
  EXPECT_EQ(in.references(0), "<thread-1@in.example.com>");
  EXPECT_EQ(in.references(1), "<invoice-42@in.example.com>");
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "pass");
  EXPECT_EQ(in.message_key(), "<CAF=reply-42@mail.sender.example>");
  // attachment-1: notes.txt, the 20 bytes "line one\r\nline two\r\n" (SHA-256 in SOURCES.md).
  ASSERT_EQ(in.attachments_size(), 1);
  const v1::Inbound::Attachment& a = in.attachments(0);
  EXPECT_EQ(a.filename(), "notes.txt");
  EXPECT_EQ(a.content_type(), "text/plain");
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(a.sha256(), "6612d9c94c2da8d2544e1188348fc7baf717ffff1bacde51929a166404a41ffc");
  EXPECT_EQ(a.content(), "line one\r\nline two\r\n");
  EXPECT_FALSE(a.stored());
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
  EXPECT_EQ(e.raw(), body);
}

// A route whose URL ends in "mime" posts recipient, sender, from, subject and body-mime (the
// whole message) with the signature fields: the mail is read from body-mime.
TEST_F(MailgunDocumentedInputsTest, InboundRouteRawMimeIsParsed) {
  RawAgent agent(router_->grpc_target(), "audit", "audit-token-0123456789");
  ASSERT_TRUE(agent.WaitWelcome().ok());
  const std::string body = Testdata("route-mime.multipart");
  auto outcome = PostFile(agent, body, kRouteMimeType);
  ASSERT_TRUE(outcome.ok()) << outcome.status() << router_->log();
  ASSERT_EQ(outcome->events.size(), 1u);
  const v1::EmailEvent& e = outcome->events[0];
  EXPECT_EQ(e.type(), v1::EVENT_TYPE_RECEIVED);
  EXPECT_EQ(e.provider_event_type(), "inbound");
  EXPECT_EQ(e.recipient(), "support@in.example.com");
  EXPECT_EQ(e.sender(), "bob@sender.example");
  EXPECT_EQ(e.message_id(), "<CAF=raw-43@mail.sender.example>");
  EXPECT_EQ(e.provider_event_key(), "<CAF=raw-43@mail.sender.example>");
  EXPECT_EQ(e.occurred_at().seconds(), 1795000180);
  EXPECT_EQ(e.subject(), "Re: Invoice 43");
  const v1::Inbound& in = e.inbound();
  EXPECT_EQ(in.from(), "Bob Sender <bob@sender.example>");
  EXPECT_EQ(in.subject(), "Re: Invoice 43");
  // Quoted-printable undone (=E2=80=94 is U+2014); the CRLF before a boundary belongs to the
  // boundary (RFC 2046 section 5.1.1).
  EXPECT_EQ(in.text(), "Paid, see the figures \xe2\x80\x94 Bob");
  EXPECT_EQ(in.html(), "<p>Paid, see the figures.</p>");
  ASSERT_EQ(in.to_size(), 1);
  EXPECT_EQ(in.to(0), "Support <support@in.example.com>");
  ASSERT_EQ(in.cc_size(), 1);
  EXPECT_EQ(in.cc(0), "Carol <carol@in.example.com>");
  EXPECT_EQ(in.in_reply_to(), "<invoice-43@in.example.com>");
  ASSERT_EQ(in.references_size(), 2);
  EXPECT_EQ(in.references(0), "<thread-2@in.example.com>");
  EXPECT_EQ(in.references(1), "<invoice-43@in.example.com>");
  EXPECT_EQ(in.spf(), "pass");
  EXPECT_EQ(in.dkim(), "pass");
  EXPECT_EQ(in.message_key(), "<CAF=raw-43@mail.sender.example>");
  // figures.csv: base64 of the 10 bytes "a,b\r\n1,2\r\n" (SHA-256 in SOURCES.md).
  ASSERT_EQ(in.attachments_size(), 1);
  const v1::Inbound::Attachment& a = in.attachments(0);
  EXPECT_EQ(a.filename(), "figures.csv");
  EXPECT_EQ(a.content_type(), "text/csv");
  EXPECT_EQ(a.size(), 10u);
  EXPECT_EQ(a.sha256(), "ea14f99c47575613ab22111122c847728c61007f6bfd7b062d02fcb99df3feb0");
  EXPECT_EQ(a.content(), "a,b\r\n1,2\r\n");
  EXPECT_EQ(e.raw_format(), v1::RAW_FORMAT_FORM);
  EXPECT_EQ(e.raw(), body);
}

}  // namespace
}  // namespace switchboard::testing
