#include "router/common/crypto.h"

#include <array>
#include <climits>
#include <cstring>
#include <memory>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"

namespace switchboard::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// OpenSSL keeps a per-thread error queue; drain it so one failure never leaks into the next call.
std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  ERR_clear_error();
  return reason == nullptr ? "unknown OpenSSL error" : reason;
}

// OpenSSL 3 looks an algorithm up by name, under a lock, on every EVP_Q_mac and on every use of
// EVP_sha256() and the like ("implicit fetching",
// https://www.openssl.org/docs/man3.0/man7/crypto.html#PERFORMANCE); a profile of single-event
// ingest put as much time in those look-ups and in context set-up as in hashing the body. So the
// algorithms are fetched once per process, and each thread keeps one HMAC context per digest:
// EVP_MAC_init with a key starts it over (https://www.openssl.org/docs/man3.0/man3/EVP_MAC_init.html).
enum class HmacDigest { kSha1, kSha256, kSha512 };

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

const char* DigestName(HmacDigest digest) {
  switch (digest) {
    case HmacDigest::kSha1:
      return "SHA1";
    case HmacDigest::kSha256:
      return "SHA256";
    case HmacDigest::kSha512:
      return "SHA512";
  }
  return "SHA256";
}

// This thread's context for `digest`, null if OpenSSL cannot make one (the error is queued).
EVP_MAC_CTX* HmacContext(HmacDigest digest) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // never freed
  thread_local std::array<MacCtxPtr, 3> contexts;
  MacCtxPtr& ctx = contexts[static_cast<size_t>(digest)];
  if (ctx == nullptr && mac != nullptr) {
    ctx.reset(EVP_MAC_CTX_new(mac));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(DigestName(digest)), 0),
        OSSL_PARAM_construct_end()};
    if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx.get(), params) != 1) ctx.reset();
  }
  return ctx.get();
}

absl::StatusOr<std::string> Hmac(HmacDigest digest, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out;
  size_t out_len = 0;
  // A zero-length key is legal HMAC; OpenSSL wants a non-null pointer for it (a null key would
  // mean "the previous key").
  static const unsigned char kEmpty = 0;
  const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  EVP_MAC_CTX* ctx = HmacContext(digest);
  if (ctx == nullptr || EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &out_len, out.size()) != 1) {
    return absl::InternalError(absl::StrCat("HMAC-", DigestName(digest), ": ", OpenSslError()));
  }
  return std::string(reinterpret_cast<const char*>(out.data()), out_len);
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) return false;
  return std::string_view(group, len) == "prime256v1";
}

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string_view StripSpace(std::string_view text) {
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

absl::Status CheckRsa(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("public key: not an RSA key");
  }
  if (EVP_PKEY_get_bits(key) < RsaPublicKey::kMinBits) {
    return absl::InvalidArgumentError(absl::StrCat("public key: RSA key of ",
                                                   EVP_PKEY_get_bits(key), " bits, want at least ",
                                                   RsaPublicKey::kMinBits));
  }
  return absl::OkStatus();
}

const EVP_MD* Md(RsaDigest digest) {
  return digest == RsaDigest::kSha1 ? EVP_sha1() : EVP_sha256();
}

absl::Time FromAsn1Time(const ASN1_TIME* time) {
  struct tm tm = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return absl::InfinitePast();
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                           tm.tm_hour, tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

// A pem_password_cb that has no passphrase to give: an encrypted key then fails to load instead
// of OpenSSL's default callback prompting on the controlling terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// A private key from PEM (PKCS#8, SEC 1 or PKCS#1). kInvalidArgument "private key: ..." when it
// is not one, naming an encrypted key as such.
absl::StatusOr<PkeyPtr> ReadPrivateKey(std::string_view pem) {
  if (pem.size() > INT_MAX) return absl::InvalidArgumentError("private key: too long");
  ERR_clear_error();  // OpenSSL 3 does not always queue an error for a failed PEM read
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::InternalError("private key: " + OpenSslError());
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key != nullptr) return key;
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "private key: encrypted, which is not supported: decrypt it first "
        "(openssl pkey -in KEY -out PLAIN)");
  }
  return absl::InvalidArgumentError("private key: not an unencrypted PEM private key: " +
                                    OpenSslError());
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

// The first certificate of a PEM text (a chain's leaf). kInvalidArgument "certificate: ...".
absl::StatusOr<X509Ptr> ReadFirstCertificate(std::string_view pem) {
  if (pem.size() > INT_MAX) return absl::InvalidArgumentError("certificate: too long");
  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::InternalError("certificate: " + OpenSslError());
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError("certificate: not a PEM X.509 certificate: " +
                                      OpenSslError());
  }
  return cert;
}

}  // namespace

absl::StatusOr<std::string> Sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out;
  unsigned int out_len = 0;
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // never freed
  if (sha256 == nullptr ||
      EVP_Digest(data.data(), data.size(), out.data(), &out_len, sha256, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("SHA-256: ", OpenSslError()));
  }
  return std::string(reinterpret_cast<const char*>(out.data()), out_len);
}

absl::StatusOr<std::string> HmacSha1(std::string_view key, std::string_view data) {
  return Hmac(HmacDigest::kSha1, key, data);
}
absl::StatusOr<std::string> HmacSha256(std::string_view key, std::string_view data) {
  return Hmac(HmacDigest::kSha256, key, data);
}
absl::StatusOr<std::string> HmacSha512(std::string_view key, std::string_view data) {
  return Hmac(HmacDigest::kSha512, key, data);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                 uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64: length is not a multiple of 4");
  }
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (last && j >= 4 - padding) {
        n <<= 6;
        continue;
      }
      int v = Base64Value(c);
      if (v < 0) return absl::InvalidArgumentError("base64: character outside the alphabet");
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (last && padding == 2) {
      if ((n & 0xffff) != 0) return absl::InvalidArgumentError("base64: non-canonical padding bits");
      break;
    }
    out += static_cast<char>((n >> 8) & 0xff);
    if (last && padding == 1) {
      if ((n & 0xff) != 0) return absl::InvalidArgumentError("base64: non-canonical padding bits");
      break;
    }
    out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return absl::InvalidArgumentError("hex: odd length");
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("hex: not a hex digit");
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<EcdsaP256PublicKey> EcdsaP256PublicKey::Parse(std::string_view text) {
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.size() > INT_MAX) return absl::InvalidArgumentError("public key: too long");
  PkeyPtr key;
  if (text.starts_with("-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (bio == nullptr) return absl::InternalError("public key: " + OpenSslError());
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (key == nullptr) {
      return absl::InvalidArgumentError("public key: not a PEM public key: " + OpenSslError());
    }
  } else {
    auto der = Base64Decode(text);
    if (!der.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("public key: neither PEM nor strict base64 DER (", der.status().message(),
                       ")"));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
    if (key == nullptr) {
      return absl::InvalidArgumentError("public key: not a DER SubjectPublicKeyInfo: " +
                                        OpenSslError());
    }
    if (p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
      return absl::InvalidArgumentError("public key: trailing bytes after the DER key");
    }
  }
  if (!IsP256(key.get())) return absl::InvalidArgumentError("public key: not an EC P-256 key");
  return EcdsaP256PublicKey(std::shared_ptr<EVP_PKEY>(key.release(), PkeyFree()));
}

absl::Status EcdsaP256PublicKey::Verify(std::string_view message,
                                        std::string_view der_signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return absl::InternalError("ECDSA verify init: " + OpenSslError());
  }
  // 1 = valid; 0 = mismatch; negative = malformed signature. Both failures mean "not authentic".
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
                            der_signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (rc != 1) return absl::UnauthenticatedError("ECDSA signature does not verify");
  return absl::OkStatus();
}

absl::Status EcdsaP256Verify(std::string_view public_key, std::string_view message,
                             std::string_view der_signature) {
  auto key = EcdsaP256PublicKey::Parse(public_key);
  if (!key.ok()) return key.status();
  return key->Verify(message, der_signature);
}

absl::StatusOr<P256KeyPair> GenerateP256KeyPair() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError("P-256 key generation: " + OpenSslError());
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("P-256 private key PEM: " + OpenSslError());
  }
  char* pem = nullptr;
  long pem_len = BIO_get_mem_data(bio.get(), &pem);
  P256KeyPair pair;
  pair.private_key_pem.assign(pem, static_cast<size_t>(pem_len));
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(key.get(), &der);
  if (der_len <= 0) return absl::InternalError("P-256 public key DER: " + OpenSslError());
  pair.public_key_der_base64 =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_free(der);
  return pair;
}

absl::StatusOr<std::string> EcdsaP256Sign(std::string_view private_key_pem,
                                          std::string_view message) {
  ASSIGN_OR_RETURN(const PkeyPtr key, ReadPrivateKey(private_key_pem));
  if (!IsP256(key.get())) return absl::InvalidArgumentError("private key: not an EC P-256 key");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("ECDSA sign: " + OpenSslError());
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("ECDSA sign: " + OpenSslError());
  }
  sig.resize(sig_len);
  return sig;
}

absl::StatusOr<RsaPublicKey> RsaPublicKey::Parse(std::string_view text) {
  text = StripSpace(text);
  if (text.size() > INT_MAX) return absl::InvalidArgumentError("public key: too long");
  PkeyPtr key;
  if (text.starts_with("-----BEGIN")) {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (bio == nullptr) return absl::InternalError("public key: " + OpenSslError());
    key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (key == nullptr) {
      return absl::InvalidArgumentError("public key: not a PEM public key: " + OpenSslError());
    }
  } else {
    // "v=DKIM1; t=s; h=sha256; p=MIGf...;" -> the p= tag (RFC 6376 section 3.6.1).
    std::string base64(text);
    if (text.find("p=") != std::string_view::npos) {
      base64.clear();
      for (absl::string_view tag : absl::StrSplit(absl::string_view(text.data(), text.size()),
                                                   ';')) {
        tag = absl::StripAsciiWhitespace(tag);
        if (absl::ConsumePrefix(&tag, "p=")) base64 = std::string(tag);
      }
    }
    auto der = Base64Decode(base64);
    if (!der.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "public key: neither PEM nor strict base64 DER (", der.status().message(), ")"));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
    if (key == nullptr) {
      return absl::InvalidArgumentError("public key: not a DER SubjectPublicKeyInfo: " +
                                        OpenSslError());
    }
    if (p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
      return absl::InvalidArgumentError("public key: trailing bytes after the DER key");
    }
  }
  if (absl::Status rsa = CheckRsa(key.get()); !rsa.ok()) return rsa;
  return RsaPublicKey(std::shared_ptr<EVP_PKEY>(key.release(), PkeyFree()));
}

absl::Status RsaPublicKey::Verify(RsaDigest digest, std::string_view message,
                                  std::string_view signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), &pctx, Md(digest), nullptr, key_.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("RSA verify init: " + OpenSslError());
  }
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (rc != 1) return absl::UnauthenticatedError("RSA signature does not verify");
  return absl::OkStatus();
}

absl::StatusOr<CertificateValidity> CheckKeyMatchesCertificate(
    std::string_view certificate_chain_pem, std::string_view private_key_pem) {
  ASSIGN_OR_RETURN(const X509Ptr leaf, ReadFirstCertificate(certificate_chain_pem));
  ASSIGN_OR_RETURN(const PkeyPtr key, ReadPrivateKey(private_key_pem));
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the private key does not match the certificate (the chain's first one)");
  }
  return CertificateValidity{FromAsn1Time(X509_get0_notBefore(leaf.get())),
                             FromAsn1Time(X509_get0_notAfter(leaf.get()))};
}

absl::StatusOr<RsaCertificate> ParseRsaCertificate(std::string_view pem) {
  ASSIGN_OR_RETURN(const X509Ptr cert, ReadFirstCertificate(StripSpace(pem)));
  PkeyPtr key(X509_get_pubkey(cert.get()));
  if (key == nullptr) return absl::InvalidArgumentError("certificate: no public key");
  if (absl::Status rsa = CheckRsa(key.get()); !rsa.ok()) return rsa;
  return RsaCertificate{RsaPublicKey(std::shared_ptr<EVP_PKEY>(key.release(), PkeyFree())),
                        FromAsn1Time(X509_get0_notBefore(cert.get())),
                        FromAsn1Time(X509_get0_notAfter(cert.get()))};
}

absl::StatusOr<RsaKeyPair> GenerateRsaKeyPair(int bits, std::string_view common_name,
                                              absl::Time not_before, absl::Time not_after) {
  PkeyPtr key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (key == nullptr) return absl::InternalError("RSA key generation: " + OpenSslError());
  RsaKeyPair pair;
  BioPtr private_bio(BIO_new(BIO_s_mem()));
  if (private_bio == nullptr || PEM_write_bio_PrivateKey(private_bio.get(), key.get(), nullptr,
                                                         nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError("RSA private key PEM: " + OpenSslError());
  }
  pair.private_key_pem = BioText(private_bio.get());
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(key.get(), &der);
  if (der_len <= 0) return absl::InternalError("RSA public key DER: " + OpenSslError());
  pair.public_key_der_base64 =
      Base64Encode(std::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_free(der);

  X509Ptr cert(X509_new());
  const std::string cn(common_name);
  X509_NAME* name = cert == nullptr ? nullptr : X509_get_subject_name(cert.get());
  if (name == nullptr || X509_set_version(cert.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("self-signed certificate: " + OpenSslError());
  }
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (cert_bio == nullptr || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return absl::InternalError("certificate PEM: " + OpenSslError());
  }
  pair.certificate_pem = BioText(cert_bio.get());
  return pair;
}

absl::StatusOr<std::string> RsaSign(std::string_view private_key_pem, RsaDigest digest,
                                    std::string_view message) {
  ASSIGN_OR_RETURN(const PkeyPtr key, ReadPrivateKey(private_key_pem));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError("private key: not an RSA key");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  size_t sig_len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), &pctx, Md(digest), nullptr, key.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("RSA sign: " + OpenSslError());
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("RSA sign: " + OpenSslError());
  }
  sig.resize(sig_len);
  return sig;
}

}  // namespace switchboard::crypto
