#include "tools/switchboardctl/webhook_signer.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"
#include "router/providers/form_urlencoded.h"
#include "router/providers/lossless_json.h"
#include "router/providers/mailgun_provider.h"
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

// Scanning helpers over text that ParseJsonLossless accepted (so every string is terminated).
size_t SkipJsonWs(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
    ++i;
  }
  return i;
}

size_t SkipJsonString(std::string_view text, size_t i) {  // i at the opening quote
  for (++i; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\') ++i;
  }
  return i + 1;
}

size_t SkipJsonValue(std::string_view text, size_t i) {
  if (text[i] == '"') return SkipJsonString(text, i);
  if (text[i] == '{' || text[i] == '[') {
    int depth = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        i = SkipJsonString(text, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < text.size() && std::string_view(",}] \t\r\n").find(text[i]) == std::string_view::npos) {
    ++i;
  }
  return i;
}

// `body` (a JSON object) with its top-level "signature" members replaced by `signature` (a
// member's text) as the first member; the other members' bytes and layout kept.
absl::StatusOr<std::string> ReplaceJsonSignature(std::string_view body, std::string_view signature) {
  ASSIGN_OR_RETURN(boost::json::value parsed, providers::ParseJsonLossless(body));
  if (!parsed.is_object()) return absl::InvalidArgumentError("mailgun: the body is not a JSON object");
  struct Member {
    size_t lead;       // just after the '{' or ',' before it
    size_t key;        // its opening quote
    size_t value_end;  // just after its value
    bool signature;
  };
  std::vector<Member> members;
  const size_t open = SkipJsonWs(body, 0);
  size_t i = open + 1;
  while (true) {
    const size_t lead = i;
    i = SkipJsonWs(body, i);
    if (body[i] == '}') break;
    const size_t key = i;
    const size_t key_end = SkipJsonString(body, key);
    const bool is_signature = body.substr(key, key_end - key) == "\"signature\"";
    i = SkipJsonWs(body, SkipJsonWs(body, key_end) + 1);  // past ':'
    i = SkipJsonValue(body, i);
    members.push_back({lead, key, i, is_signature});
    i = SkipJsonWs(body, i);
    if (body[i] == ',') ++i;
  }
  std::string out(body.substr(0, open + 1));
  if (members.empty()) {
    out.append(signature).append(body.substr(open + 1));
    return out;
  }
  const Member& first = members.front();
  out.append(body.substr(first.lead, first.key - first.lead)).append(signature);
  for (const Member& m : members) {
    if (m.signature) continue;
    out.append(",").append(body.substr(m.lead, m.value_end - m.lead));
  }
  out.append(body.substr(members.back().value_end));
  return out;
}

// A urlencoded form with its timestamp, token and signature fields set to `fields`.
absl::StatusOr<std::string> ReplaceFormSignature(
    std::string_view body, const std::vector<std::pair<std::string, std::string>>& fields) {
  RETURN_IF_ERROR(providers::ParseFormUrlEncoded(body).status());
  std::vector<bool> found(fields.size(), false);
  std::vector<std::string> parts;
  for (size_t start = 0; start <= body.size();) {
    size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const std::string_view part = body.substr(start, end - start);
    start = end + 1;
    const std::string_view name = part.substr(0, part.find('='));
    bool replaced = false;
    for (size_t f = 0; f < fields.size(); ++f) {
      if (name != fields[f].first) continue;
      parts.push_back(fields[f].first + "=" + fields[f].second);
      found[f] = replaced = true;
    }
    if (!replaced && !part.empty()) parts.emplace_back(part);
  }
  for (size_t f = 0; f < fields.size(); ++f) {
    if (!found[f]) parts.push_back(absl::StrCat(fields[f].first, "=", fields[f].second));
  }
  return absl::StrJoin(parts, "&");
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
  if (source.provider == "mailgun") {  // the signature is in the body (MailgunSignedBody)
    const size_t start = SkipJsonWs(input.body, 0);
    const bool json = start < input.body.size() && input.body[start] == '{';
    return WithAuthHeaders(
        source, Headers{{"Content-Type",
                         json ? "application/json" : "application/x-www-form-urlencoded"}});
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

absl::StatusOr<std::string> MailgunSignedBody(const config::SourceConfig& source,
                                              std::string_view body, absl::Time timestamp,
                                              std::string_view token) {
  if (source.signing_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("source ", source.name, " has no signing_key"));
  }
  const std::string ts = absl::StrCat(absl::ToUnixSeconds(timestamp));
  ASSIGN_OR_RETURN(std::string signature,
                   providers::MailgunProvider::Sign(source.signing_key, ts, token));
  const size_t start = SkipJsonWs(body, 0);
  if (start < body.size() && body[start] == '{') {
    return ReplaceJsonSignature(
        body, absl::StrCat(R"("signature":{"timestamp":")", ts, R"(","token":")", std::string(token),
                           R"(","signature":")", signature, R"("})"));
  }
  if (body.starts_with("--")) {
    return absl::InvalidArgumentError(
        "mailgun: a multipart body is not re-signed; send a JSON or urlencoded body");
  }
  return ReplaceFormSignature(
      body, {{"timestamp", ts}, {"token", std::string(token)}, {"signature", signature}});
}

}  // namespace switchboard::ctl
