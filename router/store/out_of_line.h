#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/store/store.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::store {

// What Store::PutAttachments must keep before `events` are committed, so that no event carries
// large bytes (an event travels to agents as one gRPC message, 4 MiB by default):
// - every event whose raw bytes are longer than `inline_raw_max` loses them: raw is cleared,
//   raw_stored = true, raw_sha256 = their lower-case hex SHA-256, raw_size = their length;
// - likewise every inbound text or html body longer than `inline_raw_max` (text_stored,
//   text_sha256, text_size; html_stored, html_sha256, html_size), so a 20 MiB text/plain part
//   does not make a 20 MiB event;
// - `stored_attachments` (providers::DecodeResult: bytes by sha256 of the attachments the events
//   mark stored) is moved out (left empty).
// One StoredAttachment per distinct sha256, naming every event that carries it (the recipients of
// one mail share one copy; a body equal to another, e.g. a text mail's raw and text, one copy too).
// Bytes already stored (raw_stored, text_stored, html_stored: the field is empty) are left as they
// are, so a second call finds nothing. kInternal: hashing failed (nothing is changed then).
absl::StatusOr<std::vector<StoredAttachment>> TakeOutOfLine(
    std::vector<v1::EmailEvent>& events, std::map<std::string, std::string>& stored_attachments,
    uint64_t inline_raw_max);

// Whether `event` names bytes that Store::PutAttachments keeps: raw_stored, or inbound's
// text_stored, html_stored or an attachment with stored = true. Only such an event has references
// to those bytes for a commit to link to it; every other event's commit skips that step.
bool NamesStoredBytes(const v1::EmailEvent& event);

}  // namespace switchboard::store
