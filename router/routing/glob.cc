#include "router/routing/glob.h"

#include <vector>

namespace switchboard::routing {

bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  // matched[j]: the pattern prefix read so far matches text[0, j). Dynamic programming rather than
  // greedy backtracking, because '*' stopping at '@' breaks the "last star only" argument.
  std::vector<char> matched(text.size() + 1, 0);
  matched[0] = 1;
  for (const char p : pattern) {
    if (p == '*') {
      // Extend each match over following non-'@' characters.
      for (size_t j = 1; j <= text.size(); ++j) {
        if (!matched[j] && matched[j - 1] && text[j - 1] != '@') matched[j] = 1;
      }
      continue;
    }
    for (size_t j = text.size(); j > 0; --j) {
      const char t = text[j - 1];
      const bool step = p == '?' ? t != '@' : t == p;
      matched[j] = matched[j - 1] && step;
    }
    matched[0] = 0;
  }
  return matched[text.size()] != 0;
}

}  // namespace switchboard::routing
