#include "router/common/event_type_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace switchboard {

std::string EventTypeName(v1::EventType type) {
  if (type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type)) return "";
  std::string name = v1::EventType_Name(type);
  constexpr std::string_view kPrefix = "EVENT_TYPE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

std::optional<v1::EventType> ParseEventTypeName(std::string_view name) {
  if (name.empty()) return std::nullopt;
  v1::EventType type;
  if (!v1::EventType_Parse("EVENT_TYPE_" + absl::AsciiStrToUpper(name), &type)) return std::nullopt;
  if (type == v1::EVENT_TYPE_UNSPECIFIED) return std::nullopt;
  return type;
}

}  // namespace switchboard
