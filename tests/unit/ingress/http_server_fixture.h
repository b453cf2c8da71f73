#pragma once

// The blocking HTTP client and the HttpServer fixture that http_server_test.cc and
// http_limits_test.cc share: a server on 127.0.0.1:0 with one io thread (so a stalled client
// that held it would show), a "resend" source (kMaxBody) and a "small" one (kSmallSourceMaxBody)
// whose FakeProvider accepts `X-Signature: valid`, and an auto-committing FakeStore.

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/ingress/http_server.h"
#include "tests/unit/ingress/fakes.h"

namespace switchboard::ingress::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

inline constexpr uint64_t kMaxBody = 1024;
inline constexpr uint64_t kSmallSourceMaxBody = 16;

// A blocking HTTP/1.1 client on one connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  http::response<http::string_body> Send(http::verb method, std::string target,
                                         std::string body = "",
                                         std::vector<std::pair<std::string, std::string>> headers =
                                             {}) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method == http::verb::post || !body.empty()) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    http::write(socket_, request);
    return Read();
  }

  void WriteRaw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  // False when the connection is gone.
  bool TryWriteRaw(std::string_view bytes) {
    beast::error_code ec;
    net::write(socket_, net::buffer(bytes), ec);
    return !ec;
  }

  // The status of a GET/POST answer, or -1 when the server closed the connection instead.
  int TrySend(http::verb method, std::string target) {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "localhost");
    beast::error_code ec;
    http::write(socket_, request, ec);
    if (ec) return -1;
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response, ec);
    return ec ? -1 : response.result_int();
  }

  http::response<http::string_body> Read() {
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    return response;
  }

  // The status of a response to HEAD (its Content-Length describes a body that is not sent).
  int ReadHeadResponse() {
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    http::read(socket_, buffer_, parser);
    return parser.get().result_int();
  }

  // True when the server closed the connection (reads EOF).
  bool ServerClosed() {
    char byte;
    beast::error_code ec;
    socket_.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline bool Accepting(uint16_t port) {
  try {
    Client client(port);
    return true;
  } catch (const boost::system::system_error&) {
    return false;
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : clock_(absl::FromUnixSeconds(1700000000)) {
    provider_->verify = [](const providers::WebhookRequest& request) {
      return request.Header("x-signature") == "valid" ? absl::OkStatus()
                                                       : absl::UnauthenticatedError("bad");
    };
    auto snapshot = std::make_shared<HandlerSnapshot>();
    SourceEntry resend{.config = {}, .provider = provider_};
    resend.config.name = "resend";
    snapshot->sources.emplace("resend", resend);
    SourceEntry small{.config = {}, .provider = provider_};
    small.config.name = "small";
    small.config.max_body = kSmallSourceMaxBody;
    snapshot->sources.emplace("small", small);
    snapshot->rules = std::make_shared<FakeRuleSet>();
    handler_ = std::make_unique<WebhookHandler>(snapshot, store_, clock_);
  }

  ~HttpServerTest() override {
    if (server_) server_->Stop(absl::Seconds(5));
  }

  void StartServer(HttpServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.max_body = kMaxBody;
    options.io_threads = 1;  // one thread: a stalled client must not hold it
    if (!options.ready) options.ready = [this] { return ready_.load(); };
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(options, *handler_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
    server_->Start();
  }

  FakeClock clock_;
  FakeStore store_{/*auto_commit=*/true};
  std::shared_ptr<FakeProvider> provider_ = std::make_shared<FakeProvider>();
  std::unique_ptr<WebhookHandler> handler_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<HttpServer> server_;
};

}  // namespace switchboard::ingress::testing
