// switchboardctl's usage errors (README "Operating Switchboard"): a wrong invocation prints exactly
// one line, `error: <reason>`, on stderr and exits 2, whatever CLI11 found wrong; --help still
// prints the help on stdout and exits 0. No router is needed: nothing gets as far as connecting.
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/integration/ctl_runner.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {
namespace {

void ExpectUsageError(const std::vector<std::string>& args, const std::string& must_contain) {
  const std::string dir = MakeTempDir("ctl_usage");
  const CtlResult r = RunCtl(dir, args);
  EXPECT_EQ(r.exit_code, 2) << Describe(r);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: ")) << Describe(r);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line only: " << Describe(r);
  EXPECT_TRUE(absl::StrContains(r.err, must_contain)) << must_contain << "\n" << Describe(r);
  EXPECT_EQ(r.out, "") << Describe(r);
}

TEST(CtlUsageTest, EveryKindOfUsageErrorIsOneLineAndExitTwo) {
  ExpectUsageError({}, "subcommand");                                   // none given
  ExpectUsageError({"frobnicate"}, "frobnicate");                       // unknown subcommand
  ExpectUsageError({"agents", "--no-such-flag"}, "--no-such-flag");     // unknown flag
  ExpectUsageError({"send"}, "--source");                               // a required flag missing
  ExpectUsageError({"agents", "-o", "xml"}, "xml");                     // a value not allowed
  ExpectUsageError({"agents", "--timeout", "0"},                         // a check that fails
                   "--timeout: want a number of seconds above 0, got \"0\"");
  ExpectUsageError({"send", "--source", "s", "--event", "bounced", "--timeout", "-1"},
                   "--timeout: want a number of seconds above 0, got \"-1\"");
  ExpectUsageError({"agents", "--addr"}, "--addr");                     // a flag without its value
  ExpectUsageError({"send", "--source", "s", "--event", "bounced", "--file", "x"}, "--event");
  ExpectUsageError({"send", "--source", "s"}, "send needs --event TYPE or --file PATH");
}

TEST(CtlUsageTest, HelpIsNotAnError) {
  const CtlResult r = RunCtl(MakeTempDir("ctl_usage"), {"--help"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(absl::StrContains(r.out, "send")) << Describe(r);
  EXPECT_EQ(r.err, "") << Describe(r);
}

// --version prints the build's version, the project version of CMakeLists.txt first (then
// "+<git describe>" in a git checkout), and exits 0; the router's binary does the same.
TEST(CtlUsageTest, VersionPrintsTheBuildVersion) {
  const CtlResult r = RunCtl(MakeTempDir("ctl_usage"), {"--version"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(absl::StartsWith(r.out, SWITCHBOARD_PROJECT_VERSION)) << Describe(r);
  EXPECT_EQ(r.err, "") << Describe(r);

  const std::string router = std::string(SWITCHBOARD_BINARY_DIR) + "/router/switchboard";
  FILE* pipe = popen((router + " --version 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char chunk[256];
  while (size_t n = fread(chunk, 1, sizeof(chunk), pipe)) out.append(chunk, n);
  const int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << " " << out;
  EXPECT_TRUE(absl::StartsWith(out, SWITCHBOARD_PROJECT_VERSION)) << out;
  EXPECT_EQ(out, r.out) << "the router and switchboardctl of one build name one version";
}

TEST(CtlUsageTest, AFailedOperationStaysExitOne) {
  // A well-formed command whose operation fails (no config file): exit 1, one `error:` line.
  const std::string dir = MakeTempDir("ctl_usage");
  const CtlResult r = RunCtl(dir, {"send", "--config", dir + "/missing.yaml", "--source", "s",
                                   "--event", "bounced"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_TRUE(absl::StartsWith(r.err, "error: ")) << Describe(r);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line only: " << Describe(r);
}

}  // namespace
}  // namespace switchboard::testing
