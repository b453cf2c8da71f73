#include "router/admin/unified_diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace switchboard::admin {
namespace {

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  if (text.empty()) return lines;
  if (text.back() == '\n') text.remove_suffix(1);
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    lines.emplace_back(line.data(), line.size());
  }
  return lines;
}

struct Edit {
  char op;  // ' ', '-', '+'
  std::string_view line;
  size_t old_line;  // 0-based index into the old text of this line (or of the next old line)
  size_t new_line;
};

std::vector<Edit> Edits(const std::vector<std::string_view>& a,
                        const std::vector<std::string_view>& b) {
  std::vector<Edit> edits;
  // Lines the two texts share at their start and end are kept as they are; only what lies between
  // goes through the table. An edit of one rule in a long document is then cheap, whatever the
  // document's size.
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  for (size_t k = 0; k < prefix; ++k) edits.push_back({' ', a[k], k, k});
  const size_t n = a.size() - prefix - suffix;  // the middle: a[prefix, prefix + n)
  const size_t m = b.size() - prefix - suffix;  //             b[prefix, prefix + m)
  if ((n + 1) * (m + 1) > kMaxDiffCells) {
    for (size_t i = 0; i < n; ++i) edits.push_back({'-', a[prefix + i], prefix + i, prefix});
    for (size_t j = 0; j < m; ++j) edits.push_back({'+', b[prefix + j], prefix + n, prefix + j});
  } else {
    // lcs[i][j]: length of the LCS of the middles' a[i..] and b[j..].
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [m](size_t i, size_t j) { return i * (m + 1) + j; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        lcs[at(i, j)] = a[prefix + i] == b[prefix + j]
                            ? lcs[at(i + 1, j + 1)] + 1
                            : std::max(lcs[at(i + 1, j)], lcs[at(i, j + 1)]);
      }
    }
    size_t i = 0;
    size_t j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[prefix + i] == b[prefix + j]) {
        edits.push_back({' ', a[prefix + i], prefix + i, prefix + j});
        ++i;
        ++j;
      } else if (i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)])) {
        // On a tie the old line goes first, so a changed block reads "-old" then "+new" as GNU
        // diff writes it.
        edits.push_back({'-', a[prefix + i], prefix + i, prefix + j});
        ++i;
      } else {
        edits.push_back({'+', b[prefix + j], prefix + i, prefix + j});
        ++j;
      }
    }
  }
  for (size_t k = 0; k < suffix; ++k) {
    edits.push_back({' ', a[prefix + n + k], prefix + n + k, prefix + m + k});
  }
  return edits;
}

// "l,s" of a hunk side; GNU diff writes "l" alone for s == 1 and "l-1,0" for an empty side.
std::string Range(size_t first, size_t count) {
  if (count == 1) return absl::StrCat(first + 1);
  if (count == 0) return absl::StrCat(first, ",0");
  return absl::StrCat(first + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(std::string_view old_text, std::string_view new_text,
                        std::string_view old_label, std::string_view new_label, int context) {
  const std::vector<std::string_view> a = Lines(old_text);
  const std::vector<std::string_view> b = Lines(new_text);
  const std::vector<Edit> edits = Edits(a, b);
  const size_t ctx = static_cast<size_t>(std::max(context, 0));
  std::string out;
  size_t k = 0;
  while (k < edits.size()) {
    // The next change.
    while (k < edits.size() && edits[k].op == ' ') ++k;
    if (k == edits.size()) break;
    const size_t start = k >= ctx ? k - ctx : 0;
    // Extend the hunk while the next change is within 2*ctx unchanged lines.
    size_t end = k;
    for (;;) {
      while (end < edits.size() && edits[end].op != ' ') ++end;
      size_t run = end;
      while (run < edits.size() && edits[run].op == ' ') ++run;
      if (run < edits.size() && run - end <= 2 * ctx) {
        end = run;
        continue;
      }
      end = std::min(edits.size(), end + ctx);
      break;
    }
    size_t old_count = 0;
    size_t new_count = 0;
    for (size_t e = start; e < end; ++e) {
      if (edits[e].op != '+') ++old_count;
      if (edits[e].op != '-') ++new_count;
    }
    if (out.empty()) {
      absl::StrAppend(&out, "--- ", std::string(old_label), "\n+++ ", std::string(new_label), "\n");
    }
    absl::StrAppend(&out, "@@ -", Range(edits[start].old_line, old_count), " +",
                    Range(edits[start].new_line, new_count), " @@\n");
    for (size_t e = start; e < end; ++e) {
      out.push_back(edits[e].op);
      out.append(edits[e].line);
      out.push_back('\n');
    }
    k = end;
  }
  return out;
}

}  // namespace switchboard::admin
