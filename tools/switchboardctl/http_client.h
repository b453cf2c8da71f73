#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace switchboard::ctl {

struct HttpResult {
  int status = 0;
  std::string body;
};

// POSTs `body` to an http:// URL (HTTP/1.1, one connection, 10 s timeout).
// kInvalidArgument: not an http URL; kUnavailable: connection or I/O failure.
absl::StatusOr<HttpResult> HttpPost(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body);

}  // namespace switchboard::ctl
