#include "router/app/https_client.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"

namespace switchboard::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

}  // namespace

absl::StatusOr<std::string> HttpsGet(std::string_view url, const HttpsGetOptions& options) {
  auto parsed = boost::urls::parse_absolute_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat("not an absolute URL: ", std::string(url)));
  }
  if (parsed->scheme_id() != boost::urls::scheme::https || parsed->encoded_host().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("not an https URL: ", std::string(url)));
  }
  const std::string host(parsed->encoded_host());
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : "443";
  std::string target(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) absl::StrAppend(&target, "?", std::string(parsed->encoded_query()));
  const std::string what = absl::StrCat("GET https://", host, ":", port, " ");

  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  if (SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1 ||
      SSL_set1_host(stream.native_handle(), host.c_str()) != 1) {
    return absl::UnavailableError(absl::StrCat(what, "cannot set the TLS host name"));
  }
  tcp::resolver resolver(ioc);
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(options.timeout);

  // Runs one asynchronous step to completion or to the overall deadline (then cancels it).
  auto step = [&](auto start) -> error_code {
    std::optional<error_code> done;
    start(done);
    ioc.restart();
    ioc.run_until(deadline);
    if (!done.has_value()) {
      resolver.cancel();
      beast::get_lowest_layer(stream).close();
      ioc.restart();
      ioc.run();
      return asio::error::timed_out;
    }
    return *done;
  };
  auto failed = [&](std::string_view stage, const error_code& ec) {
    return absl::UnavailableError(absl::StrCat(what, std::string(stage), ": ", ec.message()));
  };

  tcp::resolver::results_type endpoints;
  error_code ec = step([&](std::optional<error_code>& done) {
    resolver.async_resolve(host, port, [&](error_code e, tcp::resolver::results_type r) {
      done = e;
      endpoints = std::move(r);
    });
  });
  if (ec) return failed("resolve", ec);
  ec = step([&](std::optional<error_code>& done) {
    beast::get_lowest_layer(stream).async_connect(
        endpoints, [&](error_code e, const tcp::endpoint&) { done = e; });
  });
  if (ec) return failed("connect", ec);
  ec = step([&](std::optional<error_code>& done) {
    stream.async_handshake(ssl::stream_base::client, [&](error_code e) { done = e; });
  });
  if (ec) return failed("TLS handshake", ec);

  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "switchboard");
  request.set(http::field::connection, "close");
  ec = step([&](std::optional<error_code>& done) {
    http::async_write(stream, request, [&](error_code e, size_t) { done = e; });
  });
  if (ec) return failed("write", ec);

  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body);
  beast::flat_buffer buffer;
  ec = step([&](std::optional<error_code>& done) {
    http::async_read(stream, buffer, parser, [&](error_code e, size_t) { done = e; });
  });
  if (ec == http::error::body_limit) {
    return absl::UnavailableError(
        absl::StrCat(what, "the body exceeds ", options.max_body, " bytes"));
  }
  if (ec) return failed("read", ec);
  beast::get_lowest_layer(stream).close();
  const auto& response = parser.get();
  if (response.result() != http::status::ok) {
    return absl::UnavailableError(
        absl::StrCat(what, "answered ", response.result_int(),
                     response.result_int() / 100 == 3 ? " (redirects are not followed)" : ""));
  }
  return response.body();
}

}  // namespace switchboard::app
