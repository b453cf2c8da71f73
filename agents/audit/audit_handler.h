#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "switchboard/agent.h"

namespace switchboard::audit {

// One delivery as one line of JSON:
//   {"attempt":1,"delivery_id":"...","event":{...}}
// `event` is the proto3 JSON mapping of switchboard.v1.EmailEvent
// (google::protobuf::util::MessageToJsonString) with the .proto field names kept
// (`provider_event_type`, not `providerEventType`), so lines match email_event.proto; as the
// mapping says, int64 values are strings, bytes (`raw`) are base64, timestamps are RFC 3339 UTC
// and fields at their default value are omitted.
absl::StatusOr<std::string> FormatAuditLine(const v1::EmailEvent& event,
                                            const sdk::DeliveryContext& context);

struct AuditOptions {
  std::optional<int64_t> exit_after;  // stop the agent after this many events
  absl::Duration ack_delay = absl::ZeroDuration();  // wait this long before acking
  bool ack = true;  // false: never ack (the router redelivers after the lease)
};

// The audit agent's handler: prints every event to `out` as one flushed line and acks it.
// With exit_after N, the Nth event stops `agent`; events after it are nacked unprinted, so exactly
// N lines are printed and nothing is lost. Thread-safe (lines never interleave).
class AuditHandler {
 public:
  AuditHandler(AuditOptions options, std::ostream& out, sdk::Agent& agent)
      : options_(options), out_(out), agent_(agent) {}

  sdk::Result operator()(const v1::EmailEvent& event, const sdk::DeliveryContext& context);

 private:
  const AuditOptions options_;
  std::ostream& out_;
  sdk::Agent& agent_;
  absl::Mutex mu_;
  int64_t printed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace switchboard::audit
