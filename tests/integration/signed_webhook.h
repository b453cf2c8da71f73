#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::testing {

// The "resend" source's Standard Webhooks secret and the "audit" agent's token in
// ResendAuditConfig.
inline constexpr char kResendSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr char kAuditToken[] = "audit-token-0123456789";

// A router config: `http: { listen: "127.0.0.1:0", <http_fields> }`, gRPC on 127.0.0.1:0, the
// embedded store in ./data, the source "resend" (kResendSecret, tolerance 5m), the agent "audit"
// (kAuditToken) and one rule that sends it every event.
std::string ResendAuditConfig(const std::string& http_fields);

// A Resend "email.delivered" webhook to ann@example.com with message id `id`, signed now with the
// Standard Webhooks `secret` (ctl::SamplePayload + ctl::SignWebhook), for a config that declares
// `{ name: resend, provider: standard-webhooks, vendor: resend, secrets: [<secret>] }`.
struct SignedWebhook {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};
SignedWebhook SignResendWebhook(const std::string& secret, const std::string& id);

// The head of `POST /v1/webhooks/resend HTTP/1.1` with `webhook`'s headers and
// `Content-Length: content_length`, ending with the blank line.
std::string RequestHead(const SignedWebhook& webhook, size_t content_length);

}  // namespace switchboard::testing
