// Inbound attachments through the ingress: a real SendgridInboundProvider, WebhookHandler and
// EmbeddedStore. An attachment above the source's inline_attachments_max is kept in the store
// (Store::PutAttachments before the commit) and the event only names it; a small one rides inside
// the event. Text and html bodies above inline_raw_max are kept the same way.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/ingress/webhook_handler.h"
#include "router/providers/sendgrid_inbound_provider.h"
#include "router/store/embedded_store.h"
#include "tests/common/scoped_test_dir.h"

namespace switchboard::ingress {
namespace {

// `start`'s answer; `timed_out` if it never calls back.
template <typename R, typename Start>
R Await(Start start, R timed_out = R(absl::DeadlineExceededError("never called back"))) {
  struct State {
    absl::Notification done;
    std::optional<R> result;
  };
  auto state = std::make_shared<State>();
  start([state](R result) {
    state->result.emplace(std::move(result));
    state->done.Notify();
  });
  if (!state->done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return timed_out;
  }
  return std::move(*state->result);
}

std::string Sha256Hex(std::string_view bytes) {
  auto digest = crypto::Sha256(bytes);
  EXPECT_TRUE(digest.ok());
  return crypto::HexEncode(*digest);
}

// Binary bytes (every byte value, NULs included) without a '-', so no line of it can look like
// the form's boundary.
std::string Binary(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    char c = static_cast<char>((i * 7 + i / 256) % 256);
    bytes[i] = c == '-' ? '+' : c;
  }
  return bytes;
}

class InboundAttachmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::EmbeddedStore::Create({.path = (dir_ / "store.db").string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    Configure(config::SourceConfig{}.inline_raw_max);
  }

  // (Re)configures the source "parse" with this inline_raw_max.
  void Configure(uint64_t inline_raw_max) {
    config::SourceConfig source;
    source.inline_raw_max = inline_raw_max;
    source.name = "parse";
    source.provider = "sendgrid-inbound";
    source.basic_auth = config::BasicAuth{"sg", "parse-s3cret"};
    // inline_attachments_max stays at its default, 64 KiB.
    auto provider = providers::SendgridInboundProvider::Create(source, "sources[0]");
    ASSERT_TRUE(provider.ok()) << provider.status();
    auto snapshot = std::make_shared<HandlerSnapshot>();
    SourceEntry entry;
    entry.config = source;
    entry.provider = *std::move(provider);
    snapshot->sources.emplace("parse", std::move(entry));
    if (handler_ == nullptr) {
      handler_ = std::make_unique<WebhookHandler>(snapshot, *store_, clock_);
    } else {
      handler_->SetSnapshot(snapshot);
    }
  }

  void TearDown() override {
    store_.reset();  // calls back anything pending before the handler goes
    handler_.reset();
  }

  // A SendGrid Inbound Parse post (default mode, boundary xYzZY) to two envelope recipients with
  // the given file parts (attachment1..N) and, when not empty, the text and html fields.
  HttpResponse Post(const std::vector<std::pair<std::string, std::string>>& files,
                    const std::string& text = "", const std::string& html = "") {
    std::string body;
    const auto part = [&](std::string name, std::string extra, std::string value) {
      absl::StrAppend(&body, "--xYzZY\r\nContent-Disposition: form-data; name=\"", name, "\"",
                      extra, "\r\n\r\n", value, "\r\n");
    };
    part("headers", "",
         "Message-ID: <att-1@sender.example>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
         "From: Sender <sender@sender.example>\r\nTo: a@in.example, b@in.example\r\n"
         "Subject: files");
    part("envelope", "", R"({"to":["a@in.example","b@in.example"],"from":"sender@sender.example"})");
    part("from", "", "Sender <sender@sender.example>");
    part("subject", "", "files");
    if (!text.empty()) part("text", "", text);
    if (!html.empty()) part("html", "", html);
    for (size_t i = 0; i < files.size(); ++i) {
      part(absl::StrCat("attachment", i + 1),
           absl::StrCat("; filename=\"", files[i].first,
                        "\"\r\nContent-Type: application/octet-stream"),
           files[i].second);
    }
    absl::StrAppend(&body, "--xYzZY--\r\n");
    last_body_ = body;

    providers::WebhookRequest request;
    request.source = "parse";
    request.method = "POST";
    request.target = "/v1/webhooks/parse";
    request.headers = {{"authorization", "Basic " + crypto::Base64Encode("sg:parse-s3cret")},
                       {"content-type", "multipart/form-data; boundary=xYzZY"}};
    request.body = std::move(body);
    request.received_at = clock_.Now();
    HttpResponse timed_out;
    timed_out.status = 0;
    return Await<HttpResponse>(
        [&](auto done) { handler_->Handle(std::move(request), std::move(done)); }, timed_out);
  }

  std::vector<v1::EmailEvent> Archived() {
    auto page = Await<absl::StatusOr<store::ArchivePage>>([&](auto done) {
      store_->ScanArchive(absl::InfinitePast(), absl::InfiniteFuture(), "", 100, std::move(done));
    });
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<v1::EmailEvent> events;
    if (page.ok()) {
      for (store::ArchivedEvent& e : page->events) events.push_back(std::move(e.event));
    }
    return events;
  }

  absl::StatusOr<std::string> GetAttachment(const std::string& event_id,
                                            const std::string& sha256) {
    return Await<absl::StatusOr<std::string>>(
        [&](auto done) { store_->GetAttachment(event_id, sha256, std::move(done)); },
        absl::DeadlineExceededError("never called back"));
  }

  // Rows of one of the store file's tables, read on a separate connection.
  int64_t CountRows(const std::string& table) {
    sqlite3* db = nullptr;
    int64_t count = -1;
    if (sqlite3_open_v2((dir_ / "store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      const std::string sql = "SELECT count(*) FROM " + table;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
          sqlite3_step(stmt) == SQLITE_ROW) {
        count = sqlite3_column_int64(stmt, 0);
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return count;
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::string last_body_;  // the body of the last Post
  test_support::ScopedTestDir dir_{"switchboard-inbound-attachments"};
  std::unique_ptr<store::EmbeddedStore> store_;
  std::unique_ptr<WebhookHandler> handler_;
};

TEST_F(InboundAttachmentsTest, ALargeAttachmentIsStoredAndASmallOneInlined) {
  const std::string big = Binary(200 << 10);  // 200 KiB > the 64 KiB default
  const std::string small = "small attachment\n";
  const HttpResponse response = Post({{"big.bin", big}, {"small.txt", small}});
  ASSERT_EQ(response.status, 200) << response.body;

  const std::vector<v1::EmailEvent> events = Archived();
  ASSERT_EQ(events.size(), 2u);  // one per envelope recipient
  for (const v1::EmailEvent& event : events) {
    SCOPED_TRACE(event.recipient());
    ASSERT_EQ(event.inbound().attachments_size(), 2);
    const v1::Inbound::Attachment& stored = event.inbound().attachments(0);
    EXPECT_EQ(stored.filename(), "big.bin");
    EXPECT_EQ(stored.size(), big.size());
    EXPECT_EQ(stored.sha256(), Sha256Hex(big));
    EXPECT_TRUE(stored.stored());
    EXPECT_TRUE(stored.content().empty());
    // The event stays small: the 200 KiB are not in it (raw, the posted body, is left out here).
    v1::EmailEvent without_raw = event;
    without_raw.clear_raw();
    EXPECT_LT(without_raw.ByteSizeLong(), size_t{8} << 10);

    absl::StatusOr<std::string> bytes = GetAttachment(event.id(), stored.sha256());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(bytes->size(), big.size());
    EXPECT_EQ(Sha256Hex(*bytes), stored.sha256());
    EXPECT_TRUE(*bytes == big);

    const v1::Inbound::Attachment& inlined = event.inbound().attachments(1);
    EXPECT_EQ(inlined.filename(), "small.txt");
    EXPECT_FALSE(inlined.stored());
    EXPECT_EQ(inlined.content(), small);
    EXPECT_EQ(inlined.sha256(), Sha256Hex(small));
    // Inlined bytes are not kept a second time.
    EXPECT_EQ(GetAttachment(event.id(), inlined.sha256()).status().code(),
              absl::StatusCode::kNotFound);
  }
}

TEST_F(InboundAttachmentsTest, AnAttachmentOfExactlyTheLimitIsInlined) {
  const std::string edge = Binary(64 << 10);
  ASSERT_EQ(Post({{"edge.bin", edge}}).status, 200);
  const std::vector<v1::EmailEvent> events = Archived();
  ASSERT_EQ(events.size(), 2u);
  const v1::Inbound::Attachment& attachment = events[0].inbound().attachments(0);
  EXPECT_FALSE(attachment.stored());
  EXPECT_TRUE(attachment.content() == edge);
}

// One mail to two recipients with a 200 KiB attachment, its raw body above inline_raw_max: both
// events name the stored raw body (its SHA-256 and size computed here from the posted bytes) and
// the stored attachment, and the store keeps ONE copy of each (two blobs, four references).
TEST_F(InboundAttachmentsTest, ARawBodyAboveTheLimitIsStoredOncePerMail) {
  Configure(64 << 10);
  const std::string big = Binary(200 << 10);
  ASSERT_EQ(Post({{"big.bin", big}}).status, 200);
  const std::string posted = last_body_;
  ASSERT_GT(posted.size(), size_t{200} << 10);

  const std::vector<v1::EmailEvent> events = Archived();
  ASSERT_EQ(events.size(), 2u);
  for (const v1::EmailEvent& event : events) {
    SCOPED_TRACE(event.recipient());
    EXPECT_TRUE(event.raw().empty());
    EXPECT_TRUE(event.raw_stored());
    EXPECT_EQ(event.raw_size(), posted.size());
    EXPECT_EQ(event.raw_sha256(), Sha256Hex(posted));
    EXPECT_EQ(event.raw_format(), v1::RAW_FORMAT_MIME);
    EXPECT_LT(event.ByteSizeLong(), size_t{8} << 10);  // neither raw nor attachment inside
    absl::StatusOr<std::string> raw = GetAttachment(event.id(), event.raw_sha256());
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_TRUE(*raw == posted);
  }
  EXPECT_EQ(CountRows("blobs"), 2);
  EXPECT_EQ(CountRows("blob_refs"), 4);
}

TEST_F(InboundAttachmentsTest, ARawBodyOfExactlyTheLimitStaysInTheEvent) {
  ASSERT_EQ(Post({{"small.txt", "x"}}).status, 200);  // sizes the body
  const size_t size = last_body_.size();
  // The same mail again would be a duplicate: the limit is checked on a fresh store file.
  store_.reset();
  std::filesystem::remove_all(dir_.path());
  auto store = store::EmbeddedStore::Create({.path = (dir_ / "store.db").string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  handler_.reset();
  Configure(size);
  ASSERT_EQ(Post({{"small.txt", "x"}}).status, 200);
  ASSERT_EQ(last_body_.size(), size);
  const std::vector<v1::EmailEvent> events = Archived();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[0].raw_stored());
  EXPECT_EQ(events[0].raw(), last_body_);
  EXPECT_EQ(CountRows("blobs"), 0);
}

// Text and html bodies follow the source's inline_raw_max too: a text one byte above it is stored
// once for both recipients (text_stored, its SHA-256 and size computed here), an html body of
// exactly the limit stays in the event.
TEST_F(InboundAttachmentsTest, ATextBodyAboveTheLimitIsStoredAndOneAtTheLimitStays) {
  constexpr size_t kLimit = 4096;
  Configure(kLimit);
  const std::string text(kLimit + 1, 't');
  const std::string html = "<p>" + std::string(kLimit - 7, 'h') + "</p>";
  ASSERT_EQ(html.size(), kLimit);
  ASSERT_EQ(Post({}, text, html).status, 200);

  const std::vector<v1::EmailEvent> events = Archived();
  ASSERT_EQ(events.size(), 2u);
  for (const v1::EmailEvent& event : events) {
    SCOPED_TRACE(event.recipient());
    EXPECT_TRUE(event.inbound().text().empty());
    EXPECT_TRUE(event.inbound().text_stored());
    EXPECT_EQ(event.inbound().text_size(), text.size());
    EXPECT_EQ(event.inbound().text_sha256(), Sha256Hex(text));
    absl::StatusOr<std::string> stored = GetAttachment(event.id(), Sha256Hex(text));
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_TRUE(*stored == text);
    EXPECT_EQ(event.inbound().html(), html);
    EXPECT_FALSE(event.inbound().html_stored());
    EXPECT_TRUE(event.inbound().html_sha256().empty());
    EXPECT_EQ(event.inbound().html_size(), 0u);
  }
  // The text and the raw body (it holds the text, so it is above the limit too): two blobs, each
  // named by both events.
  EXPECT_EQ(CountRows("blobs"), 2);
  EXPECT_EQ(CountRows("blob_refs"), 4);
}

}  // namespace
}  // namespace switchboard::ingress
