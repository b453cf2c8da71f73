#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/providers/provider.h"
#include "router/providers/source_auth.h"

namespace switchboard::providers {

// SendGrid Inbound Parse (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/setting-up-the-inbound-parse-webhook,
// field list: https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email).
//
// Verify: Inbound Parse signs nothing; the URL pasted in SendGrid carries the credentials
// (https://user:pass@host/v1/webhooks/<source> -> HTTP basic auth). The source's SourceAuth
// options are the whole scheme and at least one is required.
//
// Decode: the body is multipart/form-data (RFC 7578; boundary from the Content-Type header),
// parsed with GMime 3, in one of SendGrid's two modes:
//   default: fields headers (the mail's raw header block), text, html, from, to, cc, subject,
//            envelope, charsets, SPF, dkim, spam_score, attachments, attachment-info and one file
//            part per attachment (attachment1..N);
//   raw ("POST the raw, full MIME message"): field email holds the whole RFC 5322 message, and
//            envelope, charsets, SPF, dkim, spam_score are sent as in default mode.
// Output: one EVENT_TYPE_RECEIVED per envelope recipient (envelope JSON {"to":[...],"from":...};
// when it is absent or empty, the To and Cc addresses of the mail; when there are none either, one
// event without recipient). Every event of one mail shares:
//   provider_event_key = inbound.message_key = message_id = the Message-ID header exactly as
//     written ("<id@host>"); a mail without one uses "sha256:<hex SHA-256 of the mail's header
//     block>" (the headers field, or the raw message's header block), which SendGrid's retries
//     of the same mail repeat byte for byte;
//   occurred_at = the RFC 5322 Date header (second precision, UTC); received_at when the Date is
//     absent or unreadable (it is the sender's text, so it does not make the post malformed);
//   sender = envelope from; inbound.from = the From mailbox address; inbound.to / inbound.cc = the
//     mailbox addresses of the to / cc fields (raw mode: of the To / Cc headers);
//   subject, inbound.{subject, text, html} as UTF-8: default mode converts each field from the
//     charset the charsets JSON names for it, raw mode takes the first text/plain and text/html
//     parts that are not attachments (transfer encoding and charset undone by GMime); bytes that
//     are not valid in the named charset are replaced by U+FFFD, never refused;
//   inbound.in_reply_to (as written) and inbound.references (SplitMessageIds of References);
//   inbound.spf = the SPF field, inbound.dkim = the dkim field (SendGrid's "{@domain : pass}"
//     text), inbound.dmarc stays empty: Inbound Parse reports no DMARC verdict;
//   inbound.attachments: filename, content_type, size and SHA-256 of the decoded bytes,
//     content_id; the bytes themselves in content when size <= the source's
//     inline_attachments_max, else stored = true and the bytes in
//     DecodeResult::stored_attachments (the ingress keeps them in the store);
//   raw = the exact request body, raw_format RAW_FORMAT_MIME; provider_event_type "inbound".
// kInvalidArgument: no Content-Type, not multipart/form-data or no boundary, a body GMime cannot
// read as multipart, a part without a form-data name, neither a headers nor an email field, an
// envelope field that is not a JSON object, an envelope recipient that is not an address.
//
// Thread-safe after construction (GMime objects are created per call; g_mime_init runs once).
class SendgridInboundProvider final : public Provider {
 public:
  // kInvalidArgument naming the field: no auth option configured (`<field_path>.basic_auth`), or
  // an invalid one (see SourceAuth::Create).
  static absl::StatusOr<std::unique_ptr<SendgridInboundProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  bool UsesBasicAuth() const override { return auth_.uses_basic_auth(); }

 private:
  SendgridInboundProvider(std::string source, SourceAuth auth, uint64_t inline_attachments_max)
      : source_(std::move(source)),
        auth_(std::move(auth)),
        inline_attachments_max_(inline_attachments_max) {}

  const std::string source_;
  const SourceAuth auth_;
  const uint64_t inline_attachments_max_;
};

}  // namespace switchboard::providers
