#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "switchboard/v1/email_event.pb.h"

// The idempotency key of a normalized event, and the recipient normalization it depends on.
// Thread-safe; never throws.
namespace switchboard::providers {

// EmailEvent.id: the lower-case hex SHA-256 of
//
//     source + "\x00" + provider_event_key + "\x00" + recipient_key
//
// (UTF-8 bytes, NUL separators, no trailing NUL). This formula is a public contract: the demo and
// agents recompute ids independently (Python: hashlib.sha256(b"\0".join([s, k, r])).hexdigest()).
absl::StatusOr<std::string> ComputeEventId(std::string_view source,
                                           std::string_view provider_event_key,
                                           std::string_view recipient_key);

struct NormalizedAddress {
  std::string recipient;      // the bare address as sent, domain lower-cased: "John.Doe@example.com"
  std::string recipient_key;  // the whole address lower-cased (ASCII): "john.doe@example.com"
};

// Accepts a bare address ("a@B.com") or a name-addr ("Name <a@B.com>", RFC 5322 3.4), with
// surrounding spaces. The domain is everything after the last '@'.
// kInvalidArgument: empty, no '@', an empty local part or domain, or whitespace/control
// characters inside the address.
absl::StatusOr<NormalizedAddress> NormalizeAddress(std::string_view text);

// A copy of `event` for one recipient: recipient and recipient_key from NormalizeAddress(address)
// (both left empty when `address` is empty: an event without recipient), and
// id = ComputeEventId(event.source(), event.provider_event_key(), recipient_key).
// kInvalidArgument: `address` is not an address.
absl::StatusOr<v1::EmailEvent> ForRecipient(const v1::EmailEvent& event, std::string_view address);
// The same, taking `event` instead of copying it (one recipient: the event's raw bytes, often
// kilobytes, are not copied). `address` may point into `event`.
absl::StatusOr<v1::EmailEvent> ForRecipient(v1::EmailEvent&& event, std::string_view address);

// One event per address of `recipients`, in order, appended to `out` (ForRecipient); with no
// address, one event without recipient. Every event but the last is a copy of `event`; the last
// takes `event` itself, so its raw bytes are copied once less.
// kInvalidArgument: an address is not an address (as ForRecipient). `out` then holds the events
// of the addresses before it, and `event` may have been moved from.
absl::Status AppendForRecipients(v1::EmailEvent&& event, const std::vector<std::string>& recipients,
                                 std::vector<v1::EmailEvent>& out);

}  // namespace switchboard::providers
