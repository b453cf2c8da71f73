#include "router/ingress/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "tests/common/scoped_test_dir.h"
#include "tests/unit/ingress/http_server_fixture.h"

namespace switchboard::ingress {
namespace {

using testing::Accepting;
using testing::Client;
using testing::FakeStore;
using testing::HttpServerTest;
using testing::kSmallSourceMaxBody;
namespace http = boost::beast::http;

TEST_F(HttpServerTest, PostRoundTripsWithKeepAlive) {
  StartServer();
  Client client(server_->port());
  const std::vector<std::pair<std::string, std::string>> signed_headers = {
      {"X-Signature", "valid"}};

  auto first = client.Send(http::verb::post, "/v1/webhooks/resend?attempt=1", "one\r\n",
                           signed_headers);
  EXPECT_EQ(first.result_int(), 200);
  EXPECT_TRUE(first.keep_alive());
  EXPECT_EQ(boost::json::parse(first.body()),
            boost::json::parse(R"({"accepted":1,"duplicates":0})"));
  EXPECT_EQ(first[http::field::content_type], "application/json");

  const providers::WebhookRequest seen = provider_->last_request();
  EXPECT_EQ(seen.source, "resend");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/v1/webhooks/resend?attempt=1");
  EXPECT_EQ(seen.body, "one\r\n");
  EXPECT_EQ(seen.Header("x-signature"), "valid");
  EXPECT_EQ(seen.CountHeader("x-signature"), 1);
  for (const auto& [name, value] : seen.headers) {
    EXPECT_EQ(name, absl::AsciiStrToLower(name)) << "header names reach providers lower-cased";
  }

  auto second = client.Send(http::verb::post, "/v1/webhooks/resend", "two", signed_headers);
  EXPECT_EQ(second.result_int(), 200);

  const auto committed = store_.committed();
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_EQ(committed[0][0].event.id(), "one\r\n");
  EXPECT_EQ(committed[1][0].event.id(), "two");
}

TEST_F(HttpServerTest, BadSignatureIs401) {
  StartServer();
  Client client(server_->port());
  auto response = client.Send(http::verb::post, "/v1/webhooks/resend", "x",
                              {{"X-Signature", "forged"}});
  EXPECT_EQ(response.result_int(), 401);
  EXPECT_TRUE(store_.committed().empty());
}

TEST_F(HttpServerTest, UnknownSourceIs404) {
  StartServer();
  Client client(server_->port());
  EXPECT_EQ(client.Send(http::verb::post, "/v1/webhooks/nope", "x").result_int(), 404);
}

TEST_F(HttpServerTest, ContentLengthOverTheLimitIs413BeforeTheBody) {
  StartServer();
  Client client(server_->port());
  // Only the header goes out: the answer must not wait for the announced body.
  client.WriteRaw(
      "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\nX-Signature: valid\r\n"
      "Content-Length: 1025\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 413);
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_TRUE(store_.committed().empty());
}

TEST_F(HttpServerTest, SourceMaxBodyOverridesTheDefault) {
  StartServer();
  Client client(server_->port());
  auto at_limit = client.Send(http::verb::post, "/v1/webhooks/small",
                              std::string(kSmallSourceMaxBody, 'a'), {{"X-Signature", "valid"}});
  EXPECT_EQ(at_limit.result_int(), 200);
  auto over = client.Send(http::verb::post, "/v1/webhooks/small",
                          std::string(kSmallSourceMaxBody + 1, 'a'), {{"X-Signature", "valid"}});
  EXPECT_EQ(over.result_int(), 413);
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  StartServer();
  Client client(server_->port());
  client.WriteRaw(
      "POST /v1/webhooks/small HTTP/1.1\r\nHost: localhost\r\nX-Signature: valid\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "10\r\n0123456789abcdef\r\n"
      "1\r\nX\r\n0\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 413);
  EXPECT_TRUE(store_.committed().empty());
}

TEST_F(HttpServerTest, ChunkedBodyWithinTheLimitIsAccepted) {
  StartServer();
  Client client(server_->port());
  client.WriteRaw(
      "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\nX-Signature: valid\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 200);
  EXPECT_EQ(provider_->last_request().body, "abcde");
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  Client client(server_->port());
  auto response = client.Send(http::verb::post, "/v1/webhooks/resend", "x",
                              {{"X-Signature", "valid"}, {"X-Padding", std::string(17000, 'p')}});
  EXPECT_EQ(response.result_int(), 431);
  EXPECT_TRUE(store_.committed().empty());
}

TEST_F(HttpServerTest, GarbageIs400) {
  StartServer();
  Client client(server_->port());
  client.WriteRaw("this is not http\r\n\r\n");
  EXPECT_EQ(client.Read().result_int(), 400);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  StartServer();
  Client client(server_->port());
  EXPECT_EQ(client.Send(http::verb::get, "/nothing/here").result_int(), 404);
  EXPECT_EQ(client.Send(http::verb::get, "/healthz").result_int(), 200) << "kept alive";
  // The server answers before reading these bodies, so it closes each connection.
  EXPECT_EQ(Client(server_->port()).Send(http::verb::post, "/v1/webhooks/", "x").result_int(),
            404);
  EXPECT_EQ(Client(server_->port())
                .Send(http::verb::post, "/v1/webhooks/resend/extra", "x")
                .result_int(),
            404);
}

TEST_F(HttpServerTest, OtherMethodsOnAWebhookAre405) {
  StartServer();
  Client client(server_->port());
  auto response = client.Send(http::verb::get, "/v1/webhooks/resend");
  EXPECT_EQ(response.result_int(), 405);
  EXPECT_EQ(response[http::field::allow], "POST");
  EXPECT_TRUE(store_.committed().empty());
}

TEST_F(HttpServerTest, ProbesReachProvidersThatAcceptThem) {
  provider_->probes = true;
  StartServer();
  Client client(server_->port());
  auto get = client.Send(http::verb::get, "/v1/webhooks/resend");
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(boost::json::parse(get.body()).at("control"), "probe");
  client.WriteRaw("HEAD /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(client.ReadHeadResponse(), 200);
  EXPECT_EQ(client.Send(http::verb::get, "/v1/webhooks/unknown").result_int(), 404);
  auto put = client.Send(http::verb::put, "/v1/webhooks/resend", "x");
  EXPECT_EQ(put.result_int(), 405);
  EXPECT_EQ(put[http::field::allow], "POST");
  EXPECT_TRUE(store_.committed().empty()) << "a probe commits nothing";
}

TEST_F(HttpServerTest, Healthz) {
  StartServer();
  Client client(server_->port());
  auto response = client.Send(http::verb::get, "/healthz");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), "ok");
}

TEST_F(HttpServerTest, ReadyzFollowsTheReadinessCallback) {
  StartServer();
  Client client(server_->port());
  EXPECT_EQ(client.Send(http::verb::get, "/readyz").result_int(), 200);
  ready_ = false;
  EXPECT_EQ(client.Send(http::verb::get, "/readyz").result_int(), 503);
  ready_ = true;
  EXPECT_EQ(client.Send(http::verb::get, "/readyz").result_int(), 200);
}

TEST_F(HttpServerTest, StalledClientDoesNotBlockOthers) {
  StartServer();
  Client stalled(server_->port());
  stalled.WriteRaw("POST /v1/webhooks/resend HTTP/1.1\r\nHost: loc");
  Client other(server_->port());
  EXPECT_EQ(other.Send(http::verb::get, "/healthz").result_int(), 200);
  EXPECT_EQ(other.Send(http::verb::post, "/v1/webhooks/resend", "x", {{"X-Signature", "valid"}})
                .result_int(),
            200);
}

TEST_F(HttpServerTest, IdleTimeoutClosesAStalledHeader) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(100);
  StartServer(options);
  Client stalled(server_->port());
  stalled.WriteRaw("POST /v1/webhooks/resend HTTP/1.1\r\nHost: loc");
  EXPECT_TRUE(stalled.ServerClosed());
}

TEST_F(HttpServerTest, StopLetsARequestInFlightFinish) {
  FakeStore manual_store;
  handler_ = std::make_unique<WebhookHandler>(handler_->snapshot(), manual_store, clock_);
  StartServer();
  Client client(server_->port());
  client.WriteRaw(
      "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\nX-Signature: valid\r\n"
      "Content-Length: 3\r\n\r\nabc");
  manual_store.AwaitPending(1);

  std::thread stopper([this] { server_->Stop(absl::Seconds(30)); });
  while (Accepting(server_->port())) {
    // Stop has begun once the listener is gone.
  }
  manual_store.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  auto response = client.Read();
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_FALSE(response.keep_alive()) << "a stopping server closes after the response";
  stopper.join();

  EXPECT_FALSE(Accepting(server_->port()));
}

// Create and ReloadTls on their own: a handler with no sources, nothing started.
class HttpServerCreateTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::UnixEpoch()};
  FakeStore store_;
  WebhookHandler handler_{std::make_shared<HandlerSnapshot>(), store_, clock_};
};

TEST_F(HttpServerCreateTest, RefusesABadListenAddress) {
  for (const char* listen : {"8080", "localhost:http", "127.0.0.1:70000", "not-an-ip:80"}) {
    HttpServerOptions options;
    options.listen = listen;
    EXPECT_EQ(HttpServer::Create(options, handler_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << listen;
  }
}

TEST_F(HttpServerCreateTest, AnAddressInUseIsUnavailable) {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  auto first = HttpServer::Create(options, handler_);
  ASSERT_TRUE(first.ok());
  options.listen = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(HttpServer::Create(options, handler_).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(HttpServerCreateTest, UnusableTlsFilesAreRefusedNamingTheFile) {
  const test_support::ScopedTestDir temp("switchboard-http-server");
  const std::string dir = temp.path().string();
  const std::string not_pem = dir + "/http_server_test.not-a-cert.pem";
  {
    std::ofstream out(not_pem);
    out << "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  }
  for (const std::string& cert : {dir + "/http_server_test.missing.pem", not_pem}) {
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls = HttpTlsFiles{cert, not_pem};
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(options, handler_);
    ASSERT_FALSE(server.ok()) << cert;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << server.status();
    EXPECT_NE(server.status().message().find("cert_file \"" + cert + "\""), std::string::npos)
        << server.status();
  }
}

TEST_F(HttpServerCreateTest, ReloadTlsOnAPlainServerIsAFailedPrecondition) {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = HttpServer::Create(options, handler_);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->ReloadTls(HttpTlsFiles{"cert.pem", "key.pem"}).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace switchboard::ingress
