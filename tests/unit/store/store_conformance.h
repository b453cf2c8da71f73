#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "router/store/store.h"

namespace switchboard::store {

// Opens a store on the given clock and dedupe window. Within one test, every call opens the SAME
// backing storage (a reopen sees what an earlier instance committed: the crash-safety case); each
// test starts from empty storage. The store returned must not outlive the clock.
using StoreFactory =
    std::function<std::unique_ptr<Store>(const Clock& clock, absl::Duration dedupe_window)>;

// The Store contract of router/store/store.h (store_conformance.cc), run against every backend
// unchanged; a backend only instantiates it with its factory:
//   INSTANTIATE_TEST_SUITE_P(Embedded, StoreConformanceTest, ::testing::Values(StoreFactory(...)));
// Time is a FakeClock; the helpers wait for each callback (synchronous views of the async API).
class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  static constexpr absl::Duration kDedupeWindow = absl::Hours(72);
  static constexpr absl::Duration kLease = absl::Seconds(30);
  static constexpr uint32_t kMaxAttempts = 10;

  void SetUp() override;
  void TearDown() override;

  void Reopen();  // destroys the store, then opens the same storage again

  absl::StatusOr<std::vector<CommitOutcome>> Commit(std::vector<EventToCommit> events);
  absl::StatusOr<std::vector<ClaimedDelivery>> Claim(const std::string& agent, int max = 100,
                                                     absl::Duration lease = kLease,
                                                     uint32_t max_attempts = kMaxAttempts,
                                                     ExpiryBackoff expiry_backoff = nullptr);
  absl::Status Ack(const std::string& delivery_id);
  absl::Status Nack(const std::string& delivery_id, absl::Duration retry_after,
                    const std::string& reason);
  absl::Status Extend(const std::string& delivery_id, absl::Duration extension);
  absl::Status Release(std::vector<std::string> delivery_ids);
  absl::StatusOr<absl::Time> NextVisibleAt(const std::string& agent);
  absl::StatusOr<QueueStats> Stats(const std::string& agent);
  absl::StatusOr<std::vector<DeadLetter>> DeadLetters(const std::string& agent, int limit = 100);
  absl::StatusOr<TokenOutcome> RememberToken(const std::string& key, const std::string& body_hash,
                                             absl::Duration ttl);

  // Commits one event and expects it to be new.
  void CommitNew(const EventToCommit& item);
  // Claims for `agent` and expects exactly one delivery (an empty one after a failed expectation).
  ClaimedDelivery ClaimOne(const std::string& agent, absl::Duration lease = kLease,
                           uint32_t max_attempts = kMaxAttempts,
                           ExpiryBackoff expiry_backoff = nullptr);
  // Expects a claim for `agent` to return nothing.
  void ExpectNothingVisible(const std::string& agent);

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};  // declared before the store it outlives
  std::unique_ptr<Store> store_;
};

}  // namespace switchboard::store
