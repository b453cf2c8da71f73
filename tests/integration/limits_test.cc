// Ingress limits and SIGTERM against the real router (issue 6 "Ingress hardening"). Every limit's
// behaviour is tested in detail on HttpServer (tests/unit/ingress/http_limits_test.cc); here the
// config keys reach the running server, and a stopping router finishes what is in flight.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kToken[] = "audit-token-0123456789";

std::string Config(const std::string& http_extra) {
  return absl::StrCat(R"(
http:  { listen: "127.0.0.1:0", )",
                      http_extra, R"( }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: [")",
                      kSecret, R"("], tolerance: 5m }
agents:
  - { name: audit, tokens: [")",
                      kToken, R"("] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)");
}

struct Signed {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Signed SignedWebhook(const std::string& id) {
  config::SourceConfig source;
  source.name = "resend";
  source.provider = "standard-webhooks";
  source.vendor = "resend";
  source.secrets = {kSecret};
  const absl::Time now = absl::Now();
  Signed s;
  s.body = *ctl::SamplePayload("standard-webhooks", "resend", v1::EVENT_TYPE_DELIVERED,
                               "ann@example.com", now, id);
  s.headers = *ctl::SignWebhook(source, {s.body, now, id, ""});
  return s;
}

int PostWebhook(const RouterProcess& router, const std::string& id) {
  const Signed s = SignedWebhook(id);
  auto result = ctl::HttpPost(router.webhook_url("resend"), s.headers, s.body);
  return result.ok() ? result->status : -1;
}

// A raw TCP connection to the router's HTTP port.
class Raw {
 public:
  explicit Raw(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Raw() { close(fd_); }
  bool connected() const { return connected_; }
  void Write(const std::string& bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the server closes the connection.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = recv(fd_, buf, sizeof(buf), 0)) > 0;) out.append(buf, n);
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::string RequestHead(const Signed& s, size_t content_length) {
  std::string head = "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [name, value] : s.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
  absl::StrAppend(&head, "Content-Length: ", content_length, "\r\n\r\n");
  return head;
}

TEST(LimitsTest, TheConfiguredLimitsReachTheRunningServer) {
  auto router = RouterProcess::Start(
      MakeTempDir("limits"),
      Config("max_header_count: 12, max_body: 4KiB, max_inflight_body: 64KiB"));
  ASSERT_TRUE(router.ok()) << router.status();

  // 13 fields: Host, the three webhook-* headers, Content-Length and 8 more.
  Raw crowded((*router)->http_port());
  const Signed s = SignedWebhook("msg_crowded");
  std::string head = RequestHead(s, s.body.size());
  head.insert(head.find("\r\n") + 2, "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n");
  crowded.Write(head);
  EXPECT_TRUE(crowded.ReadAll().starts_with("HTTP/1.1 431")) << "http.max_header_count";

  Raw big((*router)->http_port());
  big.Write(RequestHead(s, 4097));
  EXPECT_TRUE(big.ReadAll().starts_with("HTTP/1.1 413")) << "http.max_body";

  EXPECT_EQ(PostWebhook(**router, "msg_fine"), 200);
}

// The answer to a 1-byte unsigned POST on a fresh connection ("" if none).
std::string ProbeAnswer(int port) {
  Raw probe(port);
  if (!probe.connected()) return "";
  probe.Write(
      "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
      "Content-Length: 1\r\n\r\nx");
  return probe.ReadAll();
}
// True once that probe is refused with 503 for want of in-flight body budget: with
// http.max_inflight_body set to one request's body, that request's header has been read (its
// body's bytes are reserved) and its answer is not written yet. Polls for up to 10 s.
bool InflightBodyBudgetTaken(int port) {
  for (int i = 0; i < 500; ++i) {
    if (ProbeAnswer(port).starts_with("HTTP/1.1 503")) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(LimitsTest, SigtermFinishesTheRequestInFlightAndEndsAgentStreamsWithUnavailable) {
  const Signed s = SignedWebhook("msg_in_flight");
  // The in-flight budget is exactly the slow request's body: whether the router has read its
  // header shows as a probe's 503 (no sleeping on the scheduler).
  auto started = RouterProcess::Start(
      MakeTempDir("sigterm"),
      Config(absl::StrCat("idle_timeout: 60s, max_inflight_body: ", s.body.size())));
  ASSERT_TRUE(started.ok()) << started.status();
  RouterProcess& router = **started;
  RawAgent agent(router.grpc_target(), "audit", kToken);
  ASSERT_TRUE(agent.WaitWelcome().ok());
  // Nothing in flight yet: the probe is read and refused for its missing signature.
  const std::string idle = ProbeAnswer(router.http_port());
  ASSERT_TRUE(idle.starts_with("HTTP/1.1 401")) << idle;

  // A request in flight: its header and half its body are in when SIGTERM arrives.
  Raw slow(router.http_port());
  slow.Write(RequestHead(s, s.body.size()) + s.body.substr(0, s.body.size() / 2));
  ASSERT_TRUE(InflightBodyBudgetTaken(router.http_port())) << "the slow header was never read";

  ASSERT_TRUE(router.Signal(SIGTERM));
  // Stopping has begun once the listener is gone.
  for (int i = 0; i < 2000 && Raw(router.http_port()).connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(Raw(router.http_port()).connected()) << "no new connections while stopping";

  slow.Write(s.body.substr(s.body.size() / 2));
  const std::string answer = slow.ReadAll();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  EXPECT_EQ(agent.FinalStatus().error_code(), grpc::StatusCode::UNAVAILABLE)
      << "the SDK reconnects on UNAVAILABLE";
  const int status = router.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace switchboard::testing
