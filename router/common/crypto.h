#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <openssl/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

}  // namespace switchboard::crypto
