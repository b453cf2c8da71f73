#include "router/store/redis_url.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace switchboard::store {
namespace {

std::optional<std::string> PercentDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !absl::ascii_isxdigit(in[i + 1]) ||
        !absl::ascii_isxdigit(in[i + 2])) {
      return std::nullopt;
    }
    auto hex = [](char c) { return absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10; };
    out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
    i += 2;
  }
  return out;
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("store.url: ", what));
}

}  // namespace

absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url) {
  constexpr absl::string_view kScheme = "redis://";
  if (absl::StartsWithIgnoreCase(url, "rediss://")) {
    return Invalid(
        "rediss:// (TLS) is not supported by this build's hiredis; reach a TLS server through a "
        "local tunnel (stunnel, spiped) and use redis://127.0.0.1:<port>");
  }
  if (!absl::StartsWithIgnoreCase(url, kScheme)) return Invalid("want redis://host:port/db");
  absl::string_view rest = url.substr(kScheme.size());
  RedisEndpoint endpoint;

  // Path: "/db" (empty or "/" means 0). Query strings are not supported.
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return Invalid("query parameters are not supported");
  }
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    const absl::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty() && (!absl::SimpleAtoi(db, &endpoint.db) || endpoint.db < 0)) {
      return Invalid(absl::StrCat("the database \"", db, "\" is not a number"));
    }
  }

  // User-info: the LAST '@' ends it (a password may contain '@' unencoded).
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    const std::optional<std::string> user = PercentDecode(userinfo.substr(0, colon));
    const std::optional<std::string> password =
        colon == absl::string_view::npos ? std::optional<std::string>("")
                                         : PercentDecode(userinfo.substr(colon + 1));
    if (!user.has_value() || !password.has_value()) {
      return Invalid("bad percent-encoding in the user-info");
    }
    if (colon == absl::string_view::npos) {
      // "redis://secret@host": treated as a password, as redis-cli and most clients do.
      endpoint.password = *user;
    } else {
      endpoint.username = *user;
      endpoint.password = *password;
    }
  }

  // Host and port.
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) return Invalid("unterminated [IPv6] host");
    endpoint.host = std::string(rest.substr(1, close - 1));
    const absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid("junk after the [IPv6] host");
      port = after.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    std::optional<std::string> host = PercentDecode(rest.substr(0, colon));
    if (!host.has_value()) return Invalid("bad percent-encoding in the host");
    endpoint.host = *std::move(host);
    if (colon != absl::string_view::npos) port = rest.substr(colon + 1);
  }
  if (endpoint.host.empty()) return Invalid("the host is empty");
  if (!port.empty() &&
      (!absl::SimpleAtoi(port, &endpoint.port) || endpoint.port < 1 || endpoint.port > 65535)) {
    return Invalid(absl::StrCat("the port \"", port, "\" is not in 1..65535"));
  }
  return endpoint;
}

}  // namespace switchboard::store
