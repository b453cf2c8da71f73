#include "router/providers/lossless_json.h"

#include <exception>
#include <string>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include "absl/strings/str_cat.h"

namespace switchboard::providers {
namespace {

namespace json = boost::json;

// A basic_parser handler that builds a value like boost::json::parser does, except that numbers
// become strings of their source text. Number text may arrive in parts (on_number_part) when the
// parser is fed in chunks; we feed the whole body at once, but handle parts anyway.
class LosslessHandler {
 public:
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  json::value Release() { return stack_.release(); }

  bool on_document_begin(json::error_code&) {
    stack_.reset();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack_.push_array(n);
    return true;
  }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    stack_.push_object(n);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_key(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, json::string_view s, json::error_code&) { return PushNumber(s); }
  bool on_uint64(std::uint64_t, json::string_view s, json::error_code&) { return PushNumber(s); }
  bool on_double(double, json::string_view s, json::error_code&) { return PushNumber(s); }
  bool on_bool(bool b, json::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  bool PushNumber(json::string_view last_part) {
    number_.append(last_part.data(), last_part.size());
    stack_.push_string(number_);
    number_.clear();
    return true;
  }

  json::value_stack stack_;
  std::string number_;
};

}  // namespace

absl::StatusOr<json::value> ParseJsonLossless(std::string_view text) {
  try {
    json::basic_parser<LosslessHandler> parser(json::parse_options{});
    json::error_code ec;
    std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && n != text.size()) ec = json::error::extra_data;
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid JSON at byte ", n, ": ", ec.message()));
    }
    return parser.handler().Release();
  } catch (const std::exception& e) {  // allocation failure inside value_stack
    return absl::ResourceExhaustedError(absl::StrCat("JSON: ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string_view>> SplitJsonArray(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i == text.size() || text[i] != '[') {
    return absl::InvalidArgumentError("JSON: the top-level value is not an array");
  }
  ++i;
  std::vector<std::string_view> elements;
  // The text is known to be valid JSON, so tracking string state and bracket depth is enough to
  // find the commas that separate top-level elements.
  int depth = 0;
  bool in_string = false;
  size_t start = std::string_view::npos;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (is_space(c)) continue;
    if (depth == 0 && (c == ',' || c == ']')) {
      if (start != std::string_view::npos) {
        size_t end = i;
        while (end > start && is_space(text[end - 1])) --end;
        elements.push_back(text.substr(start, end - start));
        start = std::string_view::npos;
      }
      if (c == ']') break;
      continue;
    }
    if (start == std::string_view::npos) start = i;
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return elements;
}

std::optional<std::string_view> JsonText(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || !v->is_string()) return std::nullopt;
  const json::string& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

const json::object* JsonObject(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  return v == nullptr ? nullptr : v->if_object();
}

const json::array* JsonArray(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(json::string_view(key.data(), key.size()));
  return v == nullptr ? nullptr : v->if_array();
}

}  // namespace switchboard::providers
