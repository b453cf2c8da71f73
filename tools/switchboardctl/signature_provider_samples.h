#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/config/config.h"
#include "switchboard/v1/email_event.pb.h"
#include "tools/switchboardctl/webhook_signer.h"

// Sample bodies and signing for the signature providers SES (via SNS), Postal, Customer.io and
// the generic HMAC profile, shaped like their documented payloads (see the provider headers under
// router/providers/). `event_key` becomes the provider's event id (SNS MessageId, Postal uuid,
// Customer.io event_id, the generic profile's id).
namespace switchboard::ctl {

// ses, postal, customerio, generic-hmac.
bool IsSignatureProvider(std::string_view provider);

// ses: an SES event-publishing record (eventType) for `to`, the SNS Message text.
// postal: a webhook envelope {event, timestamp, payload, uuid}.
// customerio: a reporting webhook {event_id, object_type: email, metric, timestamp, data}.
// generic-hmac: an object with the fields the source's `mapping` points at (one-segment pointers)
// and, for the type, the `types` entry mapped to `type`.
// kInvalidArgument: the provider has no event of that type.
absl::StatusOr<std::string> SignatureProviderSample(const config::SourceConfig& source,
                                                    v1::EventType type, std::string_view to,
                                                    absl::Time now, std::string_view event_key);

// Amazon SNS signs fields inside the body: wraps `message` in an SNS Notification for the source's
// first topic ARN, SigningCertURL = its first pinned_certs URL, MessageId = input.id, signed with
// input.private_key_pem (RSA, SignatureVersion 2). kInvalidArgument: no private key / pinned cert.
absl::StatusOr<std::string> SnsNotification(const config::SourceConfig& source,
                                            std::string_view message, const SigningInput& input);

// The headers of the signature providers: ses (x-amz-sns-*, text/plain), postal (both RSA
// signatures with input.private_key_pem), customerio (X-CIO-*), generic-hmac (its header,
// timestamp and id headers). kUnimplemented for other providers.
absl::StatusOr<Headers> SignSignatureProvider(const config::SourceConfig& source,
                                              const SigningInput& input);

// Writes an RSA key pair for Postal (postal-private.pem; postal-public.txt = the router's
// public_key) and one for SNS (sns-private.pem; sns-cert.pem, a self-signed certificate valid for
// a year, for pinned_certs) into folder `out`.
absl::Status WriteRsaDevKeys(const std::string& out);

}  // namespace switchboard::ctl
