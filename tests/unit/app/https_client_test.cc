#include "router/app/https_client.h"

#include <boost/asio/ip/tcp.hpp>

#include "gtest/gtest.h"

namespace switchboard::app {
namespace {

// No test reaches the Internet (the build network is closed): only refusals and local failures.

TEST(HttpsGetTest, RefusesWhatIsNotAnHttpsUrl) {
  EXPECT_EQ(HttpsGet("not a url").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpsGet("http://sns.us-east-1.amazonaws.com/x.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpsGetTest, ClosedPortIsUnavailable) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = acceptor.local_endpoint().port();
  acceptor.close();  // nothing listens there now
  auto got = HttpsGet("https://127.0.0.1:" + std::to_string(port) + "/x.pem");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

TEST(HttpsGetTest, SilentServerTimesOut) {
  // Listens but never speaks TLS: the handshake hangs until the overall timeout.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = acceptor.local_endpoint().port();
  HttpsGetOptions options;
  options.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto got = HttpsGet("https://127.0.0.1:" + std::to_string(port) + "/x.pem", options);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_NE(got.status().message().find("TLS handshake"), absl::string_view::npos) << got.status();
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
}

}  // namespace
}  // namespace switchboard::app
