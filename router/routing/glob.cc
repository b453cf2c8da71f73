#include "router/routing/glob.h"

#include "absl/strings/ascii.h"

namespace switchboard::routing {
namespace {

bool SameByte(char p, char t, GlobCase mode) {
  if (p == t) return true;
  return mode == GlobCase::kAsciiInsensitive &&
         absl::ascii_tolower(static_cast<unsigned char>(p)) ==
             absl::ascii_tolower(static_cast<unsigned char>(t));
}

// The classic greedy match with one backtrack point (the last '*'), correct for any pattern whose
// wildcards may match every byte of `text`; the caller guarantees `text` has no '@'.
bool SegmentMatch(absl::string_view pattern, absl::string_view text, GlobCase mode) {
  size_t p = 0;
  size_t t = 0;
  size_t star = absl::string_view::npos;  // pattern index after the last '*'
  size_t star_text = 0;                   // where that '*' currently stops in text
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = ++p;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || SameByte(pattern[p], text[t], mode))) {
      ++p;
      ++t;
    } else if (star != absl::string_view::npos) {
      p = star;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

bool GlobMatch(absl::string_view pattern, absl::string_view text, GlobCase mode) {
  // Wildcards never match '@', so the '@'s of `text` pair one-to-one, in order, with the literal
  // '@'s of `pattern`; the segments between them match independently.
  while (true) {
    const size_t p_at = pattern.find('@');
    const size_t t_at = text.find('@');
    if ((p_at == absl::string_view::npos) != (t_at == absl::string_view::npos)) return false;
    if (p_at == absl::string_view::npos) return SegmentMatch(pattern, text, mode);
    if (!SegmentMatch(pattern.substr(0, p_at), text.substr(0, t_at), mode)) return false;
    pattern.remove_prefix(p_at + 1);
    text.remove_prefix(t_at + 1);
  }
}

}  // namespace switchboard::routing
