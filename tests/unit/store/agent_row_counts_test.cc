#include "router/store/agent_row_counts.h"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "router/store/sqlite_statement.h"

namespace switchboard::store::embedded_internal {
namespace {

// The two tables as the store's schema has them, on an in-memory database.
class AgentRowCountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    Exec("CREATE TABLE queue(id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, "
         "visible_at INTEGER NOT NULL);"
         "CREATE TABLE dead_letters(seq INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL);"
         "INSERT INTO queue(agent, visible_at) VALUES ('audit', 1), ('audit', 2), ('crm', 3);");
    statements_ = std::make_unique<StatementCache>(db_);
    counts_ = std::make_unique<AgentRowCounts>(db_);
  }
  void TearDown() override {
    counts_.reset();
    statements_.reset();
    sqlite3_close(db_);
  }
  void Exec(const char* sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, &error), SQLITE_OK)
        << (error != nullptr ? error : "");
  }
  AgentRowCounts::Counts Get(const std::string& agent) {
    AgentRowCounts::Counts counts;
    const absl::Status status = counts_->Get(*statements_, agent, &counts);
    EXPECT_TRUE(status.ok()) << status;
    return counts;
  }

  sqlite3* db_ = nullptr;
  std::unique_ptr<StatementCache> statements_;
  std::unique_ptr<AgentRowCounts> counts_;
};

TEST_F(AgentRowCountsTest, CountsTheFileOnceThenFollowsInsertsAndDeletes) {
  EXPECT_FALSE(counts_->fresh());
  EXPECT_EQ(Get("audit").queued, 2);  // counted from the file
  EXPECT_TRUE(counts_->fresh());
  Exec("INSERT INTO queue(agent, visible_at) VALUES ('audit', 4), ('audit', 5);"
       "DELETE FROM queue WHERE agent = 'crm';"
       "INSERT INTO dead_letters(agent) VALUES ('crm'), ('crm');"
       "UPDATE queue SET visible_at = 9 WHERE agent = 'audit';");
  // Still fresh: these numbers come from the hook, not from a second count.
  EXPECT_TRUE(counts_->fresh());
  EXPECT_EQ(Get("audit").queued, 4);
  EXPECT_EQ(Get("crm").queued, 0);
  EXPECT_EQ(Get("crm").dead_letters, 2);
  EXPECT_EQ(Get("nobody").queued, 0);
  // DELETE without WHERE: SQLite's truncate shortcut would skip the hook; with a hook set it
  // deletes row by row.
  Exec("DELETE FROM dead_letters;");
  EXPECT_TRUE(counts_->fresh());
  EXPECT_EQ(Get("crm").dead_letters, 0);
}

TEST_F(AgentRowCountsTest, ARollbackMarkedStaleIsCountedAgainFromTheFile) {
  EXPECT_EQ(Get("audit").queued, 2);
  Exec("BEGIN; INSERT INTO queue(agent, visible_at) VALUES ('audit', 4); ROLLBACK;");
  EXPECT_EQ(Get("audit").queued, 3);  // the hook saw the insert, not its rollback
  counts_->MarkStale();
  EXPECT_EQ(Get("audit").queued, 2);
  EXPECT_TRUE(counts_->fresh());
}

// The store names the agent of a leased row from its LeaseBook; the hook takes that name for the
// deleted queue row instead of reading the row, and reads the row when it gets none.
TEST_F(AgentRowCountsTest, ADeletedQueueRowTakesTheAgentTheCallerNames) {
  const std::string crm = "crm";
  std::vector<int64_t> asked;
  counts_.reset();
  counts_ = std::make_unique<AgentRowCounts>(db_, [&](int64_t rowid) -> const std::string* {
    asked.push_back(rowid);
    return rowid == 1 ? &crm : nullptr;  // row 1 is audit's: a name the row does not hold
  });
  EXPECT_EQ(Get("audit").queued, 2);
  EXPECT_EQ(Get("crm").queued, 1);
  Exec("DELETE FROM queue WHERE id IN (1, 2);"
       "INSERT INTO queue(agent, visible_at) VALUES ('crm', 4);"
       "UPDATE queue SET visible_at = 9 WHERE agent = 'crm';");
  EXPECT_EQ(asked, (std::vector<int64_t>{1, 2}));  // deletes only
  EXPECT_EQ(Get("audit").queued, 1);               // row 2 was read from the file
  EXPECT_EQ(Get("crm").queued, 1);                 // 1 + 1 inserted - 1 by the given name
  EXPECT_TRUE(counts_->fresh());
}

}  // namespace
}  // namespace switchboard::store::embedded_internal
