#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "absl/status/statusor.h"

// Splitting a webhook body that is one JSON event object or a JSON array of them.
// Thread-safe; never throws.
namespace switchboard::providers {

// One event of a batch: its object in the parsed value and its exact bytes in the body.
struct JsonEventRef {
  const boost::json::object* object;
  std::string_view raw;  // leading/trailing whitespace excluded; a view into the body
};

// `value` is ParseJsonLossless(`text`). A top-level object is one event (raw = the trimmed body);
// a top-level array gives its elements in order (an empty array gives none).
// kInvalidArgument naming `provider`: another top-level type, or an array element that is not an
// object (with its index).
absl::StatusOr<std::vector<JsonEventRef>> JsonEvents(const boost::json::value& value,
                                                     std::string_view text,
                                                     std::string_view provider);

// Member `key` of `object` as text (a string's value or a number's source text), or "" when absent
// or of another type.
std::string_view JsonString(const boost::json::object& object, std::string_view key);

// A scalar as text: a string's value, a number's source text, "true"/"false"; nullopt for null,
// objects and arrays.
std::optional<std::string> JsonScalarText(const boost::json::value& value);

}  // namespace switchboard::providers
