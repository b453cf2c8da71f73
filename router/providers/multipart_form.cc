#include "router/providers/multipart_form.h"

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace switchboard::providers {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The `;`-separated parameters after the first token of a header value, names lower-cased and
// quoted values unquoted (a backslash escapes the next character, RFC 7230 quoted-pair).
std::vector<std::pair<std::string, std::string>> Parameters(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    const size_t eq = value.find_first_of("=;", i);
    if (eq == std::string_view::npos || value[eq] == ';') {
      i = eq;
      continue;
    }
    std::string name = absl::AsciiStrToLower(Absl(Trim(value.substr(i, eq - i))));
    std::string param;
    i = eq + 1;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        param.push_back(value[i]);
        ++i;
      }
      i = value.find(';', i);
    } else {
      const size_t end = value.find(';', i);
      param = std::string(Trim(value.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end;
    }
    out.emplace_back(std::move(name), std::move(param));
  }
  return out;
}

std::optional<std::string> Parameter(std::string_view value, std::string_view name) {
  for (auto& [n, v] : Parameters(value)) {
    if (n == name) return std::move(v);
  }
  return std::nullopt;
}

// The end of the line starting at `pos` (the index of its '\n'), npos when there is none.
size_t LineEnd(std::string_view body, size_t pos) { return body.find('\n', pos); }

}  // namespace

absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type) {
  const std::string_view media = Trim(content_type.substr(0, content_type.find(';')));
  if (!absl::EqualsIgnoreCase(Absl(media), "multipart/form-data")) {
    return absl::InvalidArgumentError("multipart: the Content-Type is not multipart/form-data");
  }
  std::optional<std::string> boundary = Parameter(content_type, "boundary");
  if (!boundary.has_value() || boundary->empty() || boundary->size() > 70) {
    return absl::InvalidArgumentError("multipart: no valid boundary parameter (1-70 characters)");
  }
  return *std::move(boundary);
}

absl::StatusOr<std::vector<MultipartPart>> ParseMultipartForm(std::string_view body,
                                                              std::string_view boundary) {
  if (boundary.empty()) return absl::InvalidArgumentError("multipart: empty boundary");
  const std::string delimiter = absl::StrCat("--", Absl(boundary));
  // The first delimiter starts the body or a line.
  size_t pos = 0;
  if (!body.starts_with(delimiter)) {
    pos = body.find("\n" + delimiter);
    if (pos == std::string_view::npos) {
      return absl::InvalidArgumentError("multipart: no boundary delimiter");
    }
    ++pos;
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // close delimiter; the epilogue is ignored
    // Transport padding, then the end of the delimiter line.
    const size_t line_end = LineEnd(body, pos);
    if (line_end == std::string_view::npos || !Trim(body.substr(pos, line_end - pos)).empty()) {
      return absl::InvalidArgumentError("multipart: malformed boundary delimiter line");
    }
    if (parts.size() == kMaxMultipartParts) {
      return absl::InvalidArgumentError(
          absl::StrCat("multipart: more than ", kMaxMultipartParts, " parts"));
    }
    pos = line_end + 1;

    MultipartPart part;
    bool has_name = false;
    const size_t headers_start = pos;
    for (;;) {
      const size_t end = LineEnd(body, pos);
      if (end == std::string_view::npos) {
        return absl::InvalidArgumentError("multipart: part headers not ended by a blank line");
      }
      if (end - headers_start > kMaxMultipartHeaderBytes) {
        return absl::InvalidArgumentError("multipart: part headers too long");
      }
      const std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty() || line == "\r") break;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;  // not a header field: ignored
      const std::string_view name = Trim(line.substr(0, colon));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (absl::EqualsIgnoreCase(Absl(name), "content-disposition")) {
        if (std::optional<std::string> n = Parameter(value, "name")) {
          part.name = *std::move(n);
          has_name = true;
        }
        part.filename = Parameter(value, "filename").value_or("");
      } else if (absl::EqualsIgnoreCase(Absl(name), "content-type")) {
        part.content_type = std::string(value);
      }
    }
    if (!has_name) {
      return absl::InvalidArgumentError("multipart: a part has no Content-Disposition name");
    }
    // The body runs to the line break before the next delimiter.
    const size_t next = body.find("\n" + delimiter, pos);
    if (next == std::string_view::npos) {
      return absl::InvalidArgumentError("multipart: no close delimiter");
    }
    size_t body_end = next;
    if (body_end > pos && body[body_end - 1] == '\r') --body_end;
    part.body = body.substr(pos, body_end - pos);
    parts.push_back(std::move(part));
    pos = next + 1;
  }
}

}  // namespace switchboard::providers
