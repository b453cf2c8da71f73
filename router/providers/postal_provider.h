#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/common/crypto.h"
#include "router/config/config.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Postal (https://docs.postalserver.io/developer/webhooks, HTTP endpoint payloads
// https://docs.postalserver.io/developer/http-payloads).
//
// Verify: Postal signs the raw body with its RSA signing key, PKCS#1 v1.5, base64:
// X-Postal-Signature-256 over SHA-256 (Postal 3) and X-Postal-Signature over SHA-1 (every
// version). When the SHA-256 header is present only it is checked (no downgrade to SHA-1); else
// the SHA-1 one. The public key (`public_key`) is PEM, base64 DER, or the DKIM-style record
// "v=DKIM1; t=s; h=sha256; p=..." the Postal UI shows. kUnauthenticated: neither header, a
// repeated one, not strict base64, or a signature that does not verify. Postal signs no timestamp:
// a replayed request is a duplicate by its uuid (dedupe window).
//
// Decode: a webhook {"event", "timestamp" (float seconds), "payload", "uuid"}:
// MessageSent->DELIVERED (the remote server accepted it), MessageDelayed->DEFERRED,
// MessageDeliveryFailed->BOUNCED (HARD: the remote server refused it permanently),
// MessageHeld->DROPPED, MessageBounced->BOUNCED (UNDETERMINED: Postal does not classify the bounce
// message), MessageLinkClicked->CLICKED, MessageLoaded->OPENED, anything else (DomainDNSError,
// newer events) -> UNKNOWN without recipient. A payload with a "bounce" object is a bounce
// whatever the event name (django-anymail's MessageDelayed sample). The recipient is
// payload.message.to (or original_message.to); occurred_at is payload.timestamp when given (the
// delivery attempt), else the envelope timestamp, every fractional digit kept; provider_event_key
// is the envelope uuid (Postal keeps it across retries). Status payloads: status ->
// bounce.provider_type, output -> diagnostic and its reply code -> smtp_code.
// An inbound HTTP-endpoint post (no envelope) is RECEIVED: the "processed" format gives one event
// for rcpt_to with the inbound fields; the "raw" format ({id, message, base64}: the message
// base64-encoded, line breaks allowed, when base64 is true) is read with GMime: one event per
// distinct recipient, the envelope rcpt_to when the post names it, else the message's To then Cc
// mailboxes; inbound from/to/cc/subject/in_reply_to/references from its headers, occurred_at its
// Date (else received_at), message_id and inbound.message_key its Message-ID (else Postal's id),
// shared by the recipients' events. A raw message that does not decode or has no recipient gives
// one event without recipient (the post is kept in raw either way). Their key is "inbound:" +
// Postal's message id. kInvalidArgument: not a JSON object, or neither shape.
//
// Thread-safe after construction.
class PostalProvider final : public Provider {
 public:
  // kInvalidArgument naming `<field_path>.public_key`: missing or not an RSA public key.
  static absl::StatusOr<std::unique_ptr<PostalProvider>> Create(const config::SourceConfig& source,
                                                                std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;

 private:
  PostalProvider(std::string source, crypto::RsaPublicKey key)
      : source_(std::move(source)), key_(std::move(key)) {}

  const std::string source_;
  const crypto::RsaPublicKey key_;
};

}  // namespace switchboard::providers
