// `switchboardctl send --timeout` and ctl::HttpPost's timeout (README "Getting started"): against
// a listener that accepts connections and never answers, the whole exchange ends at the timeout
// with one line, `error: ... (timeout)`, and exit 1, over http:// (stalled at reading the answer)
// and https:// (stalled in the TLS handshake), and at a name lookup that does not answer. No router
// is needed: the listener is a bare socket.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/router_process.h"
#include "tests/integration/signed_webhook.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/resolve.h"

namespace switchboard::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP listener on 127.0.0.1:<port()> that accepts every connection, keeps it open and never
// writes a byte, until destroyed.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // the listening socket was shut down
        absl::MutexLock lock(&mu_);
        accepted_.push_back(client);
      }
    });
  }
  ~SilentListener() {
    shutdown(fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    close(fd_);
    absl::MutexLock lock(&mu_);
    for (int client : accepted_) close(client);
  }
  int port() const { return port_; }
  int accepted() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(accepted_.size());
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<int> accepted_;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(CtlSendTimeoutTest, HttpPostEndsAtItsTimeoutOverHttpAndHttps) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  const SignedWebhook w = SignResendWebhook(kResendSecret, "msg_stalled");
  for (const char* scheme : {"http", "https"}) {
    const Clock::time_point start = Clock::now();
    auto result = ctl::HttpPost(absl::StrCat(scheme, "://127.0.0.1:", listener.port(), "/v1/x"),
                                w.headers, w.body, "", absl::Milliseconds(700));
    const double took = SecondsSince(start);
    ASSERT_FALSE(result.ok()) << scheme;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), "timeout")) << result.status();
    // The stall, not a refusal, ended it: not before the timeout, and not long after.
    EXPECT_GE(took, 0.6) << scheme;
    EXPECT_LT(took, 3.0) << scheme;
  }
  EXPECT_EQ(listener.accepted(), 2) << "both requests got as far as a connection";
}

TEST(CtlSendTimeoutTest, SendToAStalledServerIsOneErrorLineAndExitOneWithinTheTimeout) {
  SilentListener listener;
  ASSERT_NE(listener.port(), 0);
  const std::string dir = MakeTempDir("ctl_send_timeout");
  std::ofstream(dir + "/switchboard.yaml") << ResendAuditConfig("");
  for (const char* scheme : {"http", "https"}) {
    const Clock::time_point start = Clock::now();
    const CtlResult r =
        RunCtl(dir, {"send", "--config", dir + "/switchboard.yaml", "--source", "resend", "--event",
                     "delivered", "--url", absl::StrCat(scheme, "://127.0.0.1:", listener.port()),
                     "--timeout", "1"});
    const double took = SecondsSince(start);
    EXPECT_EQ(r.exit_code, 1) << scheme << " " << Describe(r);
    EXPECT_TRUE(absl::StartsWith(r.err, "error: ")) << Describe(r);
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << Describe(r);
    EXPECT_TRUE(absl::StrContains(r.err, "timeout")) << Describe(r);
    EXPECT_EQ(r.out, "") << Describe(r);
    EXPECT_GE(took, 0.9) << scheme << ": ended before --timeout 1";
    EXPECT_LT(took, 5.0) << scheme << ": --timeout 1 did not bound the wait";
  }
}

// The name lookup counts against the same deadline: a lookup that does not answer (a name server
// that drops the query; getaddrinfo waits seconds per try) ends at the deadline, and the lookup is
// left to finish on its own thread.
TEST(CtlSendTimeoutTest, ANameLookupThatHangsEndsAtTheDeadline) {
  auto release = std::make_shared<absl::Notification>();
  auto hanging = [release](const std::string&, const std::string&,
                           boost::system::error_code& ec) {
    release->WaitForNotificationWithTimeout(absl::Seconds(30));
    ec = boost::asio::error::host_not_found;
    return ctl::Endpoints();
  };
  const Clock::time_point start = Clock::now();
  absl::StatusOr<ctl::Endpoints> endpoints = ctl::ResolveBefore(
      "mail.example.com", "443", start + std::chrono::milliseconds(300), hanging);
  const double took = SecondsSince(start);
  release->Notify();
  EXPECT_EQ(endpoints.status().code(), absl::StatusCode::kDeadlineExceeded) << endpoints.status();
  EXPECT_NE(endpoints.status().message().find("resolve mail.example.com"), std::string::npos);
  EXPECT_GE(took, 0.29);
  EXPECT_LT(took, 5.0);
}

TEST(CtlSendTimeoutTest, ANameLookupGivesItsAddressesOrItsError) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  absl::StatusOr<ctl::Endpoints> loopback = ctl::ResolveBefore("127.0.0.1", "8080", deadline);
  ASSERT_TRUE(loopback.ok()) << loopback.status();
  ASSERT_EQ(loopback->size(), 1u);
  EXPECT_EQ(loopback->begin()->endpoint().address().to_string(), "127.0.0.1");
  EXPECT_EQ(loopback->begin()->endpoint().port(), 8080);

  auto failing = [](const std::string&, const std::string&, boost::system::error_code& ec) {
    ec = boost::asio::error::host_not_found;
    return ctl::Endpoints();
  };
  absl::StatusOr<ctl::Endpoints> missing =
      ctl::ResolveBefore("no-such-host.invalid", "80", deadline, failing);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(missing.status().message(),
            absl::StrCat("resolve no-such-host.invalid: ",
                         boost::system::error_code(boost::asio::error::host_not_found).message()));
}

}  // namespace
}  // namespace switchboard::testing
