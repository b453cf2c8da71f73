#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace switchboard::providers {

// Where the Amazon SNS signing certificate named by a message's SigningCertURL comes from. The SES
// provider does no I/O itself: an implementation fetches (HTTPS, cached, no redirects) or reads
// certificates pinned by the operator. Callers pass only URLs that passed the SNS allowlist
// (SesProvider::CheckSigningCertUrl). Implementations are thread-safe.
class CertificateSource {
 public:
  virtual ~CertificateSource() = default;

  // The PEM certificate published at `url`.
  // kUnavailable: it cannot be had now (a fetch failed, or the URL is not pinned): the ingress
  //               answers 503 so that SNS retries, never a 4xx, which SNS counts as delivered.
  virtual absl::StatusOr<std::string> Get(std::string_view url) const = 0;
};

// Certificates pinned by the operator (`pinned_certs: {URL: file}`), read once at startup: for
// air-gapped installs and for tests. A URL that is not pinned is kUnavailable (AWS rotated its
// certificate: pin the new one, and SNS's retries then verify). Immutable; thread-safe.
class PinnedCertificateSource final : public CertificateSource {
 public:
  // `pinned` maps a SigningCertURL to a PEM file path (already resolved against the config's
  // folder). kInvalidArgument naming `<field_path>.pinned_certs.<url>`: an unreadable file.
  static absl::StatusOr<std::unique_ptr<PinnedCertificateSource>> Create(
      const std::map<std::string, std::string>& pinned, std::string_view field_path);

  // For tests: certificates given as PEM text, keyed by URL.
  explicit PinnedCertificateSource(std::map<std::string, std::string, std::less<>> pem_by_url)
      : pem_by_url_(std::move(pem_by_url)) {}

  absl::StatusOr<std::string> Get(std::string_view url) const override;

 private:
  const std::map<std::string, std::string, std::less<>> pem_by_url_;
};

}  // namespace switchboard::providers
