#include "router/routing/recipient_pattern.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace switchboard::routing {
namespace {

using ::testing::HasSubstr;

RecipientPattern MustParse(absl::string_view pattern) {
  auto parsed = RecipientPattern::Parse(pattern);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

// recipient as an EmailEvent carries it: local part as sent, domain lower-cased; recipient_key
// all lower-case.
TEST(RecipientPatternTest, ExactAddress) {
  const RecipientPattern p = MustParse("ops@example.com");
  EXPECT_TRUE(p.Matches("ops@example.com", "ops@example.com"));
  EXPECT_FALSE(p.Matches("ops2@example.com", "ops2@example.com"));
  EXPECT_FALSE(p.Matches("ops@example.org", "ops@example.org"));
  EXPECT_FALSE(p.Matches("xops@example.com", "xops@example.com"));
}

TEST(RecipientPatternTest, DomainIsCaseInsensitiveLocalPartIsNot) {
  const RecipientPattern p = MustParse("Ops@EXAMPLE.com");
  EXPECT_TRUE(p.Matches("Ops@example.com", "ops@example.com"));
  // The domain comes from recipient_key, so an event whose recipient kept the sender's case
  // still matches.
  EXPECT_TRUE(p.Matches("Ops@Example.COM", "ops@example.com"));
  EXPECT_FALSE(p.Matches("ops@example.com", "ops@example.com"));
  EXPECT_FALSE(p.Matches("OPS@example.com", "ops@example.com"));
}

TEST(RecipientPatternTest, WholeDomain) {
  const RecipientPattern p = MustParse("*@example.com");
  EXPECT_TRUE(p.Matches("anyone@example.com", "anyone@example.com"));
  EXPECT_TRUE(p.Matches("First.Last+tag@example.com", "first.last+tag@example.com"));
  EXPECT_FALSE(p.Matches("anyone@mail.example.com", "anyone@mail.example.com"));
  EXPECT_FALSE(p.Matches("anyone@example.com.evil.org", "anyone@example.com.evil.org"));
}

TEST(RecipientPatternTest, GlobOnBothSides) {
  const RecipientPattern p = MustParse("bounce-*@*.example.com");
  EXPECT_TRUE(p.Matches("bounce-42@mail.example.com", "bounce-42@mail.example.com"));
  EXPECT_FALSE(p.Matches("bounce-42@example.com", "bounce-42@example.com"));
  EXPECT_FALSE(p.Matches("reply-42@mail.example.com", "reply-42@mail.example.com"));

  const RecipientPattern q = MustParse("user?@example.com");
  EXPECT_TRUE(q.Matches("user1@example.com", "user1@example.com"));
  EXPECT_FALSE(q.Matches("user12@example.com", "user12@example.com"));
}

TEST(RecipientPatternTest, StarDoesNotCrossAtInAQuotedLocalPart) {
  // RFC 5321 allows "@" inside a quoted local part; '*' must not swallow it.
  const RecipientPattern p = MustParse("*@example.com");
  EXPECT_FALSE(p.Matches("\"a@b\"@example.com", "\"a@b\"@example.com"));
}

TEST(RecipientPatternTest, AddressWithoutAtNeverMatches) {
  const RecipientPattern p = MustParse("*@*");
  EXPECT_FALSE(p.Matches("", ""));
  EXPECT_FALSE(p.Matches("undisclosed-recipients", "undisclosed-recipients"));
  EXPECT_TRUE(p.Matches("a@b", "a@b"));
}

TEST(RecipientPatternTest, ParseErrors) {
  for (absl::string_view bad : {"example.com", "a@b@c", "@example.com", "ops@", "", "@"}) {
    auto parsed = RecipientPattern::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(std::string(RecipientPattern::Parse("example.com").status().message()),
              HasSubstr("exactly one '@'"));
}

}  // namespace
}  // namespace switchboard::routing
