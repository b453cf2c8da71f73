#include "router/providers/source_auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "router/common/crypto.h"
#include "router/common/status_macros.h"

namespace switchboard::providers {
namespace {

constexpr char kAuthorization[] = "authorization";

// RFC 9110 5.6.2: token = 1*tchar.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool tchar = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!tchar) return false;
  }
  return true;
}

absl::StatusOr<std::string> Digest(std::string_view secret) { return crypto::Sha256(secret); }

// Both digests are 32 bytes, so the compare takes the same time whatever the inputs.
absl::Status Matches(std::string_view got, std::string_view expected_digest,
                     std::string_view what) {
  ASSIGN_OR_RETURN(std::string digest, Digest(got));
  if (!crypto::ConstantTimeEquals(digest, expected_digest)) {
    return absl::UnauthenticatedError(absl::StrCat(std::string(what), " does not match"));
  }
  return absl::OkStatus();
}

// The credentials after "<scheme> " in the one Authorization header.
absl::StatusOr<std::string_view> AuthorizationCredentials(const WebhookRequest& request,
                                                          std::string_view scheme) {
  const int count = request.CountHeader(kAuthorization);
  if (count == 0) return absl::UnauthenticatedError("missing Authorization header");
  if (count > 1) return absl::UnauthenticatedError("duplicated Authorization header");
  std::string_view value = *request.Header(kAuthorization);
  // RFC 9110 11.4: auth-scheme is case-insensitive, then 1*SP, then the credentials.
  const size_t space = value.find(' ');
  if (space == std::string_view::npos ||
      !absl::EqualsIgnoreCase(absl::string_view(value.data(), space),
                              absl::string_view(scheme.data(), scheme.size()))) {
    return absl::UnauthenticatedError(
        absl::StrCat("Authorization scheme is not ", std::string(scheme)));
  }
  value.remove_prefix(space);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return absl::UnauthenticatedError("empty Authorization credentials");
  return value;
}

class AuthenticatedProvider final : public Provider {
 public:
  AuthenticatedProvider(SourceAuth auth, std::unique_ptr<Provider> inner)
      : auth_(std::move(auth)), inner_(std::move(inner)) {}

  absl::Status Verify(const WebhookRequest& request) const override {
    RETURN_IF_ERROR(auth_.Check(request));
    return inner_->Verify(request);
  }
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override {
    return inner_->Decode(request);
  }
  bool UsesBasicAuth() const override {
    return auth_.uses_basic_auth() || inner_->UsesBasicAuth();
  }
  absl::Duration Tolerance() const override { return inner_->Tolerance(); }
  bool AcceptsProbes() const override { return inner_->AcceptsProbes(); }

 private:
  const SourceAuth auth_;
  const std::unique_ptr<Provider> inner_;
};

}  // namespace

absl::StatusOr<SourceAuth> SourceAuth::Create(const config::SourceConfig& source,
                                              std::string_view field_path) {
  const std::string path(field_path);
  SourceAuth auth;
  if (source.basic_auth.has_value()) {
    const config::BasicAuth& basic = *source.basic_auth;
    if (basic.username.empty() || absl::StrContains(basic.username, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".basic_auth.username: must be non-empty and contain no ':'"));
    }
    if (basic.password.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".basic_auth.password: must not be empty"));
    }
    ASSIGN_OR_RETURN(std::string digest, Digest(absl::StrCat(basic.username, ":", basic.password)));
    auth.basic_ = Secret{std::move(digest)};
  }
  if (!source.bearer_token.empty()) {
    if (auth.basic_.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".bearer_token: cannot be combined with basic_auth (both use the Authorization "
                "header)"));
    }
    ASSIGN_OR_RETURN(std::string digest, Digest(source.bearer_token));
    auth.bearer_ = Secret{std::move(digest)};
  }
  if (source.header.has_value()) {
    const config::HeaderAuth& header = *source.header;
    if (!IsToken(header.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".header.name: \"", header.name, "\" is not an HTTP header name"));
    }
    if ((auth.basic_.has_value() || auth.bearer_.has_value()) &&
        absl::EqualsIgnoreCase(header.name, kAuthorization)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".header.name: Authorization is already used by basic_auth/bearer_token"));
    }
    if (header.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".header.value: must not be empty"));
    }
    ASSIGN_OR_RETURN(std::string digest, Digest(header.value));
    auth.header_ = HeaderSecret{absl::AsciiStrToLower(header.name), Secret{std::move(digest)}};
  }
  return auth;
}

absl::StatusOr<SourceAuth> SourceAuth::CreateRequired(const config::SourceConfig& source,
                                                      std::string_view field_path) {
  ASSIGN_OR_RETURN(SourceAuth auth, Create(source, field_path));
  if (!auth.configured()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field_path), ".basic_auth: provider ", source.provider,
        " signs nothing, so one of basic_auth, bearer_token or header is required"));
  }
  return auth;
}

absl::Status SourceAuth::Check(const WebhookRequest& request) const {
  if (basic_.has_value()) {
    ASSIGN_OR_RETURN(std::string_view credentials, AuthorizationCredentials(request, "Basic"));
    auto decoded = crypto::Base64Decode(credentials);
    if (!decoded.ok()) {
      return absl::UnauthenticatedError("Basic credentials are not strict base64");
    }
    RETURN_IF_ERROR(Matches(*decoded, basic_->digest, "Basic credentials"));
  }
  if (bearer_.has_value()) {
    ASSIGN_OR_RETURN(std::string_view token, AuthorizationCredentials(request, "Bearer"));
    RETURN_IF_ERROR(Matches(token, bearer_->digest, "bearer token"));
  }
  if (header_.has_value()) {
    const int count = request.CountHeader(header_->name);
    if (count == 0) {
      return absl::UnauthenticatedError(absl::StrCat("missing ", header_->name, " header"));
    }
    if (count > 1) {
      return absl::UnauthenticatedError(absl::StrCat("duplicated ", header_->name, " header"));
    }
    RETURN_IF_ERROR(Matches(*request.Header(header_->name), header_->value.digest,
                            absl::StrCat(header_->name, " header")));
  }
  return absl::OkStatus();
}

std::unique_ptr<Provider> WithSourceAuth(SourceAuth auth, std::unique_ptr<Provider> inner) {
  return std::make_unique<AuthenticatedProvider>(std::move(auth), std::move(inner));
}

}  // namespace switchboard::providers
