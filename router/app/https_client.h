#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace switchboard::app {

struct HttpsGetOptions {
  absl::Duration timeout = absl::Seconds(5);  // the whole exchange: resolve, connect, TLS, read
  size_t max_body = 64 << 10;
};

// One blocking HTTPS GET with Boost.Beast + OpenSSL, for the few outbound calls the router makes
// (SNS signing certificates, SNS subscription confirmations); call it off the ingress io threads.
// The server certificate is verified against the system CA store and must name the URL's host
// (SNI set). Redirects are not followed: only a 200 answer is a success.
// Returns the response body.
// kInvalidArgument: `url` is not an absolute https URL with a host.
// kUnavailable:     resolve/connect/TLS/IO failure, a timeout, a non-200 status (a 3xx included),
//                   or a body over `max_body`; the message says which.
absl::StatusOr<std::string> HttpsGet(std::string_view url, const HttpsGetOptions& options = {});

}  // namespace switchboard::app
