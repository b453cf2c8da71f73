#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Customer.io reporting webhooks
// (https://customer.io/docs/api/webhooks/#section/Securely-verifying-requests, events
// https://customer.io/docs/api/webhooks/#operation/reportingWebhook).
//
// Verify: X-CIO-Signature = lower-case hex HMAC-SHA256 keyed with the signing key's ASCII bytes
// (`signing_key`; it looks like hex but is not decoded) over "v0:" + X-CIO-Timestamp + ":" + raw
// body; an optional "v0=" prefix on the signature is accepted (client libraries send it). The
// timestamp (Unix seconds) must be inside `tolerance` (default 5 min, both directions; zero
// disables) and the dedupe window. kUnauthenticated: a header missing or repeated, a signature that
// is not hex, a timestamp outside the window, or a MAC that does not match (constant-time).
//
// Decode: one JSON object {event_id, object_type, metric, timestamp (Unix seconds), data{...}}.
// Metric -> type: sent->SENT, delivered->DELIVERED, attempted and deferred->DEFERRED,
// bounced->BOUNCED, dropped, failed and undeliverable->DROPPED, opened->OPENED, clicked and
// human_clicked->CLICKED, spammed->COMPLAINED, unsubscribed->UNSUBSCRIBED, subscribed->RESUBSCRIBED,
// anything else (drafted, converted, newer ones) -> UNKNOWN. Bounce class from the reply code in
// data.failure_message: 5xx HARD, 4xx SOFT, else UNDETERMINED. Recipient: data.recipient (email),
// else data.email_address; a recipient that is not an address (push, SMS) goes to
// metadata["recipient"] and the event has none. provider_event_key = event_id; message_id =
// data.delivery_id; click url = data.href; data.identifiers and the scalar data members
// (customer_id, campaign_id, ...) -> metadata; object_type -> metadata["object_type"].
// kInvalidArgument: not a JSON object, or no event_id / metric / timestamp.
//
// Thread-safe after construction.
class CustomerioProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultTolerance = absl::Minutes(5);

  // kInvalidArgument naming `<field_path>.signing_key` (missing) or `.tolerance` (negative).
  static absl::StatusOr<std::unique_ptr<CustomerioProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration());

  // The X-CIO-Signature value Customer.io sends for `body` at `timestamp`.
  static absl::StatusOr<std::string> Sign(std::string_view signing_key, std::string_view timestamp,
                                          std::string_view body);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return tolerance_; }

 private:
  CustomerioProvider(std::string source, std::string key, absl::Duration tolerance,
                     absl::Duration replay_horizon, const Clock& clock)
      : source_(std::move(source)),
        key_(std::move(key)),
        tolerance_(tolerance),
        replay_horizon_(replay_horizon),
        clock_(clock) {}

  const std::string source_;
  const std::string key_;
  const absl::Duration tolerance_;
  const absl::Duration replay_horizon_;
  const Clock& clock_;
};

}  // namespace switchboard::providers
