#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Mandrill / Mailchimp Transactional webhooks
// (https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/,
// signature: https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests,
// event format: https://mailchimp.com/developer/transactional/docs/webhooks/,
// inbound: https://mailchimp.com/developer/transactional/guides/set-up-inbound-email-processing/).
//
// Verify: X-Mandrill-Signature (exactly one) = base64(HMAC-SHA1(key, url + for each POST form
// field sorted by name: name + value)), with `url` the webhook URL exactly as entered in Mandrill
// (configured; the router cannot know the public URL a proxy rewrote) and the decoded form values.
// kUnauthenticated: a missing or repeated header, a body that is not a form, a mismatch.
// AcceptsProbes: Mandrill checks the URL with a HEAD (and some tools with a GET) before it
// saves a webhook; the ingress answers those 200 without Verify.
//
// Decode: the form field mandrill_events (exactly one) holds a JSON array of up to 1000 events;
// raw = each element's exact bytes within that JSON (raw_format JSON). An empty array is Mandrill's
// "send test" call: control "empty-batch".
// event -> type: send -> SENT, deferral -> DEFERRED, hard_bounce -> BOUNCED HARD, soft_bounce ->
// BOUNCED SOFT (either is BLOCK when msg.bounce_description is spam_related or policy_related),
// open -> OPENED, click -> CLICKED (url), spam -> COMPLAINED, unsub -> UNSUBSCRIBED, reject ->
// DROPPED, inbound -> RECEIVED, any other -> UNKNOWN. Sync events ({"type": "blacklist" |
// "whitelist", "action": ...}, no "event") -> UNKNOWN with provider_event_type "<type>.<action>"
// and the reject/entry email as recipient.
// ts (Unix seconds) -> occurred_at (absent -> received_at). msg.email -> recipient, msg._id ->
// message_id, msg.sender -> sender, msg.tags -> tags, msg.metadata scalars -> metadata, msg.diag ->
// bounce.diagnostic (+ SMTP code / enhanced status), msg.bounce_description -> provider_type.
// Mandrill has no event id (_id is the message's, shared by all its events), so
// provider_event_key is the composite "<_id>|<event>|<ts>" (click: "|<url>" appended); sync
// events "<type>.<action>|<ts>"; inbound "inbound|<Message-Id header>|<ts>".
// Inbound: one RECEIVED for msg.email (the inbound address), inbound.{from (from_email), to and
// cc (msg.to / msg.cc pairs), subject, text, html, in_reply_to / references / message_key
// (msg.headers, which may be [] when empty), spf (spf.result), dkim (pass when signed and valid,
// fail when signed and not valid, none when unsigned)}.
// kInvalidArgument: not a form, mandrill_events missing or repeated, not a JSON array, an element
// that is not an object, a ts that is not decimal seconds, an unparsable address.
//
// Thread-safe after construction.
class MandrillProvider final : public Provider {
 public:
  // kInvalidArgument naming `<field_path>.key` (missing) or `<field_path>.url` (missing, or not
  // an absolute http(s) URL).
  static absl::StatusOr<std::unique_ptr<MandrillProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool AcceptsProbes() const override { return true; }

 private:
  MandrillProvider(std::string source, std::string key, std::string url)
      : source_(std::move(source)), key_(std::move(key)), url_(std::move(url)) {}

  const std::string source_;
  const std::string key_;  // secret
  const std::string url_;
};

}  // namespace switchboard::providers
