#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/store/store_conformance.h"

namespace switchboard::store {

// The data lifecycle part of the Store contract (router/store/store.h: quarantine, Sweep,
// PurgeRecipient; lifecycle_conformance.cc), on the same factories as StoreConformanceTest:
//   INSTANTIATE_TEST_SUITE_P(Embedded, LifecycleTest, ::testing::Values(StoreFactory(...)));
// Helpers wait for each callback, like the base's.
class LifecycleTest : public StoreConformanceTest {
 protected:
  // Stores `entry` received now; returns its id ("" after a failed expectation).
  std::string Put(QuarantineEntry entry);
  absl::StatusOr<std::vector<QuarantineEntry>> List(QuarantineFilter filter, bool bodies = false,
                                                    int limit = 100);
  absl::StatusOr<int64_t> Delete(QuarantineFilter filter);
  absl::StatusOr<SweepResult> Sweep(RetentionPolicy policy);
  absl::StatusOr<int64_t> Purge(const std::string& recipient, std::vector<std::string> agents);
  static std::vector<std::string> Ids(const std::vector<QuarantineEntry>& entries);
  // The event ids of one claim for `agent`.
  std::vector<std::string> ClaimedIds(const std::string& agent);
};

}  // namespace switchboard::store
