#include "tools/switchboardctl/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "absl/strings/str_cat.h"

namespace switchboard::ctl {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

absl::StatusOr<HttpResult> HttpPost(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http") {
    return absl::InvalidArgumentError(absl::StrCat("not an http:// URL: ", url));
  }
  std::string host = parsed->host();
  std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string target = std::string(parsed->encoded_target());
  if (target.empty()) target = "/";

  boost::asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("resolve ", host, ": ", ec.message()));
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(endpoints, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", ec.message()));

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "switchboardctl");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));

  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("read: ", ec.message()));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return HttpResult{static_cast<int>(res.result_int()), res.body()};
}

}  // namespace switchboard::ctl
