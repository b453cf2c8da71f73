#pragma once

#include <map>
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

// The generic HMAC profile (issue 3): for any sender that signs its webhooks with a shared secret.
//
// Verify: the signed content is `signed` with {body} = the raw body, {timestamp} = the value of
// `timestamp_header`, {id} = the value of `id_header` (e.g. "{timestamp}.{body}"); the MAC is
// HMAC-`algorithm` (sha1 | sha256 | sha512) keyed with `secret` as raw bytes, written in `header`
// as `prefix` + hex (either case) or strict base64 of the MAC. With `timestamp_header` the
// timestamp (Unix seconds) must be inside `tolerance` (default 5 min, both ways; zero disables) and
// the dedupe window. kUnauthenticated: a header missing or repeated, the prefix missing, an
// undecodable signature, a timestamp outside the window, or a MAC mismatch (constant-time).
//
// Decode: a JSON object, or an array of objects (one event each). Fields are read by JSON Pointer
// (RFC 6901) from `mapping`: id, type, recipient (a string or an array of strings: one event per
// address), occurred_at (Unix seconds, 13-digit milliseconds, or RFC 3339), message_id, metadata
// (an object whose scalar members become metadata). The provider's type string is looked up in
// `types` (provider type -> lowercase event type name); unmapped -> UNKNOWN. provider_event_key:
// the id field, else the `id_header` value (plus "#<index>" inside a batch), else the hex SHA-256
// of the event's exact bytes. occurred_at defaults to the signed timestamp, else the receive time.
// provider = "generic-hmac". kInvalidArgument: not JSON objects; an occurred_at that is not a time.
//
// Thread-safe after construction.
class GenericHmacProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultTolerance = absl::Minutes(5);

  // kInvalidArgument naming the field under `field_path`: no secret or header, an unknown
  // algorithm / encoding, a `signed` template with a placeholder other than {body}, {timestamp},
  // {id} (or {timestamp}/{id} without its header), a mapping key outside the list above or a value
  // that is not a JSON Pointer, a `types` value that is not an event type name, a negative
  // tolerance.
  static absl::StatusOr<std::unique_ptr<GenericHmacProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration());

  // The header value a sender configured like `options` puts on `body`.
  static absl::StatusOr<std::string> Sign(const config::SourceConfig::GenericHmac& options,
                                          std::string_view timestamp, std::string_view id,
                                          std::string_view body);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return tolerance_; }

 private:
  GenericHmacProvider(std::string source, config::SourceConfig::GenericHmac options,
                      std::map<std::string, v1::EventType, std::less<>> types,
                      absl::Duration tolerance, absl::Duration replay_horizon, const Clock& clock)
      : source_(std::move(source)),
        options_(std::move(options)),
        types_(std::move(types)),
        tolerance_(tolerance),
        replay_horizon_(replay_horizon),
        clock_(clock) {}

  const std::string source_;
  const config::SourceConfig::GenericHmac options_;
  const std::map<std::string, v1::EventType, std::less<>> types_;
  const absl::Duration tolerance_;
  const absl::Duration replay_horizon_;
  const Clock& clock_;
};

}  // namespace switchboard::providers
