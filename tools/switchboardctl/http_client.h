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

// POSTs `body` to an http:// or https:// URL (HTTP/1.1, one connection, 10 s timeout).
// https: TLS 1.2 or later; the server's certificate must chain to `ca_file` (PEM CA
// certificates) or, when `ca_file` is empty, to the system's trusted CAs, and must name the URL's
// host (RFC 2818 / RFC 6125 host name check; SNI is sent).
// kInvalidArgument: not an http(s) URL, or `ca_file` cannot be read; kUnavailable: connection,
// TLS handshake (e.g. certificate verify failed) or I/O failure.
absl::StatusOr<HttpResult> HttpPost(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, const std::string& ca_file = "");

}  // namespace switchboard::ctl
