#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/config/config.h"
#include "router/providers/provider.h"
#include "router/providers/webhook_request.h"

namespace switchboard::providers {

// The auth options any source may combine with its provider's scheme (issue 3, "Config per
// source"): `basic_auth: {username, password}` (RFC 7617), `bearer_token` (RFC 6750) and
// `header: {name, value}` (a fixed secret header, e.g. Postmark/SparkPost/Brevo custom headers).
// Every configured option must pass (they combine with AND). Secrets are compared as SHA-256
// digests with a constant-time compare, so neither their content nor their length leaks through
// timing.
//
// Immutable after Create; Check may run concurrently.
class SourceAuth {
 public:
  // kInvalidArgument naming the field under `field_path`: basic_auth with an empty username, a ':'
  // in it or an empty password; an empty bearer_token or header value; basic_auth together with
  // bearer_token (both would need the one Authorization header); a header name that is not an
  // RFC 9110 token, or "Authorization" while basic_auth or bearer_token is set.
  static absl::StatusOr<SourceAuth> Create(const config::SourceConfig& source,
                                           std::string_view field_path);

  // As Create, for providers that sign nothing (Postmark, Mailjet, Brevo, SparkPost): these options
  // are their whole scheme, so at least one is required (else kInvalidArgument naming
  // `<field_path>.basic_auth`).
  static absl::StatusOr<SourceAuth> CreateRequired(const config::SourceConfig& source,
                                                   std::string_view field_path);

  // True when at least one option is configured.
  bool configured() const { return basic_.has_value() || bearer_.has_value() || header_.has_value(); }
  // True when basic_auth is configured (a 401 then carries WWW-Authenticate: Basic).
  bool uses_basic_auth() const { return basic_.has_value(); }

  // OK when every configured option matches (OK as well when none is configured).
  // kUnauthenticated: an Authorization header or the configured header missing or repeated, a
  // scheme other than Basic/Bearer (scheme names are case-insensitive), Basic credentials that are
  // not strict base64 of "user:password", or a credential that does not match.
  absl::Status Check(const WebhookRequest& request) const;

 private:
  struct Secret {
    std::string digest;  // SHA-256 of the expected bytes
  };
  struct HeaderSecret {
    std::string name;
    Secret value;
  };

  std::optional<Secret> basic_;   // over "username:password"
  std::optional<Secret> bearer_;
  std::optional<HeaderSecret> header_;
};

// A provider whose requests must pass `auth` before `inner`'s own Verify (a signature scheme
// combined with, say, basic auth in front). Decode, Tolerance and AcceptsProbes are `inner`'s;
// UsesBasicAuth is true if either uses Basic credentials.
// REQUIRES: inner != nullptr.
std::unique_ptr<Provider> WithSourceAuth(SourceAuth auth, std::unique_ptr<Provider> inner);

}  // namespace switchboard::providers
