// libFuzzer target for the HTTP request path (issue 6 "Must show" 3): every input is the raw
// bytes a client sends on one connection to the real ingress: HttpServer (Beast request parser
// with the server's limits, routing, 405/413/431/503 answers, keep-alive and pipelining) and
// WebhookHandler with a real Standard Webhooks provider (Resend) and an in-memory store
// (tests/unit/ingress/fakes.h, commits at once). The client writes the input, half-closes, and
// reads until the server closes: the connection always ends, whatever the bytes.
// Findings: crashes, sanitizer reports, a server that stops answering (libFuzzer's -timeout).
// The clock is fixed at 1700000000, so the seeds (seeds/http_request/, signed for that time with
// kSecret) pass verification and reach the commit.
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "router/common/clock.h"
#include "router/ingress/http_server.h"
#include "router/ingress/webhook_handler.h"
#include "router/providers/provider_factory.h"
#include "spdlog/spdlog.h"
#include "tests/unit/ingress/fakes.h"

namespace switchboard::fuzz {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Server {
  FakeClock clock{absl::FromUnixSeconds(1700000000)};
  ingress::testing::FakeStore store{/*auto_commit=*/true};
  std::unique_ptr<ingress::WebhookHandler> handler;
  std::unique_ptr<ingress::HttpServer> server;
};

// Built once; lives for the process (libFuzzer never returns from its loop).
Server& TheServer() {
  static Server* server = [] {
    spdlog::set_level(spdlog::level::off);  // one log line per request would dominate
    auto* s = new Server;
    config::SourceConfig source;
    source.name = "resend";
    source.provider = "standard-webhooks";
    source.vendor = "resend";
    source.secrets = {kSecret};
    auto provider = providers::CreateProvider(source, "sources[0]", s->clock);
    if (!provider.ok()) {
      std::fprintf(stderr, "http fuzzer: %s\n", provider.status().ToString().c_str());
      std::abort();
    }
    auto snapshot = std::make_shared<ingress::HandlerSnapshot>();
    snapshot->sources.emplace(
        "resend", ingress::SourceEntry{source, std::shared_ptr<const providers::Provider>(
                                                   std::move(*provider))});
    snapshot->rules = std::make_shared<ingress::testing::FakeRuleSet>();
    s->handler = std::make_unique<ingress::WebhookHandler>(snapshot, s->store, s->clock);
    ingress::HttpServerOptions options;  // the production defaults, but smaller limits so that
    options.listen = "127.0.0.1:0";      // inputs can reach them
    options.max_body = 4096;
    options.header_limit = 2048;
    options.max_header_count = 16;
    options.max_inflight_body = 8192;
    options.io_threads = 1;
    auto server = ingress::HttpServer::Create(options, *s->handler);
    if (!server.ok()) {
      std::fprintf(stderr, "http fuzzer: %s\n", server.status().ToString().c_str());
      std::abort();
    }
    s->server = std::move(*server);
    s->server->Start();
    return s;
  }();
  return *server;
}

}  // namespace
}  // namespace switchboard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using switchboard::fuzz::tcp;
  namespace net = boost::asio;
  switchboard::fuzz::Server& server = switchboard::fuzz::TheServer();
  net::io_context ioc;
  tcp::socket socket(ioc);
  boost::system::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), server.server->port());
  // Client-side failures are retried, not findings: libFuzzer's -timeout alarm (SIGALRM, without
  // SA_RESTART) can interrupt the call, and a machine running other tests at the same time can
  // run out of local ports for a moment.
  for (int attempt = 0;; ++attempt) {
    if (socket.is_open()) socket.close(ec);
    socket.connect(endpoint, ec);
    namespace errc = boost::system::errc;
    const bool client_side = ec == errc::interrupted || ec == errc::address_not_available ||
                             ec == errc::no_buffer_space;
    if (!ec || !client_side || attempt == 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ec) {
    // The server stopped accepting (ECONNREFUSED, a reset), or the client never got through.
    std::fprintf(stderr, "http fuzzer: connect to 127.0.0.1:%d: %s\n", server.server->port(),
                 ec.message().c_str());
    std::abort();
  }
  net::write(socket, net::buffer(data, size), ec);  // may fail once the server answered and closed
  socket.shutdown(tcp::socket::shutdown_send, ec);
  char buffer[4096];
  while (!ec) socket.read_some(net::buffer(buffer), ec);
  return 0;
}
