#include "router/providers/event_id.h"

#include "gtest/gtest.h"
#include "router/common/crypto.h"

namespace switchboard::providers {
namespace {

TEST(ComputeEventIdTest, HashesNulSeparatedParts) {
  // Expected, computed with coreutils: printf 'resend\0msg_1\0to@example.org' | sha256sum
  EXPECT_EQ(ComputeEventId("resend", "msg_1", "to@example.org").value(),
            "0f83df54c5623d848bf1a7f3dd10fead985bc89db34f4c9b32522cca01ae6e25");
  // The separators keep ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(ComputeEventId("s", "ab", "c").value(), ComputeEventId("s", "a", "bc").value());
}

TEST(NormalizeAddressTest, NameAddrAndBare) {
  auto a = NormalizeAddress("  Recipient <John.Doe@Example.ORG> ").value();
  EXPECT_EQ(a.recipient, "John.Doe@example.org");
  EXPECT_EQ(a.recipient_key, "john.doe@example.org");
  auto b = NormalizeAddress("to2@example.org").value();
  EXPECT_EQ(b.recipient, "to2@example.org");
  EXPECT_EQ(b.recipient_key, "to2@example.org");
  auto c = NormalizeAddress("\"Doe, J\" <j@EXAMPLE.com>").value();
  EXPECT_EQ(c.recipient, "j@example.com");
}

TEST(NormalizeAddressTest, Rejects) {
  for (std::string_view bad : {"", "   ", "no-at-sign", "@example.com", "a@", "a b@example.com",
                               "Name <a@example.com", "Name a@example.com>", "<>"}) {
    EXPECT_EQ(NormalizeAddress(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace switchboard::providers
