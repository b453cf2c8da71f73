#pragma once

#include <string>
#include <string_view>

namespace switchboard::admin {

// A unified diff (the `diff -u` / GNU diffutils format: "--- old_label", "+++ new_label", then
// hunks "@@ -l,s +l,s @@" with ' ', '-', '+' lines and `context` lines of context around each
// change) of two texts compared line by line. Returns "" when the texts are equal. A text that
// does not end in '\n' is compared as if it did. The lines both texts share at their start and at
// their end are set aside; between them, lines are found with a longest-common-subsequence table,
// O(n*m) time and memory in the lengths of those middles: meant for rule documents, not for
// arbitrary files. Above kMaxDiffCells cells the whole old middle is shown removed and the whole
// new one added (still a correct diff, just not a minimal one). Thread-safe (pure).
inline constexpr size_t kMaxDiffCells = 16u << 20;
std::string UnifiedDiff(std::string_view old_text, std::string_view new_text,
                        std::string_view old_label, std::string_view new_label, int context = 3);

}  // namespace switchboard::admin
