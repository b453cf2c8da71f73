#include "router/providers/provider_factory.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "router/providers/sendgrid_provider.h"
#include "router/providers/standard_webhooks_provider.h"

namespace switchboard::providers {

absl::StatusOr<std::unique_ptr<Provider>> CreateProvider(const config::SourceConfig& source,
                                                         std::string_view field_path,
                                                         const Clock& clock,
                                                         absl::Duration replay_horizon) {
  if (source.provider == "standard-webhooks") {
    auto provider = StandardWebhooksProvider::Create(source, field_path, clock, replay_horizon);
    if (!provider.ok()) return provider.status();
    return std::unique_ptr<Provider>(*std::move(provider));
  }
  if (source.provider == "sendgrid") {
    auto provider = SendgridProvider::Create(source, field_path, clock, replay_horizon);
    if (!provider.ok()) return provider.status();
    return std::unique_ptr<Provider>(*std::move(provider));
  }
  // The kind ids fixed by the config contract for later providers.
  static constexpr std::string_view kReserved[] = {
      "sendgrid-inbound", "mailgun", "mailjet", "postmark", "ses",        "mandrill",
      "sparkpost",        "brevo",   "postal",  "customerio", "generic-hmac",
  };
  for (std::string_view kind : kReserved) {
    if (source.provider == kind) {
      return absl::UnimplementedError(absl::StrCat(std::string(field_path), ".provider: provider ",
                                                   source.provider, " is not implemented yet"));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(std::string(field_path),
                                                 ".provider: unknown provider kind \"",
                                                 source.provider, "\""));
}

}  // namespace switchboard::providers
