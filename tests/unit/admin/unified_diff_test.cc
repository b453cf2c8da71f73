#include "router/admin/unified_diff.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace switchboard::admin {
namespace {

// Expected texts are what GNU diffutils' `diff -u --label old --label new OLD NEW` prints for the
// same inputs (the unified format of the diffutils manual, "Detailed Unified").

std::string Diff(std::string_view a, std::string_view b) { return UnifiedDiff(a, b, "old", "new"); }

std::string Numbers(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) absl::StrAppend(&out, i, "\n");
  return out;
}

TEST(UnifiedDiffTest, EqualTextsGiveNothing) {
  EXPECT_EQ(Diff("a\nb\n", "a\nb\n"), "");
  EXPECT_EQ(Diff("", ""), "");
}

TEST(UnifiedDiffTest, AChangedLineIsRemovedThenAddedWithContext) {
  EXPECT_EQ(Diff("a\nb\nc\n", "a\nB\nc\n"),
            "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
}

TEST(UnifiedDiffTest, AnEmptySideIsWrittenAsLineBeforeCommaZero) {
  EXPECT_EQ(Diff("", "x\n"), "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
  EXPECT_EQ(Diff("a\nb\n", "a\n"), "--- old\n+++ new\n@@ -1,2 +1 @@\n a\n-b\n");
}

TEST(UnifiedDiffTest, DistantChangesMakeTwoHunks) {
  std::string changed = Numbers(1, 10);
  changed.replace(0, 2, "one\n");
  changed.replace(changed.size() - 3, 3, "ten\n");
  EXPECT_EQ(Diff(Numbers(1, 10), changed),
            "--- old\n+++ new\n"
            "@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n"
            "@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+ten\n");
}

TEST(UnifiedDiffTest, ChangesWithinTwiceTheContextShareOneHunk) {
  const std::string changed = "1\n2\nthree\n4\n5\n6\n7\neight\n9\n10\n";
  EXPECT_EQ(Diff(Numbers(1, 10), changed),
            "--- old\n+++ new\n@@ -1,10 +1,10 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n 7\n-8\n"
            "+eight\n 9\n 10\n");
}

TEST(UnifiedDiffTest, AMissingFinalNewlineIsNoDifference) {
  EXPECT_EQ(Diff("a\nb", "a\nb\n"), "");
  EXPECT_EQ(Diff("a", "b"), "--- old\n+++ new\n@@ -1 +1 @@\n-a\n+b\n");
}

TEST(UnifiedDiffTest, ContextZeroShowsOnlyTheChange) {
  EXPECT_EQ(UnifiedDiff("a\nb\nc\n", "a\nB\nc\n", "old", "new", 0),
            "--- old\n+++ new\n@@ -2 +2 @@\n-b\n+B\n");
}

TEST(UnifiedDiffTest, OneChangeInALongTextIsOneSmallHunk) {
  // 5,000 lines per side would exceed the table, but the lines before and after the change are
  // common to both texts and set aside. The expected text is GNU diffutils' `diff -u --label old
  // --label new` of the same two files.
  std::string a;
  std::string b;
  for (int i = 0; i < 5000; ++i) {
    absl::StrAppend(&a, "line ", i, "\n");
    absl::StrAppend(&b, "line ", i, i == 2500 ? " changed" : "", "\n");
  }
  EXPECT_EQ(Diff(a, b),
            "--- old\n+++ new\n@@ -2498,7 +2498,7 @@\n line 2497\n line 2498\n line 2499\n"
            "-line 2500\n+line 2500 changed\n line 2501\n line 2502\n line 2503\n");
}

TEST(UnifiedDiffTest, AboveTheCellLimitTheWholeMiddleIsReplaced) {
  // Every line differs except the first and the last: sqrt(kMaxDiffCells) lines per side between
  // them exceed the table; the diff is still a valid one.
  std::string a = "head\n";
  std::string b = "head\n";
  for (int i = 0; i < 5000; ++i) {
    absl::StrAppend(&a, "line ", i, "\n");
    absl::StrAppend(&b, "other ", i, "\n");
  }
  a += "tail\n";
  b += "tail\n";
  const std::string diff = Diff(a, b);
  EXPECT_TRUE(diff.starts_with("--- old\n+++ new\n@@ -1,5002 +1,5002 @@\n head\n-line 0\n"))
      << diff.substr(0, 80);
  EXPECT_NE(diff.find("\n-line 4999\n+other 0\n"), std::string::npos);  // all removed, then added
  EXPECT_TRUE(diff.ends_with("\n+other 4999\n tail\n")) << diff.substr(diff.size() - 80);
}

}  // namespace
}  // namespace switchboard::admin
