#pragma once

#include "absl/status/status.h"

namespace switchboard {

// The one mapping from absl::Status to the HTTP status code the ingress answers. Providers read
// these codes, so they are a contract (DESIGN.md "Status codes on the ingress"):
//   OK                                         200
//   kInvalidArgument                           400  malformed envelope
//   kUnauthenticated                           401  bad/missing signature or credentials
//   kPermissionDenied                          403
//   kNotFound                                  404  unknown source
//   kUnavailable, kResourceExhausted,
//   kDeadlineExceeded, kAborted                503  transient: the provider retries (never a
//                                                   4xx, not even 429: SNS takes 4xx as delivered)
//   anything else                              500
int HttpStatusFromStatus(const absl::Status& status);

// True for HTTP status codes that ask the sender to retry later (they carry Retry-After).
inline bool IsRetryableHttpStatus(int http_status) { return http_status == 503; }

}  // namespace switchboard
