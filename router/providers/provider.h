#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/providers/webhook_request.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::providers {

// For a scheme whose signature does not cover the body (Mailgun signs timestamp + token only):
// a captured token could be replayed with another body. The ingress therefore asks the store
// (Store::RememberToken) before committing: a token seen for the first time, or seen again with a
// byte-identical body (a provider retry, answered 200 by dedupe), passes; the same token with
// another body is refused with 401.
struct ReplayGuard {
  std::string key;        // unique per source and token (the store may hash it)
  std::string body_hash;  // lower-case hex SHA-256 of the raw body
  absl::Duration ttl;     // how long to remember the token; >= the signed-timestamp window
};

// What one authentic request decodes to.
struct DecodeResult {
  // One normalized event per recipient per provider event, each with id, source, provider, type,
  // provider_event_type, provider_event_key, occurred_at, received_at, recipient(+_key), raw.
  std::vector<v1::EmailEvent> events;
  // Non-empty for a control message that is answered 200 without routing (a ping, a probe, an
  // empty test batch, an SNS subscription confirmation): a short name for the log, e.g. "ping".
  std::string control;
  // For control "subscription-confirmation" with auto-confirm on: the SNS SubscribeURL (already
  // checked against the SNS host allowlist) that the app GETs, asynchronously, to confirm.
  std::string confirm_url;
  // Set by providers whose signature leaves the body unauthenticated (see ReplayGuard).
  std::optional<ReplayGuard> replay_guard;
  // Inbound mail: the bytes of the attachments the events mark stored (Inbound.Attachment.stored,
  // content empty), by their lower-case hex SHA-256. The ingress keeps them in the store under
  // (event id, sha256) for every event naming them, before it commits the events.
  std::map<std::string, std::string> stored_attachments;
};

// Verifies and decodes one email service's webhooks. No globals; time comes from the Clock the
// provider was created with. Thread-safe after construction (Verify/Decode are const and may run
// concurrently on several ingress threads).
class Provider {
 public:
  virtual ~Provider() = default;

  // Authenticates the request over its raw bytes.
  // kUnauthenticated: missing/invalid/duplicated signature or credentials, or a signed timestamp
  //                   outside the tolerance window (both directions).
  // kUnavailable:     verification cannot be decided now (e.g. a signing certificate that cannot
  //                   be fetched yet); the provider must retry.
  virtual absl::Status Verify(const WebhookRequest& request) const = 0;

  // Decodes an authenticated request. One request may carry many events (batches): each gets its
  // own idempotency key. Unknown provider event types become EVENT_TYPE_UNKNOWN, never an error.
  // kInvalidArgument: the body is not the provider's documented format (the caller quarantines it).
  virtual absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const = 0;

  // True when Basic credentials are part of the scheme (the 401 then carries WWW-Authenticate).
  virtual bool UsesBasicAuth() const { return false; }

  // The signed-timestamp window in force (the configured one or the provider's default); zero
  // when the scheme signs no timestamp or the window is off. Startup refuses a window longer
  // than the dedupe window: a captured request could otherwise replay once its key expired.
  virtual absl::Duration Tolerance() const { return absl::ZeroDuration(); }

  // True when the provider checks that the URL exists with an unauthenticated HEAD or GET (Mandrill
  // does when a webhook is added): the ingress then answers such a request 200 without Verify or
  // Decode. False: only POST reaches the provider, anything else is 405.
  virtual bool AcceptsProbes() const { return false; }
};

}  // namespace switchboard::providers
