#include "tests/integration/signed_webhook.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "router/config/config.h"
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

SignedWebhook SignResendWebhook(const std::string& secret, const std::string& id) {
  config::SourceConfig source;
  source.name = "resend";
  source.provider = "standard-webhooks";
  source.vendor = "resend";
  source.secrets = {secret};
  const absl::Time now = absl::Now();
  SignedWebhook webhook;
  webhook.body = *ctl::SamplePayload("standard-webhooks", "resend", v1::EVENT_TYPE_DELIVERED,
                                     "ann@example.com", now, id);
  webhook.headers = *ctl::SignWebhook(source, {webhook.body, now, id, ""});
  return webhook;
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
