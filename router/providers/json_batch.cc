#include "router/providers/json_batch.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "router/common/status_macros.h"
#include "router/providers/lossless_json.h"

namespace switchboard::providers {

absl::StatusOr<std::vector<JsonEventRef>> JsonEvents(const boost::json::value& value,
                                                     std::string_view text,
                                                     std::string_view provider) {
  std::vector<JsonEventRef> events;
  if (const boost::json::object* single = value.if_object()) {
    std::string_view raw = text;
    while (!raw.empty() && absl::ascii_isspace(static_cast<unsigned char>(raw.front()))) {
      raw.remove_prefix(1);
    }
    while (!raw.empty() && absl::ascii_isspace(static_cast<unsigned char>(raw.back()))) {
      raw.remove_suffix(1);
    }
    events.push_back({single, raw});
    return events;
  }
  const boost::json::array* array = value.if_array();
  if (array == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(provider), ": the payload is neither a JSON object nor an array of objects"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string_view> raws, SplitJsonArray(text));
  if (raws.size() != array->size()) {
    return absl::InternalError(
        absl::StrCat(std::string(provider), ": element split disagrees with the parser"));
  }
  events.reserve(raws.size());
  for (size_t i = 0; i < raws.size(); ++i) {
    const boost::json::object* object = (*array)[i].if_object();
    if (object == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(provider), ": element ", i, " is not an object"));
    }
    events.push_back({object, raws[i]});
  }
  return events;
}

std::string_view JsonString(const boost::json::object& object, std::string_view key) {
  return JsonText(object, key).value_or(std::string_view());
}

std::optional<std::string> JsonScalarText(const boost::json::value& value) {
  if (const boost::json::string* s = value.if_string()) return std::string(s->data(), s->size());
  if (const bool* b = value.if_bool()) return *b ? "true" : "false";
  return std::nullopt;
}

}  // namespace switchboard::providers
