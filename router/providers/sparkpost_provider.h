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

// SparkPost event and relay webhooks (https://developers.sparkpost.com/api/webhooks/, event
// fields: https://developers.sparkpost.com/api/events/, relay: https://developers.sparkpost.com/
// api/relay-webhooks/, bounce classes: https://support.sparkpost.com/docs/deliverability/
// bounce-classification-codes).
//
// Verify: SparkPost signs nothing; a webhook authenticates with basic auth ("auth_type":
// "basic"), an OAuth 2 bearer token, or "custom_headers". The source's SourceAuth options are the
// scheme; at least one is required.
//
// Decode: a JSON array of {"msys": {<class>: {...}}} wrappers; raw = each element's exact bytes.
// An element whose msys is empty is SparkPost's validation ping: skipped, and a batch of nothing
// else decodes to control "ping" (answered exactly 200, as SparkPost requires).
// message_event: injection -> SENT, delivery -> DELIVERED, delay -> DEFERRED, bounce/out_of_band
//   -> BOUNCED, spam_complaint -> COMPLAINED, policy_rejection/generation_failure/
//   generation_rejection -> DROPPED; gen_event: generation_* -> DROPPED; track_event: open/
//   initial_open/amp_open/amp_initial_open -> OPENED, click/amp_click -> CLICKED
//   (target_link_url); unsubscribe_event: list_unsubscribe/link_unsubscribe -> UNSUBSCRIBED;
//   relay_message -> RECEIVED; any other class or type -> UNKNOWN.
// Bounce class from bounce_class: 10, 30, 90 -> HARD; 20-24, 40, 60, 70, 100 -> SOFT; 50-54 ->
//   BLOCK; admin failures 25, 26, 80 -> BLOCK (refused by policy); 1 or anything else ->
//   UNDETERMINED. raw_reason (else reason) -> diagnostic and its SMTP code / enhanced status.
// recipient = raw_rcpt_to (as sent), else rcpt_to (SparkPost lower-cases it).
// timestamp: Unix seconds as a string, or RFC 3339 (generation_failure samples); absent ->
//   received_at. provider_event_key = event_id; where absent (trimmed samples), the composite
//   "<type>|<message_id>|<timestamp text>".
// rcpt_tags -> tags, rcpt_meta scalars -> metadata, friendly_from -> sender.
// relay_message: one RECEIVED for rcpt_to, inbound.{from (msg_from), to (content.to), subject,
//   text, html (content.*), in_reply_to / references / message_key (content.headers)},
//   occurred_at from the Date header, provider_event_key "relay_message|<Message-ID>".
// kInvalidArgument: not JSON, not an array, an element that is not {"msys": {...}}, a timestamp
// that is neither, an unparsable address.
//
// Thread-safe after construction.
class SparkpostProvider final : public Provider {
 public:
  // kInvalidArgument naming the field: no auth option configured, or an invalid one.
  static absl::StatusOr<std::unique_ptr<SparkpostProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool UsesBasicAuth() const override { return auth_.uses_basic_auth(); }

 private:
  SparkpostProvider(std::string source, SourceAuth auth)
      : source_(std::move(source)), auth_(std::move(auth)) {}

  const std::string source_;
  const SourceAuth auth_;
};

}  // namespace switchboard::providers
