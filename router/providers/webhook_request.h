#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace switchboard::providers {

// One HTTP request as the ingress received it: method, target, headers in arrival order with
// lower-cased names, and the exact body bytes (never re-serialized: signatures cover them).
struct WebhookRequest {
  std::string source;  // the {source} path segment
  std::string method;  // "POST", "GET", "HEAD"
  std::string target;  // request target as received, e.g. "/v1/webhooks/resend?x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  absl::Time received_at;

  // The value of header `name` (case-insensitive). nullopt if absent.
  // REQUIRES: callers that authenticate with a header use CountHeader() to refuse duplicates.
  std::optional<std::string_view> Header(std::string_view name) const {
    // Debian's absl 20220623 has its own string_view, so std::string_view is converted explicitly.
    const absl::string_view key(name.data(), name.size());
    for (const auto& [n, v] : headers) {
      if (absl::EqualsIgnoreCase(n, key)) return std::string_view(v);
    }
    return std::nullopt;
  }
  int CountHeader(std::string_view name) const {
    const absl::string_view key(name.data(), name.size());
    int n = 0;
    for (const auto& h : headers) n += absl::EqualsIgnoreCase(h.first, key) ? 1 : 0;
    return n;
  }
};

}  // namespace switchboard::providers
