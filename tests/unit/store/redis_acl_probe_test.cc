// redis_scripts::kAclProbe asks the ACL about every command the store's Lua runs: each
// `redis.call('CMD'` in the store's sources (the scripts, the admin scripts, the Lua inside
// redis_store.cc) must be in the probe's list, or a user denied that command would pass the start
// check and then fail webhooks. Reads the sources as text, so a new script is covered by itself.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "re2/re2.h"
#include "router/store/redis_scripts.h"

namespace switchboard::store {
namespace {

std::set<std::string> Called(const std::string& text, const std::string& pattern) {
  std::set<std::string> commands;
  re2::StringPiece input(text);
  std::string command;
  const RE2 re(pattern);
  while (RE2::FindAndConsume(&input, re, &command)) commands.insert(command);
  return commands;
}

TEST(RedisAclProbeTest, TheProbeAsksAboutEveryCommandTheStoresLuaRuns) {
  std::set<std::string> called;
  for (const char* file : {"router/store/redis_scripts.h", "router/store/redis_admin_scripts.h",
                           "router/store/redis_store.cc"}) {
    std::ifstream in(std::string(SWITCHBOARD_SOURCE_DIR) + "/" + file);
    ASSERT_TRUE(in) << file;
    std::stringstream text;
    text << in.rdbuf();
    for (const std::string& command : Called(text.str(), R"(redis\.call\('([A-Z]+)')")) {
      called.insert(command);
    }
  }
  ASSERT_GT(called.size(), 20u) << "the sources were not read as expected";
  const std::set<std::string> probed = Called(redis_scripts::kAclProbe, R"(\{'([A-Z]+)')");
  for (const std::string& command : called) {
    EXPECT_TRUE(probed.count(command)) << command << " is run by the store's Lua but not probed";
  }
}

}  // namespace
}  // namespace switchboard::store
