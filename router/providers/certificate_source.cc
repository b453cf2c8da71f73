#include "router/providers/certificate_source.h"

#include "absl/strings/str_cat.h"
#include "router/common/read_file.h"

namespace switchboard::providers {

absl::StatusOr<std::unique_ptr<PinnedCertificateSource>> PinnedCertificateSource::Create(
    const std::map<std::string, std::string>& pinned, std::string_view field_path) {
  std::map<std::string, std::string, std::less<>> pem_by_url;
  for (const auto& [url, file] : pinned) {
    absl::StatusOr<std::string> contents = ReadRegularFile(file);
    if (!contents.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(field_path), ".pinned_certs.", url,
                                                     ": ", contents.status().message()));
    }
    pem_by_url.emplace(url, *std::move(contents));
  }
  return std::make_unique<PinnedCertificateSource>(std::move(pem_by_url));
}

absl::StatusOr<std::string> PinnedCertificateSource::Get(std::string_view url) const {
  const auto it = pem_by_url_.find(url);
  if (it == pem_by_url_.end()) {
    return absl::UnavailableError(
        absl::StrCat("SNS signing certificate ", std::string(url), " is not pinned"));
  }
  return it->second;
}

}  // namespace switchboard::providers
