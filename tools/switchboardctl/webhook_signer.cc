#include "tools/switchboardctl/webhook_signer.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/form_urlencoded.h"
#include "tools/switchboardctl/signature_provider_samples.h"

namespace switchboard::ctl {

namespace {

absl::StatusOr<Headers> SignStandardWebhooks(const config::SourceConfig& source,
                                             const SigningInput& input) {
  if (source.secrets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("source ", source.name, " has no secrets"));
  }
  std::string_view secret = source.secrets.front();
  if (secret.starts_with("whsec_")) secret.remove_prefix(6);
  ASSIGN_OR_RETURN(std::string key, crypto::Base64Decode(secret));
  std::string ts = absl::StrCat(absl::ToUnixSeconds(input.timestamp));
  ASSIGN_OR_RETURN(std::string mac,
                   crypto::HmacSha256(key, absl::StrCat(input.id, ".", ts, ".", input.body)));
  return Headers{{"Content-Type", "application/json"},
                 {"webhook-id", input.id},
                 {"webhook-timestamp", ts},
                 {"webhook-signature", absl::StrCat("v1,", crypto::Base64Encode(mac))}};
}

absl::StatusOr<Headers> SignSendgrid(const SigningInput& input) {
  if (input.private_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "sendgrid signs with a private key the router does not hold: pass --private-key "
        "(switchboardctl dev-keys makes one)");
  }
  std::string ts = absl::StrCat(absl::ToUnixSeconds(input.timestamp));
  ASSIGN_OR_RETURN(std::string sig,
                   crypto::EcdsaP256Sign(input.private_key_pem, absl::StrCat(ts, input.body)));
  return Headers{{"Content-Type", "application/json"},
                 {"X-Twilio-Email-Event-Webhook-Timestamp", ts},
                 {"X-Twilio-Email-Event-Webhook-Signature", crypto::Base64Encode(sig)}};
}

// Mandrill: base64 HMAC-SHA1 over the configured URL + each form field sorted by name, name then
// value (the body is the form Mandrill posts).
absl::StatusOr<Headers> SignMandrill(const config::SourceConfig& source, const SigningInput& input) {
  ASSIGN_OR_RETURN(auto fields, providers::ParseFormUrlEncoded(input.body));
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string signed_data = source.url;
  for (const auto& [name, value] : fields) absl::StrAppend(&signed_data, name, value);
  ASSIGN_OR_RETURN(std::string mac, crypto::HmacSha1(source.key, signed_data));
  return Headers{{"Content-Type", "application/x-www-form-urlencoded"},
                 {"X-Mandrill-Signature", crypto::Base64Encode(mac)}};
}

// SendGrid Inbound Parse signs nothing; its Content-Type names the boundary the body opens with.
absl::StatusOr<Headers> InboundParseHeaders(const SigningInput& input) {
  std::string_view first_line(input.body);
  first_line = first_line.substr(0, first_line.find('\n'));  // CRLF on the wire, LF in some captures
  if (first_line.ends_with('\r')) first_line.remove_suffix(1);
  if (!first_line.starts_with("--") || first_line.size() < 3) {
    return absl::InvalidArgumentError("sendgrid-inbound: the body does not open with a boundary");
  }
  first_line.remove_prefix(2);
  return Headers{{"Content-Type",
                  absl::StrCat("multipart/form-data; boundary=", std::string(first_line))}};
}

// The source's auth options (basic_auth, bearer_token, header) as the provider sends them, after
// whatever signature headers the provider adds.
absl::StatusOr<Headers> WithAuthHeaders(const config::SourceConfig& source,
                                        absl::StatusOr<Headers> headers) {
  if (!headers.ok()) return headers;
  if (source.basic_auth.has_value()) {
    headers->emplace_back("Authorization",
                          absl::StrCat("Basic ", crypto::Base64Encode(absl::StrCat(
                                                     source.basic_auth->username, ":",
                                                     source.basic_auth->password))));
  }
  if (!source.bearer_token.empty()) {
    headers->emplace_back("Authorization", absl::StrCat("Bearer ", source.bearer_token));
  }
  if (source.header.has_value()) headers->emplace_back(source.header->name, source.header->value);
  return headers;
}

}  // namespace

absl::StatusOr<Headers> SignWebhook(const config::SourceConfig& source, const SigningInput& input) {
  if (source.provider == "standard-webhooks") {
    return WithAuthHeaders(source, SignStandardWebhooks(source, input));
  }
  if (source.provider == "sendgrid") return WithAuthHeaders(source, SignSendgrid(input));
  if (source.provider == "mandrill") return WithAuthHeaders(source, SignMandrill(source, input));
  if (source.provider == "sendgrid-inbound") {
    return WithAuthHeaders(source, InboundParseHeaders(input));
  }
  for (std::string_view kind : {"ses", "postal", "customerio", "generic-hmac"}) {
    if (source.provider == kind) return WithAuthHeaders(source, SignSignatureProvider(source, input));
  }
  // These sign nothing: the auth options are the whole scheme.
  for (std::string_view kind : {"postmark", "mailjet", "brevo", "sparkpost"}) {
    if (source.provider == kind) {
      return WithAuthHeaders(source, Headers{{"Content-Type", "application/json"}});
    }
  }
  return absl::UnimplementedError(
      absl::StrCat("switchboardctl cannot sign for provider ", source.provider, " yet"));
}

}  // namespace switchboard::ctl
