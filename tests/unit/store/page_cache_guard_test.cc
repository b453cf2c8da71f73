// The page cache guard (router/store/page_cache_guard.h) in a process of its own: it must be
// installed before the process's first SQLite call.
#include "router/store/page_cache_guard.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace switchboard::store {
namespace {

class PageCacheGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InstallPageCacheGuard());
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("switchboard-pcache-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(sqlite3_open((dir_ / "t.db").c_str(), &db_), SQLITE_OK);
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA cache_size=-65536");  // the store's cache
    // Random keys: splits of the index reorder their new pages (the lock-page swap).
    Exec("CREATE TABLE t(k TEXT NOT NULL, v BLOB NOT NULL)");
    Exec("CREATE INDEX t_by_k ON t(k)");
  }
  void TearDown() override {
    sqlite3_close(db_);
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
  }
  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string text;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return text;
  }
  // `rows` rows of 1.5 KB under random keys.
  void Insert(int rows) {
    Exec(absl::StrCat("INSERT INTO t(k, v) SELECT hex(randomblob(32)), randomblob(1500) FROM "
                      "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ",
                      rows, ") SELECT i FROM n)"));
  }

  std::filesystem::path dir_;
  sqlite3* db_ = nullptr;
};

TEST_F(PageCacheGuardTest, CommitsOfAGrowingFileSkipTheWalkAndKeepEveryRow) {
  const PageCacheGuardCounts before = PageCacheGuardCountsForTest();
  for (int group = 0; group < 300; ++group) {
    Exec("BEGIN IMMEDIATE");
    Insert(50);
    Exec("COMMIT");
  }
  const PageCacheGuardCounts after = PageCacheGuardCountsForTest();
  // Every COMMIT truncates the cache to the file's size, which only grew: nothing to drop.
  EXPECT_GE(after.skipped - before.skipped, 300u);
  EXPECT_EQ(Text("SELECT count(*) FROM t"), "15000");
  EXPECT_EQ(Text("PRAGMA integrity_check"), "ok");
}

// Pages a rolled-back savepoint or transaction added lie above the file's size: those
// truncations are forwarded, and the pages are gone before their numbers are used again.
TEST_F(PageCacheGuardTest, PagesOfARollbackAreDroppedBeforeTheirNumbersAreReused) {
  Insert(100);
  const std::string pages = Text("PRAGMA page_count");
  const PageCacheGuardCounts before = PageCacheGuardCountsForTest();

  Exec("BEGIN IMMEDIATE");
  Exec("SAVEPOINT request");
  Insert(2000);  // about 1000 new pages
  Exec("ROLLBACK TO request");
  Exec("RELEASE request");
  Insert(10);
  Exec("COMMIT");
  EXPECT_GT(PageCacheGuardCountsForTest().forwarded, before.forwarded);
  EXPECT_EQ(Text("SELECT count(*) FROM t"), "110");

  Exec("BEGIN IMMEDIATE");
  Insert(2000);
  Exec("ROLLBACK");
  EXPECT_EQ(Text("SELECT count(*) FROM t"), "110");

  // The numbers of the dropped pages now hold new rows.
  Exec("BEGIN IMMEDIATE");
  Insert(2000);
  Exec("COMMIT");
  EXPECT_GT(std::stoi(Text("PRAGMA page_count")), std::stoi(pages) + 500);
  EXPECT_EQ(Text("SELECT count(*) FROM t"), "2110");
  EXPECT_EQ(Text("SELECT count(DISTINCT k) FROM t"), "2110");
  EXPECT_EQ(Text("PRAGMA integrity_check"), "ok");
  // A second connection, with a cache of its own, reads the same file.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ / "t.db").c_str(), &other, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other, "SELECT count(*) FROM t", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2110);
  sqlite3_finalize(stmt);
  sqlite3_close(other);
}

}  // namespace
}  // namespace switchboard::store
