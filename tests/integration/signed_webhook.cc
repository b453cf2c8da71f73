#include "tests/integration/signed_webhook.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "router/config/config.h"
#include "tools/switchboardctl/http_client.h"
#include "tools/switchboardctl/sample_payloads.h"
#include "tools/switchboardctl/webhook_signer.h"

namespace switchboard::testing {

std::string ResendAuditConfig(const std::string& http_fields) {
  return absl::StrCat(R"(
http:  { listen: "127.0.0.1:0")",
                      http_fields.empty() ? "" : ", ", http_fields, R"( }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets: [")",
                      kResendSecret, R"("], tolerance: 5m }
agents:
  - { name: audit, tokens: [")",
                      kAuditToken, R"("] }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
)");
}

config::SourceConfig ResendSource(const std::string& secret) {
  config::SourceConfig source;
  source.name = "resend";
  source.provider = "standard-webhooks";
  source.vendor = "resend";
  source.secrets = {secret};
  return source;
}

absl::StatusOr<SignedWebhook> SignResendEvent(const std::string& secret, v1::EventType type,
                                              const std::string& id, const std::string& to,
                                              absl::Time signed_at) {
  absl::StatusOr<std::string> body =
      ctl::SamplePayload("standard-webhooks", "resend", type, to, signed_at, id);
  if (!body.ok()) return body.status();
  absl::StatusOr<ctl::Headers> headers =
      ctl::SignWebhook(ResendSource(secret), {*body, signed_at, id, ""});
  if (!headers.ok()) return headers.status();
  return SignedWebhook{*std::move(body), *std::move(headers)};
}

SignedWebhook SignResendWebhook(const std::string& secret, const std::string& id) {
  return *SignResendEvent(secret, v1::EVENT_TYPE_DELIVERED, id, "ann@example.com");
}

int PostWebhook(const RouterProcess& router, const SignedWebhook& webhook,
                const std::string& source) {
  auto result = ctl::HttpPost(router.webhook_url(source), webhook.headers, webhook.body);
  return result.ok() ? result->status : -1;
}

int PostResendEvent(const RouterProcess& router, v1::EventType type, const std::string& id,
                    const std::string& to, const std::string& secret) {
  absl::StatusOr<SignedWebhook> webhook = SignResendEvent(secret, type, id, to);
  if (!webhook.ok()) return -2;
  return PostWebhook(router, *webhook);
}

std::string RequestHead(const SignedWebhook& webhook, size_t content_length) {
  std::string head = "POST /v1/webhooks/resend HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [name, value] : webhook.headers) {
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&head, "Content-Length: ", content_length, "\r\n\r\n");
  return head;
}

}  // namespace switchboard::testing
