#pragma once

#include <cstdint>
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

// The router's answer to one webhook POST: its HTTP status and the members of its JSON object
// ({"accepted":N,"duplicates":N}, README "Local development loop"; {"quarantined":1,"id":"..."},
// docs/operations.md "Quarantine"; {"accepted":0,"duplicates":0,"control":"<name>"},
// docs/providers.md).
struct WebhookAnswer {
  int status = -1;            // the HTTP status; -1: no answer (`error` says why)
  int64_t accepted = -1;      // each count: -1 when the answer does not carry it as a number
  int64_t duplicates = -1;
  int64_t quarantined = -1;
  std::string control;        // the control message's name; empty when the answer has none
  std::string error;          // ctl::HttpPost's error when there was no answer; empty otherwise
};

// POSTs `body` with exactly `headers` to /v1/webhooks/<source> of `router` and reads the answer.
// An answer that is not a JSON object (e.g. a proxy's page) leaves every count at -1.
WebhookAnswer PostForAnswer(const RouterProcess& router, const std::string& source,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body);

}  // namespace switchboard::testing
