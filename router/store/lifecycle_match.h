#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::store {

// Matching helpers shared by the store backends for Store::PurgeRecipient.

// The lower-cased (ASCII) form of `address`: what EmailEvent.recipient_key holds.
std::string RecipientKey(std::string_view address);

// The protobuf encoding of an EmailEvent holding only recipient_key = `key` (field 10: its tag,
// varint length, then the bytes). A serialized EmailEvent whose recipient_key equals `key`
// contains these bytes; the stores find events to erase by searching for them in the stored
// event bytes, so no backend has to parse every event (a Redis script cannot). Another field
// with the same encoding would have to be a nested field 10 holding the same address.
std::string RecipientKeyNeedle(std::string_view key);

// True when `body` (an undecodable webhook body) mentions `address`: case-insensitive, literally
// or with '@' URL-encoded as %40, and not as part of a longer address (the byte before is not an
// address character, the byte after is not a domain character).
bool BodyMentionsAddress(std::string_view body, std::string_view address);

// Quarantine headers as stored by both backends: one "name: value\n" line per header (names are
// HTTP tokens, so the first ": " splits; CR and LF in a value become spaces).
std::string EncodeHeaderLines(const std::vector<std::pair<std::string, std::string>>& headers);
std::vector<std::pair<std::string, std::string>> DecodeHeaderLines(std::string_view lines);

}  // namespace switchboard::store
