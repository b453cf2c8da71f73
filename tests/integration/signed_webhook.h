#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "router/config/config.h"
#include "switchboard/v1/email_event.pb.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {

// The "resend" source's Standard Webhooks secret and the "audit" agent's token in
// ResendAuditConfig.
inline constexpr char kResendSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr char kAuditToken[] = "audit-token-0123456789";

// A router config: `http: { listen: "127.0.0.1:0", <http_fields> }`, gRPC on 127.0.0.1:0, the
// embedded store in ./data, the source "resend" (kResendSecret, tolerance 5m), the agent "audit"
// (kAuditToken) and one rule that sends it every event.
std::string ResendAuditConfig(const std::string& http_fields);

// The source a config declares as
// `{ name: resend, provider: standard-webhooks, vendor: resend, secrets: [<secret>] }`: what
// ctl::SignWebhook signs Resend webhooks with (Standard Webhooks, "whsec_" secrets).
config::SourceConfig ResendSource(const std::string& secret = kResendSecret);

// A webhook's JSON body and the headers that sign it (webhook-id, webhook-timestamp,
// webhook-signature, content-type), ready to POST.
struct SignedWebhook {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A Resend webhook of `type` to `to` with message id `id` (ctl::SamplePayload), signed at
// `signed_at` with the Standard Webhooks `secret` of ResendSource(secret) (ctl::SignWebhook).
// kInvalidArgument when ctl::SamplePayload has no Resend sample of `type`, or the signer refuses
// `secret`.
absl::StatusOr<SignedWebhook> SignResendEvent(const std::string& secret, v1::EventType type,
                                              const std::string& id, const std::string& to,
                                              absl::Time signed_at = absl::Now());

// A Resend "email.delivered" webhook to ann@example.com with message id `id`, signed now with
// `secret` (SignResendEvent; `secret` must be a valid "whsec_" secret).
SignedWebhook SignResendWebhook(const std::string& secret, const std::string& id);

// POSTs `webhook` to /v1/webhooks/<source> of `router`: the HTTP status, or -1 without an answer.
int PostWebhook(const RouterProcess& router, const SignedWebhook& webhook,
                const std::string& source = "resend");

// Posts a Resend event of `type` to `to` with message id `id`, signed now with `secret`, to the
// "resend" source of `router`: the HTTP status; -1 without an answer, -2 when it cannot be signed
// (SignResendEvent's errors).
int PostResendEvent(const RouterProcess& router, v1::EventType type, const std::string& id,
                    const std::string& to, const std::string& secret = kResendSecret);

// The head of `POST /v1/webhooks/resend HTTP/1.1` with `webhook`'s headers and
// `Content-Length: content_length`, ending with the blank line.
std::string RequestHead(const SignedWebhook& webhook, size_t content_length);

}  // namespace switchboard::testing
