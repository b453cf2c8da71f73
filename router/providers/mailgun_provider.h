#pragma once

#include <cstdint>
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

// Mailgun webhooks, legacy webhooks and inbound routes.
// Scheme: https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks
// Payloads: https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#webhooks
// (event-data as in https://documentation.mailgun.com/docs/mailgun/user-manual/events/), inbound:
// https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/#receiving-messages-via-http-through-a-forward-action
//
// Three body shapes, told apart by Content-Type (a missing one: a body starting with '{' is JSON,
// anything else a urlencoded form):
//   application/json                   {"signature":{timestamp,token,signature},"event-data":{...}}
//   application/x-www-form-urlencoded  legacy webhooks: timestamp, token, signature + event fields
//   multipart/form-data                legacy webhooks with attachments, and inbound routes
//                                      (timestamp, token, signature + recipient, sender, from,
//                                      subject, body-plain, body-html, message-headers, ... or
//                                      body-mime)
//
// Verify: signature = lower-case hex HMAC-SHA256 keyed with the signing key's ASCII bytes
// (`signing_key`, not decoded) over timestamp + token (no separator). The timestamp (Unix seconds)
// must lie inside `tolerance` (default 8 h, both directions: Mailgun retries a failed webhook for
// 8 hours and documents no re-signing; zero disables) and the dedupe window. kUnauthenticated: a
// body whose signature fields cannot be read, a field missing or repeated, a signature that is not
// hex, a timestamp outside the window, or a MAC that does not match (constant-time).
// The signature does not cover the body: Decode returns a ReplayGuard (key = source + token, the
// body's SHA-256, ttl = twice the window) that the ingress checks against the store, so a token
// replayed with another body is refused.
//
// Decode, one event per recipient:
//   event-data.event -> type: accepted->SENT, delivered->DELIVERED, failed with severity temporary
//   ->DEFERRED, failed permanent with reason suppress-* (suppress-bounce, -unsubscribe,
//   -complaint) ->DROPPED, other failed permanent ->BOUNCED (class HARD), rejected->DROPPED,
//   opened, clicked, unsubscribed, complained, stored->RECEIVED (a message a route stored), any
//   other ->UNKNOWN. Legacy form `event`: delivered, dropped->DROPPED, bounced->BOUNCED (HARD),
//   opened, clicked, unsubscribed, complained. Inbound route posts (no `event` field) ->RECEIVED.
//   Recipient: event-data.recipient; without it (stored) each of message.recipients; without both
//   (rejected) an event without recipient. Inbound: each address of `recipient` (comma list).
//   occurred_at: event-data.timestamp (float seconds, every digit kept); legacy and inbound: the
//   signed timestamp.
//   provider_event_key: event-data.id; without one (older payloads) the composite
//   message-id + "|" + event + "|" + timestamp text; legacy: Message-Id|event|timestamp; inbound:
//   the Message-Id header, else "inbound|" + timestamp + "|" + token.
//   Inbound (routes, forward() "fully parsed"): sender, subject, inbound.{from (as posted),
//   subject, text = body-plain, html = body-html, to / cc (the To / Cc values of
//   message-headers, split at commas, as written), in_reply_to, references, spf / dkim (first word
//   of X-Mailgun-Spf / X-Mailgun-Dkim-Check-Result, lower-cased)}; inbound.attachments: one per
//   attachment-x file part (filename, its Content-Type, size, SHA-256, content_id from
//   content-id-map without angle brackets), the bytes in content up to the source's
//   inline_attachments_max, else stored = true and the bytes in DecodeResult::stored_attachments.
//   Raw MIME route posts (a route URL ending in "mime": recipient, sender, from, subject and
//   body-mime, the whole message): body-mime is parsed with GMime (gmime_util.h) and gives the
//   same fields, the header values from the message's own headers, text / html from its first
//   text/plain and text/html parts that are not attachments, and one attachment per other part
//   that carries content (decoded bytes), inline or stored as above. Empty or unreadable
//   body-mime: kInvalidArgument.
//   Legacy webhooks with attachment-x file parts (a bounce's attachments): described in
//   inbound.attachments the same way (the other inbound fields stay empty).
//   Bounce (BOUNCED, DROPPED, DEFERRED): smtp_code = delivery-status.code, enhanced_status =
//   delivery-status.enhanced-code (or bounce-code), diagnostic = delivery-status.message (else
//   description, else reject.reason), provider_type = reason.
//   message_id = message.headers.message-id; sender = envelope.sender; subject; tags;
//   user-variables -> metadata; click url; ip; client-info.user-agent; raw = the whole body.
// kInvalidArgument: not JSON / form / multipart as above, no event-data object, no event or
// timestamp, a timestamp that is not decimal seconds. A signed body without event-data (Mailgun's
// "test webhook" of the signature only, the mailgun-php vectors) is control "signature-only".
//
// Thread-safe after construction.
class MailgunProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultTolerance = absl::Hours(8);

  // kInvalidArgument naming `<field_path>.signing_key` (missing) or `.tolerance` (negative).
  static absl::StatusOr<std::unique_ptr<MailgunProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration());

  // The signature Mailgun sends for `timestamp` and `token` (lower-case hex).
  static absl::StatusOr<std::string> Sign(std::string_view signing_key, std::string_view timestamp,
                                          std::string_view token);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return tolerance_; }

 private:
  MailgunProvider(std::string source, std::string key, absl::Duration tolerance,
                  absl::Duration replay_horizon, uint64_t inline_attachments_max,
                  const Clock& clock)
      : source_(std::move(source)),
        key_(std::move(key)),
        tolerance_(tolerance),
        replay_horizon_(replay_horizon),
        inline_attachments_max_(inline_attachments_max),
        clock_(clock) {}

  // How long a token must be remembered: twice the window a signed timestamp is accepted in.
  absl::Duration TokenTtl() const;

  const std::string source_;
  const std::string key_;
  const absl::Duration tolerance_;
  const absl::Duration replay_horizon_;
  const uint64_t inline_attachments_max_;
  const Clock& clock_;
};

}  // namespace switchboard::providers
