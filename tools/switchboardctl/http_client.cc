#include "tools/switchboardctl/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/str_cat.h"

namespace switchboard::ctl {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

// Writes the request and reads the answer on a connected stream (plain or TLS).
template <class Stream>
absl::StatusOr<HttpResult> Exchange(Stream& stream, const http::request<http::string_body>& req) {
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
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
                                    const std::string& body, const std::string& ca_file) {
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

  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", ec.message()));
  if (!https) {
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(endpoints, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", ec.message()));
    absl::StatusOr<HttpResult> result = Exchange(stream, req);
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
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(endpoints, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", ec.message()));
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("TLS handshake with ", url, ": ", ec.message()));
  absl::StatusOr<HttpResult> result = Exchange(stream, req);
  // No TLS shutdown: the answer is complete (framed by its Content-Length), and a blocking wait
  // for the server's close_notify could hang; closing the socket ends the connection.
  return result;
}

}  // namespace switchboard::ctl
