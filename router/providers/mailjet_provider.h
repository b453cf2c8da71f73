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

// Mailjet Event API and Parse API webhooks (https://dev.mailjet.com/email/guides/webhooks/,
// event payloads: https://dev.mailjet.com/email/guides/webhooks/#event-types, inbound:
// https://dev.mailjet.com/email/guides/parse-api/).
//
// Verify: Mailjet signs nothing; the documented protection is basic auth in the webhook URL
// (https://user:pass@host/...), which Mailjet sends as an Authorization: Basic header. The source's
// SourceAuth options are the scheme; at least one is required.
//
// Decode: a single event object (webhooks without "group events") or an array of them (grouped,
// Version 2); raw = each element's exact bytes. event -> type: sent -> DELIVERED (Mailjet's "sent"
// means the receiving server accepted it), open -> OPENED, click -> CLICKED (url), bounce ->
// BOUNCED, blocked -> DROPPED, spam -> COMPLAINED, unsub -> UNSUBSCRIBED, anything else UNKNOWN.
// Bounce class: hard_bounce true -> HARD; else error_related_to "spam"/"content" -> BLOCK; else
// hard_bounce false -> SOFT (greylisting, mailbox full); absent -> UNDETERMINED. error ->
// provider_type, comment (else error) -> diagnostic.
// time is Unix seconds. MessageID exceeds 2^53 (19421777835146490): it is kept as its exact
// decimal text, in message_id and in the key. Mailjet has no event id, so provider_event_key is
// the composite "<MessageID>|<event>|<time>" (click: "|<url>" appended). customcampaign -> tags;
// CustomID and Payload (when not empty) -> metadata. ip, agent -> ip, user_agent.
// An object without "event" that carries Sender/Recipient/Headers is a Parse API inbound mail ->
// RECEIVED for Recipient (the envelope recipient), inbound.{from (From), to (Headers To), subject,
// text (Text-part), html (Html-part), in_reply_to / references (Headers), message_key (the
// Message-ID header)}; provider_event_key "inbound|<Message-ID>"; occurred_at from Date, a compact
// "20150410T160638" in UTC (the sample's Date header, 18:06:38 +0200, is the same instant).
// An empty array decodes to control "empty-batch".
// kInvalidArgument: not JSON, an element that is not an object, an event without "event" or
// "time", a time that is not decimal seconds, an unparsable address.
//
// Thread-safe after construction.
class MailjetProvider final : public Provider {
 public:
  // kInvalidArgument naming the field: no auth option configured, or an invalid one.
  static absl::StatusOr<std::unique_ptr<MailjetProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool UsesBasicAuth() const override { return auth_.uses_basic_auth(); }

 private:
  MailjetProvider(std::string source, SourceAuth auth)
      : source_(std::move(source)), auth_(std::move(auth)) {}

  const std::string source_;
  const SourceAuth auth_;
};

}  // namespace switchboard::providers
