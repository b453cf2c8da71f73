#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/timestamp.pb.h>

#include "absl/status/statusor.h"

// Reading the mail fields providers pass through from SMTP and RFC 5322 text: Date headers, SMTP
// replies in bounce diagnostics, Message-ID lists. Thread-safe; never throws.
namespace switchboard::providers {

// An RFC 5322 section 3.3 date-time as UTC: "Fri, 5 May 2023 17:44:33 -0400",
// "10 May 2013 19:28:20 +0000 (UTC)". The day name is optional, seconds are optional, the zone is a
// numeric offset or one of the obsolete names UT, GMT, Z, EST/EDT, CST/CDT, MST/MDT, PST/PDT
// (section 4.3); a trailing comment is ignored. kInvalidArgument for anything else.
absl::StatusOr<google::protobuf::Timestamp> ParseRfc5322Date(std::string_view text);

// The SMTP reply code and RFC 3463 enhanced status found in a bounce diagnostic such as
// "smtp;550 5.1.1 The email account ... does not exist." or " RecipientError: 550 5.5.0 ...":
// the first whitespace-separated token that is a 3-digit code starting with 2, 4 or 5, and the
// first token shaped class.subject.detail with class 2, 4 or 5. Either is "" when absent.
struct SmtpReply {
  std::string code;             // "550"
  std::string enhanced_status;  // "5.1.1"
};
SmtpReply ParseSmtpReply(std::string_view diagnostic);

// The message ids of an In-Reply-To / References header value, each with its angle brackets as
// written: "<a@x> <b@y>" -> {"<a@x>", "<b@y>"}. Text outside brackets is ignored.
std::vector<std::string> SplitMessageIds(std::string_view header_value);

}  // namespace switchboard::providers
