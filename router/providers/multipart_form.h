#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// multipart/form-data bodies (RFC 7578 over the RFC 2046 section 5.1 framing), as Mailgun inbound
// routes post them. Deliberately small: only what a form needs (the Content-Disposition name and
// filename, the part's Content-Type, the exact part bytes); no nested multiparts, no transfer
// decoding (RFC 7578 section 4.7 deprecates Content-Transfer-Encoding for form-data).
// Thread-safe; never throws.
namespace switchboard::providers {

struct MultipartPart {
  std::string name;          // Content-Disposition name parameter
  std::string filename;      // Content-Disposition filename parameter, "" when absent
  std::string content_type;  // the part's Content-Type header value, "" when absent
  std::string_view body;     // the part's exact bytes (a view into the parsed body)
};

// Upper bounds that keep a hostile body from costing more than its own size.
inline constexpr size_t kMaxMultipartParts = 1000;
inline constexpr size_t kMaxMultipartHeaderBytes = 8192;  // per part

// The boundary parameter of a `multipart/form-data; boundary=...` Content-Type value (quoted or
// not; RFC 2046: 1-70 characters). kInvalidArgument: another media type or no valid boundary.
absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type);

// The parts of `body`, in order, as views into `body` (which must outlive the result). Lines end in
// CRLF; a bare LF is accepted too. Text before the first delimiter (preamble) and after the close
// delimiter (epilogue) is ignored.
// kInvalidArgument: no delimiter, no close delimiter, a part without a blank line after its
// headers, headers over kMaxMultipartHeaderBytes, a part without a Content-Disposition name, or
// more than kMaxMultipartParts parts.
absl::StatusOr<std::vector<MultipartPart>> ParseMultipartForm(std::string_view body,
                                                              std::string_view boundary);

}  // namespace switchboard::providers
