#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/providers/provider.h"
#include "router/providers/source_auth.h"

namespace switchboard::providers {

// Brevo (formerly Sendinblue) webhooks (https://developers.brevo.com/docs/how-to-use-webhooks,
// transactional events: https://developers.brevo.com/docs/transactional-webhooks, inbound parsing:
// https://developers.brevo.com/docs/inbound-parse-webhooks).
//
// Verify: Brevo signs nothing; a webhook can carry basic auth credentials, a bearer token
// ("auth": {"type": "bearer", "token": ...}) or custom headers. The source's SourceAuth options are
// the scheme; at least one is required.
//
// Decode: one event object, or an array of them (batched webhooks); raw = each element's bytes.
// event -> type: request -> SENT, delivered -> DELIVERED, deferred -> DEFERRED, hard_bounce ->
// BOUNCED HARD, soft_bounce -> BOUNCED SOFT, blocked/invalid_email/invalid/error -> DROPPED,
// spam/complaint -> COMPLAINED, opened/unique_opened -> OPENED, proxy_open/unique_proxy_open ->
// OPENED with open.machine_open, click -> CLICKED (link), unsubscribed/unsubscribe -> UNSUBSCRIBED,
// anything else (list_addition, contact_updated, ...) -> UNKNOWN. reason -> bounce.diagnostic and
// its SMTP code / enhanced status.
// occurred_at, first present of: ts_epoch (documented as Unix milliseconds; a value of 11 digits
// or fewer is read as seconds, as one published sample sends), s_epoch (milliseconds, as some
// samples spell it), ts_event (seconds), ts (seconds); else received_at. `date` is never read: it
// is Brevo's local time without a zone (Europe/Paris in the samples: request.json has date
// "2018-03-06 11:10:23" for ts 1520331023 = 10:10:23 UTC).
// Brevo has no event id ("id" is the webhook's id), so provider_event_key is the composite
// "<message-id>|<event>|<the timestamp text used>" (click: "|<link>" appended).
// tags (array) or else tag (string or array) -> tags; X-Mailin-custom -> metadata.
// Inbound parsing ({"items": [...]}) -> one RECEIVED per To and Cc address of each item (Brevo
// gives no envelope recipient), inbound.{from (From.Address), to, cc, subject, text (RawTextBody),
// html (RawHtmlBody), in_reply_to (InReplyTo), references (Headers.References), message_key
// (MessageId)}, occurred_at from SentAtDate, provider_event_key "inbound|<MessageId>", raw = the
// whole body (the items are not split byte-exactly).
// An empty array or items list decodes to control "empty-batch".
// kInvalidArgument: not JSON, an element that is not an object, an event without "event", a
// timestamp that is not decimal, an unparsable address.
//
// Thread-safe after construction.
class BrevoProvider final : public Provider {
 public:
  // kInvalidArgument naming the field: no auth option configured, or an invalid one.
  static absl::StatusOr<std::unique_ptr<BrevoProvider>> Create(const config::SourceConfig& source,
                                                               std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool UsesBasicAuth() const override { return auth_.uses_basic_auth(); }

 private:
  BrevoProvider(std::string source, SourceAuth auth)
      : source_(std::move(source)), auth_(std::move(auth)) {}

  const std::string source_;
  const SourceAuth auth_;
};

}  // namespace switchboard::providers
