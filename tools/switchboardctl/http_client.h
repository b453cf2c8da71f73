#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace switchboard::ctl {

struct HttpResult {
  int status = 0;
  std::string body;
};

// POSTs `body` to an http:// or https:// URL (HTTP/1.1, one connection). `timeout` (positive,
// finite) bounds the whole exchange: the host name lookup, connect, TLS handshake, writing the
// request and reading the answer together (a name server or a server that never answers ends in
// kUnavailable with "timeout" in the message once it has passed).
// https: TLS 1.2 or later; the server's certificate must chain to `ca_file` (PEM CA
// certificates) or, when `ca_file` is empty, to the system's trusted CAs, and must name the URL's
// host (RFC 2818 / RFC 6125 host name check; SNI is sent).
// kInvalidArgument: not an http(s) URL, or `ca_file` cannot be read; kUnavailable: connection,
// TLS handshake (e.g. certificate verify failed), I/O failure or the timeout.
absl::StatusOr<HttpResult> HttpPost(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    const std::string& body, const std::string& ca_file = "",
                                    absl::Duration timeout = absl::Seconds(10));

}  // namespace switchboard::ctl
