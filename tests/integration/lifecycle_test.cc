// Data lifecycle end to end: a real `switchboard` process (embedded store) driven by the real
// `switchboardctl` binary: quarantine of authentic but undecodable webhooks (DESIGN.md "Status
// codes": 200, never 400), its list/replay/purge, an online backup that a fresh router serves,
// and the erasure of one recipient. Webhooks are signed as Resend signs them (Standard
// Webhooks); agents connect over gRPC (raw_agent.h). Expected values come from the contract
// (proto/switchboard/v1/admin.proto, docs/operations.md), not from captured output.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "router/common/crypto.h"
#include "router/config/config.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"
#include "tests/integration/router_test.h"
#include "tests/integration/signed_webhook.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecret = kResendSecret;
constexpr char kAdminToken[] = "admin-token-alice-0123456789";
constexpr char kSupportToken[] = "support-token-0123456789";
constexpr char kAcmeSecret[] = "acme-secret-0123456789";

// Every event goes to the agent `support`; the store file is `store_path`. The generic-HMAC source
// `acme` (signed as in docs/providers.md "Generic HMAC profile") reads occurred_at at the JSON
// Pointer `acme_occurred_at` and keeps raw bodies above 64 bytes out of line (inline_raw_max).
std::string Config(const std::string& store_path = "./data/switchboard.db",
                   const std::string& acme_occurred_at = "/ts") {
  return absl::StrReplaceAll(R"(
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "STORE" }
delivery: { ack_deadline: 30s, max_attempts: 10, max_in_flight: 64 }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: ["SECRET"], tolerance: 5m }
  - { name: acme, provider: generic-hmac, secret: "ACME_SECRET", header: X-Signature,
      algorithm: sha256, encoding: hex, prefix: "sha256=", signed: "{timestamp}.{body}",
      timestamp_header: X-Timestamp, tolerance: 5m,
      mapping: { id: /id, type: /type, recipient: /email, occurred_at: ACME_WHEN },
      types: { "email.bounced": bounced }, inline_raw_max: 64 }
agents:
  - { name: support, tokens: ["SUPPORT"] }
admin:
  tokens:
    - { name: alice, token: "ADMIN" }
rules:
  - { name: all, match: {}, agents: [support] }
)",
                             {{"STORE", store_path},
                              {"ACME_SECRET", kAcmeSecret},
                              {"ACME_WHEN", acme_occurred_at},
                              {"SECRET", kSecret},
                              {"SUPPORT", kSupportToken},
                              {"ADMIN", kAdminToken}});
}

// POSTs `body` to the resend source, signed correctly with message id `id` unless `sign` is
// false. The HTTP result (status -1: no answer).
ctl::HttpResult PostBody(const RouterProcess& router, const std::string& body,
                         const std::string& id, bool sign = true) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"}};
  if (sign) {
    auto signed_headers = ctl::SignWebhook(ResendSource(kSecret), {body, absl::Now(), id, ""});
    if (!signed_headers.ok()) return {-1, std::string(signed_headers.status().message())};
    headers = *signed_headers;
  }
  auto result = ctl::HttpPost(router.webhook_url("resend"), headers, body);
  return result.ok() ? *result : ctl::HttpResult{-1, std::string(result.status().message())};
}

// POSTs `body` to the acme source signed as its profile says: X-Timestamp = now (Unix seconds),
// X-Signature = "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
ctl::HttpResult PostAcme(const RouterProcess& router, const std::string& body) {
  const std::string ts = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
  const std::string mac = crypto::HexEncode(*crypto::HmacSha256(kAcmeSecret, ts + "." + body));
  auto result = ctl::HttpPost(router.webhook_url("acme"),
                              {{"content-type", "application/json"},
                               {"X-Timestamp", ts},
                               {"X-Signature", "sha256=" + mac}},
                              body);
  return result.ok() ? *result : ctl::HttpResult{-1, std::string(result.status().message())};
}

boost::json::object ParseObject(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return v.get_object();
}

// The entries of `quarantine list -o json` (an empty list is an empty object).
boost::json::array Entries(const CtlResult& r) {
  boost::json::object o = ParseObject(r.out);
  const boost::json::value* entries = o.if_contains("entries");
  return entries != nullptr && entries->is_array() ? entries->get_array() : boost::json::array{};
}

class LifecycleCtlTest : public RouterTest {
 protected:
  LifecycleCtlTest() : RouterTest("switchboard-lifecycle") {}
  void SetUp() override { StartRouter(Config()); }
  void TearDown() override {
    if (HasFailure() && router_) std::cerr << router_->log();
    if (HasFailure() && restored_) std::cerr << restored_->log();
    restored_.reset();
    if (!HasFailure() && !restored_dir_.empty()) fs::remove_all(restored_dir_);
    RouterTest::TearDown();
  }

  CtlResult Ctl(std::vector<std::string> args, const RouterProcess* router = nullptr) {
    args.insert(args.end(), {"--addr", (router ? router : router_.get())->grpc_target(),
                             "--token", kAdminToken});
    return RunCtl(dir_, args);
  }

  std::string restored_dir_;
  std::unique_ptr<RouterProcess> restored_;
};

// A JSON string is valid JSON but not a Standard Webhooks event object: authentic, undecodable.
constexpr char kUndecodable[] = R"("not an event object")";

TEST_F(LifecycleCtlTest, AnAuthenticUndecodableWebhookIsQuarantinedListedReplayedAndPurged) {
  // Signed correctly, so it is authentic: 200 with quarantined 1, never 400.
  ctl::HttpResult posted = PostBody(*router_, kUndecodable, "msg_undecodable");
  ASSERT_EQ(posted.status, 200) << posted.body;
  boost::json::object answer = ParseObject(posted.body);
  EXPECT_EQ(Int64Field(answer, "quarantined"), 1) << posted.body;
  const std::string id = StringField(answer, "id");
  ASSERT_FALSE(id.empty()) << posted.body;

  // The same bytes unsigned: refused before any decoding, nothing kept.
  EXPECT_EQ(PostBody(*router_, kUndecodable, "msg_unsigned", /*sign=*/false).status, 401);

  CtlResult listed = Ctl({"quarantine", "list", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  boost::json::array entries = Entries(listed);
  ASSERT_EQ(entries.size(), 1u) << Describe(listed);
  const boost::json::object& entry = entries[0].as_object();
  EXPECT_EQ(StringField(entry, "id"), id);
  EXPECT_EQ(StringField(entry, "source"), "resend");
  EXPECT_EQ(Int64Field(entry, "body_size"), static_cast<int64_t>(std::string(kUndecodable).size()));
  EXPECT_FALSE(StringField(entry, "reason").empty()) << Describe(listed);
  EXPECT_FALSE(StringField(entry, "code_version").empty()) << Describe(listed);
  // The signature header is a credential: not kept.
  const boost::json::value* headers = entry.if_contains("headers");
  if (headers != nullptr) {
    EXPECT_EQ(headers->as_object().if_contains("webhook-signature"), nullptr) << Describe(listed);
  }
  CtlResult table = Ctl({"quarantine", "list", "--source", "resend"});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  EXPECT_TRUE(absl::StartsWith(table.out, "ID")) << Describe(table);
  EXPECT_TRUE(absl::StrContains(table.out, id)) << Describe(table);

  // The provider code has not changed: a replay still fails to decode and keeps the entry.
  CtlResult replayed = Ctl({"quarantine", "replay", "--source", "resend", "-o", "json"});
  ASSERT_EQ(replayed.exit_code, 0) << Describe(replayed);
  boost::json::object counts = ParseObject(replayed.out);
  EXPECT_EQ(Int64Field(counts, "decoded"), 0) << Describe(replayed);
  EXPECT_EQ(Int64Field(counts, "still_failing"), 1) << Describe(replayed);
  EXPECT_EQ(Entries(Ctl({"quarantine", "list", "-o", "json"})).size(), 1u);

  // A source that is not configured is refused with one line.
  CtlResult unknown = Ctl({"quarantine", "replay", "--source", "nope"});
  EXPECT_EQ(unknown.exit_code, 1) << Describe(unknown);
  EXPECT_TRUE(absl::StartsWith(unknown.err, "error: ")) << Describe(unknown);
  // purge needs --source (CLI11 refuses before any rpc).
  EXPECT_NE(Ctl({"quarantine", "purge"}).exit_code, 0);

  CtlResult purged = Ctl({"quarantine", "purge", "--source", "resend", "-o", "json"});
  ASSERT_EQ(purged.exit_code, 0) << Describe(purged);
  EXPECT_EQ(Int64Field(ParseObject(purged.out), "count"), 1) << Describe(purged);
  EXPECT_TRUE(Entries(Ctl({"quarantine", "list", "-o", "json"})).empty());
  EXPECT_EQ(Ctl({"quarantine", "list"}).out, "no quarantined webhooks\n");
}

TEST_F(LifecycleCtlTest, AQuarantinedWebhookReplayedAfterAConfigFixIsDeliveredOnce) {
  // The operator mapped acme's occurred_at to /note, a human-readable date: every authentic
  // webhook fails to decode and is quarantined until the mapping is fixed.
  router_.reset();
  ASSERT_NO_FATAL_FAILURE(StartRouter(Config("./data/switchboard.db", "/note")));
  RawAgent support(router_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());

  constexpr char kBody[] =
      R"({"id":"evt_acme_1","type":"email.bounced","email":"ann@example.com",)"
      R"("ts":1764417600,"note":"Sat, 29 Nov"})";
  ctl::HttpResult posted = PostAcme(*router_, kBody);
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(Int64Field(ParseObject(posted.body), "quarantined"), 1) << posted.body;
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value());
  CtlResult unchanged = Ctl({"quarantine", "replay", "--source", "acme", "-o", "json"});
  ASSERT_EQ(unchanged.exit_code, 0) << Describe(unchanged);
  EXPECT_EQ(Int64Field(ParseObject(unchanged.out), "still_failing"), 1) << Describe(unchanged);

  // The fix: occurred_at is /ts. The file is reloaded live (SIGHUP), then the quarantine replayed.
  {
    std::ofstream(dir_ + "/switchboard.yaml", std::ios::binary | std::ios::trunc)
        << Config("./data/switchboard.db", "/ts");
  }
  ASSERT_TRUE(router_->Signal(SIGHUP));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(router_->log(), R"("result":"applied")") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(absl::StrContains(router_->log(), R"("result":"applied")")) << "no reload";
  CtlResult replayed = Ctl({"quarantine", "replay", "--source", "acme", "-o", "json"});
  ASSERT_EQ(replayed.exit_code, 0) << Describe(replayed);
  boost::json::object counts = ParseObject(replayed.out);
  EXPECT_EQ(Int64Field(counts, "decoded"), 1) << Describe(replayed);
  EXPECT_EQ(Int64Field(counts, "still_failing"), 0) << Describe(replayed);
  EXPECT_TRUE(Entries(Ctl({"quarantine", "list", "-o", "json"})).empty());

  // Delivered with the fields of the payload, occurred_at from /ts (2025-11-29T12:00:00Z).
  std::optional<v1::Delivery> delivery = support.Next();
  ASSERT_TRUE(delivery.has_value());
  EXPECT_EQ(delivery->event().source(), "acme");
  EXPECT_EQ(delivery->event().type(), v1::EVENT_TYPE_BOUNCED);
  EXPECT_EQ(delivery->event().recipient(), "ann@example.com");
  EXPECT_EQ(delivery->event().occurred_at().seconds(), 1764417600);
  // Replayed with acme's own inline_raw_max (64), as the ingress would have: the body (over 64
  // bytes, under the 1 MiB default) is stored, named by its SHA-256, and fetched back whole.
  ASSERT_GT(sizeof(kBody) - 1, 64u);
  EXPECT_TRUE(delivery->event().raw_stored());
  EXPECT_TRUE(delivery->event().raw().empty());
  EXPECT_EQ(delivery->event().raw_size(), sizeof(kBody) - 1);
  EXPECT_EQ(delivery->event().raw_sha256(), Sha256Hex(kBody));
  const std::string raw_file = dir_ + "/replayed.json";
  CtlResult fetched =
      Ctl({"attachment", "get", delivery->event().id(), Sha256Hex(kBody), "-o", raw_file});
  ASSERT_EQ(fetched.exit_code, 0) << Describe(fetched);
  EXPECT_EQ(ReadWholeFile(raw_file), kBody);
  EXPECT_TRUE(support.Ack(delivery->delivery_id()));

  // Once: a second replay finds nothing, and the provider's retry of the same event is a
  // duplicate of the replayed commit.
  CtlResult again = Ctl({"quarantine", "replay", "--source", "acme", "-o", "json"});
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_EQ(Int64Field(ParseObject(again.out), "decoded"), 0) << Describe(again);
  ctl::HttpResult retry = PostAcme(*router_, kBody);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(Int64Field(ParseObject(retry.body), "duplicates"), 1) << retry.body;
  EXPECT_FALSE(support.Next(absl::Seconds(1)).has_value()) << "delivered twice";
}

TEST_F(LifecycleCtlTest, ABackupTakenWhileServingIsServedByAFreshRouter) {
  // Committed and queued for support (no agent connected yet), then backed up live.
  ASSERT_EQ(
      PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_before_backup", "ann@example.com"),
      200);
  const std::string backup = dir_ + "/backup.db";
  CtlResult made = Ctl({"backup", backup, "-o", "json"});
  ASSERT_EQ(made.exit_code, 0) << Describe(made);
  boost::json::object answer = ParseObject(made.out);
  EXPECT_EQ(StringField(answer, "path"), backup);
  ASSERT_TRUE(fs::exists(backup));
  EXPECT_EQ(Int64Field(answer, "bytes"), static_cast<int64_t>(fs::file_size(backup)));
  // Committed after the backup: not in it.
  ASSERT_EQ(
      PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_after_backup", "bob@example.com"),
      200);

  // A relative path is refused (it would land wherever the router runs).
  CtlResult relative = Ctl({"backup", "backup.db"});
  EXPECT_EQ(relative.exit_code, 1) << Describe(relative);
  EXPECT_TRUE(absl::StrContains(relative.err, "path")) << Describe(relative);

  // The documented restore: stop, copy the file into place, start.
  router_->Kill();
  restored_dir_ = MakeTempDir("switchboard-restored");
  ASSERT_FALSE(restored_dir_.empty());
  fs::create_directories(restored_dir_ + "/data");
  fs::copy_file(backup, restored_dir_ + "/data/switchboard.db");
  auto restored = RouterProcess::Start(restored_dir_, Config());
  ASSERT_TRUE(restored.ok()) << restored.status();
  restored_ = *std::move(restored);

  RawAgent support(restored_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());
  std::optional<v1::Delivery> d = support.Next();
  ASSERT_TRUE(d.has_value()) << "the event committed before the backup";
  EXPECT_EQ(d->event().recipient(), "ann@example.com");
  EXPECT_TRUE(support.Ack(d->delivery_id()));
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value())
      << "the event committed after the backup is not in it";
}

TEST_F(LifecycleCtlTest, PurgeRecipientErasesThatPersonsQueuedEventsOnly) {
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_ann", "ann@example.com"), 200);
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_DELIVERED, "msg_ann_2", "ann@example.com"),
            200);
  ASSERT_EQ(PostResendEvent(*router_, v1::EVENT_TYPE_BOUNCED, "msg_bob", "bob@example.com"), 200);

  // Case-insensitive address; two events, each archived and queued once for support: 4 entries.
  CtlResult purged = Ctl({"purge", "--recipient", "Ann@Example.com", "-o", "json"});
  ASSERT_EQ(purged.exit_code, 0) << Describe(purged);
  EXPECT_EQ(Int64Field(ParseObject(purged.out), "count"), 4) << Describe(purged);
  EXPECT_NE(Ctl({"purge"}).exit_code, 0);  // --recipient is required

  RawAgent support(router_->grpc_target(), "support", kSupportToken);
  ASSERT_TRUE(support.WaitWelcome().ok());
  std::optional<v1::Delivery> d = support.Next();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->event().recipient(), "bob@example.com");
  EXPECT_TRUE(support.Ack(d->delivery_id()));
  EXPECT_FALSE(support.Next(absl::Milliseconds(500)).has_value()) << "ann's events are erased";

  // The audit line names the admin and the count, not the address.
  const std::string log = router_->log();
  EXPECT_TRUE(absl::StrContains(log, "PurgeRecipient")) << log;
  EXPECT_FALSE(absl::StrContains(log, "Ann@Example.com")) << log;
}

}  // namespace
}  // namespace switchboard::testing
