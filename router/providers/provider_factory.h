#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "router/providers/certificate_source.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Builds the provider for one configured source. `field_path` names the source in errors
// ("sources[2]" -> "sources[2].secrets[0]: not valid base64 after whsec_"). `clock` must outlive
// the provider. `replay_horizon` is the dedupe window: no signed timestamp older than it is
// accepted, even with the tolerance window off. `sns_certificates` is where a SES source without
// `pinned_certs` gets its SNS signing certificates (see SesProvider::Create).
// kInvalidArgument:  an unknown provider kind or invalid options for it.
// kUnimplemented:    a kind id reserved in the config contract whose provider is not built yet.
absl::StatusOr<std::unique_ptr<Provider>> CreateProvider(const config::SourceConfig& source,
                                                         std::string_view field_path,
                                                         const Clock& clock,
                                                         absl::Duration replay_horizon =
                                                             absl::InfiniteDuration(),
                                                         std::shared_ptr<const CertificateSource>
                                                             sns_certificates = nullptr);

}  // namespace switchboard::providers
