#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace switchboard::store {

// Where a Redis server is and how to log in.
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH <password> (the "default" user)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECT <db>
};

// Parses `redis://[[username]:password@]host[:port][/db]` (the IANA "redis" URI scheme,
// https://www.iana.org/assignments/uri-schemes/prov/redis). The user-info and the host may be
// percent-encoded; an IPv6 host is written in brackets. `rediss://` (TLS) is refused with
// kInvalidArgument: Debian's hiredis has no TLS, so a TLS server is reached through a local tunnel
// (README "Scaling out on Redis"). Errors never echo the password.
absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url);

}  // namespace switchboard::store
