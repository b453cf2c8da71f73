// Every ingress limit of HttpServer (http_server.h "Limits"; issue 6 "Ingress hardening"), each
// tested while the abusive client is still connected, and each proving that the server keeps
// serving another client meanwhile: /healthz answers 200 and a valid webhook is committed (200).
// The server runs one io thread, so a limit that blocked it would show.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "router/ingress/http_server.h"
#include "tests/unit/ingress/http_server_fixture.h"

namespace switchboard::ingress {
namespace {

using testing::Client;
using testing::FakeStore;
using testing::HttpServerTest;
using testing::kMaxBody;
namespace http = boost::beast::http;

const std::string kSignedPost =
    "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\nX-Signature: valid\r\n";

class HttpLimitsTest : public HttpServerTest {
 protected:
  // Another client, on its own connection, is served normally.
  void ExpectOthersServed() {
    Client other(server_->port());
    EXPECT_EQ(other.Send(http::verb::get, "/healthz").result_int(), 200);
    const size_t before = store_.committed().size();
    EXPECT_EQ(other.Send(http::verb::post, "/v1/webhooks/resend", "fine",
                         {{"X-Signature", "valid"}})
                  .result_int(),
              200);
    EXPECT_EQ(store_.committed().size(), before + 1);
  }
};

TEST_F(HttpLimitsTest, OversizeContentLengthIs413WithoutReadingTheBody) {
  StartServer();
  Client abusive(server_->port());
  // Only the header goes out: the answer must come without the announced body.
  abusive.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: ", kMaxBody + 1, "\r\n\r\n"));
  EXPECT_EQ(abusive.Read().result_int(), 413);
  ExpectOthersServed();  // the abusive connection lingers, still open
  EXPECT_TRUE(abusive.ServerClosed());
  EXPECT_EQ(store_.committed().size(), 1u) << "only the other client's webhook";
}

TEST_F(HttpLimitsTest, TooManyHeaderFieldsIs431) {
  HttpServerOptions options;
  options.max_header_count = 10;
  StartServer(options);
  // Host + X-Signature + 8 = 10 fields: at the limit.
  std::vector<std::pair<std::string, std::string>> headers = {{"X-Signature", "valid"}};
  for (int i = 0; i < 7; ++i) headers.emplace_back(absl::StrCat("X-Pad-", i), "p");
  Client at_limit(server_->port());
  // Content-Length is the 10th field.
  EXPECT_EQ(at_limit.Send(http::verb::post, "/v1/webhooks/resend", "x", headers).result_int(),
            200);

  headers.emplace_back("X-Pad-7", "p");
  Client abusive(server_->port());
  EXPECT_EQ(abusive.Send(http::verb::post, "/v1/webhooks/resend", "y", headers).result_int(),
            431);
  ExpectOthersServed();
  EXPECT_TRUE(abusive.ServerClosed());
}

TEST_F(HttpLimitsTest, TooLargeHeaderIs431) {
  HttpServerOptions options;
  options.header_limit = 1024;
  StartServer(options);
  Client abusive(server_->port());
  auto response = abusive.Send(http::verb::post, "/v1/webhooks/resend", "x",
                               {{"X-Signature", "valid"}, {"X-Padding", std::string(1100, 'p')}});
  EXPECT_EQ(response.result_int(), 431);
  ExpectOthersServed();
  EXPECT_TRUE(abusive.ServerClosed());
}

TEST_F(HttpLimitsTest, SlowlorisIsCutAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(1);
  StartServer(options);
  Client abusive(server_->port());
  abusive.WriteRaw(absl::StrCat(kSignedPost, "X-Slow: "));
  // One header byte every 20 ms: each byte arrives well within the timeout, the header never
  // completes (header_limit is 16 KiB: 320 s at this pace). The timeout bounds the whole header.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop.load()) {
      if (!abusive.TryWriteRaw("a")) return;  // the server closed the connection
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  ExpectOthersServed();
  // EOF, not an answer: the cut connection gets no 431 or 408.
  EXPECT_TRUE(abusive.ServerClosed());
  stop = true;
  trickle.join();
  ExpectOthersServed();
}

TEST_F(HttpLimitsTest, StalledBodyIsCutAfterTheReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = absl::Seconds(1);
  StartServer(options);
  Client abusive(server_->port());
  abusive.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 10\r\n\r\nabc"));
  ExpectOthersServed();
  EXPECT_TRUE(abusive.ServerClosed());
  EXPECT_EQ(store_.committed().size(), 1u) << "the stalled request committed nothing";
}

TEST_F(HttpLimitsTest, ConnectionsOverTheCapAreClosedAtOnce) {
  HttpServerOptions options;
  options.max_connections = 3;
  StartServer(options);
  // The abusive client holds every slot with idle connections; each is served once, so each is
  // registered before the next one connects.
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server_->port()));
    EXPECT_EQ(held.back()->Send(http::verb::get, "/healthz").result_int(), 200);
  }
  Client refused(server_->port());  // the kernel completes the handshake; the server then closes
  EXPECT_TRUE(refused.ServerClosed());
  EXPECT_EQ(Client(server_->port()).TrySend(http::verb::get, "/healthz"), -1);

  // One slot frees: another client is served while two abusive connections stay open. The slot
  // is free once the server has seen the close; until then a new connection is refused (the
  // behaviour under test), so the other client retries.
  held.erase(held.begin());
  std::unique_ptr<Client> other;
  for (int attempt = 0; attempt < 10000 && other == nullptr; ++attempt) {
    auto candidate = std::make_unique<Client>(server_->port());
    if (candidate->TrySend(http::verb::get, "/healthz") == 200) other = std::move(candidate);
  }
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->Send(http::verb::post, "/v1/webhooks/resend", "fine",
                        {{"X-Signature", "valid"}})
                .result_int(),
            200);
  EXPECT_EQ(store_.committed().size(), 1u);
  EXPECT_TRUE(Client(server_->port()).ServerClosed()) << "full again";
  for (auto& client : held) {
    EXPECT_EQ(client->Send(http::verb::get, "/healthz").result_int(), 200)
        << "the held connections still work";
  }
}

TEST_F(HttpLimitsTest, BodiesInFlightOverTheCapGet503BeforeTheBodyIsRead) {
  FakeStore manual_store;
  handler_ = std::make_unique<WebhookHandler>(handler_->snapshot(), manual_store, clock_);
  HttpServerOptions options;
  options.max_inflight_body = 1000;
  StartServer(options);

  // 600 bytes held: a request whose commit the store has not answered yet.
  Client holder(server_->port());
  holder.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 600\r\n\r\n", std::string(600, 'h')));
  manual_store.AwaitPending(1);

  // 500 more would exceed 1000: refused from the header alone, 503 + Retry-After.
  Client abusive(server_->port());
  abusive.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 500\r\n\r\n"));
  auto refused = abusive.Read();
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(refused[http::field::retry_after], "1");
  EXPECT_TRUE(abusive.ServerClosed());

  // A body that fits (400) is still taken; /healthz has no body.
  Client fits(server_->port());
  fits.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 400\r\n\r\n", std::string(400, 'f')));
  manual_store.AwaitPending(2);
  Client health(server_->port());
  EXPECT_EQ(health.Send(http::verb::get, "/healthz").result_int(), 200);

  // Once the held requests are answered, their bytes are free again.
  manual_store.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  manual_store.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  EXPECT_EQ(holder.Read().result_int(), 200);
  EXPECT_EQ(fits.Read().result_int(), 200);
  Client after(server_->port());
  after.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 900\r\n\r\n", std::string(900, 'a')));
  manual_store.AwaitPending(1);
  manual_store.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  EXPECT_EQ(after.Read().result_int(), 200);
}

TEST_F(HttpLimitsTest, ChunkedBodyReservesTheSourceLimit) {
  FakeStore manual_store;
  handler_ = std::make_unique<WebhookHandler>(handler_->snapshot(), manual_store, clock_);
  HttpServerOptions options;
  options.max_inflight_body = kMaxBody + 100;  // room for one chunked body of the "resend" source
  StartServer(options);
  Client holder(server_->port());
  holder.WriteRaw(absl::StrCat(kSignedPost, "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  manual_store.AwaitPending(1);
  Client abusive(server_->port());
  abusive.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 200\r\n\r\n"));
  EXPECT_EQ(abusive.Read().result_int(), 503);
  Client health(server_->port());
  EXPECT_EQ(health.Send(http::verb::get, "/healthz").result_int(), 200);
  manual_store.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  EXPECT_EQ(holder.Read().result_int(), 200);
}

TEST_F(HttpLimitsTest, UndocumentedMethodsAre405WithAllow) {
  StartServer();
  Client abusive(server_->port());
  auto put = abusive.Send(http::verb::put, "/v1/webhooks/resend", "x");
  EXPECT_EQ(put.result_int(), 405);
  EXPECT_EQ(put[http::field::allow], "POST");
  Client abusive2(server_->port());
  auto del = abusive2.Send(http::verb::delete_, "/healthz");
  EXPECT_EQ(del.result_int(), 405);
  EXPECT_EQ(del[http::field::allow], "GET, HEAD");
  Client abusive3(server_->port());
  abusive3.WriteRaw("BREW /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\n\r\n");
  auto brew = abusive3.Read();
  EXPECT_EQ(brew.result_int(), 405);
  EXPECT_EQ(brew[http::field::allow], "POST");
  ExpectOthersServed();
  EXPECT_EQ(store_.committed().size(), 1u);
}

TEST_F(HttpLimitsTest, PipelinedRequestsAreAnsweredOneAtATimeInOrder) {
  StartServer();
  Client client(server_->port());
  client.WriteRaw(absl::StrCat(kSignedPost, "Content-Length: 5\r\n\r\nfirst", kSignedPost,
                               "Content-Length: 6\r\n\r\nsecond",
                               "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_EQ(client.Read().result_int(), 200);
  EXPECT_EQ(client.Read().result_int(), 200);
  auto health = client.Read();
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(health.body(), "ok");
  const auto committed = store_.committed();
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_EQ(committed[0][0].event.id(), "first");
  EXPECT_EQ(committed[1][0].event.id(), "second");
}

}  // namespace
}  // namespace switchboard::ingress
