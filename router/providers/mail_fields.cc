#include "router/providers/mail_fields.h"

#include <cstdint>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "router/providers/timestamps.h"

namespace switchboard::providers {
namespace {

// absl::StrSplit over std::string_view (this absl has its own string_view type).
template <typename Delimiter, typename... Predicate>
std::vector<std::string_view> Split(std::string_view text, Delimiter delimiter,
                                    Predicate... predicate) {
  std::vector<std::string_view> out;
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(text.data(), text.size()), delimiter, predicate...)) {
    out.emplace_back(piece.data(), piece.size());
  }
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::optional<int> Number(std::string_view s, size_t min_digits, size_t max_digits) {
  if (s.size() < min_digits || s.size() > max_digits || !AllDigits(s)) return std::nullopt;
  int value = 0;
  for (char c : s) value = value * 10 + (c - '0');
  return value;
}

std::optional<int> Month(std::string_view s) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; ++i) {
    if (absl::EqualsIgnoreCase(absl::string_view(s.data(), s.size()),
                               absl::string_view(kMonths[i].data(), kMonths[i].size()))) {
      return i + 1;
    }
  }
  return std::nullopt;
}

// The zone's offset east of UTC in minutes.
std::optional<int> ZoneOffsetMinutes(std::string_view zone) {
  if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    auto hours = Number(zone.substr(1, 2), 2, 2);
    auto minutes = Number(zone.substr(3, 2), 2, 2);
    if (!hours || !minutes || *minutes > 59) return std::nullopt;
    const int offset = *hours * 60 + *minutes;
    return zone[0] == '-' ? -offset : offset;
  }
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"UT", 0},         {"UTC", 0},        {"GMT", 0},        {"Z", 0},
      {"EST", -5 * 60},  {"EDT", -4 * 60},  {"CST", -6 * 60},  {"CDT", -5 * 60},
      {"MST", -7 * 60},  {"MDT", -6 * 60},  {"PST", -8 * 60},  {"PDT", -7 * 60},
  };
  for (const auto& [name, offset] : kNames) {
    if (absl::EqualsIgnoreCase(absl::string_view(zone.data(), zone.size()),
                               absl::string_view(name.data(), name.size()))) {
      return offset;
    }
  }
  return std::nullopt;
}

bool IsReplyCode(std::string_view token) {
  return token.size() == 3 && AllDigits(token) && (token[0] == '2' || token[0] == '4' ||
                                                   token[0] == '5');
}

bool IsEnhancedStatus(std::string_view token) {
  while (!token.empty() && (token.back() == ',' || token.back() == ';' || token.back() == ':')) {
    token.remove_suffix(1);
  }
  std::vector<std::string_view> parts = Split(token, '.');
  return parts.size() == 3 && parts[0].size() == 1 &&
         (parts[0] == "2" || parts[0] == "4" || parts[0] == "5") && Number(parts[1], 1, 3) &&
         Number(parts[2], 1, 3);
}

}  // namespace

absl::StatusOr<google::protobuf::Timestamp> ParseRfc5322Date(std::string_view text) {
  const absl::Status invalid =
      absl::InvalidArgumentError("not an RFC 5322 date-time (\"Fri, 5 May 2023 17:44:33 -0400\")");
  // A trailing comment: "... +0000 (UTC)".
  if (const size_t paren = text.find('('); paren != std::string_view::npos) {
    text = text.substr(0, paren);
  }
  if (const size_t comma = text.find(','); comma != std::string_view::npos) {
    text = text.substr(comma + 1);  // the optional day name
  }
  std::vector<std::string_view> tokens =
      Split(text, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  if (tokens.size() != 5) return invalid;
  auto day = Number(tokens[0], 1, 2);
  auto month = Month(tokens[1]);
  auto year = Number(tokens[2], 4, 4);
  auto offset = ZoneOffsetMinutes(tokens[4]);
  std::vector<std::string_view> clock = Split(tokens[3], ':');
  if (!day || !month || !year || !offset || clock.size() < 2 || clock.size() > 3) return invalid;
  auto hour = Number(clock[0], 2, 2);
  auto minute = Number(clock[1], 2, 2);
  auto second = clock.size() == 3 ? Number(clock[2], 2, 2) : std::optional<int>(0);
  if (!hour || !minute || !second || *hour > 23 || *minute > 59 || *second > 60) return invalid;
  const absl::CivilSecond civil(*year, *month, *day, *hour, *minute, *second);
  // CivilSecond normalizes out-of-range fields (31 Feb -> 3 Mar): refuse those.
  if (civil.day() != *day || civil.month() != *month) return invalid;
  const absl::Time t = absl::FromCivil(civil, absl::UTCTimeZone()) - absl::Minutes(*offset);
  return ToProtoTimestamp(t);
}

SmtpReply ParseSmtpReply(std::string_view diagnostic) {
  SmtpReply reply;
  if (absl::StartsWithIgnoreCase(absl::string_view(diagnostic.data(), diagnostic.size()),
                                 "smtp;")) {
    diagnostic.remove_prefix(5);
  }
  for (std::string_view token :
       Split(diagnostic, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty())) {
    if (reply.code.empty() && IsReplyCode(token)) reply.code = std::string(token);
    if (reply.enhanced_status.empty() && IsEnhancedStatus(token)) {
      while (!token.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(token.back()))) {
        token.remove_suffix(1);
      }
      reply.enhanced_status = std::string(token);
    }
    if (!reply.code.empty() && !reply.enhanced_status.empty()) break;
  }
  return reply;
}

std::vector<std::string> SplitMessageIds(std::string_view header_value) {
  std::vector<std::string> ids;
  size_t pos = 0;
  while ((pos = header_value.find('<', pos)) != std::string_view::npos) {
    const size_t end = header_value.find('>', pos);
    if (end == std::string_view::npos) break;
    ids.emplace_back(header_value.substr(pos, end - pos + 1));
    pos = end + 1;
  }
  return ids;
}

}  // namespace switchboard::providers
