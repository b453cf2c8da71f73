// AdminService through real gRPC: a grpc::Server on 127.0.0.1:0 serving AdminServiceImpl over an
// EmbeddedStore on a temp file, driven with the generated client stub.
#include "router/admin/admin_service.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/admin/rules_file_watcher.h"
#include "router/admin/tail_bus.h"
#include "router/config/config_loader.h"
#include "router/config/rules_yaml.h"
#include "router/delivery/dispatcher.h"
#include "router/store/embedded_store.h"
#include "tests/common/scoped_test_dir.h"

namespace switchboard::admin {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "admin-token-0123456789abcdef";
const std::vector<std::string> kAgents = {"audit", "billing"};

// The config file's rules of these tests.
constexpr char kConfigRules[] = R"(- name: bounces
  match:
    types: [bounced, complained]
  agents: [audit]
- name: billing
  match: {recipient: "billing+*@example.com"}
  agents: [billing]
)";

std::vector<config::RuleConfig> MustParse(std::string_view yaml) {
  absl::StatusOr<std::vector<config::RuleConfig>> rules = config::ParseRulesYaml(yaml, kAgents);
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : std::vector<config::RuleConfig>{};
}

// A provider whose Decode turns each body line "type recipient" into an event and refuses a body
// starting with "garbage"; Verify must never be called by ExplainRoute.
class LineProvider final : public providers::Provider {
 public:
  absl::Status Verify(const providers::WebhookRequest&) const override {
    ++verify_calls;
    return absl::UnauthenticatedError("no signature");
  }
  absl::StatusOr<providers::DecodeResult> Decode(
      const providers::WebhookRequest& request) const override {
    if (request.body.starts_with("garbage")) {
      return absl::InvalidArgumentError("body: not a line batch");
    }
    providers::DecodeResult result;
    for (absl::string_view line : absl::StrSplit(request.body, '\n', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      v1::EmailEvent& event = result.events.emplace_back();
      event.set_id(absl::StrCat("line-", result.events.size()));
      event.set_source(request.source);
      event.set_type(parts[0] == "bounced" ? v1::EVENT_TYPE_BOUNCED : v1::EVENT_TYPE_DELIVERED);
      event.set_recipient(parts.size() > 1 ? parts[1] : "");
      event.set_recipient_key(event.recipient());
    }
    return result;
  }
  mutable std::atomic<int> verify_calls{0};
};

class NullSink final : public delivery::DeliverySink {
 public:
  bool Send(v1::Delivery) override { return true; }
};

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::EmbeddedStore::Options store_options;
    store_options.path = (dir_ / "store.db").string();
    auto store = store::EmbeddedStore::Create(store_options, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto rules = routing::RuleSet::Create(MustParse(kConfigRules), kAgents);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    dispatcher_ = std::make_unique<delivery::Dispatcher>(*store_, clock_, config::DeliveryConfig{});
  }

  void TearDown() override {
    StopServer();
    dispatcher_.reset();
    store_.reset();
  }

  // Starts the service; `rules_file` non-empty: GitOps mode on that file.
  void StartServer(const std::string& rules_file = "") {
    if (!rules_file.empty()) {
      auto watcher = RulesFileWatcher::Create(
          rules_file, [](const std::string& yaml) { return config::ParseRulesYaml(yaml, kAgents).status(); },
          absl::Hours(24));
      ASSERT_TRUE(watcher.ok()) << watcher.status();
      watcher_ = *std::move(watcher);
    }
    AdminServiceOptions options;
    options.tokens = {config::AdminToken{"alice", kToken}};
    options.agents = kAgents;
    options.config_rules_yaml = config::RulesToYaml(MustParse(kConfigRules));
    options.rules_in_use = [this] { return rules_; };
    options.provider = [this](const std::string& source)
        -> std::shared_ptr<const providers::Provider> {
      return source == "lines" ? provider_ : nullptr;
    };
    options.dispatcher = dispatcher_.get();
    options.tail = &bus_;
    service_ = std::make_unique<AdminServiceImpl>(std::move(options), *store_, clock_,
                                                  watcher_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::AdminService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void StopServer() {
    if (server_ == nullptr) return;
    service_->Shutdown();
    server_->Shutdown();
    server_->Wait();
    server_.reset();
    service_.reset();
    watcher_.reset();
  }

  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kToken) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return context;
  }

  v1::GetRulesResponse GetRules() {
    v1::GetRulesResponse response;
    grpc::Status status = stub_->GetRules(Context().get(), {}, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Apply(const std::string& yaml, int64_t expected_version, bool dry_run,
                     v1::ApplyRulesResponse* response) {
    v1::ApplyRulesRequest request;
    request.set_yaml(yaml);
    request.set_expected_version(expected_version);
    request.set_dry_run(dry_run);
    return stub_->ApplyRules(Context().get(), request, response);
  }

  grpc::Status Delete(const std::string& name, int64_t expected_version,
                      v1::ApplyRulesResponse* response) {
    v1::DeleteRuleRequest request;
    request.set_name(name);
    request.set_expected_version(expected_version);
    return stub_->DeleteRule(Context().get(), request, response);
  }

  FakeClock clock_{absl::FromUnixSeconds(1764000000)};
  test_support::ScopedTestDir dir_{"switchboard-admin-test"};
  std::unique_ptr<store::EmbeddedStore> store_;
  std::shared_ptr<const routing::RuleSet> rules_;
  std::shared_ptr<LineProvider> provider_ = std::make_shared<LineProvider>();
  std::unique_ptr<delivery::Dispatcher> dispatcher_;
  TailBus bus_;
  std::unique_ptr<RulesFileWatcher> watcher_;
  std::unique_ptr<AdminServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminServiceTest, AMissingOrWrongTokenIsUnauthenticated) {
  StartServer();
  for (const char* header : {"", "Bearer wrong-token", "Basic YWxpY2U6eA==",
                             "Bearer admin-token-0123456789abcdeX"}) {
    grpc::ClientContext context;
    if (*header != '\0') context.AddMetadata("authorization", header);
    v1::GetRulesResponse response;
    EXPECT_EQ(stub_->GetRules(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << header;
  }
  // A write with a bad token changes nothing.
  v1::ApplyRulesRequest request;
  request.set_yaml("[]");
  v1::ApplyRulesResponse response;
  EXPECT_EQ(stub_->ApplyRules(Context("wrong").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetRules().version(), 0);

  v1::TailEvent event;
  std::unique_ptr<grpc::ClientContext> context = Context("wrong");
  auto reader = stub_->Tail(context.get(), v1::TailRequest());
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The "bearer" scheme is case-insensitive (RFC 7235).
  grpc::ClientContext lower;
  lower.AddMetadata("authorization", absl::StrCat("bearer ", kToken));
  v1::GetRulesResponse rules;
  EXPECT_TRUE(stub_->GetRules(&lower, {}, &rules).ok());
}

TEST_F(AdminServiceTest, GetRulesAnswersTheConfigRulesCanonicallyUntilSomeAreStored) {
  StartServer();
  v1::GetRulesResponse response = GetRules();
  EXPECT_EQ(response.version(), 0);
  EXPECT_EQ(response.origin(), "config");
  EXPECT_FALSE(response.read_only());
  EXPECT_EQ(MustParse(response.yaml()), MustParse(kConfigRules));
}

TEST_F(AdminServiceTest, ApplyStoresAVersionAndAStaleVersionIsRefused) {
  StartServer();
  const std::string next = std::string(kConfigRules) +
                           "- name: support\n  match: {recipient: support@example.com}\n"
                           "  agents: [audit]\n";
  v1::ApplyRulesResponse applied;
  grpc::Status status = Apply(next, 0, false, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(applied.version(), 1);
  EXPECT_TRUE(applied.changed());
  EXPECT_THAT(applied.diff(), HasSubstr("+- name: support\n"));

  v1::GetRulesResponse stored = GetRules();
  EXPECT_EQ(stored.version(), 1);
  EXPECT_EQ(stored.origin(), "store");
  EXPECT_EQ(stored.yaml(), next);  // the operator's text, as sent

  // Another edit that started from version 0 is refused; version 1 stays.
  v1::ApplyRulesResponse stale;
  status = Apply(kConfigRules, 0, false, &stale);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("version 1 is current"));
  EXPECT_EQ(GetRules().version(), 1);
  EXPECT_EQ(GetRules().yaml(), next);
}

TEST_F(AdminServiceTest, ADryRunDiffsAndWritesNothing) {
  StartServer();
  const std::string next = R"(- name: bounces
  match:
    types: [bounced]
  agents: [audit]
)";
  v1::ApplyRulesResponse response;
  grpc::Status status = Apply(next, 0, true, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.changed());
  EXPECT_EQ(response.version(), 0);
  EXPECT_TRUE(response.diff().starts_with("--- rules (version 0)\n+++ rules (new)\n@@ "))
      << response.diff();
  EXPECT_THAT(response.diff(), HasSubstr("\n-- name: billing\n"));
  EXPECT_THAT(response.diff(), HasSubstr("\n+    types: [bounced]\n"));
  EXPECT_EQ(GetRules().version(), 0);
  EXPECT_EQ(GetRules().origin(), "config");
}

TEST_F(AdminServiceTest, ReorderedKeysCommentsAndWhitespaceAreNoChange) {
  StartServer();
  const std::string same = R"(# the same rules, written differently
- agents: [audit]
  name: bounces
  match: {types: [complained, bounced, bounced]}

- name: billing
  agents:
    - billing
  match:
    recipient: 'billing+*@example.com'
)";
  v1::ApplyRulesResponse response;
  grpc::Status status = Apply(same, 0, false, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.changed());
  EXPECT_EQ(response.diff(), "");
  EXPECT_EQ(response.version(), 0);
  EXPECT_EQ(GetRules().version(), 0);  // nothing written
}

TEST_F(AdminServiceTest, InvalidRulesAreRefusedNamingTheField) {
  StartServer();
  v1::ApplyRulesResponse response;
  grpc::Status status =
      Apply("- name: x\n  match: {types: [bounced]}\n  agents: [nobody]\n", 0, false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("rules[0].agents[0]"));
  status = Apply(kConfigRules, -1, false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("expected_version"));
  EXPECT_EQ(GetRules().version(), 0);
}

TEST_F(AdminServiceTest, DeleteRemovesOneRuleAndStoresTheRest) {
  StartServer();
  v1::ApplyRulesResponse response;
  grpc::Status status = Delete("nope", 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("\"nope\""));
  status = Delete("", 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // From the config file's rules (version 0): 0 means "the current version".
  status = Delete("billing", 0, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), 1);
  EXPECT_TRUE(response.changed());
  EXPECT_THAT(response.diff(), HasSubstr("\n-- name: billing\n"));
  EXPECT_THAT(response.diff(), ::testing::Not(HasSubstr("\n-- name: bounces\n")));
  v1::GetRulesResponse stored = GetRules();
  EXPECT_EQ(stored.version(), 1);
  std::vector<config::RuleConfig> rules = MustParse(stored.yaml());
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].name, "bounces");

  // A stale explicit version is refused; the current one works.
  status = Delete("bounces", 5, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  status = Delete("bounces", 1, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), 2);
  EXPECT_TRUE(MustParse(GetRules().yaml()).empty());
}

TEST_F(AdminServiceTest, ExplainNamesTheMatchingRuleOfAnEvent) {
  StartServer();
  v1::ExplainRouteRequest request;
  request.mutable_event()->set_type(v1::EVENT_TYPE_DELIVERED);
  request.mutable_event()->set_recipient("billing+march@example.com");
  request.mutable_event()->set_recipient_key("billing+march@example.com");
  v1::ExplainRouteResponse response;
  grpc::Status status = stub_->ExplainRoute(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.events_size(), 1);
  const v1::ExplainedEvent& explained = response.events(0);
  EXPECT_EQ(explained.event().recipient(), "billing+march@example.com");
  ASSERT_EQ(explained.rules_size(), 2);
  EXPECT_EQ(explained.rules(0).rule(), "bounces");
  EXPECT_FALSE(explained.rules(0).matched());
  EXPECT_TRUE(explained.rules(0).evaluated());
  EXPECT_FALSE(explained.rules(0).reason().empty());
  EXPECT_EQ(explained.rules(1).rule(), "billing");
  EXPECT_TRUE(explained.rules(1).matched());
  EXPECT_THAT(explained.rules(1).reason(), HasSubstr("billing+march@example.com"));
  ASSERT_EQ(explained.agents_size(), 1);
  EXPECT_EQ(explained.agents(0), "billing");
}

TEST_F(AdminServiceTest, ExplainDecodesARawWebhookWithoutVerifyingIt) {
  StartServer();
  v1::ExplainRouteRequest request;
  request.mutable_webhook()->set_source("lines");
  request.mutable_webhook()->set_body("bounced ops@example.com\ndelivered nobody@elsewhere.org\n");
  (*request.mutable_webhook()->mutable_headers())["Content-Type"] = "text/plain";
  v1::ExplainRouteResponse response;
  grpc::Status status = stub_->ExplainRoute(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(provider_->verify_calls.load(), 0);
  ASSERT_EQ(response.events_size(), 2);
  EXPECT_EQ(response.events(0).event().source(), "lines");
  EXPECT_TRUE(response.events(0).event().has_received_at());  // stamped like the ingress does
  ASSERT_EQ(response.events(0).agents_size(), 1);
  EXPECT_EQ(response.events(0).agents(0), "audit");
  EXPECT_TRUE(response.events(0).rules(0).matched());
  EXPECT_EQ(response.events(1).agents_size(), 0);  // no rule matched
  for (const v1::RuleVerdict& verdict : response.events(1).rules()) {
    EXPECT_FALSE(verdict.matched()) << verdict.rule();
  }

  request.mutable_webhook()->set_source("unknown");
  status = stub_->ExplainRoute(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("\"unknown\""));

  request.mutable_webhook()->set_source("lines");
  request.mutable_webhook()->set_body("garbage");
  status = stub_->ExplainRoute(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("body: not a line batch"));

  status = stub_->ExplainRoute(Context().get(), v1::ExplainRouteRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminServiceTest, GitOpsModeRefusesWritesNamingTheFile) {
  const std::string file = (dir_ / "rules.yaml").string();
  std::ofstream(file) << kConfigRules;
  StartServer(file);
  v1::GetRulesResponse rules = GetRules();
  EXPECT_TRUE(rules.read_only());
  EXPECT_EQ(rules.origin(), file);
  EXPECT_EQ(rules.yaml(), kConfigRules);
  EXPECT_EQ(rules.version(), 1);

  v1::ApplyRulesResponse response;
  grpc::Status status = Apply(kConfigRules, 1, false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(file));
  status = Apply(kConfigRules, 1, true, &response);  // a dry run too: the file is the truth
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  status = Delete("billing", 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(file));

  // Nothing reached the store.
  absl::Notification read;
  int64_t stored_version = -1;
  store_->GetRules([&](absl::StatusOr<store::RulesDocument> document) {
    if (document.ok()) stored_version = document->version;
    read.Notify();
  });
  read.WaitForNotification();
  EXPECT_EQ(stored_version, 0);
}

TEST_F(AdminServiceTest, ListAgentsShowsConnectedInstancesAndQueueStats) {
  StartServer();
  NullSink sink;
  const absl::Time connected = clock_.Now();
  const uint64_t stream =
      dispatcher_->AddStream("audit", 8, &sink, {"pod-7", "ipv4:10.0.0.7:51234"});
  v1::ListAgentsResponse response;
  grpc::Status status = stub_->ListAgents(Context().get(), {}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.agents_size(), 2);
  EXPECT_EQ(response.agents(0).name(), "audit");
  ASSERT_EQ(response.agents(0).instances_size(), 1);
  const v1::AgentInstance& instance = response.agents(0).instances(0);
  EXPECT_EQ(instance.instance(), "pod-7");
  EXPECT_EQ(instance.peer(), "ipv4:10.0.0.7:51234");
  EXPECT_EQ(instance.max_in_flight(), 8u);
  EXPECT_EQ(instance.in_flight(), 0);
  EXPECT_EQ(instance.connected_at().seconds(), absl::ToUnixSeconds(connected));
  EXPECT_EQ(response.agents(0).ready(), 0);
  EXPECT_EQ(response.agents(1).name(), "billing");
  EXPECT_EQ(response.agents(1).instances_size(), 0);
  dispatcher_->RemoveStream(stream);
}

v1::EmailEvent TailEventOf(std::string id, v1::EventType type) {
  v1::EmailEvent event;
  event.set_id(std::move(id));
  event.set_type(type);
  event.set_recipient("ops@example.com");
  return event;
}

// Waits for an outcome (not for a time): the test's timeout bounds it.
template <typename Condition>
void WaitUntil(Condition condition) {
  while (!condition()) absl::SleepFor(absl::Milliseconds(2));
}

TEST_F(AdminServiceTest, TailStreamsFilteredCommittedEventsUntilCancelled) {
  StartServer();
  v1::TailRequest request;
  request.mutable_filter()->add_types(v1::EVENT_TYPE_BOUNCED);
  std::unique_ptr<grpc::ClientContext> context = Context();
  auto reader = stub_->Tail(context.get(), request);
  WaitUntil([this] { return bus_.Listening(); });

  bus_.OnCommitted(TailEventOf("d1", v1::EVENT_TYPE_DELIVERED), {"audit"});
  bus_.OnCommitted(TailEventOf("b1", v1::EVENT_TYPE_BOUNCED), {"audit", "billing"});
  v1::TailEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.event().id(), "b1");  // d1 did not pass the filter
  ASSERT_EQ(event.agents_size(), 2);
  EXPECT_EQ(event.agents(1), "billing");
  EXPECT_EQ(event.dropped_before(), 0);

  context->TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  WaitUntil([this] { return !bus_.Listening(); });  // the reactor unsubscribed
  bus_.OnCommitted(TailEventOf("b2", v1::EVENT_TYPE_BOUNCED), {});  // reaches no one
}

TEST_F(AdminServiceTest, TailRefusesABadFilterAndEndsAtShutdown) {
  StartServer();
  v1::TailRequest bad;
  bad.mutable_filter()->set_recipient("not-an-address");
  std::unique_ptr<grpc::ClientContext> bad_context = Context();
  auto refused = stub_->Tail(bad_context.get(), bad);
  v1::TailEvent event;
  EXPECT_FALSE(refused->Read(&event));
  grpc::Status status = refused->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("filter.recipient"));

  std::unique_ptr<grpc::ClientContext> context = Context();
  auto reader = stub_->Tail(context.get(), v1::TailRequest());
  WaitUntil([this] { return bus_.Listening(); });
  bus_.OnCommitted(TailEventOf("e1", v1::EVENT_TYPE_DELIVERED), {});
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.event().id(), "e1");

  service_->Shutdown();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  // After Shutdown a new tail is refused at once.
  std::unique_ptr<grpc::ClientContext> late_context = Context();
  auto late = stub_->Tail(late_context.get(), v1::TailRequest());
  EXPECT_FALSE(late->Read(&event));
  EXPECT_EQ(late->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// ---- GetAttachment (attachment_rpcs.cc) ----

TEST_F(AdminServiceTest, GetAttachmentStreamsTheStoredBytesInChunksOfAtMostOneMebibyte) {
  StartServer();
  std::string bytes((5 << 20) / 2, '\0');  // 2.5 MiB: two full chunks and a half one
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 % 251);
  absl::Notification stored;
  store_->PutAttachments({{{"event-1"}, "ab12", bytes}}, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    stored.Notify();
  });
  stored.WaitForNotification();

  v1::GetAttachmentRequest request;
  request.set_event_id("event-1");
  request.set_sha256("ab12");
  auto context = Context();
  auto reader = stub_->GetAttachment(context.get(), request);
  v1::AttachmentChunk chunk;
  std::string received;
  std::vector<size_t> sizes;
  while (reader->Read(&chunk)) {
    sizes.push_back(chunk.data().size());
    received += chunk.data();
  }
  const grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(sizes, ::testing::ElementsAre(1u << 20, 1u << 20, 1u << 19));
  EXPECT_TRUE(received == bytes);
}

TEST_F(AdminServiceTest, GetAttachmentRefusesUnknownKeysMissingFieldsAndNoToken) {
  StartServer();
  const auto call = [&](const std::string& event_id, const std::string& sha256,
                        const std::string& token) {
    v1::GetAttachmentRequest request;
    request.set_event_id(event_id);
    request.set_sha256(sha256);
    auto context = Context(token);
    auto reader = stub_->GetAttachment(context.get(), request);
    v1::AttachmentChunk chunk;
    int chunks = 0;
    while (reader->Read(&chunk)) ++chunks;
    EXPECT_EQ(chunks, 0);
    return reader->Finish().error_code();
  };
  EXPECT_EQ(call("event-1", "ab12", kToken), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call("", "ab12", kToken), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call("event-1", "", kToken), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call("event-1", "ab12", ""), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace switchboard::admin
