#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace switchboard::store {

// What a claim needs to know of an archived event, read from its bytes without building a
// v1::EmailEvent: a claimed event goes to its agent as the bytes the store kept (see
// ClaimedDelivery::event_bytes), so the router never parses it on the way out.
struct ArchivedEventFacts {
  absl::Time received_at = absl::InfinitePast();  // EmailEvent.received_at; InfinitePast if unset
};

// Checks that `bytes` is a v1::EmailEvent in protobuf wire format
// (https://protobuf.dev/programming-guides/encoding/) that the agent's parser accepts inside its
// SubscribeResponse frame, which the parse on every claim checked before:
// - every tag, varint, fixed-width value and length is well formed and ends within its message;
//   tags and lengths take at most 5 bytes, lengths are at most INT_MAX - 16 (protobuf 3.21's
//   ReadTag and ReadSize), tags at most 2^32 - 1 (upb, the parser of the Python SDK); field
//   number 0, wire types 6 and 7, and an end-group tag without its start are refused;
// - every string field of EmailEvent and of the messages in it (Bounce, Inbound, its
//   attachments, the metadata map's keys and values) is valid UTF-8, which proto3 parsers
//   require (https://protobuf.dev/programming-guides/proto3/#scalar, "string");
// - nesting within the event stays within 97 levels: protobuf's default recursion limit (100)
//   less the three levels the event sits under in a frame of batched deliveries;
// - fields this schema does not know, or that come with another wire type than declared, are
//   skipped, as the parser keeps them as unknown fields.
// One pass over the bytes; no allocation after the first call, which builds the field tables of
// the schema once. kDataLoss, naming the first fault, if not.
// Assumes no repeated numeric field in EmailEvent's messages (packed encoding is not checked);
// ArchivedEventTest.TheSchemaHasNoPackedFields fails when one is added.
absl::StatusOr<ArchivedEventFacts> InspectArchivedEvent(absl::string_view bytes);

}  // namespace switchboard::store
