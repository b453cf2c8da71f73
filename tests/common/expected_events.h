#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "router/providers/provider.h"
#include "switchboard/v1/email_event.pb.h"

// Table-driven fixture checks for the providers: every fixture of a folder yields exactly the
// events a hand-written table lists (values read from the provider's docs and the fixture text).
// The same tables (tests/common/expected_tables.h) drive two paths: the unit tests decode each
// fixture in process; the integration tests post it to a real router and collect what an agent
// receives.
namespace switchboard::providers::testing {

// When a request is received in the decode-path tests (WebhookRequest::received_at).
inline constexpr int64_t kReceivedAtSeconds = 1700000000;

// In ExpectedEvent::seconds: the payload carries no time for this event, so occurred_at is the
// moment the router received the request (occurred_at == received_at; on the decode path that is
// kReceivedAtSeconds, on the HTTP path the router's clock).
inline constexpr int64_t kAtReceipt = std::numeric_limits<int64_t>::min();
// In ExpectedEvent::seconds: the payload carries no time, but the request's signed timestamp
// does (Standard Webhooks' webhook-timestamp): occurred_at is that second
// (FixtureOutcome::signed_at_seconds).
inline constexpr int64_t kAtSignature = std::numeric_limits<int64_t>::min() + 1;

struct ExpectedEvent {
  std::string fixture;  // manifest path, e.g. "postmark/bounce.json"
  v1::EventType type;
  std::string recipient;  // "" = an event without recipient
  int64_t seconds;        // occurred_at (UTC), or kAtReceipt
  int32_t nanos;
  std::string key;  // provider_event_key
  v1::BounceClass bounce_class = v1::BOUNCE_CLASS_UNSPECIFIED;  // checked for every event
};

// Which path produced a FixtureOutcome.
enum class FixturePath {
  // Provider::Decode in process: every event the table lists is decoded.
  kDecode,
  // POST to a real router, events collected at an agent. An event whose id the run already
  // produced (an earlier fixture, or earlier in the same fixture) is a duplicate: the router
  // counts it in the answer's "duplicates" and delivers it only once.
  kHttp,
};

// What one fixture produced.
struct FixtureOutcome {
  std::vector<v1::EmailEvent> events;  // decoded, or received by the agent, in order
  bool control = false;  // a control message: DecodeResult::control, or the answer's "control"
  int64_t duplicates = 0;  // kHttp: the answer's "duplicates"
  int64_t signed_at_seconds = 0;  // the signed timestamp of the request, for kAtSignature rows
};

struct FixtureRun {
  FixtureRun(std::string folder_, std::string suffix_, std::string provider_, std::string source_,
             FixturePath path_ = FixturePath::kDecode)
      : folder(std::move(folder_)),
        suffix(std::move(suffix_)),
        provider(std::move(provider_)),
        source(std::move(source_)),
        path(path_) {}

  std::string folder;    // "postmark"
  std::string suffix;    // ".json"
  std::string provider;  // EmailEvent.provider, e.g. "sendgrid-inbound"
  std::string source;    // the source name the events carry (part of the event id)
  FixturePath path;
  // Manifest files with this suffix are skipped: test vectors (a signature and the bytes it
  // covers) have their own tests, which check each verifies or is refused as it says.
  std::string skip_suffix = ".vector.json";
  // Manifest files starting with this are skipped too (SES: the whole-SNS captures "ses_sns/sns-",
  // which are not SES records to wrap).
  std::string skip_prefix;
  // When non-empty: these files (relative to tests/testdata/, e.g. hand-written samples outside
  // the vendored fixtures) instead of the manifest's.
  std::vector<std::string> files;
};

// For every manifest file under run.folder ending in run.suffix, in manifest order:
// `produce(fixture)` must succeed with exactly the events `expected` lists for it (less, on the
// kHttp path, the duplicates), in order (kHttp: in any order, each found by its id, since
// delivery is only best-effort FIFO), each matching type, provider, source, recipient,
// recipient_key (lower-cased recipient), occurred_at to the nanosecond (== received_at for
// kAtReceipt rows, == the signed second for kAtSignature rows), provider_event_key, bounce class, a non-empty raw and
// id = ComputeEventId(source, key, recipient_key). A fixture the table has no row for must be a
// control message without events. Also fails when the table names a fixture the manifest does not
// list. Returns how many fixtures were checked.
size_t ExpectFixtures(const FixtureRun& run, const std::vector<ExpectedEvent>& expected,
                      const std::function<absl::StatusOr<FixtureOutcome>(const std::string&)>& produce);

// The decode path's FixtureOutcome of one Provider::Decode result.
absl::StatusOr<FixtureOutcome> Decoded(absl::StatusOr<DecodeResult> result);

}  // namespace switchboard::providers::testing
