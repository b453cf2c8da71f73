// Store contract, bytes kept out of line (router/store/store.h PutAttachments / GetAttachment:
// inbound attachments and raw bodies). Part of StoreConformanceTest, so every backend runs it
// unchanged; their lifecycle (PurgeRecipient) is in lifecycle_conformance.cc.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "tests/unit/store/store_conformance.h"

namespace switchboard::store {
namespace {

template <typename R, typename Start>
R Await(Start start) {
  struct State {
    absl::Notification done;
    std::optional<R> result;
  };
  auto state = std::make_shared<State>();
  start([state](R result) {
    state->result.emplace(std::move(result));
    state->done.Notify();
  });
  if (!state->done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return R(absl::DeadlineExceededError("the store never called back"));
  }
  return std::move(*state->result);
}

absl::Status Put(Store& store, std::vector<StoredAttachment> attachments) {
  return Await<absl::Status>(
      [&](auto done) { store.PutAttachments(std::move(attachments), std::move(done)); });
}

absl::StatusOr<std::string> Get(Store& store, const std::string& event_id,
                                const std::string& sha256) {
  return Await<absl::StatusOr<std::string>>(
      [&](auto done) { store.GetAttachment(event_id, sha256, std::move(done)); });
}

// 200 KiB of every byte value (NULs included): larger than a SQLite page and than the 64 KiB
// inline default, and not text.
std::string Binary(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7 + i / 256) % 256);
  return bytes;
}

TEST_P(StoreConformanceTest, AttachmentsAreReturnedByteForByteToEveryEventNamingThem) {
  const std::string big = Binary(200 << 10);
  // One mail to two recipients: both events name the same bytes, stored once.
  ASSERT_TRUE(Put(*store_, {{{"e1", "e2"}, "aa11", big}, {{"e1"}, "bb22", "small"}}).ok());

  for (const std::string event_id : {"e1", "e2"}) {
    absl::StatusOr<std::string> got = Get(*store_, event_id, "aa11");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->size(), big.size());
    EXPECT_TRUE(*got == big);
  }
  EXPECT_EQ(*Get(*store_, "e1", "bb22"), "small");
  // Bytes are served only to an event that names them.
  EXPECT_EQ(Get(*store_, "e2", "bb22").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, AnUnknownAttachmentIsNotFound) {
  ASSERT_TRUE(Put(*store_, {{{"e1"}, "aa11", "bytes"}}).ok());
  EXPECT_EQ(Get(*store_, "e1", "cc33").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(*store_, "e9", "aa11").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(*store_, "", "").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, StoringAnAttachmentAgainKeepsOneCopyAndSurvivesAReopen) {
  // A provider retry of the same mail stores the same key again; a later mail with the same
  // attachment names the copy already stored.
  ASSERT_TRUE(Put(*store_, {{{"e1"}, "aa11", "first"}}).ok());
  ASSERT_TRUE(Put(*store_, {{{"e1"}, "aa11", "first"}}).ok());
  ASSERT_TRUE(Put(*store_, {{{"e2"}, "aa11", "first"}}).ok());
  ASSERT_TRUE(Put(*store_, {}).ok());
  Reopen();
  for (const std::string event_id : {"e1", "e2"}) {
    absl::StatusOr<std::string> got = Get(*store_, event_id, "aa11");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, "first");
  }
}

}  // namespace
}  // namespace switchboard::store
