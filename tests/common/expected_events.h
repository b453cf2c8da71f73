#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "router/providers/provider.h"
#include "switchboard/v1/email_event.pb.h"

// Table-driven fixture checks for the providers: every fixture of a folder decodes to exactly the
// events a hand-written table lists (values read from the provider's docs and the fixture text).
namespace switchboard::providers::testing {

// When a request is received in these tests; events without a timestamp carry it as occurred_at.
inline constexpr int64_t kReceivedAtSeconds = 1700000000;

struct ExpectedEvent {
  std::string fixture;  // manifest path, e.g. "postmark/bounce.json"
  v1::EventType type;
  std::string recipient;  // "" = an event without recipient
  int64_t seconds;        // occurred_at
  int32_t nanos;
  std::string key;  // provider_event_key
  v1::BounceClass bounce_class = v1::BOUNCE_CLASS_UNSPECIFIED;  // checked for every event
};

// For every manifest file under `folder` ending in `suffix`: `decode(fixture)` must succeed with
// exactly the events `expected` lists for it, in order, each matching type, recipient,
// recipient_key (lower-cased recipient), occurred_at, provider_event_key, bounce class, `provider`,
// a non-empty raw and id = ComputeEventId(source, key, recipient_key). A fixture the table has no
// row for must decode to a control message (no events, DecodeResult::control set). Also fails when
// the table names a fixture the manifest does not list. Returns how many fixtures were checked.
size_t ExpectFixtures(std::string_view folder, std::string_view suffix, std::string_view provider,
                      const std::vector<ExpectedEvent>& expected,
                      const std::function<absl::StatusOr<DecodeResult>(const std::string&)>& decode);

}  // namespace switchboard::providers::testing
