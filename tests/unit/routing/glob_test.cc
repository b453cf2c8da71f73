#include "router/routing/glob.h"

#include <string>

#include "gtest/gtest.h"

namespace switchboard::routing {
namespace {

TEST(GlobMatchTest, LiteralsMatchExactly) {
  EXPECT_TRUE(GlobMatch("example.com", "example.com"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("example.com", "example.co"));
  EXPECT_FALSE(GlobMatch("example.co", "example.com"));
  EXPECT_FALSE(GlobMatch("Example.com", "example.com"));  // callers fold case themselves
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobMatchTest, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything.at.all"));
  EXPECT_TRUE(GlobMatch("bounce-*", "bounce-"));
  EXPECT_TRUE(GlobMatch("bounce-*", "bounce-123"));
  EXPECT_TRUE(GlobMatch("*.example.com", "mail.example.com"));
  EXPECT_FALSE(GlobMatch("*.example.com", "example.com"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_TRUE(GlobMatch("a*b*c", "abc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(GlobMatch("**", "xy"));
  // Needs backtracking: the first "ab" is not the one that completes the match.
  EXPECT_TRUE(GlobMatch("*ab", "abab"));
  EXPECT_TRUE(GlobMatch("*aab", "aaab"));
}

TEST(GlobMatchTest, QuestionMarkMatchesExactlyOneCharacter) {
  EXPECT_TRUE(GlobMatch("user?", "user1"));
  EXPECT_FALSE(GlobMatch("user?", "user"));
  EXPECT_FALSE(GlobMatch("user?", "user12"));
  EXPECT_TRUE(GlobMatch("?*", "x"));
  EXPECT_FALSE(GlobMatch("?*", ""));
}

TEST(GlobMatchTest, WildcardsNeverCrossAt) {
  EXPECT_FALSE(GlobMatch("*", "a@b"));
  EXPECT_FALSE(GlobMatch("a?b", "a@b"));
  EXPECT_TRUE(GlobMatch("*@example.com", "ops@example.com"));
  EXPECT_FALSE(GlobMatch("*@example.com", "ops@evil.com@example.com"));
  EXPECT_FALSE(GlobMatch("*example.com", "ops@example.com"));
  EXPECT_TRUE(GlobMatch("*@*", "a@b"));
  EXPECT_FALSE(GlobMatch("*@*", "a@b@c"));
}

TEST(GlobMatchTest, LongInputsStayPolynomial) {
  const std::string text(2000, 'a');
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*", text));
}

TEST(GlobMatchTest, AsciiCaseInsensitiveMode) {
  EXPECT_TRUE(GlobMatch("Billing+*", "bILLING+X", GlobCase::kAsciiInsensitive));
  EXPECT_FALSE(GlobMatch("Billing+*", "billing+x"));
  EXPECT_TRUE(GlobMatch("b?ll", "BILL", GlobCase::kAsciiInsensitive));
  // Only ASCII letters fold: "\xc3\x84" (Ä) and "\xc3\xa4" (ä) stay different.
  EXPECT_FALSE(GlobMatch("\xc3\x84", "\xc3\xa4", GlobCase::kAsciiInsensitive));
}

}  // namespace
}  // namespace switchboard::routing
