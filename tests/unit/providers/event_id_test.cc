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

// The moving form may be given an address that lives inside the event it takes.
TEST(ForRecipientTest, TakesTheEventAndReadsAnAddressInsideIt) {
  v1::EmailEvent event;
  event.set_source("resend");
  event.set_provider_event_key("msg_1");
  event.set_raw(std::string(4096, 'r'));
  event.set_recipient("Recipient <To@Example.ORG>");  // stands for any field the address is in
  const std::string_view address = event.recipient();
  absl::StatusOr<v1::EmailEvent> one = ForRecipient(std::move(event), address);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->recipient(), "To@example.org");
  EXPECT_EQ(one->recipient_key(), "to@example.org");
  EXPECT_EQ(one->raw().size(), 4096u);
  // The same id as the HashesNulSeparatedParts vector above.
  EXPECT_EQ(one->id(), "0f83df54c5623d848bf1a7f3dd10fead985bc89db34f4c9b32522cca01ae6e25");
  v1::EmailEvent copied;
  copied.set_source("resend");
  copied.set_provider_event_key("msg_1");
  EXPECT_EQ(ForRecipient(copied, "to@example.org").value().id(), one->id());
  EXPECT_EQ(ForRecipient(copied, "not an address").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::providers
