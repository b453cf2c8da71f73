#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/common/expected_events.h"
#include "tests/integration/raw_agent.h"
#include "tests/integration/router_process.h"

namespace switchboard::testing {

// The HTTP path of providers::testing::ExpectFixtures: POSTs one request to `source` on a running
// router and collects, at `agent` (subscribed to every event of that source), the deliveries the
// router's answer says it accepted, acking each. The outcome holds the delivered events in
// arrival order, the answer's "duplicates" and whether it was a control message ("control").
// kUnavailable: no answer; kFailedPrecondition: an answer other than 200, or fewer deliveries
// than accepted within 10 s each. Not thread-safe with other readers of `agent`.
absl::StatusOr<providers::testing::FixtureOutcome> PostAndCollect(
    const RouterProcess& router, RawAgent& agent, const std::string& source,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body);

}  // namespace switchboard::testing
