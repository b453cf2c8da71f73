// Ingress limits and SIGTERM against the real router (issue 6 "Ingress hardening"). Every limit's
// behaviour is tested in detail on HttpServer (tests/unit/ingress/http_limits_test.cc); here the
// config keys reach the running server, and a stopping router finishes what is in flight.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/raw_connection.h"
#include "tests/integration/router_process.h"
#include "tests/integration/signed_webhook.h"

namespace switchboard::testing {
namespace {

constexpr const char* kSecret = kResendSecret;
constexpr const char* kToken = kAuditToken;

std::string Config(const std::string& http_extra) { return ResendAuditConfig(http_extra); }

TEST(LimitsTest, TheConfiguredLimitsReachTheRunningServer) {
  auto router = RouterProcess::Start(
      MakeTempDir("limits"),
      Config("max_header_count: 12, max_body: 4KiB, max_inflight_body: 64KiB"));
  ASSERT_TRUE(router.ok()) << router.status();

  // 13 fields: Host, the three webhook-* headers, Content-Length and 8 more.
  RawConnection crowded((*router)->http_port());
  const SignedWebhook s = SignResendWebhook(kSecret, "msg_crowded");
  std::string head = RequestHead(s, s.body.size());
  head.insert(head.find("\r\n") + 2, "A: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\nG: 1\r\nH: 1\r\n");
  ASSERT_TRUE(crowded.Write(head));
  EXPECT_TRUE(crowded.ReadAll().starts_with("HTTP/1.1 431")) << "http.max_header_count";

  RawConnection big((*router)->http_port());
  ASSERT_TRUE(big.Write(RequestHead(s, 4097)));
  EXPECT_TRUE(big.ReadAll().starts_with("HTTP/1.1 413")) << "http.max_body";

  EXPECT_EQ(PostWebhook(**router, SignResendWebhook(kSecret, "msg_fine")), 200);
}

// The answer to a 1-byte unsigned POST on a fresh connection ("" if none).
std::string ProbeAnswer(int port) {
  RawConnection probe(port);
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
  const SignedWebhook s = SignResendWebhook(kSecret, "msg_in_flight");
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
  RawConnection slow(router.http_port());
  ASSERT_TRUE(slow.Write(RequestHead(s, s.body.size()) + s.body.substr(0, s.body.size() / 2)));
  ASSERT_TRUE(InflightBodyBudgetTaken(router.http_port())) << "the slow header was never read";

  ASSERT_TRUE(router.Signal(SIGTERM));
  // Stopping has begun once the listener is gone.
  for (int i = 0; i < 2000 && RawConnection(router.http_port()).connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(RawConnection(router.http_port()).connected()) << "no new connections while stopping";

  ASSERT_TRUE(slow.Write(s.body.substr(s.body.size() / 2)));
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
