// A 25 MiB inbound mail through the real router (embedded store): SendGrid Inbound Parse in raw
// mode (the whole MIME message in the form field `email`) to two envelope recipients, with an
// 18 MiB attachment (24 MiB once base64-encoded). The agent receives one small RECEIVED event per
// recipient over a channel with gRPC's default 4 MiB receive limit: the attachment and the raw
// body are kept in the store, once for both recipients, and fetched through AdminService and
// `switchboardctl attachment get` with the SHA-256 this test computes itself (OpenSSL directly).
// Erasing one recipient keeps the bytes for the other; erasing both deletes them. A mail whose
// text/plain and text/html bodies are larger than inline_raw_max has them stored the same way.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "switchboard/v1/admin.grpc.pb.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tools/switchboardctl/http_client.h"

namespace switchboard::testing {
namespace {

constexpr char kAdminToken[] = "admin-token-inbound-0123456789";
constexpr char kAgentToken[] = "audit-token-0123456789";
constexpr size_t kGrpcDefaultLimit = size_t{4} << 20;  // grpc::ChannelArguments default receive

// The source allows 30 MiB bodies (SendGrid Parse's own limit for a whole message).
constexpr char kConfig[] = R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - name: parse
    provider: sendgrid-inbound
    basic_auth: { username: sg, password: "parse-pass" }
    max_body: 30MiB
agents:
  - { name: audit, tokens: ["AGENT"] }
admin:
  tokens:
    - { name: ops, token: "ADMIN" }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)";

// Bytes that do not compress and are not text (a linear congruential sequence).
std::string Noise(size_t size) {
  std::string bytes(size, '\0');
  uint32_t x = 12345;
  for (char& c : bytes) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

// RFC 2045 base64 body: lines of at most 76 characters, CRLF.
std::string Base64Lines(const std::string& bytes) {
  const std::string flat = crypto::Base64Encode(bytes);
  std::string out;
  out.reserve(flat.size() + flat.size() / 76 * 2 + 2);
  for (size_t i = 0; i < flat.size(); i += 76) {
    absl::StrAppend(&out, flat.substr(i, 76), "\r\n");
  }
  return out;
}

// The form SendGrid posts in raw mode ("POST the raw, full MIME message"): envelope and email.
std::string RawModeForm(const std::string& attachment) {
  const std::string mime = absl::StrCat(
      "Message-ID: <large-1@sender.example>\r\n"
      "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
      "From: Sender <sender@sender.example>\r\n"
      "To: ann@in.example, ben@in.example\r\n"
      "Subject: the scans\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"mixed-b1\"\r\n\r\n"
      "--mixed-b1\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "Scans attached.\r\n"
      "--mixed-b1\r\n"
      "Content-Type: application/octet-stream; name=\"scans.bin\"\r\n"
      "Content-Disposition: attachment; filename=\"scans.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n",
      Base64Lines(attachment), "--mixed-b1--\r\n");
  return absl::StrCat(
      "--xYzZY\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n"
      "{\"to\":[\"ann@in.example\",\"ben@in.example\"],\"from\":\"sender@sender.example\"}\r\n"
      "--xYzZY\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n",
      mime, "\r\n--xYzZY--\r\n");
}

// `lines` numbered lines made from `pattern` (its "N" replaced by the line number), LF-ended: the
// body as the event must carry it (line breaks are LF there, docs/providers.md).
std::string NumberedLines(int lines, const std::string& pattern) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    absl::StrAppend(&out, absl::StrReplaceAll(pattern, {{"N", absl::StrCat(i)}}), "\n");
  }
  return out;
}

// A raw-mode form of a mail to ann@in.example whose text/plain and text/html alternatives are
// `text` and `html` (LF lines, sent as 7bit MIME lines ending in CRLF).
std::string LongBodiesForm(const std::string& text, const std::string& html) {
  const std::string mime = absl::StrCat(
      "Message-ID: <long-1@sender.example>\r\n"
      "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
      "From: Sender <sender@sender.example>\r\n"
      "To: ann@in.example\r\n"
      "Subject: the long report\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/alternative; boundary=\"alt-b1\"\r\n\r\n"
      "--alt-b1\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 7bit\r\n\r\n",
      absl::StrReplaceAll(text, {{"\n", "\r\n"}}),
      "\r\n--alt-b1\r\n"
      "Content-Type: text/html; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 7bit\r\n\r\n",
      absl::StrReplaceAll(html, {{"\n", "\r\n"}}), "\r\n--alt-b1--\r\n");
  return absl::StrCat(
      "--xYzZY\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n"
      "{\"to\":[\"ann@in.example\"],\"from\":\"sender@sender.example\"}\r\n"
      "--xYzZY\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n",
      mime, "\r\n--xYzZY--\r\n");
}

class InboundLargeTest : public RouterTest {
 protected:
  InboundLargeTest() : RouterTest("switchboard-inbound-large") {}
  void SetUp() override {
    StartRouter(absl::StrReplaceAll(kConfig, {{"AGENT", kAgentToken}, {"ADMIN", kAdminToken}}));
  }

  // POSTs `body` (a raw-mode form, boundary xYzZY) to the parse source with its credentials and
  // expects 200 with `accepted` events.
  void PostParse(const std::string& body, int accepted) {
    auto answer = ctl::HttpPost(
        router_->webhook_url("parse"),
        {{"Content-Type", "multipart/form-data; boundary=xYzZY"},
         {"Authorization", absl::StrCat("Basic ", crypto::Base64Encode("sg:parse-pass"))}},
        body);
    ASSERT_TRUE(answer.ok()) << answer.status();
    ASSERT_EQ(answer->status, 200) << answer->body << router_->log();
    EXPECT_NE(answer->body.find(absl::StrCat("\"accepted\":", accepted)), std::string::npos)
        << answer->body;
  }

  // AdminService.GetAttachment: the bytes, or the call's status.
  grpc::Status Fetch(const std::string& event_id, const std::string& sha256, std::string* bytes) {
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(router_->grpc_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::GetAttachmentRequest request;
    request.set_event_id(event_id);
    request.set_sha256(sha256);
    auto reader = stub->GetAttachment(&context, request);
    v1::AttachmentChunk chunk;
    bytes->clear();
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.data().size(), size_t{1} << 20);  // admin.proto: at most 1 MiB a chunk
      *bytes += chunk.data();
    }
    return reader->Finish();
  }

  CtlResult CtlGet(const std::string& event_id, const std::string& sha256,
                   const std::string& out) {
    return RunCtl(dir_, {"attachment", "get", event_id, sha256, "-o", out, "--addr",
                         router_->grpc_target(), "--token", kAdminToken});
  }
};

TEST_F(InboundLargeTest, A25MiBMailReachesTheAgentSmallAndItsBytesAreFetchedOnceStored) {
  RawAgent agent(router_->grpc_target(), "audit", kAgentToken);  // default 4 MiB receive limit
  ASSERT_TRUE(agent.WaitWelcome().ok());

  const std::string attachment = Noise(18u << 20);
  const std::string body = RawModeForm(attachment);
  ASSERT_GT(body.size(), size_t{24} << 20);
  ASSERT_LT(body.size(), size_t{30} << 20);
  const std::string attachment_sha256 = Sha256Hex(attachment);
  const std::string raw_sha256 = Sha256Hex(body);

  ASSERT_NO_FATAL_FAILURE(PostParse(body, 2));

  std::vector<v1::EmailEvent> events;
  for (int i = 0; i < 2; ++i) {
    std::optional<v1::Delivery> delivery = agent.Next(absl::Seconds(30));
    ASSERT_TRUE(delivery.has_value()) << "delivery " << i << "\n" << router_->log();
    EXPECT_LT(delivery->ByteSizeLong(), kGrpcDefaultLimit);
    EXPECT_TRUE(agent.Ack(delivery->delivery_id()));
    events.push_back(delivery->event());
  }
  ASSERT_NE(events[0].recipient(), events[1].recipient());
  for (const v1::EmailEvent& event : events) {
    SCOPED_TRACE(event.recipient());
    EXPECT_EQ(event.type(), v1::EVENT_TYPE_RECEIVED);
    EXPECT_EQ(event.inbound().subject(), "the scans");
    EXPECT_TRUE(event.raw().empty());
    EXPECT_TRUE(event.raw_stored());
    EXPECT_EQ(event.raw_size(), body.size());
    EXPECT_EQ(event.raw_sha256(), raw_sha256);
    ASSERT_EQ(event.inbound().attachments_size(), 1);
    const v1::Inbound::Attachment& stored = event.inbound().attachments(0);
    EXPECT_EQ(stored.filename(), "scans.bin");
    EXPECT_EQ(stored.size(), attachment.size());
    EXPECT_EQ(stored.sha256(), attachment_sha256);
    EXPECT_TRUE(stored.stored());
    EXPECT_TRUE(stored.content().empty());

    std::string fetched;
    grpc::Status status = Fetch(event.id(), attachment_sha256, &fetched);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(fetched.size(), attachment.size());
    EXPECT_EQ(Sha256Hex(fetched), attachment_sha256);
    status = Fetch(event.id(), raw_sha256, &fetched);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(Sha256Hex(fetched), raw_sha256);
  }

  // switchboardctl: the same bytes into files.
  const std::string attachment_file = dir_ + "/scans.bin";
  CtlResult got = CtlGet(events[0].id(), attachment_sha256, attachment_file);
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_EQ(Sha256Hex(ReadWholeFile(attachment_file)), attachment_sha256);
  EXPECT_NE(got.err.find(absl::StrCat("wrote ", attachment.size(), " bytes")), std::string::npos)
      << got.err;
  const std::string raw_file = dir_ + "/raw.form";
  got = CtlGet(events[1].id(), raw_sha256, raw_file);
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_EQ(Sha256Hex(ReadWholeFile(raw_file)), raw_sha256);

  // A hash the event does not name, and no token: one error line, exit 1, no file written.
  got = CtlGet(events[0].id(), Sha256Hex("other"), dir_ + "/none.bin");
  EXPECT_EQ(got.exit_code, 1) << Describe(got);
  EXPECT_EQ(got.err.rfind("error: ", 0), 0u) << got.err;
  EXPECT_NE(got.err.find("NOT_FOUND"), std::string::npos) << got.err;
  EXPECT_EQ(std::count(got.err.begin(), got.err.end(), '\n'), 1) << got.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/none.bin"));
  got = RunCtl(dir_, {"attachment", "get", events[0].id(), attachment_sha256, "--addr",
                      router_->grpc_target()});
  EXPECT_EQ(got.exit_code, 1) << Describe(got);
  EXPECT_NE(got.err.find("no admin token"), std::string::npos) << got.err;

  // One copy for both recipients: erasing ann keeps the bytes for ben; erasing ben deletes them.
  const v1::EmailEvent& ann = events[0].recipient() == "ann@in.example" ? events[0] : events[1];
  const v1::EmailEvent& ben = events[0].recipient() == "ann@in.example" ? events[1] : events[0];
  ASSERT_EQ(ben.recipient(), "ben@in.example");
  got = RunCtl(dir_, {"purge", "--recipient", "ann@in.example", "--addr", router_->grpc_target(),
                      "--token", kAdminToken});
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  std::string fetched;
  EXPECT_EQ(Fetch(ann.id(), attachment_sha256, &fetched).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Fetch(ben.id(), attachment_sha256, &fetched).ok());
  EXPECT_EQ(Sha256Hex(fetched), attachment_sha256);
  got = RunCtl(dir_, {"purge", "--recipient", "ben@in.example", "--addr", router_->grpc_target(),
                      "--token", kAdminToken});
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_EQ(Fetch(ben.id(), attachment_sha256, &fetched).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(ben.id(), raw_sha256, &fetched).error_code(), grpc::StatusCode::NOT_FOUND);
}

// A 20 MiB text/plain body and a 2 MiB text/html one (both above the default 1 MiB
// inline_raw_max) reach the agent as a small event; their bytes are stored and fetched by the
// SHA-256 this test computes, and erasing the recipient deletes them.
TEST_F(InboundLargeTest, A20MiBTextBodyAndALargeHtmlBodyAreStoredOutOfLine) {
  RawAgent agent(router_->grpc_target(), "audit", kAgentToken);  // default 4 MiB receive limit
  ASSERT_TRUE(agent.WaitWelcome().ok());

  const std::string text = NumberedLines(520000, "line N of the long report, kept as sent");
  const std::string html = NumberedLines(100000, "<p>row N of the table</p>");
  ASSERT_GT(text.size(), size_t{20} << 20);
  ASSERT_GT(html.size(), size_t{2} << 20);
  const std::string body = LongBodiesForm(text, html);
  ASSERT_LT(body.size(), size_t{30} << 20);
  const std::string text_sha256 = Sha256Hex(text);
  const std::string html_sha256 = Sha256Hex(html);

  ASSERT_NO_FATAL_FAILURE(PostParse(body, 1));

  std::optional<v1::Delivery> delivery = agent.Next(absl::Seconds(30));
  ASSERT_TRUE(delivery.has_value()) << router_->log();
  EXPECT_LT(delivery->ByteSizeLong(), size_t{64} << 10);
  EXPECT_TRUE(agent.Ack(delivery->delivery_id()));
  const v1::EmailEvent& event = delivery->event();
  EXPECT_EQ(event.inbound().subject(), "the long report");
  EXPECT_TRUE(event.inbound().text().empty());
  EXPECT_TRUE(event.inbound().text_stored());
  EXPECT_EQ(event.inbound().text_size(), text.size());
  EXPECT_EQ(event.inbound().text_sha256(), text_sha256);
  EXPECT_TRUE(event.inbound().html().empty());
  EXPECT_TRUE(event.inbound().html_stored());
  EXPECT_EQ(event.inbound().html_size(), html.size());
  EXPECT_EQ(event.inbound().html_sha256(), html_sha256);
  EXPECT_TRUE(event.raw_stored());

  std::string fetched;
  grpc::Status status = Fetch(event.id(), text_sha256, &fetched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fetched.size(), text.size());
  EXPECT_TRUE(fetched == text);
  const std::string html_file = dir_ + "/body.html";
  CtlResult got = CtlGet(event.id(), html_sha256, html_file);
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_TRUE(ReadWholeFile(html_file) == html);

  got = RunCtl(dir_, {"purge", "--recipient", "ann@in.example", "--addr", router_->grpc_target(),
                      "--token", kAdminToken});
  ASSERT_EQ(got.exit_code, 0) << Describe(got);
  EXPECT_EQ(Fetch(event.id(), text_sha256, &fetched).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(event.id(), html_sha256, &fetched).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace switchboard::testing
