// RSA PKCS#1 v1.5 helpers: the published Amazon SNS vectors (SignatureVersion 1 = SHA-1,
// 2 = SHA-256) over their string-to-sign, and sign/verify round trips with generated keys.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ui.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/common/crypto.h"

namespace switchboard::crypto {
namespace {

using ::testing::HasSubstr;

// `pem` (an unencrypted private key) encrypted with AES-256-CBC under "passphrase", as PKCS#8.
std::string EncryptedPem(const std::string& pem) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  std::string encrypted;
  if (key != nullptr &&
      PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                    const_cast<char*>("passphrase")) == 1) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(out, &data);
    encrypted.assign(data, static_cast<size_t>(length));
  }
  EVP_PKEY_free(key);
  BIO_free(in);
  BIO_free(out);
  return encrypted;
}

std::string Fixture(const std::string& relative) {
  std::ifstream in(std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/testdata/fixtures/" + relative,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// aws/aws-php-sns-message-validator tests/FunctionalValidationsTest.php fixture 1 (SHA1withRSA)
// and 2 (SHA256withRSA); the string to sign is the vector's derived_string_to_sign.
constexpr char kSigV1[] =
    "ghtf+deOBAzHJJZ6s6CdRLfTQAlcGzq9naoFM1wi0CJiq//uVRuZnamrkWNF0fhouMFvuLVRwcz8PZLUMSfnmd5VpdTKpT"
    "yiKmy1qJAZXma0w+yi7G+I33hD1Jyk1Nbym2n0kqp3fVu2aoooiN2ZeLAT2bH0/BtjLSfN1yAOKNoprco4qV9gGUZinXJd"
    "j9a1YdNhDR2jKi33ldlsVtEXAtiaDklGEk7DgRKX38GerBPiLg3FdtgY6KC7cdeGpU/dGK+4hjc83Ive1HoFkAwqhpgInM"
    "2sMytBosoiXfCmOKmU4xeGD0gHDNZTlJUJQDlzw8Eag0H9f/5zXF9d3uy0YQ==";
constexpr char kStringToSignV1[] =
    "Message\nHello world\nMessageId\n792cda85-518f-5dd3-9163-81d851212f3a\nTimestamp\n"
    "2022-07-28T21:23:58.317Z\nTopicArn\narn:aws:sns:us-east-2:295079676684:publish-and-verify-"
    "892f85fe-4836-424d-8188-ab85bef0f362\nType\nNotification\n";
constexpr char kSigV2[] =
    "CXVqp9PfZAL+4JHS3Zxo1PFbQsvnOjvmYhtIf17TWpwc+iIVas8kZ8GopuzVzVMdatE7rCl/O4P91Zp05Dwz8lk8dLhfp8"
    "gSu3Njlzxlyrmzo9x3va3Jb7zFnedgS2GKnZWHGBdwTXho+TosNUE+3e10OMSlwN5XGDwX7+R3WL+rn+AXmFAqp3alg27s"
    "Ya55h1dLE9cGszGPjScPdtF3BmZsUDMx9wSdNKsCk+vSvE8yBjnCmUl7laSFj3LzPVrlSwgNYCF3kYnNAkah7NplK4SFhJ"
    "YLwS0HCVCQJKa8rVbQLf9cBTu60U402mrgy0bN8xWoyimzbYbrOMJjalqkUg==";
constexpr char kStringToSignV2[] =
    "Message\nHello world\nMessageId\n17dea24b-55c2-540b-8362-f916557af765\nTimestamp\n"
    "2022-07-28T21:24:08.324Z\nTopicArn\narn:aws:sns:us-east-2:295079676684:publish-and-verify-"
    "62674b1d-4295-426b-88e7-5fb75652a04e\nType\nNotification\n";

TEST(RsaTest, VerifiesPublishedSnsSignatures) {
  auto cert = ParseRsaCertificate(Fixture("ses_sns/sns-cert.pem"));
  ASSERT_TRUE(cert.ok()) << cert.status();
  // SOURCES.md: valid 2021-09-07 .. 2022-08-17.
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d", cert->not_before, absl::UTCTimeZone()), "2021-09-07");
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d", cert->not_after, absl::UTCTimeZone()), "2022-08-17");
  const std::string v1 = Base64Decode(kSigV1).value();
  const std::string v2 = Base64Decode(kSigV2).value();
  EXPECT_TRUE(cert->key.Verify(RsaDigest::kSha1, kStringToSignV1, v1).ok());
  EXPECT_TRUE(cert->key.Verify(RsaDigest::kSha256, kStringToSignV2, v2).ok());
  // The other digest, one changed byte, or a truncated signature never verify.
  EXPECT_EQ(cert->key.Verify(RsaDigest::kSha256, kStringToSignV1, v1).code(),
            absl::StatusCode::kUnauthenticated);
  std::string tampered = kStringToSignV1;
  tampered[8] = 'h';
  EXPECT_EQ(cert->key.Verify(RsaDigest::kSha1, tampered, v1).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(cert->key.Verify(RsaDigest::kSha1, kStringToSignV1, v1.substr(1)).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(cert->key.Verify(RsaDigest::kSha1, kStringToSignV1, "").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(RsaTest, SignThenVerifyInEveryKeyForm) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto pair = GenerateRsaKeyPair(2048, "sns.us-east-1.amazonaws.com", now, now + absl::Hours(1));
  ASSERT_TRUE(pair.ok()) << pair.status();
  const std::string body = "{\"event\":\"MessageSent\"}\r\n";
  for (RsaDigest digest : {RsaDigest::kSha1, RsaDigest::kSha256}) {
    auto sig = RsaSign(pair->private_key_pem, digest, body);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(sig->size(), 256u);
    auto key = RsaPublicKey::Parse(pair->public_key_der_base64);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_TRUE(key->Verify(digest, body, *sig).ok());
    EXPECT_EQ(key->Verify(digest, body.substr(0, body.size() - 2), *sig).code(),
              absl::StatusCode::kUnauthenticated);
    // The DKIM-record form the Postal UI shows, and PEM.
    auto dkim = RsaPublicKey::Parse("v=DKIM1; t=s; h=sha256; p=" + pair->public_key_der_base64 +
                                    ";");
    ASSERT_TRUE(dkim.ok()) << dkim.status();
    EXPECT_TRUE(dkim->Verify(digest, body, *sig).ok());
    auto cert = ParseRsaCertificate(pair->certificate_pem);
    ASSERT_TRUE(cert.ok()) << cert.status();
    EXPECT_TRUE(cert->key.Verify(digest, body, *sig).ok());
    EXPECT_EQ(cert->not_before, now);
    EXPECT_EQ(cert->not_after, now + absl::Hours(1));
  }
  auto other = GenerateRsaKeyPair(2048, "other", now, now + absl::Hours(1)).value();
  auto sig = RsaSign(pair->private_key_pem, RsaDigest::kSha256, body).value();
  EXPECT_EQ(RsaPublicKey::Parse(other.public_key_der_base64)->Verify(RsaDigest::kSha256, body, sig)
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(RsaTest, CheckKeyMatchesCertificateTellsAPairFromAMismatch) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto pair = GenerateRsaKeyPair(2048, "localhost", now, now + absl::Hours(1));
  auto other = GenerateRsaKeyPair(2048, "localhost", now, now + absl::Hours(1));
  ASSERT_TRUE(pair.ok() && other.ok());
  // A match answers the certificate's validity period (it does not judge it).
  absl::StatusOr<CertificateValidity> validity =
      CheckKeyMatchesCertificate(pair->certificate_pem, pair->private_key_pem);
  ASSERT_TRUE(validity.ok()) << validity.status();
  EXPECT_EQ(validity->not_before, now);
  EXPECT_EQ(validity->not_after, now + absl::Hours(1));
  // A chain: the key must be the first certificate's.
  EXPECT_TRUE(CheckKeyMatchesCertificate(pair->certificate_pem + other->certificate_pem,
                                         pair->private_key_pem)
                  .ok());

  absl::Status mismatch =
      CheckKeyMatchesCertificate(pair->certificate_pem, other->private_key_pem).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("does not match the certificate"));
  EXPECT_THAT(std::string(CheckKeyMatchesCertificate(other->certificate_pem + pair->certificate_pem,
                                                     pair->private_key_pem)
                              .status()
                              .message()),
              HasSubstr("does not match"));

  EXPECT_THAT(std::string(CheckKeyMatchesCertificate("-----BEGIN CERTIFICATE-----\nZm9v\n"
                                                     "-----END CERTIFICATE-----\n",
                                                     pair->private_key_pem)
                              .status()
                              .message()),
              HasSubstr("not a PEM X.509 certificate"));
  // A certificate where the key should be.
  EXPECT_THAT(std::string(CheckKeyMatchesCertificate(pair->certificate_pem, pair->certificate_pem)
                              .status()
                              .message()),
              HasSubstr("not an unencrypted PEM private key"));
  // The right key, encrypted: refused, and never by asking for a passphrase. OpenSSL's default
  // PEM callback reads one through the default UI method (a terminal prompt); a counting method
  // in its place sees whether anything asked.
  const std::string encrypted = EncryptedPem(pair->private_key_pem);
  ASSERT_NE(encrypted.find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);
  static std::atomic<int> prompts{0};
  UI_METHOD* counting = UI_create_method("counting");
  ASSERT_NE(counting, nullptr);
  UI_method_set_reader(counting, [](UI*, UI_STRING*) {
    prompts.fetch_add(1);
    return 0;  // no passphrase
  });
  const UI_METHOD* previous = UI_get_default_method();
  UI_set_default_method(counting);
  const absl::Status refused =
      CheckKeyMatchesCertificate(pair->certificate_pem, encrypted).status();
  const absl::StatusOr<std::string> signed_with_it =
      RsaSign(encrypted, RsaDigest::kSha256, "message");
  UI_set_default_method(previous);
  UI_destroy_method(counting);
  EXPECT_EQ(prompts.load(), 0) << "a passphrase was asked for";
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("private key: encrypted, which is not supported"));
  EXPECT_THAT(std::string(signed_with_it.status().message()),
              HasSubstr("private key: encrypted, which is not supported"));
}

TEST(RsaTest, RefusesBadKeys) {
  EXPECT_EQ(RsaPublicKey::Parse("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaPublicKey::Parse("not base64!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaPublicKey::Parse("v=DKIM1; p=").status().code(),
            absl::StatusCode::kInvalidArgument);
  // An EC key is not RSA.
  EXPECT_EQ(RsaPublicKey::Parse(GenerateP256KeyPair()->public_key_der_base64).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRsaCertificate("-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaSign("not a key", RsaDigest::kSha1, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaSign(GenerateP256KeyPair()->private_key_pem, RsaDigest::kSha1, "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::crypto
