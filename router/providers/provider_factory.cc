#include "router/providers/provider_factory.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "router/providers/brevo_provider.h"
#include "router/providers/customerio_provider.h"
#include "router/providers/generic_hmac_provider.h"
#include "router/providers/mailgun_provider.h"
#include "router/providers/mailjet_provider.h"
#include "router/providers/mandrill_provider.h"
#include "router/providers/postal_provider.h"
#include "router/providers/postmark_provider.h"
#include "router/providers/sendgrid_inbound_provider.h"
#include "router/providers/sendgrid_provider.h"
#include "router/providers/ses_provider.h"
#include "router/providers/source_auth.h"
#include "router/providers/sparkpost_provider.h"
#include "router/providers/standard_webhooks_provider.h"

namespace switchboard::providers {
namespace {

// A provider whose scheme is the source's auth options (it checks them itself).
template <typename T>
absl::StatusOr<std::unique_ptr<Provider>> AuthOnly(absl::StatusOr<std::unique_ptr<T>> provider) {
  if (!provider.ok()) return provider.status();
  return std::unique_ptr<Provider>(*std::move(provider));
}

// A provider with a signature scheme of its own, behind the source's auth options when any is set.
template <typename T>
absl::StatusOr<std::unique_ptr<Provider>> Signed(const config::SourceConfig& source,
                                                 std::string_view field_path,
                                                 absl::StatusOr<std::unique_ptr<T>> provider) {
  if (!provider.ok()) return provider.status();
  auto auth = SourceAuth::Create(source, field_path);
  if (!auth.ok()) return auth.status();
  std::unique_ptr<Provider> inner = *std::move(provider);
  if (!auth->configured()) return inner;
  return WithSourceAuth(*std::move(auth), std::move(inner));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Provider>> CreateProvider(const config::SourceConfig& source,
                                                         std::string_view field_path,
                                                         const Clock& clock,
                                                         absl::Duration replay_horizon,
                                                         std::shared_ptr<const CertificateSource>
                                                             sns_certificates) {
  if (source.provider == "standard-webhooks") {
    return Signed(source, field_path,
                  StandardWebhooksProvider::Create(source, field_path, clock, replay_horizon));
  }
  if (source.provider == "sendgrid") {
    return Signed(source, field_path,
                  SendgridProvider::Create(source, field_path, clock, replay_horizon));
  }
  if (source.provider == "sendgrid-inbound") {
    return AuthOnly(SendgridInboundProvider::Create(source, field_path));
  }
  if (source.provider == "postmark") {
    return AuthOnly(PostmarkProvider::Create(source, field_path));
  }
  if (source.provider == "mailjet") return AuthOnly(MailjetProvider::Create(source, field_path));
  if (source.provider == "brevo") return AuthOnly(BrevoProvider::Create(source, field_path));
  if (source.provider == "sparkpost") {
    return AuthOnly(SparkpostProvider::Create(source, field_path));
  }
  if (source.provider == "mandrill") {
    return Signed(source, field_path, MandrillProvider::Create(source, field_path));
  }
  if (source.provider == "ses") {
    return Signed(source, field_path,
                  SesProvider::Create(source, field_path, clock, replay_horizon,
                                      std::move(sns_certificates)));
  }
  if (source.provider == "postal") {
    return Signed(source, field_path, PostalProvider::Create(source, field_path));
  }
  if (source.provider == "customerio") {
    return Signed(source, field_path,
                  CustomerioProvider::Create(source, field_path, clock, replay_horizon));
  }
  if (source.provider == "mailgun") {
    return Signed(source, field_path,
                  MailgunProvider::Create(source, field_path, clock, replay_horizon));
  }
  if (source.provider == "generic-hmac") {
    return Signed(source, field_path,
                  GenericHmacProvider::Create(source, field_path, clock, replay_horizon));
  }
  return absl::InvalidArgumentError(absl::StrCat(std::string(field_path),
                                                 ".provider: unknown provider kind \"",
                                                 source.provider, "\""));
}

}  // namespace switchboard::providers
