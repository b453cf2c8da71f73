#include "router/common/crypto.h"

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace switchboard::crypto {
namespace {

std::string Hex(const absl::StatusOr<std::string>& bytes) {
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? HexEncode(*bytes) : "";
}

// FIPS 180-2 appendix B.1 / B.2.
TEST(Sha256Test, FipsVectors) {
  EXPECT_EQ(Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// RFC 4231 test case 2 (SHA-256/512) and RFC 2202 test case 2 (SHA-1).
TEST(HmacTest, RfcVectors) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(HmacSha512("Jefe", "what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f6"
            "5f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  EXPECT_EQ(Hex(HmacSha1("Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

// RFC 4231 test case 6: a key longer than the block size is hashed first.
TEST(HmacTest, LongKey) {
  std::string key(131, '\xaa');
  EXPECT_EQ(Hex(HmacSha256(key, "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Each thread reuses one context per digest: no key or data of a call may leak into the next,
// whatever the order of keys, digests and threads. Expected values: the vectors above.
TEST(HmacTest, ReusedContextsKeepNothingBetweenCalls) {
  const auto check = [] {
    for (int round = 0; round < 50; ++round) {
      ASSERT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
      ASSERT_EQ(Hex(HmacSha256("", "")),
                "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
      ASSERT_EQ(Hex(HmacSha1("Jefe", "what do ya want for nothing?")),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
      ASSERT_EQ(Hex(HmacSha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
  };
  std::thread other(check);
  check();
  other.join();
}

// Known value of HMAC-SHA256 with an empty key over an empty message.
TEST(HmacTest, EmptyKey) {
  EXPECT_EQ(Hex(HmacSha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// RFC 4648 section 10.
TEST(Base64Test, RfcVectorsRoundTrip) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(Base64Decode("+/8=").value(), "\xfb\xff");
}

TEST(Base64Test, StrictDecodeRejects) {
  for (std::string_view bad : {
           "Zm9",            // length not a multiple of 4
           "Zm9vYg",         // missing padding
           "Zm 9v",          // whitespace
           "Zm9v\n",         // newline
           "Zm9v YmFy",      // space between groups
           "Zg=a",           // padding in the middle
           "Z===",           // too much padding
           "====",           // padding only
           "Zm9v-_==",       // URL-safe alphabet
           "Zh==",           // non-zero unused bits (non-canonical "f")
           "Zm9=",           // non-zero unused bits (non-canonical "fo")
           "Zg==Zg==",       // padding then more data
       }) {
    EXPECT_EQ(Base64Decode(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HexTest, EncodeDecode) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexDecode("0001ABff").value(), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HexDecode("zz").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConstantTimeEqualsTest, Compares) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

// The published sendgrid-go test vector (tests/testdata/fixtures/sendgrid/go-test.vector.json).
constexpr char kGoPublicKey[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGh"
    "HPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
constexpr char kGoSignature[] =
    "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/"
    "0=";
constexpr char kGoSignedPayload[] =
    "1588788367{\"category\":\"example_payload\",\"event\":\"test_event\",\"message_id\":\"message_"
    "id\"}";

TEST(EcdsaP256Test, VerifiesPublishedVector) {
  auto key = EcdsaP256PublicKey::Parse(kGoPublicKey);
  ASSERT_TRUE(key.ok()) << key.status();
  std::string sig = Base64Decode(kGoSignature).value();
  EXPECT_TRUE(key->Verify(kGoSignedPayload, sig).ok());
  EXPECT_EQ(key->Verify(std::string(kGoSignedPayload) + " ", sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(key->Verify(kGoSignedPayload, "not DER").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(key->Verify(kGoSignedPayload, "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(EcdsaP256Verify(kGoPublicKey, kGoSignedPayload, sig).ok());
}

TEST(EcdsaP256Test, AcceptsPemKey) {
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  std::string_view b64 = kGoPublicKey;
  for (size_t i = 0; i < b64.size(); i += 64) pem += std::string(b64.substr(i, 64)) + "\n";
  pem += "-----END PUBLIC KEY-----\n";
  EXPECT_TRUE(
      EcdsaP256Verify(pem, kGoSignedPayload, Base64Decode(kGoSignature).value()).ok());
}

TEST(EcdsaP256Test, RejectsBadKeys) {
  EXPECT_EQ(EcdsaP256PublicKey::Parse("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EcdsaP256PublicKey::Parse("not base64!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EcdsaP256PublicKey::Parse("Zm9vYmFy").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EcdsaP256PublicKey::Parse("-----BEGIN PUBLIC KEY-----\nZm9v\n-----END PUBLIC KEY-----")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A valid secp256k1 SubjectPublicKeyInfo (OID 1.3.132.0.10, made with `openssl ecparam`):
  // EC, but not P-256.
  constexpr char kSecp256k1[] =
      "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEdlFi8gUi+kf5co9c+g8Xe1fGAJhPK5RlbSxaT7VpU4kuunauBZ0dLGXVBLwb"
      "aGL1fipfTgOwcB1uH914dINlTA==";
  EXPECT_EQ(EcdsaP256PublicKey::Parse(kSecp256k1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EcdsaP256Test, SignThenVerifyWithGeneratedKeys) {
  auto pair = GenerateP256KeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_NE(pair->private_key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto sig = EcdsaP256Sign(pair->private_key_pem, "1600112502[{\"event\":\"processed\"}]\r\n");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(EcdsaP256Verify(pair->public_key_der_base64,
                              "1600112502[{\"event\":\"processed\"}]\r\n", *sig)
                  .ok());
  EXPECT_EQ(EcdsaP256Verify(pair->public_key_der_base64, "1600112502[{\"event\":\"processed\"}]",
                            *sig)
                .code(),
            absl::StatusCode::kUnauthenticated);
  // Another key pair does not verify it.
  auto other = GenerateP256KeyPair().value();
  EXPECT_EQ(EcdsaP256Verify(other.public_key_der_base64,
                            "1600112502[{\"event\":\"processed\"}]\r\n", *sig)
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(EcdsaP256Sign("not a key", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::crypto
