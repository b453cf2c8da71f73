#include "tools/switchboardctl/http_client.h"

#include <openssl/ssl.h>

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tools/switchboardctl/resolve.h"

namespace switchboard::ctl {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

// Runs the async operation started on `ioc` to its end and returns its error. The stream's
// expires_after deadline (beast::tcp_stream timeouts only cover async operations) turns a server
// that stalls into beast::error::timeout instead of a wait without end.
template <class Start>
beast::error_code RunToEnd(boost::asio::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// The reason for a failed step, naming the deadline when it ran out.
std::string Reason(const beast::error_code& ec, absl::Duration timeout) {
  if (ec == beast::error::timeout) {
    return absl::StrCat("no answer in ", absl::FormatDuration(timeout), " (timeout)");
  }
  return ec.message();
}

// Writes the request and reads the answer on a connected stream (plain or TLS), both within the
// deadline already set on the stream's lowest layer.
template <class Stream>
absl::StatusOr<HttpResult> Exchange(boost::asio::io_context& ioc, Stream& stream,
                                    http::request<http::string_body>& req, absl::Duration timeout) {
  beast::error_code ec = RunToEnd(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", Reason(ec, timeout)));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  ec = RunToEnd(ioc, [&](auto handler) { http::async_read(stream, buffer, res, handler); });
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", Reason(ec, timeout)));
  return HttpResult{static_cast<int>(res.result_int()), res.body()};
}

// A client TLS context: TLS 1.2+, peer verification against `ca_file` or the system's CAs.
absl::Status ConfigureTls(ssl::context& context, const std::string& ca_file) {
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(ca_file, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load CA certificates from \"", ca_file, "\": ", ec.message()));
  }
  context.set_verify_mode(ssl::verify_peer);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HttpResult> HttpPost(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, const std::string& ca_file,
                                    absl::Duration timeout) {
  auto parsed = boost::urls::parse_uri(url);
  const bool https = parsed && parsed->scheme() == "https";
  if (!parsed || (parsed->scheme() != "http" && !https)) {
    return absl::InvalidArgumentError(absl::StrCat("not an http:// or https:// URL: ", url));
  }
  std::string host = parsed->host();
  std::string port = parsed->has_port() ? std::string(parsed->port()) : (https ? "443" : "80");
  std::string target = std::string(parsed->encoded_target());
  if (target.empty()) target = "/";

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "switchboardctl");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();

  // One deadline for the whole exchange, the name lookup included: set once, never pushed back.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            absl::ToChronoNanoseconds(timeout));
  absl::StatusOr<Endpoints> endpoints = ResolveBefore(host, port, deadline);
  if (absl::IsDeadlineExceeded(endpoints.status())) {
    return absl::UnavailableError(absl::StrCat("resolve ", host, ": ",
                                               Reason(beast::error::timeout, timeout)));
  }
  if (!endpoints.ok()) return endpoints.status();
  boost::asio::io_context ioc;
  beast::error_code ec;
  if (!https) {
    beast::tcp_stream stream(ioc);
    stream.expires_at(deadline);
    ec = RunToEnd(ioc, [&](auto handler) { stream.async_connect(*endpoints, handler); });
    if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", Reason(ec, timeout)));
    absl::StatusOr<HttpResult> result = Exchange(ioc, stream, req, timeout);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return result;
  }

  ssl::context context(ssl::context::tls_client);
  if (absl::Status configured = ConfigureTls(context, ca_file); !configured.ok()) {
    return configured;
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  // SNI (not for an IP address, RFC 6066 section 3) and the host name the certificate must carry.
  boost::system::error_code address_ec;
  boost::asio::ip::make_address(host, address_ec);
  if (address_ec && !SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    return absl::InternalError("cannot set the TLS server name");
  }
  stream.set_verify_callback(ssl::host_name_verification(host));
  beast::get_lowest_layer(stream).expires_at(deadline);
  ec = RunToEnd(ioc, [&](auto handler) {
    beast::get_lowest_layer(stream).async_connect(*endpoints, handler);
  });
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", Reason(ec, timeout)));
  ec = RunToEnd(ioc, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("TLS handshake with ", url, ": ", Reason(ec, timeout)));
  }
  absl::StatusOr<HttpResult> result = Exchange(ioc, stream, req, timeout);
  // No TLS shutdown: the answer is complete (framed by its Content-Length), and a blocking wait
  // for the server's close_notify could hang; closing the socket ends the connection.
  return result;
}

}  // namespace switchboard::ctl
