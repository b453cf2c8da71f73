#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "router/common/clock.h"
#include "router/common/crypto.h"
#include "router/config/config.h"
#include "router/providers/certificate_source.h"
#include "router/providers/provider.h"

namespace switchboard::providers {

// Amazon SES event and notification publishing through Amazon SNS HTTP(S) subscriptions.
//
// Verify (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html, message
// format https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html): the body is
// an SNS JSON message whatever the Content-Type (SNS sends text/plain). Its Type is Notification,
// SubscriptionConfirmation or UnsubscribeConfirmation. The string to sign is, for each of the
// type's keys that is present (Notification: Message, MessageId, Subject, Timestamp, TopicArn,
// Type; the confirmations: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type;
// a null Subject counts as absent), "<Key>\n<JSON-decoded value>\n". Signature is the strict
// base64 of an RSA PKCS#1 v1.5 signature, SHA-1 for SignatureVersion "1", SHA-256 for "2",
// by the X.509 certificate at SigningCertURL, which must be https, without user-info or explicit
// port, on host sns.<region>.amazonaws.com[.cn] with path /SimpleNotificationService-<hex>.pem
// (the Lambda spellings SigningCertUrl / SubscribeUrl are read as well). The certificate comes from
// the injected CertificateSource and must be valid at the clock's time.
// kInvalidArgument: the body is not a JSON object. kUnavailable: the certificate cannot be had now
// (the ingress answers 503: SNS drops a message answered 4xx). kUnauthenticated: an unknown Type,
// a missing field, a TopicArn not in `topic_arns`, a SignatureVersion not allowed, a certificate
// URL outside the allowlist, a Timestamp older than `max_age` (default 1 h, SNS's default retry
// span; zero disables) or than the dedupe window, or in the future by more than `max_age`, an
// x-amz-sns-message-type / x-amz-sns-topic-arn header that is repeated or disagrees with the body,
// or a signature that does not verify.
//
// Decode: SubscriptionConfirmation -> control "subscription-confirmation" (with confirm_url =
// SubscribeURL when `auto_confirm` is on and the URL is https://sns.<region>.amazonaws.com[.cn]/
// with Action=ConfirmSubscription); UnsubscribeConfirmation -> control
// "unsubscribe-confirmation". A Notification's Message is an SES record in either schema:
// notifications (`notificationType`, https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html)
// or event publishing (`eventType`, https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html).
// Types: Send->SENT, Delivery->DELIVERED, DeliveryDelay->DEFERRED, Bounce->BOUNCED,
// Complaint->COMPLAINED, Reject and "Rendering Failure"->DROPPED, Open->OPENED, Click->CLICKED,
// Received->RECEIVED, Subscription with newTopicPreferences.unsubscribeAll->UNSUBSCRIBED, anything
// else (other Subscription changes, newer types) -> UNKNOWN. One event per recipient: Bounce
// bouncedRecipients, Complaint complainedRecipients, Delivery delivery.recipients, DeliveryDelay
// delayedRecipients, Received receipt.recipients, others mail.destination. Bounce class from
// bounceType: Permanent->HARD, Transient->SOFT, Undetermined->UNDETERMINED (provider_type
// "<bounceType>/<bounceSubType>"); status -> enhanced_status, diagnosticCode -> diagnostic and
// its SMTP reply code -> smtp_code. occurred_at is the record's own timestamp (bounce, complaint,
// delivery, deliveryDelay, open, click, subscription, receipt), else mail.timestamp, else the SNS
// Timestamp; every fractional digit is kept. provider_event_key is the SNS MessageId (kept across
// SNS retries; the recipient completes the idempotency key). message_id = mail.messageId, sender =
// mail.source, subject = mail.commonHeaders.subject, mail.tags -> tags "name:value" and (except
// the ses:* ones) metadata name -> first value. raw is the whole SNS message (it stays
// verifiable). The SES "AmazonSnsSubscriptionSucceeded" notice -> control "ses-subscription-succeeded".
// kInvalidArgument: a Notification whose Message is not an SES JSON record.
//
// Thread-safe after construction.
class SesProvider final : public Provider {
 public:
  static constexpr absl::Duration kDefaultMaxAge = absl::Hours(1);

  // The fields of one SNS message, for signing (tests, switchboardctl).
  struct SnsFields {
    std::string type = "Notification";
    std::string message_id;
    std::string topic_arn;
    std::optional<std::string> subject;
    std::string message;
    std::string timestamp;  // RFC 3339, e.g. "2022-07-28T21:23:58.317Z"
    std::string signature_version = "2";
    std::string signing_cert_url;
    std::string subscribe_url;  // confirmations only
    std::string token;          // confirmations only
  };

  // kInvalidArgument naming the field under `field_path`: no topic_arns, a signature version
  // other than 1 and 2, a negative max_age, or pinned_certs with a URL outside the allowlist or a
  // file that is unreadable or not an RSA certificate. The source's pinned_certs win when there
  // are any (only they are used: air-gapped installs, tests); else `certificates` (the app's
  // HTTPS fetcher); kInvalidArgument if there is neither. `clock` must outlive the provider;
  // `replay_horizon` is the dedupe window.
  static absl::StatusOr<std::unique_ptr<SesProvider>> Create(
      const config::SourceConfig& source, std::string_view field_path, const Clock& clock,
      absl::Duration replay_horizon = absl::InfiniteDuration(),
      std::shared_ptr<const CertificateSource> certificates = nullptr);

  // The SNS string to sign of a message body. kUnauthenticated: not an SNS message of a known Type
  // with its required fields; kInvalidArgument: not a JSON object.
  static absl::StatusOr<std::string> StringToSign(std::string_view body);
  // OK when `url` may be fetched as a signing certificate / GET to confirm a subscription;
  // kUnauthenticated otherwise (with the reason).
  static absl::Status CheckSigningCertUrl(std::string_view url);
  static absl::Status CheckSubscribeUrl(std::string_view url);
  // An SNS message body (compact JSON) carrying `fields` signed with `private_key_pem` (RSA) as
  // SignatureVersion `fields.signature_version` says.
  static absl::StatusOr<std::string> SignedMessage(const SnsFields& fields,
                                                   std::string_view private_key_pem);

  absl::Status Verify(const WebhookRequest& request) const override;
  absl::StatusOr<DecodeResult> Decode(const WebhookRequest& request) const override;
  absl::Duration Tolerance() const override { return max_age_; }

 private:
  SesProvider(std::string source, std::vector<std::string> topic_arns, bool allow_v1,
              bool allow_v2, absl::Duration max_age, bool auto_confirm,
              absl::Duration replay_horizon, std::shared_ptr<const CertificateSource> certificates,
              const Clock& clock)
      : source_(std::move(source)),
        topic_arns_(std::move(topic_arns)),
        allow_v1_(allow_v1),
        allow_v2_(allow_v2),
        max_age_(max_age),
        auto_confirm_(auto_confirm),
        replay_horizon_(replay_horizon),
        certificates_(std::move(certificates)),
        clock_(clock) {}

  const std::string source_;
  const std::vector<std::string> topic_arns_;
  const bool allow_v1_;
  const bool allow_v2_;
  const absl::Duration max_age_;  // zero: no age limit (the dedupe window still applies)
  const bool auto_confirm_;
  const absl::Duration replay_horizon_;
  const std::shared_ptr<const CertificateSource> certificates_;
  const Clock& clock_;
};

}  // namespace switchboard::providers
