#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/config/config.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// SendGrid Event Webhook with signature verification
// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features,
//  payload: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event).
//
// Verify: ECDSA P-256 / SHA-256 over X-Twilio-Email-Event-Webhook-Timestamp + the raw body bytes
// (no separator, CR LF kept); X-Twilio-Email-Event-Webhook-Signature is the strict base64 of the DER
// signature. kUnauthenticated: a missing or repeated header, a signature that is not strict base64
// or does not verify, or a timestamp that is not decimal seconds or is outside the tolerance
// window (both directions). The default window is 24 h, SendGrid's retry horizon: SendGrid may
// re-send the first attempt's signature, and dedupe turns a replay inside the window into a
// duplicate. Zero disables the window.
//
// Decode: a JSON array of events (a bare object is accepted as one event, as some docs samples
// are); one EmailEvent per element, raw = that element's exact bytes. Event names are matched
// case-insensitively: processed->SENT, delivered, deferred, bounce->BOUNCED (type "blocked" ->
// BLOCK, else HARD; status -> enhanced_status, reason -> diagnostic, leading 3-digit reply code ->
// smtp_code), dropped, open (sg_machine_open -> open.machine_open), click, spamreport->COMPLAINED,
// unsubscribe and group_unsubscribe->UNSUBSCRIBED, group_resubscribe->RESUBSCRIBED, else UNKNOWN.
// provider_event_key = sg_event_id; where it is absent, the composite
// "<sg_message_id>|<event>|<timestamp text>" (an absent part is empty). timestamp is Unix seconds;
// a 13-digit value is milliseconds (Marketing Single Send samples). message_id = sg_message_id,
// else smtp-id. category (string or array) -> tags; unique_args members and non-reserved top-level
// keys with scalar values -> metadata (numbers by their exact text). An empty array decodes to no
// events with control "empty-batch". kInvalidArgument: not JSON, an element that is not an object,
// or an element without a usable email/event/timestamp.
//
// Thread-safe after construction.
class SendgridProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultTolerance = absl::Hours(24);

  // kInvalidArgument naming `<field_path>.public_key` (missing, not an EC P-256 key in base64 DER
  // or PEM) or `<field_path>.tolerance` (negative). `clock` must outlive the provider.
  // `replay_horizon` (the dedupe window) bounds a signed timestamp's age even when the
  // tolerance window is off.
  static absl::StatusOr<std::unique_ptr<SendgridProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration());

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return tolerance_; }

 private:
  SendgridProvider(std::string source, crypto::EcdsaP256PublicKey key, absl::Duration tolerance,
                   absl::Duration replay_horizon,
                   const Clock& clock)
      : source_(std::move(source)), key_(std::move(key)), tolerance_(tolerance),
        replay_horizon_(replay_horizon), clock_(clock) {}

  const std::string source_;
  const crypto::EcdsaP256PublicKey key_;
  const absl::Duration tolerance_;  // zero: no window
  const absl::Duration replay_horizon_;  // the dedupe window
  const Clock& clock_;
};

}  // namespace switchboard::providers
