// Live reload against the real router (issue 6 "Live reload"): the config file is rewritten and the
// process gets SIGHUP (or notices the file's new mtime). A rotated source secret and agent token
// take effect (the new ones verify, the old ones are refused); a broken file is refused and the
// running config keeps serving; settings that cannot change live are reported "restart required".
// Admin tokens rotate the same way: a removed token fails the next admin rpc, an added one works,
// and an open Tail stream opened with a removed token ends with UNAUTHENTICATED.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/signed_webhook.h"
#include "switchboard/v1/admin.grpc.pb.h"

namespace switchboard::testing {
namespace {

// Standard Webhooks secrets ("whsec_" + base64 of the key bytes).
constexpr char kOldSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kNewSecret[] = "whsec_bmV3LXNlY3JldC1hZnRlci1yb3RhdGlvbg==";
constexpr char kOldToken[] = "audit-token-before-rotation";
constexpr char kNewToken[] = "audit-token-after-rotation";
constexpr char kAliceAdminToken[] = "admin-token-alice-before-rotation";
constexpr char kBobAdminToken[] = "admin-token-bob-after-rotation";
constexpr char kAliceAdmin[] = R"({ name: alice, token: "admin-token-alice-before-rotation" })";

std::string Config(const std::string& secret, const std::string& token,
                   const std::string& max_attempts = "10", const std::string& extra_source = "",
                   const std::string& admin_tokens = kAliceAdmin) {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
delivery: { max_attempts: ATTEMPTS }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
EXTRA
agents:
  - { name: audit, tokens: ["TOKEN"] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
admin:
  tokens: [ADMINS]
)",
                             {{"ADMINS", admin_tokens},
                              {"SECRET", secret},
                              {"TOKEN", token},
                              {"ATTEMPTS", max_attempts},
                              {"EXTRA", extra_source}});
}

// Replaces the config file in one step (temp file + rename), as an editor or a ConfigMap would.
void RewriteConfig(const RouterProcess& router, const std::string& yaml) {
  const std::string path = router.dir() + "/switchboard.yaml";
  std::ofstream(path + ".new") << yaml;
  std::filesystem::rename(path + ".new", path);
}

// POSTs a Resend sample signed with `secret`; returns the HTTP status (-1: no answer).
int PostSigned(const RouterProcess& router, const std::string& secret, const std::string& id) {
  return PostWebhook(router, SignResendWebhook(secret, id));
}

// Waits (bounded) until the router's log holds `count` lines containing `needle`.
bool AwaitLog(const RouterProcess& router, const std::string& needle, int count = 1) {
  for (int i = 0; i < 400; ++i) {
    const std::string log = router.log();
    int found = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
      ++found;
    }
    if (found >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

grpc::StatusCode Subscribe(const RouterProcess& router, const std::string& token) {
  RawAgent agent(router.grpc_target(), "audit", token);
  return agent.WaitWelcome().error_code();
}

// One admin rpc (GetRules) with `token` as the bearer token; returns its status code.
grpc::StatusCode AdminCall(const RouterProcess& router, const std::string& token) {
  auto stub = v1::AdminService::NewStub(
      grpc::CreateChannel(router.grpc_target(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetRulesResponse response;
  return stub->GetRules(&context, v1::GetRulesRequest(), &response).error_code();
}

// An open AdminService.Tail stream (every event) with `token` as the bearer token; the call
// ends 30 s after it was opened at the latest.
struct TailStream {
  TailStream(const RouterProcess& router, const std::string& token)
      : stub(v1::AdminService::NewStub(
            grpc::CreateChannel(router.grpc_target(), grpc::InsecureChannelCredentials()))) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    reader = stub->Tail(&context, v1::TailRequest());
  }
  // The message id of the next event; "" once the stream ended.
  std::string NextMessageId() {
    v1::TailEvent event;
    return reader->Read(&event) ? event.event().message_id() : "";
  }
  // n of the next event's message id "...msg_tail_<n>" (the samples prefix the id they are
  // given); -1 once the stream ended or for another id.
  int NextTailIndex() {
    const std::string id = NextMessageId();
    const size_t at = id.find("msg_tail_");
    int n = -1;
    if (at == std::string::npos || !absl::SimpleAtoi(id.substr(at + 9), &n)) return -1;
    return n;
  }

  std::unique_ptr<v1::AdminService::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::TailEvent>> reader;
};

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = RouterProcess::Start(MakeTempDir("reload"), Config(kOldSecret, kOldToken));
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
    ASSERT_EQ(PostSigned(*router_, kOldSecret, "msg_before"), 200);
    ASSERT_EQ(Subscribe(*router_, kOldToken), grpc::StatusCode::OK);
  }

  std::unique_ptr<RouterProcess> router_;
};

TEST_F(ReloadTest, SighupRotatesASourceSecretAndAnAgentToken) {
  RouterProcess& router = *router_;
  RewriteConfig(router, Config(kNewSecret, kNewToken, /*max_attempts=*/"3"));
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, R"("result":"applied")")) << router.log();

  EXPECT_EQ(PostSigned(router, kNewSecret, "msg_after"), 200);
  EXPECT_EQ(PostSigned(router, kOldSecret, "msg_old_key"), 401);
  EXPECT_EQ(Subscribe(router, kNewToken), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(router, kOldToken), grpc::StatusCode::UNAUTHENTICATED);
  // delivery.* cannot change in a running process: reported, not applied silently.
  EXPECT_NE(router.log().find(R"("restart_required":["delivery"])"), std::string::npos)
      << router.log();
}

// Reloads `yaml` and expects the reload applied, `setting` alone reported as needing a restart,
// and the router still answering webhooks.
void ExpectReloadToReportRestartRequired(RouterProcess& router, const std::string& yaml,
                                         const std::string& setting) {
  RewriteConfig(router, yaml);
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, R"("result":"applied")")) << router.log();
  EXPECT_NE(router.log().find(absl::StrCat(R"("restart_required":[")", setting, R"("])")),
            std::string::npos)
      << router.log();
  EXPECT_EQ(PostSigned(router, kOldSecret, "msg_after_" + setting), 200);
}

TEST_F(ReloadTest, ChangingTheHttpThreadsIsReportedAsNeedingARestart) {
  ExpectReloadToReportRestartRequired(
      *router_,
      absl::StrReplaceAll(Config(kOldSecret, kOldToken),
                          {{R"(http:  { listen: "127.0.0.1:0" })",
                            R"(http:  { listen: "127.0.0.1:0", io_threads: 3 })"}}),
      "http.io_threads");
}

TEST_F(ReloadTest, ChangingTheSchedulingIsReportedAsNeedingARestart) {
  // Every thread took its class from the main thread at startup; a reload cannot redo that.
  ExpectReloadToReportRestartRequired(
      *router_, Config(kOldSecret, kOldToken) + "process: { scheduling: normal }\n",
      "process.scheduling");
}

TEST_F(ReloadTest, AChangedFileIsReloadedWithoutASignal) {
  RouterProcess& router = *router_;
  // The poll compares modification times; make sure the new one differs from the first write.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RewriteConfig(router, Config(kNewSecret, kNewToken));
  ASSERT_TRUE(AwaitLog(router, R"("result":"applied")")) << router.log();
  EXPECT_NE(router.log().find(R"("trigger":"file changed")"), std::string::npos);
  EXPECT_EQ(PostSigned(router, kNewSecret, "msg_after"), 200);
  EXPECT_EQ(PostSigned(router, kOldSecret, "msg_old_key"), 401);
  EXPECT_EQ(Subscribe(router, kNewToken), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(router, kOldToken), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReloadTest, ABrokenFileIsRefusedAndTheRunningConfigStays) {
  RouterProcess& router = *router_;
  // Not YAML at all: the loader refuses it.
  RewriteConfig(router, "sources: [ {name: resend\n");
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, R"("result":"refused")", 1)) << router.log();
  // Valid YAML, valid keys, but the SendGrid public key is not a key: only building the providers
  // (app::CheckConfig) finds that.
  RewriteConfig(router, Config(kNewSecret, kNewToken, "10",
                               R"(  - { name: sg, provider: sendgrid, public_key: "bm90IGEga2V5" })"));
  ASSERT_TRUE(router.Signal(SIGHUP));
  // (The poll may also have seen the file change: the refusal naming the field is the one.)
  ASSERT_TRUE(AwaitLog(router, "sources[1].public_key")) << router.log();

  EXPECT_EQ(router.log().find(R"("result":"applied")"), std::string::npos);
  EXPECT_EQ(PostSigned(router, kOldSecret, "msg_still"), 200);
  EXPECT_EQ(PostSigned(router, kNewSecret, "msg_not_yet"), 401);
  EXPECT_EQ(Subscribe(router, kOldToken), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(router, kNewToken), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReloadTest, AdminTokensRotateLiveAndARefusedFileKeepsThem) {
  RouterProcess& router = *router_;
  ASSERT_EQ(AdminCall(router, kAliceAdminToken), grpc::StatusCode::OK);
  ASSERT_EQ(AdminCall(router, kBobAdminToken), grpc::StatusCode::UNAUTHENTICATED);

  // alice's token removed, bob's added.
  RewriteConfig(router, Config(kOldSecret, kOldToken, "10", "",
                               R"({ name: bob, token: "admin-token-bob-after-rotation" })"));
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, R"("result":"applied")")) << router.log();
  EXPECT_EQ(AdminCall(router, kBobAdminToken), grpc::StatusCode::OK);
  EXPECT_EQ(AdminCall(router, kAliceAdminToken), grpc::StatusCode::UNAUTHENTICATED);
  // Only the admin tokens changed, and they apply live.
  EXPECT_NE(router.log().find(R"("restart_required":[])"), std::string::npos) << router.log();

  // A file that does not validate (a SendGrid key that is no key) names alice again: refused, so
  // bob's token stays the only one.
  RewriteConfig(router, Config(kOldSecret, kOldToken, "10",
                               R"(  - { name: sg, provider: sendgrid, public_key: "bm90IGEga2V5" })",
                               kAliceAdmin));
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, "sources[1].public_key")) << router.log();
  EXPECT_EQ(AdminCall(router, kBobAdminToken), grpc::StatusCode::OK);
  EXPECT_EQ(AdminCall(router, kAliceAdminToken), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReloadTest, AReloadEndsTheTailStreamsOfRemovedAdminTokensOnly) {
  RouterProcess& router = *router_;
  constexpr char kBobAdmin[] = R"({ name: bob, token: "admin-token-bob-after-rotation" })";
  // bob's token added next to alice's.
  RewriteConfig(router, Config(kOldSecret, kOldToken, "10", "",
                               absl::StrCat(kAliceAdmin, ", ", kBobAdmin)));
  ASSERT_TRUE(router.Signal(SIGHUP));
  ASSERT_TRUE(AwaitLog(router, R"("result":"applied")")) << router.log();

  // A stream subscribes some time after the call is placed: post a fresh event every 100 ms
  // (message ids msg_tail_<n>) for as long as the test reads.
  std::atomic<int> posted{0};
  std::atomic<bool> posting{true};
  std::thread poster([&] {
    while (posting.load()) {
      if (PostSigned(router, kOldSecret, absl::StrCat("msg_tail_", posted.load())) == 200) {
        ++posted;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  absl::Cleanup stop_posting = [&] {
    posting = false;
    poster.join();
  };
  TailStream alice(router, kAliceAdminToken);
  TailStream bob(router, kBobAdminToken);
  ASSERT_GE(alice.NextTailIndex(), 0) << "alice's stream is live";
  ASSERT_GE(bob.NextTailIndex(), 0) << "bob's stream is live";

  // alice's token removed: her stream ends with UNAUTHENTICATED at the reload (events already
  // on their way may arrive first), not at its 30 s deadline.
  RewriteConfig(router, Config(kOldSecret, kOldToken, "10", "", kBobAdmin));
  const auto reload = std::chrono::steady_clock::now();
  ASSERT_TRUE(router.Signal(SIGHUP));
  int after_reload = 0;
  while (!alice.NextMessageId().empty()) ++after_reload;
  const grpc::Status ended = alice.reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - reload, std::chrono::seconds(10))
      << after_reload << " events read after the reload";

  // bob's token stayed: his stream goes on and delivers events posted after alice's ended.
  const int first_after = posted.load();
  bool bob_live = false;
  for (int n = bob.NextTailIndex(); n >= 0 && !bob_live; n = bob.NextTailIndex()) {
    bob_live = n >= first_after;
  }
  EXPECT_TRUE(bob_live) << "bob's stream ended or stalled after the reload";
  // And alice cannot open a new one.
  TailStream again(router, kAliceAdminToken);
  EXPECT_EQ(again.NextMessageId(), "");
  EXPECT_EQ(again.reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  bob.context.TryCancel();
  bob.reader->Finish();
}

}  // namespace
}  // namespace switchboard::testing
