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

// Postmark webhooks (https://postmarkapp.com/developer/webhooks/webhooks-overview, record shapes:
// https://postmarkapp.com/developer/webhooks/{delivery,bounce,spam-complaint,open-tracking,
// click,subscription-change}-webhook, inbound: https://postmarkapp.com/developer/webhooks/inbound-webhook,
// bounce types: https://postmarkapp.com/developer/api/bounce-api#bounce-types).
//
// Verify: Postmark signs nothing; it sends the HTTP basic auth credentials of the webhook URL
// (https://user:pass@host/...) and/or custom headers configured on the webhook. The source's
// SourceAuth options are the scheme, and at least one is required.
//
// Decode: one JSON object per request (an array of them is accepted too), raw = its exact bytes.
// RecordType -> type:
//   Delivery -> DELIVERED (Recipient, DeliveredAt)
//   Bounce -> by Type: HardBounce/BadEmailAddress/ManuallyDeactivated -> BOUNCED HARD;
//             SoftBounce/Transient/DnsError -> BOUNCED SOFT; Blocked/SpamNotification/DMARCPolicy
//             -> BOUNCED BLOCK; Unsubscribe -> UNSUBSCRIBED; Subscribe -> RESUBSCRIBED;
//             SpamComplaint -> COMPLAINED; any other Type -> BOUNCED UNDETERMINED. The class comes
//             from the Type name, never TypeCode (published samples disagree on the codes).
//             (Email, BouncedAt; Details -> diagnostic + SMTP code / enhanced status)
//   SpamComplaint -> COMPLAINED (Email, BouncedAt)
//   Open -> OPENED, Click -> CLICKED (OriginalLink) (Recipient, ReceivedAt, UserAgent, Geo.IP)
//   SubscriptionChange -> SuppressSending false: RESUBSCRIBED; true: by SuppressionReason,
//             HardBounce -> BOUNCED HARD, SpamComplaint -> COMPLAINED, else UNSUBSCRIBED
//             (Recipient, ChangedAt)
//   no RecordType (or "Inbound") with FromFull/OriginalRecipient: inbound mail -> RECEIVED, one
//             event for OriginalRecipient (the address Postmark received it at; else the first
//             ToFull), inbound.{from, to (ToFull), cc (CcFull), subject, text (TextBody), html
//             (HtmlBody), in_reply_to / references (Headers), message_key = MessageID}; occurred_at
//             from the RFC 5322 Date.
//   any other RecordType -> UNKNOWN.
// Timestamps are RFC 3339 with up to 7 fractional digits and a zone offset; every digit is kept.
// An event without a timestamp (a Bounce of Type Unsubscribe) gets occurred_at = received_at, one
// without Email/Recipient has no recipient.
// provider_event_key (Postmark has no event id on most records): Bounce and SpamComplaint
// "<RecordType>|<ID>" (Postmark's bounce id); Click "Click|<MessageID>|<ReceivedAt>|<OriginalLink>";
// inbound "Inbound|<MessageID>"; every other record "<RecordType>|<MessageID>|<its timestamp text>".
// message_id = MessageID, Tag -> tags, Metadata scalars -> metadata.
// kInvalidArgument: not JSON, an element that is not an object, an object that is neither a record
// nor inbound mail, a timestamp that is present but not RFC 3339, an unparsable address.
//
// Thread-safe after construction.
class PostmarkProvider final : public Provider {
 public:
  // kInvalidArgument naming the field: no auth option configured (`<field_path>.basic_auth`), or
  // an invalid one (see SourceAuth::Create).
  static absl::StatusOr<std::unique_ptr<PostmarkProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool UsesBasicAuth() const override { return auth_.uses_basic_auth(); }

 private:
  PostmarkProvider(std::string source, SourceAuth auth)
      : source_(std::move(source)), auth_(std::move(auth)) {}

  const std::string source_;
  const SourceAuth auth_;
};

}  // namespace switchboard::providers
