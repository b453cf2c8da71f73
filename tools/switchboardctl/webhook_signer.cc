#include "tools/switchboardctl/webhook_signer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"

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

}  // namespace

absl::StatusOr<Headers> SignWebhook(const config::SourceConfig& source, const SigningInput& input) {
  if (source.provider == "standard-webhooks") return SignStandardWebhooks(source, input);
  if (source.provider == "sendgrid") return SignSendgrid(input);
  return absl::UnimplementedError(
      absl::StrCat("switchboardctl cannot sign for provider ", source.provider, " yet"));
}

}  // namespace switchboard::ctl
