#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Standard Webhooks (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/
// standard-webhooks.md), as sent by Svix for Resend, AgentMail and others.
//
// Verify: signed content = webhook-id + "." + webhook-timestamp + "." + raw body; HMAC-SHA256 keyed
// with the base64-decoded secret. `webhook-signature` holds space-separated "v1,<base64>" entries;
// the request is authentic if any v1 entry equals the MAC under any configured secret (rotation),
// compared in constant time. Other versions and empty/undecodable entries never match. The svix-*
// header names are accepted in place of webhook-*. kUnauthenticated: a missing, repeated or
// conflicting id/timestamp/signature header, a timestamp that is not decimal seconds or is outside
// the tolerance window (both directions; default 5 minutes, zero disables), or no matching entry.
//
// Decode, by `vendor`:
//   resend    (https://resend.com/docs/dashboard/webhooks/event-types): `email.*` events, one
//             EmailEvent per data.to entry; provider "resend".
//   agentmail (https://docs.agentmail.to/webhooks-events): `message.*` events, one EmailEvent per
//             recipient; provider "agentmail".
//   ""        any JSON object: one EVENT_TYPE_UNKNOWN event without recipient; provider
//             "standard-webhooks".
// provider_event_key is the webhook-id header for every vendor (the spec's idempotency key; Svix
// keeps it across retries). raw is the exact body, raw_format JSON.
//
// Thread-safe after construction.
class StandardWebhooksProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultTolerance = absl::Minutes(5);
  static constexpr size_t kMinSecretBytes = 16;

  // `field_path` names the source in errors, e.g. "sources[2]" -> "sources[2].secrets[0]: ...".
  // kInvalidArgument: no secrets, a secret that is not "whsec_<base64>" or bare strict base64 of at
  // least 16 bytes, an unknown vendor, or a negative tolerance. `clock` must outlive the provider.
  // `replay_horizon` (the dedupe window) bounds a signed timestamp's age even when the
  // tolerance window is off.
  static absl::StatusOr<std::unique_ptr<StandardWebhooksProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration());

  // The HMAC key of a configured secret ("whsec_<base64>" or bare base64). kInvalidArgument if it
  // is not strict base64 or shorter than kMinSecretBytes once decoded.
  static absl::StatusOr<std::string> DecodeSecret(std::string_view secret);

  // The "v1,<base64>" signature entry for one message (what a sender puts in webhook-signature).
  static absl::StatusOr<std::string> Sign(std::string_view key, std::string_view id,
                                          std::string_view timestamp, std::string_view body);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return tolerance_; }

 private:
  enum class Vendor { kGeneric, kResend, kAgentMail };

  StandardWebhooksProvider(std::string source, Vendor vendor, std::vector<std::string> keys,
                           absl::Duration tolerance, absl::Duration replay_horizon,
                           const Clock& clock)
      : source_(std::move(source)),
        vendor_(vendor),
        keys_(std::move(keys)),
        tolerance_(tolerance),
        replay_horizon_(replay_horizon),
        clock_(clock) {}

  const std::string source_;
  const Vendor vendor_;
  const std::vector<std::string> keys_;  // decoded HMAC keys
  const absl::Duration tolerance_;       // zero: no window
  const absl::Duration replay_horizon_;  // the dedupe window
  const Clock& clock_;
};

}  // namespace switchboard::providers
