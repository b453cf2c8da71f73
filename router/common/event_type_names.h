#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "switchboard/v1/email_event.pb.h"

namespace switchboard {

// The lowercase names config files and SDKs use for EventType: EVENT_TYPE_BOUNCED <-> "bounced".
// EVENT_TYPE_UNSPECIFIED has no name.
std::string EventTypeName(v1::EventType type);
std::optional<v1::EventType> ParseEventTypeName(std::string_view name);

}  // namespace switchboard
