#include "router/providers/event_id.h"

#include <string>
#include <vector>

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

v1::EmailEvent ResendEvent() {
  v1::EmailEvent event;
  event.set_source("resend");
  event.set_provider_event_key("msg_1");
  event.set_raw(std::string(4096, 'r'));
  return event;
}

// Expected ids computed with coreutils, as above:
//   printf 'resend\0msg_1\0b@example.org' | sha256sum
//   printf 'resend\0msg_1\0' | sha256sum
TEST(AppendForRecipientsTest, OneEventPerAddressInOrderEachWithTheWholeEvent) {
  std::vector<v1::EmailEvent> out;
  ASSERT_TRUE(AppendForRecipients(ResendEvent(), {"To@Example.ORG", "b@example.org"}, out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].recipient_key(), "to@example.org");
  EXPECT_EQ(out[0].id(), "0f83df54c5623d848bf1a7f3dd10fead985bc89db34f4c9b32522cca01ae6e25");
  EXPECT_EQ(out[1].recipient_key(), "b@example.org");
  EXPECT_EQ(out[1].id(), "1ee0cc74f46ee739b7248bb2672136616bce8cf00fa4555d8b148f488bc1284c");
  for (const v1::EmailEvent& one : out) {
    EXPECT_EQ(one.source(), "resend");
    EXPECT_EQ(one.raw(), std::string(4096, 'r'));
  }
}

TEST(AppendForRecipientsTest, NoAddressGivesOneEventWithoutRecipient) {
  std::vector<v1::EmailEvent> out;
  ASSERT_TRUE(AppendForRecipients(ResendEvent(), {}, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].recipient(), "");
  EXPECT_EQ(out[0].id(), "52889419878459cfe9c77c9939406f925214ad723568eac8f70faccb370f842e");
  EXPECT_EQ(out[0].raw().size(), 4096u);
}

TEST(AppendForRecipientsTest, ABadAddressStopsWithTheEventsBeforeIt) {
  std::vector<v1::EmailEvent> out;
  const absl::Status status =
      AppendForRecipients(ResendEvent(), {"to@example.org", "not an address", "b@example.org"}, out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].recipient_key(), "to@example.org");
  // The last address is the one that takes the event: it fails the same way.
  out.clear();
  EXPECT_EQ(AppendForRecipients(ResendEvent(), {"to@example.org", "bad"}, out).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out.size(), 1u);
}

}  // namespace
}  // namespace switchboard::providers
