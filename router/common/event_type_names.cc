#include "router/common/event_type_names.h"

#include "absl/strings/ascii.h"

namespace switchboard {

std::string EventTypeName(v1::EventType type) {
  if (type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type)) return "";
  std::string name = v1::EventType_Name(type);
  constexpr std::string_view kPrefix = "EVENT_TYPE_";
  if (name.starts_with(kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

std::optional<v1::EventType> ParseEventTypeName(std::string_view name) {
  if (name.empty()) return std::nullopt;
  v1::EventType type;
  // std::string: Debian's absl 20220623 takes its own string_view, not std::string_view.
  const std::string upper = absl::AsciiStrToUpper(std::string(name));
  if (!v1::EventType_Parse("EVENT_TYPE_" + upper, &type)) return std::nullopt;
  if (type == v1::EVENT_TYPE_UNSPECIFIED) return std::nullopt;
  return type;
}

}  // namespace switchboard
