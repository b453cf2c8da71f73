// The audit example agent: its line format, and the switchboard-audit binary end to end against
// the in-process router.

#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agents/audit/audit_handler.h"
#include "tests/unit/delivery/fake_store.h"
#include "tests/unit/delivery/test_server.h"

namespace switchboard::audit {
namespace {

using testing::FakeStore;
using testing::kAuditToken;
using testing::TestServer;
using testing::TestServerOptions;

// Expected lines follow the proto3 JSON mapping (https://protobuf.dev/programming-guides/proto3/#json):
// enums by name, Timestamp as RFC 3339 "Z", bytes as base64, defaults omitted; .proto field names.
TEST(FormatAuditLineTest, WrapsTheProto3JsonOfTheEventWithAttemptAndDeliveryId) {
  v1::EmailEvent event;
  event.set_id("evt-1");
  event.set_type(v1::EVENT_TYPE_BOUNCED);
  event.set_provider_event_type("email.bounced");
  event.mutable_occurred_at()->set_seconds(1700000000);
  event.mutable_occurred_at()->set_nanos(123000000);
  event.set_raw("{}");
  sdk::DeliveryContext context;
  context.attempt = 2;
  context.delivery_id = "d\"1\\\n";

  auto line = FormatAuditLine(event, context);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line,
            "{\"attempt\":2,\"delivery_id\":\"d\\\"1\\\\\\n\",\"event\":{\"id\":\"evt-1\","
            "\"type\":\"EVENT_TYPE_BOUNCED\",\"provider_event_type\":\"email.bounced\","
            "\"occurred_at\":\"2023-11-14T22:13:20.123Z\",\"raw\":\"e30=\"}}");
}

// Runs a command, returns its stdout and exit status.
struct CommandResult {
  std::string out;
  int status = -1;
};
CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const std::string kAuditBinary = SWITCHBOARD_BINARY_DIR "/agents/audit/switchboard-audit";

TEST(AuditBinaryTest, PrintsExactlyNEventsAcksThemAndExitsZero) {
  FakeStore store(SystemClock::Get());
  TestServer server(store, TestServerOptions{});
  ASSERT_TRUE(server.ok());
  for (int i = 0; i < 3; ++i) store.Enqueue("audit", absl::StrCat("evt-", i));

  const CommandResult result = RunCommand(
      absl::StrCat("SWITCHBOARD_AGENT_TOKEN=", kAuditToken, " timeout 30 ", kAuditBinary,
                   " --target ", server.target(), " --agent audit --max-in-flight 1",
                   " --exit-after 2 2>/dev/null"));
  EXPECT_EQ(result.status, 0);
  const std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_EQ(lines[0],
            "{\"attempt\":1,\"delivery_id\":\"d-0-1\",\"event\":{\"id\":\"evt-0\","
            "\"type\":\"EVENT_TYPE_DELIVERED\",\"recipient\":\"user@example.com\"}}");
  EXPECT_EQ(lines[1],
            "{\"attempt\":1,\"delivery_id\":\"d-1-1\",\"event\":{\"id\":\"evt-1\","
            "\"type\":\"EVENT_TYPE_DELIVERED\",\"recipient\":\"user@example.com\"}}");
  // Both printed events were acked before the agent exited.
  const auto acked = store.acked();
  EXPECT_EQ(acked, (std::vector<std::string>{"d-0-1", "d-1-1"}));
}

TEST(AuditBinaryTest, WrongTokenExitsOne) {
  FakeStore store(SystemClock::Get());
  TestServer server(store, TestServerOptions{});
  ASSERT_TRUE(server.ok());
  const CommandResult result = RunCommand(absl::StrCat(
      "timeout 30 ", kAuditBinary, " --target ", server.target(),
      " --agent audit --token not-the-token --exit-after 1 2>/dev/null"));
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.out, "");
}

TEST(AuditBinaryTest, MissingFlagsExitTwo) {
  EXPECT_EQ(RunCommand(kAuditBinary + " --agent audit 2>/dev/null").status, 2);
  EXPECT_EQ(RunCommand(kAuditBinary + " --target x:1 --agent a --token t --exit-after 0"
                                      " 2>/dev/null").status,
            2);
}

}  // namespace
}  // namespace switchboard::audit
