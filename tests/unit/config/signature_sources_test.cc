// The source keys of the signature providers (issue 3): ses, postal, customerio, generic-hmac,
// read from the issue's own config sample.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/config/config_loader.h"

namespace switchboard::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// The issue 3 sample lines for these providers, verbatim.
constexpr char kSample[] = R"yaml(
sources:
  - { name: ses,        provider: ses,        topic_arns: ["arn:aws:sns:us-east-1:123456789012:ses-events"],
      signature_versions: [1, 2], max_age: 1h, auto_confirm: true,
      pinned_certs: { "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem": certs/sns.pem } }
  - { name: postal,     provider: postal,     public_key: "MIIBIjAN..." }
  - { name: customerio, provider: customerio, signing_key: "...", tolerance: 5m }
  - { name: acme,       provider: generic-hmac, secret: "...", header: X-Signature, algorithm: sha256,
      encoding: hex, prefix: "sha256=", signed: "{timestamp}.{body}", timestamp_header: X-Timestamp,
      tolerance: 5m, mapping: { id: /id, type: /type, recipient: /email, occurred_at: /ts },
      types: { "email.clicked": clicked, "email.bounced": bounced } }
)yaml";

std::string LoadError(const std::string& yaml) {
  auto config = LoadConfigString(yaml, "/etc/switchboard");
  if (config.ok()) return "unexpectedly OK";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << config.status();
  return std::string(config.status().message());
}

TEST(SignatureSourcesTest, LoadsTheIssueSample) {
  auto config = LoadConfigString(kSample, "/etc/switchboard");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->sources.size(), 4u);
  const SourceConfig& ses = config->sources[0];
  EXPECT_THAT(ses.topic_arns, ElementsAre("arn:aws:sns:us-east-1:123456789012:ses-events"));
  EXPECT_THAT(ses.signature_versions, ElementsAre(1, 2));
  EXPECT_EQ(ses.max_age, absl::Hours(1));
  EXPECT_TRUE(ses.auto_confirm);
  EXPECT_THAT(ses.pinned_certs,
              ElementsAre(Pair(
                  "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
                  "/etc/switchboard/certs/sns.pem")));
  EXPECT_EQ(config->sources[1].public_key, "MIIBIjAN...");
  EXPECT_EQ(config->sources[2].signing_key, "...");
  EXPECT_EQ(config->sources[2].tolerance, absl::Minutes(5));
  const SourceConfig& acme = config->sources[3];
  ASSERT_TRUE(acme.generic_hmac.has_value());
  EXPECT_FALSE(acme.header.has_value());  // the string form is not the {name, value} credential
  EXPECT_EQ(acme.generic_hmac->secret, "...");
  EXPECT_EQ(acme.generic_hmac->signature_header, "X-Signature");
  EXPECT_EQ(acme.generic_hmac->algorithm, "sha256");
  EXPECT_EQ(acme.generic_hmac->encoding, "hex");
  EXPECT_EQ(acme.generic_hmac->prefix, "sha256=");
  EXPECT_EQ(acme.generic_hmac->signed_template, "{timestamp}.{body}");
  EXPECT_EQ(acme.generic_hmac->timestamp_header, "X-Timestamp");
  EXPECT_THAT(acme.generic_hmac->mapping,
              ElementsAre(Pair("id", "/id"), Pair("occurred_at", "/ts"), Pair("recipient", "/email"),
                          Pair("type", "/type")));
  EXPECT_THAT(acme.generic_hmac->types,
              ElementsAre(Pair("email.bounced", "bounced"), Pair("email.clicked", "clicked")));
  EXPECT_EQ(acme.tolerance, absl::Minutes(5));
}

TEST(SignatureSourcesTest, DefaultsAndRequiredKeys) {
  auto config = LoadConfigString(
      "sources: [ { name: s, provider: ses, topic_arns: [\"arn:aws:sns:eu-west-1:1:t\"] },\n"
      "           { name: g, provider: generic-hmac, secret: k, header: X-Sig } ]",
      "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->sources[0].signature_versions.empty());  // = both
  EXPECT_FALSE(config->sources[0].max_age.has_value());         // = 1h
  EXPECT_FALSE(config->sources[0].auto_confirm);
  EXPECT_EQ(config->sources[1].generic_hmac->algorithm, "sha256");
  EXPECT_EQ(config->sources[1].generic_hmac->encoding, "hex");
  EXPECT_EQ(config->sources[1].generic_hmac->signed_template, "{body}");

  EXPECT_THAT(LoadError("sources: [ { name: s, provider: ses } ]"),
              HasSubstr("sources[0].topic_arns: required for provider ses"));
  EXPECT_THAT(LoadError("sources: [ { name: p, provider: postal } ]"),
              HasSubstr("sources[0].public_key: required for provider postal"));
  EXPECT_THAT(LoadError("sources: [ { name: c, provider: customerio } ]"),
              HasSubstr("sources[0].signing_key: required for provider customerio"));
  EXPECT_THAT(LoadError("sources: [ { name: g, provider: generic-hmac, header: X-Sig } ]"),
              HasSubstr("sources[0].secret: required for provider generic-hmac"));
  EXPECT_THAT(LoadError("sources: [ { name: g, provider: generic-hmac, secret: k } ]"),
              HasSubstr("sources[0].header: required for provider generic-hmac"));
}

TEST(SignatureSourcesTest, BadValuesNameTheField) {
  EXPECT_THAT(LoadError("sources: [ { name: s, provider: ses, topic_arns: [\"arn:aws:sns:x\"],\n"
                        "             signature_versions: [1, 3] } ]"),
              HasSubstr("sources[0].signature_versions[1]: want 1 or 2, got \"3\""));
  EXPECT_THAT(LoadError("sources: [ { name: s, provider: ses, topic_arns: [topic] } ]"),
              HasSubstr("sources[0].topic_arns[0]: \"topic\" is not an ARN"));
  EXPECT_THAT(LoadError("sources: [ { name: s, provider: ses, topic_arns: [\"arn:a\"],\n"
                        "             auto_confirm: yes } ]"),
              HasSubstr("sources[0].auto_confirm: want true or false"));
  EXPECT_THAT(LoadError("sources: [ { name: g, provider: generic-hmac, secret: k, header: X,\n"
                        "             algorithm: md5 } ]"),
              HasSubstr("sources[0].algorithm: want one of sha1, sha256, sha512, got \"md5\""));
  EXPECT_THAT(LoadError("sources: [ { name: g, provider: generic-hmac, secret: k, header: X,\n"
                        "             encoding: base32 } ]"),
              HasSubstr("sources[0].encoding: want one of hex, base64"));
  // Keys of one provider on another, and the string form of `header` elsewhere.
  EXPECT_THAT(LoadError("sources: [ { name: p, provider: postal, public_key: k,\n"
                        "             topic_arns: [\"arn:a\"] } ]"),
              HasSubstr("sources[0].topic_arns: only valid with provider ses"));
  EXPECT_THAT(LoadError("sources: [ { name: p, provider: postal, public_key: k, secret: s } ]"),
              HasSubstr("sources[0].secret: only valid with provider generic-hmac"));
  EXPECT_THAT(LoadError("sources: [ { name: p, provider: postal, public_key: k, header: X } ]"),
              HasSubstr("sources[0].header: must be a mapping {name, value}"));
}

}  // namespace
}  // namespace switchboard::config
