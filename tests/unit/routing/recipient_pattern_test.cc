#include "router/routing/recipient_pattern.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/routing/match_input.h"

namespace switchboard::routing {
namespace {

// As an EmailEvent carries it: recipient with the local part as sent.
bool Matches(const RecipientPattern& pattern, const std::string& recipient) {
  v1::EmailEvent event;
  event.set_recipient(recipient);
  const MatchInput input(event);
  return pattern.Matches(input);
}

using ::testing::HasSubstr;

RecipientPattern MustParse(absl::string_view pattern, GlobCase mode = GlobCase::kSensitive) {
  auto parsed = RecipientPattern::Parse(pattern, mode);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

// recipient as an EmailEvent carries it: local part as sent, domain lower-cased; recipient_key
// all lower-case.
TEST(RecipientPatternTest, ExactAddress) {
  const RecipientPattern p = MustParse("ops@example.com");
  EXPECT_TRUE(Matches(p, "ops@example.com"));
  EXPECT_FALSE(Matches(p, "ops2@example.com"));
  EXPECT_FALSE(Matches(p, "ops@example.org"));
  EXPECT_FALSE(Matches(p, "xops@example.com"));
}

TEST(RecipientPatternTest, DomainIsCaseInsensitiveLocalPartIsNot) {
  const RecipientPattern p = MustParse("Ops@EXAMPLE.com");
  EXPECT_TRUE(Matches(p, "Ops@example.com"));
  // The domain comes from recipient_key, so an event whose recipient kept the sender's case
  // still matches.
  EXPECT_TRUE(Matches(p, "Ops@Example.COM"));
  EXPECT_FALSE(Matches(p, "ops@example.com"));
  EXPECT_FALSE(Matches(p, "OPS@example.com"));
}

TEST(RecipientPatternTest, WholeDomain) {
  const RecipientPattern p = MustParse("*@example.com");
  EXPECT_TRUE(Matches(p, "anyone@example.com"));
  EXPECT_TRUE(Matches(p, "First.Last+tag@example.com"));
  EXPECT_FALSE(Matches(p, "anyone@mail.example.com"));
  EXPECT_FALSE(Matches(p, "anyone@example.com.evil.org"));
}

TEST(RecipientPatternTest, GlobOnBothSides) {
  const RecipientPattern p = MustParse("bounce-*@*.example.com");
  EXPECT_TRUE(Matches(p, "bounce-42@mail.example.com"));
  EXPECT_FALSE(Matches(p, "bounce-42@example.com"));
  EXPECT_FALSE(Matches(p, "reply-42@mail.example.com"));

  const RecipientPattern q = MustParse("user?@example.com");
  EXPECT_TRUE(Matches(q, "user1@example.com"));
  EXPECT_FALSE(Matches(q, "user12@example.com"));
}

TEST(RecipientPatternTest, StarDoesNotCrossAtInAQuotedLocalPart) {
  // RFC 5321 allows "@" inside a quoted local part; '*' must not swallow it.
  const RecipientPattern p = MustParse("*@example.com");
  EXPECT_FALSE(Matches(p, "\"a@b\"@example.com"));
}

TEST(RecipientPatternTest, AddressWithoutAtNeverMatches) {
  const RecipientPattern p = MustParse("*@*");
  EXPECT_FALSE(Matches(p, ""));
  EXPECT_FALSE(Matches(p, "undisclosed-recipients"));
  EXPECT_TRUE(Matches(p, "a@b"));
}

TEST(RecipientPatternTest, ParseErrors) {
  for (absl::string_view bad : {"example.com", "a@b@c", "@example.com", "ops@", "", "@"}) {
    auto parsed = RecipientPattern::Parse(bad, GlobCase::kSensitive);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(
      std::string(RecipientPattern::Parse("example.com", GlobCase::kSensitive).status().message()),
      HasSubstr("exactly one '@'"));
}

// Issue 5: `billing+*@example.com` matches `billing+x@...` and plain `billing@...`.
TEST(RecipientPatternTest, PlusTagMatchesTaggedAndPlainAddress) {
  const RecipientPattern p = MustParse("billing+*@example.com");
  EXPECT_TRUE(Matches(p, "billing+invoice-42@example.com"));
  EXPECT_TRUE(Matches(p, "billing+@example.com"));
  EXPECT_TRUE(Matches(p, "billing@example.com"));
  EXPECT_FALSE(Matches(p, "billingx@example.com"));
  EXPECT_FALSE(Matches(p, "billing2@example.com"));
  EXPECT_FALSE(Matches(p, "xbilling@example.com"));
  EXPECT_FALSE(Matches(p, "billing@example.org"));
  EXPECT_FALSE(Matches(p, "Billing@example.com"));  // local part as sent
  // Only a trailing "+*" is a plus tag; an exact address does not take tags.
  const RecipientPattern exact = MustParse("billing@example.com");
  EXPECT_FALSE(Matches(exact, "billing+x@example.com"));
  const RecipientPattern middle = MustParse("a+*b@example.com");
  EXPECT_FALSE(Matches(middle, "a@example.com"));
  EXPECT_TRUE(Matches(middle, "a+xb@example.com"));
  // The plain part may itself be a glob.
  const RecipientPattern glob = MustParse("bill*+*@example.com");
  EXPECT_TRUE(Matches(glob, "billing@example.com"));
  EXPECT_TRUE(Matches(glob, "bills+q@example.com"));
}

// "*@bücher.example" and "*@xn--bcher-kva.example" are one pattern (IDNA 2008, RFC 5891: the
// A-label of the U-label "bücher" is "xn--bcher-kva").
TEST(RecipientPatternTest, DomainsCompareInPunycode) {
  for (const char* pattern : {"*@bücher.example", "*@xn--bcher-kva.example",
                              "*@XN--BCHER-KVA.Example", "*@BÜCHER.example"}) {
    const RecipientPattern p = MustParse(pattern);
    EXPECT_TRUE(Matches(p, "info@xn--bcher-kva.example")) << pattern;
    EXPECT_TRUE(Matches(p, "info@bücher.example")) << pattern;
    EXPECT_TRUE(Matches(p, "info@Bücher.Example")) << pattern;
    EXPECT_FALSE(Matches(p, "info@bucher.example")) << pattern;
  }
  // A glob label stays ASCII; the other labels are converted one by one.
  const RecipientPattern sub = MustParse("*@*.bücher.example");
  EXPECT_TRUE(Matches(sub, "a@mail.xn--bcher-kva.example"));
  EXPECT_FALSE(Matches(sub, "a@xn--bcher-kva.example"));
}

TEST(RecipientPatternTest, BadInternationalDomainsAreRefused) {
  auto mixed = RecipientPattern::Parse("*@bü*.example", GlobCase::kSensitive);
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(std::string(mixed.status().message()), HasSubstr("punycode"));
  // A label may not begin with a combining mark (RFC 5891 section 4.2.3.2): U+0301 here.
  auto invalid = RecipientPattern::Parse("a@\xcc\x81x.example", GlobCase::kSensitive);
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(std::string(invalid.status().message()), HasSubstr("not a valid IDN"));
}

TEST(RecipientPatternTest, CaseInsensitiveLocalPart) {
  const RecipientPattern p = MustParse("Billing+*@example.com", GlobCase::kAsciiInsensitive);
  EXPECT_TRUE(Matches(p, "billing@example.com"));
  EXPECT_TRUE(Matches(p, "BILLING+Q@example.com"));
  EXPECT_FALSE(Matches(p, "billings@example.com"));
  const RecipientPattern sensitive = MustParse("Billing@example.com");
  EXPECT_FALSE(Matches(sensitive, "billing@example.com"));
  EXPECT_TRUE(Matches(sensitive, "Billing@example.com"));
}

}  // namespace
}  // namespace switchboard::routing
