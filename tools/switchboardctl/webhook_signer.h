#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/config/config.h"

namespace switchboard::ctl {

using Headers = std::vector<std::pair<std::string, std::string>>;

// What a provider would send besides the body, for one source of the router's config.
struct SigningInput {
  std::string body;
  absl::Time timestamp;        // the signed timestamp
  std::string id;              // Standard Webhooks message id (webhook-id)
  std::string private_key_pem; // SendGrid: the P-256 private key whose public half the router has
};

// The headers that authenticate `input.body` for `source`, as the provider computes them:
// - standard-webhooks: webhook-id / webhook-timestamp / webhook-signature "v1,<base64 HMAC-SHA256
//   of id.timestamp.body>" with the first configured secret (Standard Webhooks spec);
// - sendgrid: X-Twilio-Email-Event-Webhook-Timestamp and -Signature, base64 DER ECDSA P-256 over
//   timestamp + body (SendGrid Signed Event Webhook).
// - mandrill: X-Mandrill-Signature, base64 HMAC-SHA1 of the configured url + the form fields
//   sorted by name (the body is the form);
// - postmark, mailjet, brevo, sparkpost: no signature;
// - ses, postal, customerio, generic-hmac: SignSignatureProvider (signature_provider_samples.h).
// - sendgrid-inbound: no signature; Content-Type multipart/form-data with the boundary the body's
//   first line opens.
// - mailgun: no header; the signature travels inside the body (MailgunSignedBody), Content-Type
//   application/json for a body opening with '{', else application/x-www-form-urlencoded.
// Plus Content-Type, and for every provider the source's auth options (basic_auth, bearer_token,
// header) as headers. kInvalidArgument: a key is missing or unusable; kUnimplemented: provider.
absl::StatusOr<Headers> SignWebhook(const config::SourceConfig& source, const SigningInput& input);

// Mailgun is the one provider whose signature does not cover the body: it signs timestamp + token
// (lower-case hex HMAC-SHA256 keyed with the source's signing_key bytes) and puts both, with the
// signature, inside the body. Returns `body` with that signature in place, every other byte kept:
// - a JSON object (first non-blank byte '{'): its top-level "signature" member is removed and
//   {"timestamp","token","signature"} inserted as the first member;
// - otherwise a urlencoded form (legacy webhooks): the timestamp, token and signature fields are
//   replaced where present and appended where missing.
// `timestamp` is signed as Unix seconds; `token` is used as given (Mailgun's are 50 hex digits).
// kInvalidArgument: no signing_key, a JSON body that is not an object, a multipart body (the
// fields of an inbound route post are not rewritten), a form that does not parse.
absl::StatusOr<std::string> MailgunSignedBody(const config::SourceConfig& source,
                                              std::string_view body, absl::Time timestamp,
                                              std::string_view token);

}  // namespace switchboard::ctl
