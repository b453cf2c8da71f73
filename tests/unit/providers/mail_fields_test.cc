#include "router/providers/mail_fields.h"

#include "gtest/gtest.h"
#include "router/providers/form_urlencoded.h"

namespace switchboard::providers {
namespace {

TEST(ParseRfc5322DateTest, Accepts) {
  struct Case {
    std::string text;
    int64_t seconds;  // date -u -d ... +%s
  };
  const Case cases[] = {
      {"Fri, 5 May 2023 17:44:33 -0400", 1683323073},         // 21:44:33Z
      {"Mon, 4 Jul 2016 15:53:14 +0100", 1467643994},         // 14:53:14Z
      {"Fri, 10 May 2013 19:28:20 +0000 (UTC)", 1368214100},  // comment ignored
      {"10 May 2013 19:28:20 GMT", 1368214100},               // no day name, obsolete zone
      {"10 May 2013 12:28:20 PDT", 1368214100},               // RFC 5322 4.3: PDT = -0700
      {"10 May 2013 19:28 +0000", 1368214080},                // no seconds
  };
  for (const Case& c : cases) {
    auto t = ParseRfc5322Date(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status();
    EXPECT_EQ(t->seconds(), c.seconds) << c.text;
    EXPECT_EQ(t->nanos(), 0);
  }
}

TEST(ParseRfc5322DateTest, Refuses) {
  for (std::string text : {"", "yesterday", "2023-05-05T21:44:33Z", "Fri, 31 Feb 2023 10:00:00 +0000",
                           "Fri, 5 Mai 2023 17:44:33 -0400", "Fri, 5 May 2023 25:44:33 -0400",
                           "Fri, 5 May 2023 17:44:33 -04", "Fri, 5 May 2023 17:44:33"}) {
    EXPECT_EQ(ParseRfc5322Date(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseSmtpReplyTest, FindsCodeAndEnhancedStatus) {
  SmtpReply a = ParseSmtpReply("smtp;550 5.1.1 The email account that you tried to reach");
  EXPECT_EQ(a.code, "550");
  EXPECT_EQ(a.enhanced_status, "5.1.1");
  SmtpReply b = ParseSmtpReply(" RecipientError: 550 5.5.0 Requested action not taken");
  EXPECT_EQ(b.code, "550");
  EXPECT_EQ(b.enhanced_status, "5.5.0");
  SmtpReply c = ParseSmtpReply("454 4.4.4 [internal] no MX or A for domain");
  EXPECT_EQ(c.code, "454");
  EXPECT_EQ(c.enhanced_status, "4.4.4");
  SmtpReply none = ParseSmtpReply("undefined Unable to find MX of domain no-mx.example.com");
  EXPECT_EQ(none.code, "");
  EXPECT_EQ(none.enhanced_status, "");
  SmtpReply version = ParseSmtpReply("OS 10.6.8 build 999");
  EXPECT_EQ(version.code, "") << "9xx is not a reply code";
  EXPECT_EQ(version.enhanced_status, "");
}

TEST(SplitMessageIdsTest, KeepsBracketsAndOrder) {
  EXPECT_EQ(SplitMessageIds("<a@x>\r\n <b@y>  <c@z>"),
            (std::vector<std::string>{"<a@x>", "<b@y>", "<c@z>"}));
  EXPECT_TRUE(SplitMessageIds("").empty());
  EXPECT_TRUE(SplitMessageIds("<unterminated").empty());
}

TEST(FormUrlEncodedTest, DecodesPairs) {
  auto pairs = ParseFormUrlEncoded("mandrill_events=%5B%7B%22a%22%3A1%7D%5D&x=a+b&&flag&e=");
  ASSERT_TRUE(pairs.ok());
  ASSERT_EQ(pairs->size(), 4u);
  EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>{"mandrill_events", "[{\"a\":1}]"}));
  EXPECT_EQ((*pairs)[1].second, "a b");
  EXPECT_EQ((*pairs)[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ((*pairs)[3], (std::pair<std::string, std::string>{"e", ""}));
  for (std::string bad : {"a=%", "a=%4", "a=%zz", "%G0=1"}) {
    EXPECT_EQ(ParseFormUrlEncoded(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(FormUrlEncodedTest, EncodeRoundTrips) {
  const std::string text = "[{\"url\":\"http://x/?a=1&b=2\", \"t\":\"\xc3\xa9 +%\"}]";
  EXPECT_EQ(FormUrlEncode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
  auto pairs = ParseFormUrlEncoded("k=" + FormUrlEncode(text));
  ASSERT_TRUE(pairs.ok());
  EXPECT_EQ(pairs->at(0).second, text);
}

}  // namespace
}  // namespace switchboard::providers
