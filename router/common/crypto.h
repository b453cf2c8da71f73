#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <openssl/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

// Cryptographic primitives over OpenSSL 3 (EVP APIs) that webhook verification and the signing
// tools need. Byte strings travel as std::string / std::string_view holding raw bytes.
// Every function is thread-safe; none throws.
namespace switchboard::crypto {

// SHA-256 of `data`: 32 raw bytes.
absl::StatusOr<std::string> Sha256(std::string_view data);

// HMAC (RFC 2104) of `data` keyed with `key` (raw bytes, any length including empty).
// Returns the raw MAC: 20, 32 or 64 bytes.
absl::StatusOr<std::string> HmacSha1(std::string_view key, std::string_view data);
absl::StatusOr<std::string> HmacSha256(std::string_view key, std::string_view data);
absl::StatusOr<std::string> HmacSha512(std::string_view key, std::string_view data);

// Standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /, '=' padding).
std::string Base64Encode(std::string_view bytes);
// Strict decode: the length must be a multiple of 4, padding only at the end (at most two '='),
// no whitespace or other characters, and unused trailing bits must be zero (canonical encoding),
// so one byte string has exactly one accepted text. kInvalidArgument otherwise.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

// Lower-case hex.
std::string HexEncode(std::string_view bytes);
// Accepts upper and lower case; kInvalidArgument on odd length or a non-hex character.
absl::StatusOr<std::string> HexDecode(std::string_view text);

// Compares in time that depends only on the lengths (CRYPTO_memcmp). Different lengths -> false.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// An ECDSA public key on NIST P-256 (prime256v1 / secp256r1). Immutable; Verify may run
// concurrently from several threads (OpenSSL 3 allows shared read-only EVP_PKEY use).
class EcdsaP256PublicKey {
 public:
  // `text` is either PEM ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo) or the strict base64
  // of the DER SubjectPublicKeyInfo (the form SendGrid shows). Surrounding whitespace is ignored.
  // kInvalidArgument: not a key, or a key that is not EC P-256.
  static absl::StatusOr<EcdsaP256PublicKey> Parse(std::string_view text);

  // Verifies an ECDSA signature (DER Ecdsa-Sig-Value, as X9.62 / RFC 3279) over SHA-256(message).
  // OK if valid; kUnauthenticated if the signature is malformed or does not match.
  absl::Status Verify(std::string_view message, std::string_view der_signature) const;

 private:
  explicit EcdsaP256PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// One-shot form of EcdsaP256PublicKey::Parse(public_key).Verify(message, der_signature).
// kInvalidArgument for a bad key, kUnauthenticated for a bad signature.
absl::Status EcdsaP256Verify(std::string_view public_key, std::string_view message,
                             std::string_view der_signature);

// The signing side, for tests, the demo and `switchboardctl send` / `dev-keys`.
struct P256KeyPair {
  std::string private_key_pem;        // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----")
  std::string public_key_der_base64;  // base64 DER SubjectPublicKeyInfo (SendGrid's format)
};
absl::StatusOr<P256KeyPair> GenerateP256KeyPair();

// Signs SHA-256(message) with a P-256 private key in PEM (PKCS#8 or SEC 1 "EC PRIVATE KEY").
// Returns the DER Ecdsa-Sig-Value. ECDSA is randomized: two signatures of one message differ.
// kInvalidArgument: not a P-256 private key.
absl::StatusOr<std::string> EcdsaP256Sign(std::string_view private_key_pem,
                                          std::string_view message);

// RSA PKCS#1 v1.5 signatures (RFC 8017 section 8.2), as Amazon SNS (SignatureVersion 1 = SHA-1,
// 2 = SHA-256) and Postal (X-Postal-Signature = SHA-1, X-Postal-Signature-256 = SHA-256) use them.
enum class RsaDigest { kSha1, kSha256 };

struct RsaCertificate;
absl::StatusOr<RsaCertificate> ParseRsaCertificate(std::string_view pem);

// An RSA public key of at least kMinBits. Immutable; Verify may run concurrently.
class RsaPublicKey {
 public:
  // 1024: Postal's default signing key size; SNS certificates carry 2048-bit keys.
  static constexpr int kMinBits = 1024;

  // `text` is PEM ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo), the strict base64 of the
  // DER SubjectPublicKeyInfo, or a DKIM-style record "v=DKIM1; ...; p=<base64 DER>" (the form the
  // Postal UI shows its signing key in). Surrounding whitespace is ignored.
  // kInvalidArgument: not a key, not RSA, or shorter than kMinBits.
  static absl::StatusOr<RsaPublicKey> Parse(std::string_view text);

  // OK if `signature` is a valid PKCS#1 v1.5 signature of digest(message); kUnauthenticated if it
  // is malformed or does not match.
  absl::Status Verify(RsaDigest digest, std::string_view message,
                      std::string_view signature) const;

 private:
  friend absl::StatusOr<RsaCertificate> ParseRsaCertificate(std::string_view pem);
  explicit RsaPublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}
  std::shared_ptr<EVP_PKEY> key_;
};

// The parts of an X.509 certificate a signature check needs.
struct RsaCertificate {
  RsaPublicKey key;
  absl::Time not_before;
  absl::Time not_after;
};

// A certificate's validity period (X.509 notBefore, notAfter).
struct CertificateValidity {
  absl::Time not_before;
  absl::Time not_after;
};

// Whether `private_key_pem` (PKCS#8, SEC 1 or PKCS#1 PEM, unencrypted) is the key of the first
// certificate in `certificate_chain_pem` (a PEM chain, leaf first), as a TLS server needs them;
// answers that certificate's validity, which it does not check. kInvalidArgument: no
// certificate, no usable key (an encrypted key is refused, never prompted for), or the two do
// not match; the message says which.
absl::StatusOr<CertificateValidity> CheckKeyMatchesCertificate(
    std::string_view certificate_chain_pem, std::string_view private_key_pem);

// Parses one PEM X.509 certificate ("-----BEGIN CERTIFICATE-----") with an RSA key of at least
// RsaPublicKey::kMinBits. No chain or name check: the caller decides why it trusts the bytes.
// kInvalidArgument: not a PEM certificate, or its key is not a usable RSA key.
absl::StatusOr<RsaCertificate> ParseRsaCertificate(std::string_view pem);

// The signing side, for tests and `switchboardctl send` / `dev-keys`.
struct RsaKeyPair {
  std::string private_key_pem;        // PKCS#8 PEM
  std::string public_key_der_base64;  // base64 DER SubjectPublicKeyInfo (the form Postal shows)
  std::string certificate_pem;        // self-signed X.509, CN=`common_name`, SHA-256
};
// A fresh key of `bits` and a self-signed certificate valid over [not_before, not_after].
absl::StatusOr<RsaKeyPair> GenerateRsaKeyPair(int bits, std::string_view common_name,
                                              absl::Time not_before, absl::Time not_after);

// The PKCS#1 v1.5 signature of digest(message) with an RSA private key in PEM (PKCS#8 or
// "RSA PRIVATE KEY"). Deterministic. kInvalidArgument: not an RSA private key.
absl::StatusOr<std::string> RsaSign(std::string_view private_key_pem, RsaDigest digest,
                                    std::string_view message);

}  // namespace switchboard::crypto
