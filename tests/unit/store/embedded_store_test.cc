#include "router/store/embedded_store.h"
#include "router/store/retention_sweeper.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/store/lifecycle_conformance.h"
#include "tests/unit/store/store_conformance.h"

namespace switchboard::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A fresh folder per test (and per process, so parallel ctest runs never share files).
std::filesystem::path TestDir() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat(test->test_suite_name(), ".", test->name());
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return std::filesystem::temp_directory_path() /
         absl::StrCat("switchboard-store-test-", getpid()) / name;
}

// Removes this process's test folders before and after each test program iteration.
class TempDirEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { Clean(); }
  void TearDown() override { Clean(); }

 private:
  static void Clean() {
    std::error_code ignored;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / absl::StrCat("switchboard-store-test-", getpid()),
        ignored);
  }
};
const auto* const kTempDirEnvironment =
    ::testing::AddGlobalTestEnvironment(new TempDirEnvironment());

std::unique_ptr<Store> OpenEmbedded(const Clock& clock, absl::Duration dedupe_window) {
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store = EmbeddedStore::Create(
      {.path = (TestDir() / "store.db").string(), .sync = "full", .dedupe_window = dedupe_window},
      clock);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  return *std::move(store);
}

INSTANTIATE_TEST_SUITE_P(Embedded, StoreConformanceTest, ::testing::Values(StoreFactory(OpenEmbedded)),
                         [](const auto&) { return std::string("SQLite"); });
INSTANTIATE_TEST_SUITE_P(Embedded, LifecycleTest, ::testing::Values(StoreFactory(OpenEmbedded)),
                         [](const auto&) { return std::string("SQLite"); });

// Reads one integer or text PRAGMA from a separate connection.
std::string Pragma(const std::filesystem::path& path, const std::string& pragma) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, ("PRAGMA " + pragma).c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

// Whether /proc/locks lists a POSIX (fcntl) lock this process holds on the file at `path`: SQLite
// holds one on a WAL-mode database for as long as its connection is open.
bool ThisProcessHoldsAPosixLockOn(const std::filesystem::path& path) {
  struct stat file;
  if (stat(path.c_str(), &file) != 0) return false;
  const std::string pid = absl::StrCat(" ", getpid(), " ");
  const std::string inode = absl::StrCat(":", file.st_ino, " ");
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    if (line.find(" POSIX ") != std::string::npos && line.find(pid) != std::string::npos &&
        line.find(inode) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Commits one event `id` for the agent "audit"; a failed or unanswered commit fails the test.
void CommitForAudit(Store& store, const std::string& id) {
  EventToCommit item;
  item.event.set_id(id);
  item.targets.push_back({"audit", {"all"}});
  absl::Notification committed;
  store.Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
    EXPECT_TRUE(outcomes.ok()) << outcomes.status();
    committed.Notify();
  });
  ASSERT_TRUE(committed.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

class EmbeddedStoreTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(EmbeddedStoreTest, CreatesTheFolderTheWalFileAndTheCurrentSchemaVersion) {
  const std::filesystem::path path = TestDir() / "nested" / "folder" / "switchboard.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->Healthy());
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(Pragma(path, "journal_mode"), "wal");
  EXPECT_EQ(Pragma(path, "user_version"), "9");
}

TEST_F(EmbeddedStoreTest, UnwritablePathFailsWithAClearStatus) {
  // A regular file where a folder is needed fails for every user, root included.
  const std::filesystem::path blocker = TestDir() / "not-a-folder";
  std::filesystem::create_directories(blocker.parent_path());
  std::ofstream(blocker) << "x";
  const std::string path = (blocker / "switchboard.db").string();
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path}, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(blocker.string()));

  // A folder where the database file should be.
  const std::filesystem::path folder = TestDir() / "a-folder";
  std::filesystem::create_directories(folder);
  store = EmbeddedStore::Create({.path = folder.string()}, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(folder.string() + ": it is a directory"));
}

TEST_F(EmbeddedStoreTest, ASecondOpenerOfTheSameFileIsRefusedUntilTheFirstCloses) {
  // Two stores on one file would each claim and deliver its events. In one process the second
  // is refused before it opens a descriptor of the file (closing one would drop the first
  // store's SQLite locks); between processes the flock refuses it (process_test).
  const std::filesystem::path path = TestDir() / "switchboard.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> first =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(first.ok()) << first.status();

  ASSERT_TRUE(ThisProcessHoldsAPosixLockOn(path)) << "SQLite's lock, before the second opener";

  absl::StatusOr<std::unique_ptr<EmbeddedStore>> second =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("is in use by this process"));
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("(pid ", getpid(), ")")));
  EXPECT_THAT(second.status().message(), HasSubstr("one router per embedded store file"));

  // Through a symlink or a hard link to the same file: the lock is on the file, not the path.
  const std::filesystem::path symlink = TestDir() / "symlink.db";
  std::filesystem::create_symlink(path, symlink);
  const std::filesystem::path hard_link = TestDir() / "hard-link.db";
  std::filesystem::create_hard_link(path, hard_link);
  for (const std::filesystem::path& other : {symlink, hard_link}) {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> through_link =
        EmbeddedStore::Create({.path = other.string()}, clock_);
    ASSERT_FALSE(through_link.ok()) << other;
    EXPECT_THAT(through_link.status().message(),
                HasSubstr(absl::StrCat("in use by this process (pid ", getpid(), ")")));
  }

  // The refused openers changed nothing: the first store keeps SQLite's lock (closing any
  // descriptor of the file would have dropped it) and still commits.
  EXPECT_TRUE(ThisProcessHoldsAPosixLockOn(path));
  CommitForAudit(**first, "e1");

  first->reset();
  second = EmbeddedStore::Create({.path = path.string()}, clock_);
  EXPECT_TRUE(second.ok()) << second.status();
}

TEST_F(EmbeddedStoreTest, RejectsBadOptions) {
  const std::string path = (TestDir() / "store.db").string();
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path, .sync = "off"}, clock_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("off"));
  EXPECT_EQ(EmbeddedStore::Create({.path = ""}, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      EmbeddedStore::Create({.path = path, .dedupe_window = absl::ZeroDuration()}, clock_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(EmbeddedStoreTest, SyncNormalCommitsAndClaims) {
  const std::filesystem::path path = TestDir() / "normal.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .sync = "normal"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  CommitForAudit(**store, "e1");
  absl::Notification claimed;
  (*store)->Claim("audit", 10, absl::Seconds(30), 10, nullptr,
                  [&](absl::StatusOr<std::vector<ClaimedDelivery>> deliveries) {
                    ASSERT_TRUE(deliveries.ok()) << deliveries.status();
                    EXPECT_EQ(deliveries->size(), 1u);
                    claimed.Notify();
                  });
  ASSERT_TRUE(claimed.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST_F(EmbeddedStoreTest, RefusesANewerSchemaVersion) {
  const std::filesystem::path path = TestDir() / "future.db";
  std::filesystem::create_directories(path.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 10", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version 10, newer than this binary"));
  EXPECT_EQ(Pragma(path, "user_version"), "10");  // left as it was
}

TEST_F(EmbeddedStoreTest, InvalidClaimArgumentsAreRefused) {
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = (TestDir() / "store.db").string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  for (const auto& [lease, max_attempts] :
       {std::pair(absl::ZeroDuration(), 10u), std::pair(absl::Seconds(30), 0u)}) {
    absl::Notification done;
    (*store)->Claim("audit", 10, lease, max_attempts, nullptr,
                    [&](absl::StatusOr<std::vector<ClaimedDelivery>> claimed) {
                      EXPECT_EQ(claimed.status().code(), absl::StatusCode::kInvalidArgument);
                      done.Notify();
                    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  EXPECT_TRUE((*store)->Healthy());
}

absl::StatusOr<std::vector<CommitOutcome>> CommitAndWait(Store& store, std::vector<std::string> ids) {
  std::vector<EventToCommit> items;
  for (const std::string& id : ids) {
    EventToCommit& item = items.emplace_back();
    item.event.set_id(id);
    item.targets.push_back({"audit", {}});
  }
  absl::Notification done;
  absl::StatusOr<std::vector<CommitOutcome>> result;
  store.Commit(std::move(items), [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
    result = std::move(outcomes);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("no callback");
  }
  return result;
}

// Another connection holds the write lock past the busy timeout (5 s), so BEGIN fails: the whole
// group gets kUnavailable, nothing of it is visible, and Healthy() reports it until a success.
TEST_F(EmbeddedStoreTest, AFailedGroupAnswersUnavailableAndMarksUnhealthy) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  absl::StatusOr<std::vector<CommitOutcome>> failed = CommitAndWait(**store, {"e1", "e2"});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*store)->Healthy());

  ASSERT_EQ(sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  absl::StatusOr<std::vector<CommitOutcome>> retried = CommitAndWait(**store, {"e1", "e2"});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(*retried,
            (std::vector<CommitOutcome>{CommitOutcome::kCommitted, CommitOutcome::kCommitted}));
  EXPECT_TRUE((*store)->Healthy());
}

TEST_F(EmbeddedStoreTest, ShutdownAnswersEveryQueuedRequestAndKeepsWhatCommitted) {
  const std::string path = (TestDir() / "store.db").string();
  constexpr int kCommits = 50;
  std::atomic<int> answered{0};
  std::atomic<int> committed{0};
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < kCommits; ++i) {
      EventToCommit item;
      item.event.set_id(absl::StrCat("e", i));
      item.targets.push_back({"audit", {}});
      (*store)->Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
        ++answered;
        if (outcomes.ok()) ++committed;
      });
    }
  }  // the destructor returns only after every callback ran
  EXPECT_EQ(answered.load(), kCommits);

  absl::StatusOr<std::unique_ptr<EmbeddedStore>> reopened =
      EmbeddedStore::Create({.path = path}, clock_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  absl::Notification done;
  (*reopened)->Claim("audit", 1000, absl::Seconds(30), 10, nullptr,
                     [&](absl::StatusOr<std::vector<ClaimedDelivery>> claimed) {
                       ASSERT_TRUE(claimed.ok()) << claimed.status();
                       EXPECT_EQ(static_cast<int>(claimed->size()), committed.load());
                       done.Notify();
                     });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

// --- Data lifecycle: backup and schema migrations ------------------------------------------------

template <typename R, typename Start>
R WaitFor(Start start) {
  absl::Notification done;
  std::optional<R> result;
  start([&](R r) {
    result.emplace(std::move(r));
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return R(absl::DeadlineExceededError("the store never called back"));
  }
  return std::move(*result);
}

// Claims what is visible for `agent` (lease 30 s, 10 attempts); `describe` names each delivery.
template <typename Describe>
std::vector<std::string> ClaimAllAs(Store& store, const std::string& agent, Describe describe) {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed =
      WaitFor<absl::StatusOr<std::vector<ClaimedDelivery>>>([&](auto done) {
        store.Claim(agent, 1000, absl::Seconds(30), 10, nullptr, std::move(done));
      });
  EXPECT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> names;
  for (const ClaimedDelivery& d : claimed.value_or(std::vector<ClaimedDelivery>{})) {
    names.push_back(describe(d));
  }
  return names;
}

// The event ids a claim of `agent` leases, in order.
std::vector<std::string> ClaimAll(Store& store, const std::string& agent) {
  return ClaimAllAs(store, agent, [](const ClaimedDelivery& d) { return d.ParsedEvent().id(); });
}

// Backup while serving, then the documented restore (docs/operations.md): the copy is a store file
// that a new EmbeddedStore opens with every committed event in it.
TEST_F(EmbeddedStoreTest, BackupIsAStoreFileThatRestoresTheEvents) {
  const std::filesystem::path path = TestDir() / "live.db";
  const std::filesystem::path copy = TestDir() / "backups" / "copy.db";
  std::filesystem::create_directories(copy.parent_path());
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"e1", "e2", "e3"}).ok());

  absl::StatusOr<BackupResult> backup = WaitFor<absl::StatusOr<BackupResult>>(
      [&](auto done) { (*store)->Backup(copy.string(), std::move(done)); });
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->path, copy.string());
  EXPECT_EQ(backup->bytes, static_cast<int64_t>(std::filesystem::file_size(copy)));
  EXPECT_GT(backup->bytes, 0);
  EXPECT_FALSE(std::filesystem::exists(copy.string() + ".partial"));
  // The live store keeps serving after (and while) it is copied; later commits are not in the copy.
  ASSERT_TRUE(CommitAndWait(**store, {"e4"}).ok());

  absl::StatusOr<std::unique_ptr<EmbeddedStore>> restored =
      EmbeddedStore::Create({.path = copy.string()}, clock_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(ClaimAll(**restored, "audit"), (std::vector<std::string>{"e1", "e2", "e3"}));
  // Dedupe came along: a retry of a backed-up event is a duplicate in the restored store.
  EXPECT_THAT(CommitAndWait(**restored, {"e1"}).value(), ElementsAre(CommitOutcome::kDuplicate));
  EXPECT_EQ(ClaimAll(**store, "audit"), (std::vector<std::string>{"e1", "e2", "e3", "e4"}));
}

TEST_F(EmbeddedStoreTest, BackupRefusesItsOwnFileAndReportsAnUnwritablePath) {
  const std::filesystem::path path = TestDir() / "live.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  for (const std::string& own : {path.string(), (TestDir() / "." / "live.db").string(),
                                 path.string() + "-wal"}) {
    absl::StatusOr<BackupResult> backup = WaitFor<absl::StatusOr<BackupResult>>(
        [&](auto done) { (*store)->Backup(own, std::move(done)); });
    EXPECT_EQ(backup.status().code(), absl::StatusCode::kFailedPrecondition) << own;
  }
  const std::string nowhere = (TestDir() / "missing-folder" / "copy.db").string();
  absl::StatusOr<BackupResult> backup = WaitFor<absl::StatusOr<BackupResult>>(
      [&](auto done) { (*store)->Backup(nowhere, std::move(done)); });
  EXPECT_EQ(backup.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(backup.status().message(), HasSubstr(nowhere));
  EXPECT_FALSE(std::filesystem::exists(nowhere));
  EXPECT_TRUE(CommitAndWait(**store, {"e1"}).ok());  // still serving
}

// One query's single text answer on a read-only connection of its own ("" for NULL).
std::string QueryText(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  std::string text;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return text;
}

// Runs `sql` on a new file at `path` (the schema of an older switchboard).
void WriteOldFile(const std::filesystem::path& path, const char* sql) {
  std::filesystem::create_directories(path.parent_path());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The first released schema (commit 1522c23): version 1, before the rules, replay_tokens and
// quarantine tables existed; one event archived and queued for "audit", and the dedupe key of one
// no longer archived.
constexpr char kVersion1File[] = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE dedupe(id TEXT PRIMARY KEY, committed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX dedupe_by_time ON dedupe(committed_at);
CREATE TABLE archive(seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,
  committed_at INTEGER NOT NULL, event BLOB NOT NULL, agents TEXT NOT NULL);
CREATE TABLE queue(id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,
  archive_seq INTEGER NOT NULL REFERENCES archive(seq), attempt INTEGER NOT NULL,
  visible_at INTEGER NOT NULL, lease_expires_at INTEGER, claimed_at INTEGER,
  matched_rules TEXT NOT NULL, last_error TEXT NOT NULL, enqueued_at INTEGER NOT NULL);
CREATE INDEX queue_by_visibility ON queue(agent, visible_at, id);
CREATE TABLE dead_letters(seq INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,
  archive_seq INTEGER NOT NULL REFERENCES archive(seq), event_id TEXT NOT NULL,
  attempts INTEGER NOT NULL, reason TEXT NOT NULL, dead_at INTEGER NOT NULL);
CREATE INDEX dead_letters_by_agent ON dead_letters(agent, seq);
INSERT INTO dedupe VALUES('v1-event', 1700000000000000);
INSERT INTO dedupe VALUES('v1-swept', 1700000000000000);
INSERT INTO dedupe VALUES('v1-old', 1699000000000000);
INSERT INTO archive(event_id, committed_at, event, agents)
  VALUES('v1-event', 1700000000000000, X'0A0876312D6576656E74', 'audit');
INSERT INTO queue(agent, archive_seq, attempt, visible_at, matched_rules, last_error, enqueued_at)
  VALUES('audit', 1, 0, 1700000000000000, 'all', '', 1700000000000000);
PRAGMA user_version = 1;
)sql";

TEST_F(EmbeddedStoreTest, MigratesAVersionOneFileKeepingItsEvents) {
  const std::filesystem::path path = TestDir() / "v1.db";
  WriteOldFile(path, kVersion1File);
  ASSERT_EQ(Pragma(path, "user_version"), "1");
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    // X'0A08...' is an EmailEvent with id "v1-event" (field 1, 8 bytes).
    EXPECT_EQ(ClaimAll(**store, "audit"), std::vector<std::string>{"v1-event"});
    EXPECT_THAT(CommitAndWait(**store, {"v1-event"}).value(),
                ElementsAre(CommitOutcome::kDuplicate));
    // Version 6 moved the archive's ids and the old dedupe table's into the dedupe index; a key
    // only the old dedupe table held still counts within its window.
    EXPECT_THAT(CommitAndWait(**store, {"v1-swept", "v1-new"}).value(),
                ElementsAre(CommitOutcome::kDuplicate, CommitOutcome::kCommitted));
    // An id past its window (11 days old) is not carried over at all.
    EXPECT_EQ(QueryText(path, "SELECT entries FROM event_id_runs WHERE run = 1"), "2");
    EXPECT_THAT(CommitAndWait(**store, {"v1-old"}).value(),
                ElementsAre(CommitOutcome::kCommitted));
    // The tables of later steps work: quarantine, rules.
    QuarantineEntry entry;
    entry.source = "resend";
    entry.body = "x";
    EXPECT_TRUE(WaitFor<absl::StatusOr<std::string>>([&](auto done) {
                  (*store)->PutQuarantine(entry, std::move(done));
                }).ok());
    EXPECT_EQ(WaitFor<absl::StatusOr<int64_t>>([&](auto done) {
                (*store)->PutRules("[]", 0, std::move(done));
              }).value(),
              1);
  }
  EXPECT_EQ(Pragma(path, "user_version"), "9");
}

// The queue entry of a delivery id "<entry>.<attempt>" (-1 if it is not one).
int64_t EntryOf(const std::string& delivery_id) {
  int64_t entry = -1;
  if (!absl::SimpleAtoi(delivery_id.substr(0, delivery_id.find('.')), &entry)) return -1;
  return entry;
}

// Claims what is visible for "audit" (lease 30 s); `describe` names each delivery.
template <typename Describe>
std::vector<std::string> ClaimVisible(Store& store, uint32_t max_attempts, Describe describe) {
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed =
      WaitFor<absl::StatusOr<std::vector<ClaimedDelivery>>>([&](auto done) {
        store.Claim("audit", 1000, absl::Seconds(30), max_attempts, nullptr, std::move(done));
      });
  EXPECT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> names;
  for (const ClaimedDelivery& d : claimed.value_or(std::vector<ClaimedDelivery>{})) {
    names.push_back(describe(d));
  }
  return names;
}

// The delivery ids of what a claim of "audit" leases.
std::vector<std::string> ClaimDeliveryIds(Store& store, uint32_t max_attempts) {
  return ClaimVisible(store, max_attempts, [](const ClaimedDelivery& d) { return d.delivery_id; });
}

absl::Status AckAndWait(Store& store, const std::string& delivery_id);

// Row ids come from the store (row_id_sequences, queue_ranges), not SQLite's max(rowid) + 1:
// once the queue is empty, SQLite alone would number the next entry 1 again, and an acked
// delivery id would name a new event.
// Every path that queues (commit, dead-letter replay by id and in full) takes a fresh id, across
// a restart too.
TEST_F(EmbeddedStoreTest, AQueueEntryIdIsNeverHandedOutAgain) {
  const std::filesystem::path path = TestDir() / "store.db";
  std::vector<int64_t> entries;  // in the order they were handed out
  const auto take_one = [&](Store& store, uint32_t max_attempts) -> std::string {
    const std::vector<std::string> ids = ClaimDeliveryIds(store, max_attempts);
    EXPECT_EQ(ids.size(), 1u);
    if (ids.empty()) return "";
    entries.push_back(EntryOf(ids[0]));
    return ids[0];
  };
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const char* id : {"e1", "e2"}) {
      ASSERT_TRUE(CommitAndWait(**store, {id}).ok());
      const std::string delivery = take_one(**store, 10);
      ASSERT_TRUE(AckAndWait(**store, delivery).ok());  // the queue is empty again
    }
  }
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue"), "0");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  // e3 and e4 become dead letters: their lease expires, and one attempt is all they get.
  for (const char* id : {"e3", "e4"}) {
    ASSERT_TRUE(CommitAndWait(**store, {id}).ok());
    take_one(**store, 1);
  }
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(ClaimDeliveryIds(**store, 1).empty());
  ASSERT_EQ(WaitFor<absl::StatusOr<int64_t>>([&](auto done) {
              (*store)->ReplayDeadLetters("audit", {"e3"}, std::move(done));
            }).value_or(-1),
            1);
  ASSERT_TRUE(AckAndWait(**store, take_one(**store, 10)).ok());
  ASSERT_EQ(WaitFor<absl::StatusOr<int64_t>>([&](auto done) {
              (*store)->ReplayDeadLetters("audit", {}, std::move(done));
            }).value_or(-1),
            1);
  take_one(**store, 10);
  ASSERT_EQ(entries.size(), 6u);
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_GT(entries[i], entries[i - 1]) << "entry " << i;
  }
  // "audit" is the first agent: its ids are those of range 1, from 2^36 (row_ids.h). The
  // restart skipped the ids the first process had reserved (1,024 from the first) and not handed
  // out; the file holds the last id reserved.
  EXPECT_EQ(entries.front(), int64_t{1} << 36);
  EXPECT_EQ(entries[2], (int64_t{1} << 36) + 1025);
  EXPECT_EQ(QueryText(path, "SELECT last - (1 << 36) FROM queue_ranges WHERE agent = 'audit'"),
            "2049");
  EXPECT_EQ(QueryText(path, "SELECT last FROM row_id_sequences WHERE name = 'archive'"), "4");
}

// Version 7 rebuilt the archive and the queue without AUTOINCREMENT: their rows stay, and the
// numbering continues after the last id sqlite_sequence recorded, even where the rows with the
// highest ids were deleted before the upgrade.
TEST_F(EmbeddedStoreTest, MigrationToVersionSevenContinuesAfterTheLastIdEverUsed) {
  const std::filesystem::path path = TestDir() / "v1.db";
  WriteOldFile(path, (std::string(kVersion1File) + R"sql(
INSERT INTO archive(event_id, committed_at, event, agents)
  VALUES('v1-gone', 1700000000000000, X'0A0776312D676F6E65', 'audit');
INSERT INTO queue(agent, archive_seq, attempt, visible_at, matched_rules, last_error, enqueued_at)
  VALUES('audit', 2, 0, 1700000000000000, 'all', '', 1700000000000000);
INSERT INTO queue(agent, archive_seq, attempt, visible_at, matched_rules, last_error, enqueued_at)
  VALUES('audit', 2, 0, 1700000000000000, 'all', '', 1700000000000000);
DELETE FROM queue WHERE archive_seq = 2;
DELETE FROM archive WHERE seq = 2;
)sql").c_str());
  ASSERT_EQ(QueryText(path, "SELECT seq FROM sqlite_sequence WHERE name = 'queue'"), "3");
  ASSERT_EQ(QueryText(path, "SELECT max(id) FROM queue"), "1");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Pragma(path, "user_version"), "9");
  EXPECT_THAT(QueryText(path, "SELECT sql FROM sqlite_schema WHERE name = 'queue'"),
              Not(HasSubstr("AUTOINCREMENT")));
  EXPECT_THAT(QueryText(path, "SELECT sql FROM sqlite_schema WHERE name = 'archive'"),
              Not(HasSubstr("AUTOINCREMENT")));
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM sqlite_schema WHERE name IN "
                            "('queue_ready', 'queue_by_archive')"),
            "2");
  // Version 9 keeps the sequence as the last id of range 0, where the entries of older files
  // stay; new entries take ids in a range of their agent's (range 1 starts at 2^36).
  EXPECT_EQ(QueryText(path, "SELECT agent || ':' || last FROM queue_ranges WHERE range = 0"), ":3");
  // The version-1 entry (id 1) is still queued and comes first.
  ASSERT_TRUE(CommitAndWait(**store, {"v7-new"}).ok());
  const std::vector<std::string> ids = ClaimDeliveryIds(**store, 10);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], "1.1");
  EXPECT_EQ(ids[1], "68719476736.1");
  EXPECT_EQ(QueryText(path, "SELECT group_concat(seq) FROM archive"), "1,3");
}

// Commits one event per id, each queued for every agent of `agents`.
absl::StatusOr<std::vector<CommitOutcome>> CommitForAgents(Store& store,
                                                           const std::vector<std::string>& ids,
                                                           const std::vector<std::string>& agents) {
  std::vector<EventToCommit> items;
  for (const std::string& id : ids) {
    EventToCommit& item = items.emplace_back();
    item.event.set_id(id);
    for (const std::string& agent : agents) item.targets.push_back({agent, {}});
  }
  return WaitFor<absl::StatusOr<std::vector<CommitOutcome>>>(
      [&](auto done) { store.Commit(std::move(items), std::move(done)); });
}

// "<event id>@<queue entry>" for each delivery a claim of `agent` leases, in order.
std::vector<std::string> ClaimEntries(Store& store, const std::string& agent) {
  return ClaimAllAs(store, agent, [](const ClaimedDelivery& d) {
    return absl::StrCat(d.ParsedEvent().id(), "@", EntryOf(d.delivery_id));
  });
}

// Ids of range r start at r * 2^36 (row_ids.h). Each agent numbers its entries in a range of its
// own, the first agent seen in range 1, the next in range 2; the numbering goes on after a
// restart, where the file left it.
constexpr int64_t kRange = int64_t{1} << 36;
std::string At(const char* event_id, int64_t entry) { return absl::StrCat(event_id, "@", entry); }

TEST_F(EmbeddedStoreTest, EachAgentNumbersItsEntriesInARangeOfItsOwn) {
  const std::filesystem::path path = TestDir() / "store.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitForAgents(**store, {"e1", "e2"}, {"a", "b"}).ok());
    ASSERT_TRUE(CommitForAgents(**store, {"e3"}, {"b", "a"}).ok());
    EXPECT_THAT(ClaimEntries(**store, "a"),
                ElementsAre(At("e1", kRange), At("e2", kRange + 1), At("e3", kRange + 2)));
    EXPECT_THAT(ClaimEntries(**store, "b"),
                ElementsAre(At("e1", 2 * kRange), At("e2", 2 * kRange + 1),
                            At("e3", 2 * kRange + 2)));
  }
  // The file holds the last id each range reserved: 1,024 past the first handed out, which
  // covers the three.
  EXPECT_EQ(QueryText(path, "SELECT group_concat(range || ':' || agent || ':' || "
                            "(last % (1 << 36))) FROM (SELECT * FROM queue_ranges ORDER BY range)"),
            "1:a:1024,2:b:1024");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  // The leases of the first process ended at the restart: the entries come again, then e4,
  // after the ids the first process reserved.
  ASSERT_TRUE(CommitForAgents(**store, {"e4"}, {"c", "a"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "a"),
              ElementsAre(At("e1", kRange), At("e2", kRange + 1), At("e3", kRange + 2),
                          At("e4", kRange + 1025)));
  EXPECT_THAT(ClaimEntries(**store, "c"), ElementsAre(At("e4", 3 * kRange)));
  // "b", untouched since the restart, goes on where the file left its range.
  ASSERT_TRUE(CommitForAgents(**store, {"e5"}, {"b"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "b"),
              ElementsAre(At("e1", 2 * kRange), At("e2", 2 * kRange + 1),
                          At("e3", 2 * kRange + 2), At("e5", 2 * kRange + 1025)));
}

// An agent whose range is full goes on in a new range above every other, and its entries keep
// their order. The queue's retention sweep walks every range, whatever the ranges before it hold.
TEST_F(EmbeddedStoreTest, AnAgentWhoseRangeIsFullGoesOnInTheNextAndTheSweepWalksEveryRange) {
  const std::filesystem::path path = TestDir() / "store.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitForAgents(**store, {"e1"}, {"audit", "other"}).ok());
  }
  // Two ids are left in range 1, "audit"'s: e1 took the first.
  WriteOldFile(path, "UPDATE queue_ranges SET last = 2 * (1 << 36) - 3 WHERE agent = 'audit';");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitForAgents(**store, {"e2"}, {"audit"}).ok());
  clock_.Advance(absl::Hours(24));
  // e3 takes range 1's last id; e4 finds it full and goes on in range 3.
  ASSERT_TRUE(CommitForAgents(**store, {"e3", "e4"}, {"audit", "other"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "audit"),
              ElementsAre(At("e1", kRange), At("e2", 2 * kRange - 2), At("e3", 2 * kRange - 1),
                          At("e4", 3 * kRange)));
  EXPECT_THAT(ClaimEntries(**store, "other"),
              ElementsAre(At("e1", 2 * kRange), At("e3", 2 * kRange + 1025),
                          At("e4", 2 * kRange + 1026)));
  EXPECT_EQ(QueryText(path, "SELECT group_concat(range || ':' || agent) "
                            "FROM (SELECT * FROM queue_ranges ORDER BY range)"),
            "1:audit,2:other,3:audit");
  // Range 1 reserved up to its end, e3's id.
  EXPECT_EQ(QueryText(path, "SELECT last - (1 << 36) FROM queue_ranges WHERE range = 1"),
            absl::StrCat(kRange - 1));
  // Seven days after e1 and e2 (the leases above ended long ago), with a limit of six and a
  // half: e1 and e2 expire, e3 and e4 do not. Range 1 ends with e3, younger than the limit;
  // range 2 still holds an e1 behind it.
  clock_.Advance(absl::Hours(24 * 6));
  RetentionPolicy policy;
  policy.queue = absl::Hours(24 * 6 + 12);
  RetentionSweeper sweeper(**store, policy, absl::Minutes(1));
  absl::StatusOr<SweepResult> swept = sweeper.SweepOnce();
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->expired, 3);
  EXPECT_EQ(QueryText(path, "SELECT group_concat(a.event_id || '>' || q.agent) FROM "
                            "(SELECT * FROM queue ORDER BY id) q "
                            "JOIN archive a ON a.seq = q.archive_seq"),
            "e3>audit,e3>other,e4>other,e4>audit");
  // "audit"'s two dead letters come back with two consecutive ids of its range 3, after e4; the
  // next entry comes after them.
  ASSERT_EQ(WaitFor<absl::StatusOr<int64_t>>([&](auto done) {
              (*store)->ReplayDeadLetters("audit", {}, std::move(done));
            }).value_or(-1),
            2);
  ASSERT_TRUE(CommitForAgents(**store, {"e5"}, {"audit"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "audit"),
              ElementsAre(At("e3", 2 * kRange - 1), At("e4", 3 * kRange),
                          At("e1", 3 * kRange + 1), At("e2", 3 * kRange + 2),
                          At("e5", 3 * kRange + 3)));
}

// One group hands out an agent's last id of a range, then moves it on to a new range: both
// ranges' reservations reach the file.
TEST_F(EmbeddedStoreTest, AGroupThatMovesAnAgentOnWritesBackTheRangeItLeft) {
  const std::filesystem::path path = TestDir() / "store.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitForAgents(**store, {"e1"}, {"a"}).ok());
  }
  // One id is left in range 1, and the file has not reserved it.
  WriteOldFile(path, "UPDATE queue_ranges SET last = 2 * (1 << 36) - 2 WHERE agent = 'a';");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitForAgents(**store, {"e2", "e3"}, {"a"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "a"),
              ElementsAre(At("e1", kRange), At("e2", 2 * kRange - 1), At("e3", 2 * kRange)));
  EXPECT_EQ(QueryText(path, "SELECT group_concat(range || ':' || (last - range * (1 << 36))) "
                            "FROM (SELECT * FROM queue_ranges ORDER BY range)"),
            absl::StrCat("1:", kRange - 1, ",2:1024"));
}

// One agent's backlog of expired entries, more than a sweep takes at once (5,000), does not hold
// up another agent's: a sweep that filled its batch in one range starts the next after it.
TEST_F(EmbeddedStoreTest, OneAgentsExpiredBacklogDoesNotHoldUpTheSweepOfAnother) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::string> backlog;
  for (int i = 0; i < 10'001; ++i) backlog.push_back(absl::StrCat("big-", i));
  ASSERT_TRUE(CommitForAgents(**store, backlog, {"big"}).ok());  // range 1
  ASSERT_TRUE(CommitForAgents(**store, {"lone"}, {"small"}).ok());  // range 2
  clock_.Advance(absl::Hours(2));
  RetentionPolicy policy;
  policy.queue = absl::Hours(1);
  RetentionSweeper sweeper(**store, policy, absl::Minutes(1));
  ASSERT_EQ(sweeper.SweepOnce().value().expired, 5000);  // all of them "big"'s
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE agent = 'small'"), "1");
  ASSERT_EQ(sweeper.SweepOnce().value().expired, 5000);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE agent = 'small'"), "0");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE agent = 'big'"), "2");
  ASSERT_EQ(sweeper.SweepOnce().value().expired, 2);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM dead_letters WHERE reason = 'expired'"),
            "10002");
}

TEST_F(EmbeddedStoreTest, MigratesAVersionZeroFile) {
  // A SQLite file that never had a switchboard schema (user_version 0), e.g. an empty file.
  const std::filesystem::path path = TestDir() / "v0.db";
  WriteOldFile(path, "CREATE TABLE unrelated(x INTEGER);");
  ASSERT_EQ(Pragma(path, "user_version"), "0");
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitAndWait(**store, {"e1"}).ok());
    EXPECT_EQ(ClaimAll(**store, "audit"), std::vector<std::string>{"e1"});
  }
  EXPECT_EQ(Pragma(path, "user_version"), "9");
}

TEST_F(EmbeddedStoreTest, AFailedMigrationLeavesTheFileAtItsVersion) {
  // A version-1 file whose `quarantine` name is taken by a view: step 2's CREATE TABLE fails.
  const std::filesystem::path path = TestDir() / "broken.db";
  WriteOldFile(path, (std::string(kVersion1File) +
                      "CREATE VIEW quarantine AS SELECT 1 AS seq;")
                         .c_str());
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema migration 1 -> 2"));
  EXPECT_EQ(Pragma(path, "user_version"), "1");
  EXPECT_EQ(Pragma(path, "table_list('rules')"), "");  // step 2's repair rolled back too
}

// The router's periodic sweep, driven by the fake clock through SweepOnce.
TEST_F(EmbeddedStoreTest, RetentionSweeperExpiresOldQueueEntriesAndCountsThem) {
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = (TestDir() / "store.db").string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"e1", "e2"}).ok());
  RetentionPolicy policy;
  policy.queue = absl::Hours(24 * 7);
  RetentionSweeper sweeper(**store, policy, absl::Minutes(1));
  ASSERT_EQ(sweeper.SweepOnce().value().expired, 0);
  clock_.Advance(absl::Hours(24 * 7));
  ASSERT_EQ(sweeper.SweepOnce().value().expired, 2);
  EXPECT_EQ(sweeper.totals().expired, 2u);
  EXPECT_EQ(sweeper.totals().failures, 0u);
  EXPECT_TRUE(ClaimAll(**store, "audit").empty());
}

// Commits events `ids` for "audit" that name bytes stored out of line (raw_stored), so that the
// commit links the references PutAttachments made under their ids.
absl::StatusOr<std::vector<CommitOutcome>> CommitNamingStoredBytes(Store& store,
                                                                   std::vector<std::string> ids,
                                                                   bool routed = true) {
  std::vector<EventToCommit> items;
  for (const std::string& id : ids) {
    EventToCommit& item = items.emplace_back();
    item.event.set_id(id);
    item.event.set_raw_stored(true);
    if (routed) item.targets.push_back({"audit", {}});
  }
  return WaitFor<absl::StatusOr<std::vector<CommitOutcome>>>(
      [&](auto done) { store.Commit(std::move(items), std::move(done)); });
}

TEST_F(EmbeddedStoreTest, SweepRemovesAttachmentsNoArchivedEventNamesOnceAsOldAsTheArchiveLimit) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto put = [&](std::vector<StoredAttachment> blobs) {
    return WaitFor<absl::Status>(
        [&](auto done) { (*store)->PutAttachments(std::move(blobs), std::move(done)); });
  };
  // "orphan" stands for a crash between PutAttachments and the commit of its event; "aa" is
  // named by it and by the archived e1, "bb" by the orphan alone.
  // "cc" is stored under e2, whose event then names no stored bytes: its reference stays
  // unlinked, like the orphan's.
  ASSERT_TRUE(put({{{"e1", "orphan"}, "aa", "kept"}, {{"orphan"}, "bb", "gone"},
                   {{"e2"}, "cc", "unnamed"}})
                  .ok());
  ASSERT_TRUE(CommitNamingStoredBytes(**store, {"e1"}).ok());  // queued for "audit": stays
  ASSERT_TRUE(CommitAndWait(**store, {"e2"}).ok());            // queued too, names nothing
  RetentionPolicy policy;
  policy.archive = absl::Hours(24);
  const auto get = [&](const std::string& event_id, const std::string& sha256) {
    return WaitFor<absl::StatusOr<std::string>>(
        [&](auto done) { (*store)->GetAttachment(event_id, sha256, std::move(done)); });
  };
  const auto sweep = [&] {
    return WaitFor<absl::StatusOr<SweepResult>>(
        [&](auto done) { (*store)->Sweep(policy, std::move(done)); });
  };
  ASSERT_TRUE(sweep().ok());
  EXPECT_EQ(get("orphan", "bb").value_or(""), "gone");  // younger than the limit
  clock_.Advance(absl::Hours(24));
  ASSERT_TRUE(sweep().ok());
  EXPECT_EQ(get("orphan", "bb").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get("orphan", "aa").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get("e2", "cc").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get("e1", "aa").value_or(""), "kept");  // e1 is archived: its bytes stay
  // Only "aa" is left in the file: "bb" had no other reference.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT group_concat(sha256) FROM blobs", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "aa");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// An id may be archived twice: committed again once its dedupe window is over, while the first
// event is still pinned (here: still queued). Each archive row keeps its own references, so
// sweeping the second row leaves the bytes the first one names.
TEST_F(EmbeddedStoreTest, AnEventIdArchivedTwiceKeepsTheBytesOfTheRowThatStays) {
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store = EmbeddedStore::Create(
      {.path = (TestDir() / "store.db").string(), .dedupe_window = absl::Hours(1)}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto put = [&] {
    return WaitFor<absl::Status>([&](auto done) {
      (*store)->PutAttachments({{{"e1"}, "aa", "bytes"}}, std::move(done));
    });
  };
  const auto get = [&] {
    return WaitFor<absl::StatusOr<std::string>>(
        [&](auto done) { (*store)->GetAttachment("e1", "aa", std::move(done)); });
  };
  ASSERT_TRUE(put().ok());
  ASSERT_THAT(CommitNamingStoredBytes(**store, {"e1"}).value(),  // queued for "audit": pinned
              ElementsAre(CommitOutcome::kCommitted));
  clock_.Advance(absl::Hours(2));
  ASSERT_TRUE(put().ok());
  // No target: nothing pins the second row.
  ASSERT_THAT(CommitNamingStoredBytes(**store, {"e1"}, /*routed=*/false).value(),
              ElementsAre(CommitOutcome::kCommitted));
  clock_.Advance(absl::Hours(2));
  RetentionPolicy policy;
  policy.archive = absl::Hours(1);
  absl::StatusOr<SweepResult> swept = WaitFor<absl::StatusOr<SweepResult>>(
      [&](auto done) { (*store)->Sweep(policy, std::move(done)); });
  ASSERT_TRUE(swept.ok()) << swept.status();
  EXPECT_EQ(swept->archive, 1);  // the second row; the first is still queued
  EXPECT_EQ(get().value_or("not found"), "bytes");
}

// A version-3 file kept attachment bytes once per event: the migration keeps one copy per hash
// and every event's reference to it.
TEST_F(EmbeddedStoreTest, MigratesVersionThreeAttachmentsToOneCopyPerHash) {
  const std::filesystem::path path = TestDir() / "v3.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  // The version-3 table as kSchemaV3Sql made it, in place of the version-4 ones.
  WriteOldFile(path, R"sql(
DROP TABLE blobs;
DROP TABLE blob_refs;
DROP TABLE row_id_sequences;
DROP TABLE queue_ranges;
CREATE TABLE dedupe(id TEXT PRIMARY KEY, committed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE attachments(seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,
  sha256 TEXT NOT NULL, stored_at INTEGER NOT NULL, bytes BLOB NOT NULL, UNIQUE(event_id, sha256));
INSERT INTO archive(event_id, committed_at, event, agents)
  VALUES('rcpt-1', 1700000000000000, X'0A06726370742D31', '');
CREATE INDEX attachments_by_time ON attachments(stored_at);
INSERT INTO attachments(event_id, sha256, stored_at, bytes) VALUES
  ('rcpt-1', 'aa', 1700000000000000, X'00FF01'),
  ('rcpt-2', 'aa', 1700000000000000, X'00FF01'),
  ('rcpt-1', 'bb', 1700000000000000, 'text');
PRAGMA user_version = 3;
)sql");
  ASSERT_EQ(Pragma(path, "user_version"), "3");
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto get = [&](const std::string& event_id, const std::string& sha256) {
    return WaitFor<absl::StatusOr<std::string>>(
        [&](auto done) { (*store)->GetAttachment(event_id, sha256, std::move(done)); });
  };
  EXPECT_EQ(get("rcpt-1", "aa").value_or(""), std::string("\x00\xff\x01", 3));
  EXPECT_EQ(get("rcpt-2", "aa").value_or(""), std::string("\x00\xff\x01", 3));
  EXPECT_EQ(get("rcpt-1", "bb").value_or(""), "text");
  EXPECT_EQ(get("rcpt-2", "bb").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Pragma(path, "user_version"), "9");
  EXPECT_EQ(Pragma(path, "table_list('attachments')"), "");  // the old table is gone
  // Version 6 links each reference to the archive row of its event; rcpt-2 was never archived.
  EXPECT_EQ(QueryText(path, "SELECT group_concat(event_id || ':' || coalesce(archive_seq, 'none')) "
                            "FROM (SELECT * FROM blob_refs ORDER BY event_id, sha256)"),
            "rcpt-1:1,rcpt-1:1,rcpt-2:none");
}

// A VFS that forwards to the default one and counts xSync calls on WAL files: which commits
// fsync is the durability contract of embedded_store.h, and a file system is the only place it
// shows. It also follows the database file's pages: those the checkpointer thread (by its name,
// sb-checkpoint) wrote and nobody has synced since, and how often another thread's sync had to
// write them back. Registered as the default VFS for the lifetime of the object.
class SyncCountingVfs {
 public:
  SyncCountingVfs() : real_(sqlite3_vfs_find(nullptr)) {
    vfs_ = *real_;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.zName = "sync-counting";
    vfs_.pAppData = this;
    vfs_.xOpen = &Open;
    vfs_.pNext = nullptr;
    methods_ = {};
    EXPECT_EQ(sqlite3_vfs_register(&vfs_, /*makeDflt=*/1), SQLITE_OK);
  }
  ~SyncCountingVfs() {
    sqlite3_vfs_register(real_, /*makeDflt=*/1);
    sqlite3_vfs_unregister(&vfs_);
  }
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  int64_t wal_syncs() const { return wal_syncs_.load(); }
  // Syncs of the database file by threads other than the checkpointer (the writer's copies).
  int64_t writer_database_syncs() const { return writer_database_syncs_.load(); }
  // Of those, the ones that found pages the checkpointer thread wrote still unsynced.
  int64_t writer_syncs_of_checkpointer_pages() const {
    return writer_syncs_of_checkpointer_pages_.load();
  }

 private:
  struct File {
    sqlite3_file base;  // first: SQLite sees a File as a sqlite3_file
    sqlite3_file* real;
    SyncCountingVfs* owner;
    bool wal;
    bool database;
  };
  static bool OnCheckpointerThread() {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    return std::string_view(name) == "sb-checkpoint";
  }
  static sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* self = static_cast<SyncCountingVfs*>(vfs->pAppData);
    File* f = reinterpret_cast<File*>(file);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    f->owner = self;
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->database = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    const int rc = self->real_->xOpen(self->real_, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == nullptr) {
      f->base.pMethods = nullptr;
      return rc;
    }
    self->InitMethods(f->real->pMethods);
    f->base.pMethods = &self->methods_;
    return rc;
  }

  // Every file of the default VFS has the same methods; copy their version once.
  void InitMethods(const sqlite3_io_methods* real) {
    if (methods_.iVersion != 0) return;
    methods_.iVersion = real->iVersion;
    methods_.xClose = [](sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); };
    methods_.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
      return Real(f)->pMethods->xRead(Real(f), p, n, o);
    };
    methods_.xWrite = [](sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
      File* file = reinterpret_cast<File*>(f);
      if (file->database && OnCheckpointerThread()) {
        file->owner->checkpointer_unsynced_bytes_ += n;
      }
      return Real(f)->pMethods->xWrite(Real(f), p, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
      return Real(f)->pMethods->xTruncate(Real(f), size);
    };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      File* file = reinterpret_cast<File*>(f);
      SyncCountingVfs* owner = file->owner;
      if (file->wal) ++owner->wal_syncs_;
      // An fsync writes back the file's dirty pages whichever descriptor wrote them.
      if (file->database) {
        const int64_t unsynced = owner->checkpointer_unsynced_bytes_.exchange(0);
        if (!OnCheckpointerThread()) {
          ++owner->writer_database_syncs_;
          if (unsynced > 0) ++owner->writer_syncs_of_checkpointer_pages_;
        }
      }
      return Real(f)->pMethods->xSync(Real(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
      return Real(f)->pMethods->xFileSize(Real(f), size);
    };
    methods_.xLock = [](sqlite3_file* f, int lock) {
      return Real(f)->pMethods->xLock(Real(f), lock);
    };
    methods_.xUnlock = [](sqlite3_file* f, int lock) {
      return Real(f)->pMethods->xUnlock(Real(f), lock);
    };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
    };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      return Real(f)->pMethods->xFileControl(Real(f), op, arg);
    };
    methods_.xSectorSize = [](sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
    };
    methods_.xShmMap = [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
    };
    methods_.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
      return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
    };
    methods_.xShmBarrier = [](sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int remove) {
      return Real(f)->pMethods->xShmUnmap(Real(f), remove);
    };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** out) {
      return Real(f)->pMethods->xFetch(Real(f), o, n, out);
    };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
      return Real(f)->pMethods->xUnfetch(Real(f), o, p);
    };
  }

  sqlite3_vfs* const real_;
  sqlite3_vfs vfs_;
  sqlite3_io_methods methods_;
  std::atomic<int64_t> wal_syncs_{0};
  std::atomic<int64_t> checkpointer_unsynced_bytes_{0};
  std::atomic<int64_t> writer_database_syncs_{0};
  std::atomic<int64_t> writer_syncs_of_checkpointer_pages_{0};
};

absl::StatusOr<std::vector<ClaimedDelivery>> ClaimAndWait(Store& store) {
  absl::Notification done;
  absl::StatusOr<std::vector<ClaimedDelivery>> result;
  store.Claim("audit", 10, absl::Seconds(30), 10, nullptr,
              [&](absl::StatusOr<std::vector<ClaimedDelivery>> claimed) {
                result = std::move(claimed);
                done.Notify();
              });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("no callback");
  }
  return result;
}

absl::Status AckAndWait(Store& store, const std::string& delivery_id) {
  absl::Notification done;
  absl::Status result;
  store.Ack(delivery_id, [&](absl::Status status) {
    result = std::move(status);
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
    return absl::DeadlineExceededError("no callback");
  }
  return result;
}

// An archived event that protobuf's parser refuses is never handed to an agent: its claim sends
// it to the dead letters and still returns the good entries around it. The bad one here is a
// well-formed message whose recipient is not UTF-8, which only the string check finds.
TEST_F(EmbeddedStoreTest, AnUnreadableArchivedEventIsDeadLetteredAtItsClaim) {
  const std::filesystem::path path = TestDir() / "store.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitAndWait(**store, {"e1", "e2", "e3"}).ok());
  }
  v1::EmailEvent event;
  event.set_id("e2");
  event.set_recipient("X@example.com");
  std::string bytes = event.SerializeAsString();
  bytes[bytes.find('X')] = '\xff';
  ASSERT_FALSE(v1::EmailEvent().ParseFromString(bytes));  // the reference refuses it
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* update = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE archive SET event = ?1 WHERE event_id = 'e2'", -1,
                               &update, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(update, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(update), SQLITE_DONE);
  sqlite3_finalize(update);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = ClaimAndWait(**store);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> ids;
  for (const ClaimedDelivery& d : *claimed) ids.push_back(d.ParsedEvent().id());
  EXPECT_THAT(ids, ElementsAre("e1", "e3"));
  absl::StatusOr<std::vector<DeadLetter>> letters =
      WaitFor<absl::StatusOr<std::vector<DeadLetter>>>(
          [&](auto done) { (*store)->ListDeadLetters("audit", 10, std::move(done)); });
  ASSERT_TRUE(letters.ok()) << letters.status();
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].event_id, "e2");
  EXPECT_THAT((*letters)[0].reason, HasSubstr("archived event is unreadable"));
  EXPECT_THAT((*letters)[0].reason, HasSubstr("UTF-8"));
}


// An id stays a duplicate for its whole window, also after its event left the archive, and its
// row leaves the dedupe index once the window is over.
TEST_F(EmbeddedStoreTest, DedupeOutlivesTheArchiveUntilTheWindowCloses) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .dedupe_window = absl::Hours(1)}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto commit = [&](const std::string& id) {
    std::vector<EventToCommit> items(1);
    items[0].event.set_id(id);  // no target: nothing pins it in the archive
    return WaitFor<absl::StatusOr<std::vector<CommitOutcome>>>(
        [&](auto done) { (*store)->Commit(std::move(items), std::move(done)); });
  };
  constexpr char kLiveIds[] = "SELECT sum(entries) FROM event_id_runs WHERE state = 0";
  EXPECT_THAT(commit("e1").value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_THAT(commit("e2").value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_THAT(commit("e1").value(), ElementsAre(CommitOutcome::kDuplicate));
  EXPECT_EQ(QueryText(path, kLiveIds), "2");

  clock_.Advance(absl::Minutes(20));
  RetentionPolicy policy;
  policy.archive = absl::Minutes(10);
  const auto sweep = [&] {
    return WaitFor<absl::StatusOr<SweepResult>>(
        [&](auto done) { (*store)->Sweep(policy, std::move(done)); });
  };
  EXPECT_EQ(sweep().value().archive, 2);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM archive"), "0");
  EXPECT_THAT(commit("e2").value(), ElementsAre(CommitOutcome::kDuplicate));

  // Past the window: e1 is a new event again, and the groups that add ids drop the old runs, a
  // block per group here: one group per old run.
  clock_.Advance(absl::Minutes(41));
  EXPECT_THAT(commit("e1").value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_THAT(commit("e3").value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_EQ(QueryText(path, kLiveIds), "2");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM event_id_runs"), "2");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM event_id_blocks"), "2");
  EXPECT_THAT(commit("e2").value(), ElementsAre(CommitOutcome::kCommitted));
}

// Version 5 dropped the indexes only the sweeps read (the sweeps walk the rowid instead); version
// 6 moved dedupe out of the archive into the log-structured EventIdIndex, so a commit writes no
// index of the archive at all.
TEST_F(EmbeddedStoreTest, CommitsWriteNoIndexOfTheArchive) {
  const std::filesystem::path path = TestDir() / "store.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  EXPECT_EQ(QueryText(path,
                      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE "
                      "type = 'index' AND tbl_name IN ('archive', 'queue') AND sql IS NOT NULL "
                      "ORDER BY name)"),
            "queue_by_archive,queue_ready");
  EXPECT_EQ(Pragma(path, "table_list('dedupe')"), "");
}

// Each group writes its ids as one run; runs merge, a bounded number of rows per group, so a
// long run of small groups leaves few runs, every id in exactly one live run, and each still a
// duplicate, before and after a restart (which drops any merge in progress).
TEST_F(EmbeddedStoreTest, SmallGroupsMergeIntoFewRunsAndEveryIdStaysADuplicate) {
  const std::filesystem::path path = TestDir() / "store.db";
  std::vector<std::string> all;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int group = 0; group < 200; ++group) {
      std::vector<std::string> ids;
      for (int i = 0; i < 5; ++i) ids.push_back(absl::StrCat("g", group, "-", i));
      all.insert(all.end(), ids.begin(), ids.end());
      absl::StatusOr<std::vector<CommitOutcome>> outcomes = CommitAndWait(**store, ids);
      ASSERT_TRUE(outcomes.ok()) << outcomes.status();
      ASSERT_THAT(*outcomes, ::testing::Each(CommitOutcome::kCommitted)) << "group " << group;
    }
    EXPECT_EQ(QueryText(path, "SELECT sum(entries) FROM event_id_runs WHERE state = 0"), "1000");
    // 200 runs without merging; with fanout 4, at most 3 idle and 4 merging runs per level.
    EXPECT_LE(std::stoi(QueryText(path, "SELECT count(*) FROM event_id_runs WHERE state = 0")),
              28);
    EXPECT_GE(std::stoi(QueryText(path, "SELECT max(level) FROM event_id_runs WHERE state = 0")),
              2);
    absl::StatusOr<std::vector<CommitOutcome>> again = CommitAndWait(**store, all);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_THAT(*again, ::testing::Each(CommitOutcome::kDuplicate));
  }
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM event_id_runs WHERE state = 1"), "0");
  all.push_back("after-restart");
  absl::StatusOr<std::vector<CommitOutcome>> reopened = CommitAndWait(**store, all);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(std::count(reopened->begin(), reopened->end(), CommitOutcome::kDuplicate), 1000);
  EXPECT_EQ(reopened->back(), CommitOutcome::kCommitted);
}

// Every block written is deleted once its run is merged away: a trickle of one id per group
// (each group a run of one block) leaves no backlog of blocks to delete.
TEST_F(EmbeddedStoreTest, ATrickleOfSingleEventsLeavesNoBacklogOfDeadBlocks) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(CommitAndWait(**store, {absl::StrCat("t", i)}).ok());
  }
  EXPECT_EQ(QueryText(path, "SELECT sum(entries) FROM event_id_runs WHERE state = 0"), "300");
  // Blocks of runs that are merged away or still being built: a few at any time.
  EXPECT_LE(std::stoi(QueryText(path,
                                "SELECT count(*) FROM event_id_blocks WHERE (key >> 32) IN "
                                "(SELECT run FROM event_id_runs WHERE state <> 0)")),
            8);
  EXPECT_LE(std::stoi(QueryText(path, "SELECT count(*) FROM event_id_runs WHERE state = 2")), 4);
}

// A request that fails rolls back its savepoint, and the ids it added before failing with it.
TEST_F(EmbeddedStoreTest, AFailedCommitForgetsTheIdsItAdded) {
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = (TestDir() / "store.db").string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(CommitAndWait(**store, {"x1", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(CommitAndWait(**store, {"x1"}).value(), ElementsAre(CommitOutcome::kCommitted));
}

// Runs `sql` on the store file from a connection of its own, while the store has it open.
void RunOnFile(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// When a whole group fails after the dedupe index changed its memory, the index forgets that group
// and keeps every id committed before it: it reloads from the file. Here the group's new run makes
// four at level 0, their merge finishes within the group, and a trigger then refuses deleting the
// merged runs' blocks: memory already holds the merged run, whose blocks the rollback takes away.
TEST_F(EmbeddedStoreTest, AFailedGroupLeavesTheDedupeIndexAsTheFileHasIt) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const std::vector<std::string> before = {"a0", "a1", "a2"};
  for (const std::string& id : before) ASSERT_TRUE(CommitAndWait(**store, {id}).ok());
  RunOnFile(path, "CREATE TRIGGER poison BEFORE DELETE ON event_id_blocks "
                  "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  EXPECT_EQ(CommitAndWait(**store, {"b1", "b2"}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE((*store)->Healthy());
  RunOnFile(path, "DROP TRIGGER poison");
  EXPECT_THAT(CommitAndWait(**store, {"b1"}).value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_TRUE((*store)->Healthy());
  absl::StatusOr<std::vector<CommitOutcome>> again = CommitAndWait(**store, before);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ::testing::Each(CommitOutcome::kDuplicate));
  EXPECT_THAT(CommitAndWait(**store, {"b2"}).value(), ElementsAre(CommitOutcome::kCommitted));
  EXPECT_EQ(QueryText(path, "SELECT sum(entries) FROM event_id_runs WHERE state = 0"), "5");
}

// A group that took a new range and did not commit leaves the ranges as the file has them: the
// next group reads them again and hands out the same range.
TEST_F(EmbeddedStoreTest, AFailedGroupLeavesTheQueueRangesAsTheFileHasThem) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitForAgents(**store, {"e1"}, {"a"}).ok());  // range 1
  RunOnFile(path, "CREATE TRIGGER poison BEFORE INSERT ON queue_ranges "
                  "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  EXPECT_EQ(CommitForAgents(**store, {"e2"}, {"a", "b"}).status().code(),
            absl::StatusCode::kUnavailable);
  RunOnFile(path, "DROP TRIGGER poison");
  ASSERT_TRUE(CommitForAgents(**store, {"e2"}, {"b", "a"}).ok());
  EXPECT_THAT(ClaimEntries(**store, "b"), ElementsAre(At("e2", 2 * kRange)));
  // "a" goes on after the ids its range had reserved in the file.
  EXPECT_THAT(ClaimEntries(**store, "a"), ElementsAre(At("e1", kRange), At("e2", kRange + 1025)));
}

// A group whose ranges are out of step with the file (here: another connection gave agent "a"'s
// range to "x") fails when it reserves more ids rather than write over them (1,025 entries need
// more than the 1,024 reserved with the first); the next group reads the file again.
TEST_F(EmbeddedStoreTest, AGroupDoesNotWriteOverAnotherAgentsRange) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitForAgents(**store, {"e1"}, {"a"}).ok());  // range 1
  RunOnFile(path, "UPDATE queue_ranges SET agent = 'x' WHERE range = 1");
  std::vector<std::string> ids;
  for (int i = 2; i <= 1026; ++i) ids.push_back(absl::StrCat("e", i));
  EXPECT_EQ(CommitForAgents(**store, ids, {"a"}).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(CommitForAgents(**store, ids, {"a"}).ok());
  EXPECT_EQ(QueryText(path, "SELECT group_concat(range || ':' || agent || ':' || "
                            "(last % (1 << 36))) FROM (SELECT * FROM queue_ranges ORDER BY range)"),
            "1:x:1024,2:a:1024");
}

// Stats reads per-agent row counts that the store keeps as rows come and go (AgentRowCounts),
// not a scan of the agent's backlog. After every way rows come and go, including a request and a
// whole group that fail after their rows were counted, and a restart, Stats equals what SQL
// counts in the file.
TEST_F(EmbeddedStoreTest, StatsMatchTheFileThroughEveryWayRowsComeAndGo) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  // The store's answer against a scan of the file, as "ready/leased/delayed/dead".
  const auto expect_stats_match_the_file = [&](const std::string& step) {
    absl::Notification done;
    absl::StatusOr<QueueStats> stats;
    (*store)->Stats("audit", [&](absl::StatusOr<QueueStats> answer) {
      stats = std::move(answer);
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30))) << step;
    ASSERT_TRUE(stats.ok()) << step << ": " << stats.status();
    const int64_t now = absl::ToUnixMicros(clock_.Now());
    const std::string scan = absl::StrCat(
        "SELECT (SELECT COUNT(*) FROM queue WHERE agent = 'audit' AND visible_at <= ", now,
        ") || '/' || (SELECT COUNT(*) FROM queue WHERE agent = 'audit' AND lease_expires_at > ",
        now, ") || '/' || (SELECT COUNT(*) FROM queue WHERE agent = 'audit' AND visible_at > ", now,
        " AND (lease_expires_at IS NULL OR lease_expires_at <= ", now,
        ")) || '/' || (SELECT COUNT(*) FROM dead_letters WHERE agent = 'audit')");
    EXPECT_EQ(absl::StrCat(stats->ready, "/", stats->leased, "/", stats->delayed, "/",
                           stats->dead_letters),
              QueryText(path, scan.c_str()))
        << step;
  };
  const auto nack = [&](const std::string& delivery_id, absl::Duration retry_after) {
    absl::Notification done;
    (*store)->Nack(delivery_id, retry_after, "try later", [&](absl::Status status) {
      EXPECT_TRUE(status.ok()) << status;
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  };

  expect_stats_match_the_file("empty");
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(absl::StrCat("e", i));
  ASSERT_TRUE(CommitAndWait(**store, ids).ok());
  expect_stats_match_the_file("30 committed");
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM queue"), "30");

  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = ClaimAndWait(**store);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 10u);
  expect_stats_match_the_file("10 leased");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(AckAndWait(**store, (*claimed)[i].delivery_id).ok());
  expect_stats_match_the_file("3 acked");
  nack((*claimed)[3].delivery_id, absl::Minutes(1));
  nack((*claimed)[4].delivery_id, absl::Minutes(1));
  nack((*claimed)[5].delivery_id, absl::ZeroDuration());
  expect_stats_match_the_file("2 delayed, 1 visible again");

  // The entry nacked without delay is at attempt 1: a claim allowing 1 attempt dead-letters it.
  absl::Notification dead;
  (*store)->Claim("audit", 100, absl::Seconds(30), 1, nullptr,
                  [&](absl::StatusOr<std::vector<ClaimedDelivery>> more) {
                    EXPECT_TRUE(more.ok()) << more.status();
                    dead.Notify();
                  });
  ASSERT_TRUE(dead.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM dead_letters"), "1");
  expect_stats_match_the_file("1 dead letter, the rest leased");
  absl::Notification replayed;
  (*store)->ReplayDeadLetters("audit", {}, [&](absl::StatusOr<int64_t> count) {
    EXPECT_EQ(count.value_or(-1), 1);
    replayed.Notify();
  });
  ASSERT_TRUE(replayed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  expect_stats_match_the_file("dead letter replayed");

  // A request that fails after its first event's queue row was written: its savepoint undoes it.
  EXPECT_EQ(CommitAndWait(**store, {"x1", ""}).status().code(), absl::StatusCode::kInvalidArgument);
  expect_stats_match_the_file("a failed request");
  // A whole group that fails after its queue rows were written: the new run of the dedupe index,
  // written before COMMIT, is refused.
  RunOnFile(path, "CREATE TRIGGER poison BEFORE INSERT ON event_id_runs "
                  "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  EXPECT_EQ(CommitAndWait(**store, {"y1", "y2"}).status().code(),
            absl::StatusCode::kUnavailable);
  RunOnFile(path, "DROP TRIGGER poison");
  expect_stats_match_the_file("a failed group");
  ASSERT_TRUE(CommitAndWait(**store, {"y1", "y2", "y3"}).ok());
  expect_stats_match_the_file("after the failures");

  clock_.Advance(absl::Minutes(2));  // the delayed entries and the leases come due
  expect_stats_match_the_file("later");
  store->reset();
  store = EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  expect_stats_match_the_file("reopened");
}

// --- Leases: the visibility index holds only entries not leased; the writer keeps the leases ----

absl::StatusOr<QueueStats> StatsAndWait(Store& store) {
  return WaitFor<absl::StatusOr<QueueStats>>(
      [&](auto done) { store.Stats("audit", std::move(done)); });
}

// The event id and attempt of each claimed delivery, as "id@attempt".
std::vector<std::string> ClaimAttempts(Store& store, uint32_t max_attempts) {
  return ClaimVisible(store, max_attempts, [](const ClaimedDelivery& d) {
    return absl::StrCat(d.ParsedEvent().id(), "@", d.attempt);
  });
}

// A version-7 file keeps leases in its visibility index. Opening it moves to version 8 and ends
// every lease it holds: a current one is visible at once ("router restarted"), one that had
// already ended keeps the visible time its expiry backoff gave it ("lease expired").
TEST_F(EmbeddedStoreTest, MigrationToVersionEightEndsEveryLeaseTheFileHeld) {
  const std::filesystem::path path = TestDir() / "v7.db";
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string()}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(CommitAndWait(**store, {"current", "due-later", "due-now"}).ok());
  }
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  const auto lease = [&](const char* id, absl::Duration expires_in, absl::Duration visible_in) {
    return absl::StrCat("UPDATE queue SET attempt = 1, claimed_at = ", now - 60'000'000,
                        ", lease_expires_at = ", now + absl::ToInt64Microseconds(expires_in),
                        ", visible_at = ", now + absl::ToInt64Microseconds(visible_in),
                        " WHERE archive_seq = (SELECT seq FROM archive WHERE event_id = '", id,
                        "');");
  };
  WriteOldFile(path, absl::StrCat(
                         "DROP INDEX queue_ready;"
                         "CREATE INDEX queue_by_visibility ON queue(agent, visible_at, id);"
                         "DROP TABLE queue_ranges;"
                         // A sequence behind the ids queued: the upgrade goes by the ids.
                         "INSERT INTO row_id_sequences(name, last) VALUES('queue', 0);",
                         lease("current", absl::Seconds(30), absl::Seconds(30)),
                         lease("due-later", absl::Seconds(-10), absl::Seconds(20)),
                         lease("due-now", absl::Seconds(-10), absl::Seconds(-10)),
                         "PRAGMA user_version = 7;")
                         .c_str());

  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Pragma(path, "user_version"), "9");
  EXPECT_EQ(QueryText(path, "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master "
                            "WHERE tbl_name = 'queue' AND type = 'index' ORDER BY name)"),
            "queue_by_archive,queue_ready");
  EXPECT_EQ(QueryText(path, "SELECT group_concat(last_error || '/' || "
                            "coalesce(lease_expires_at, 'none'), ',') FROM "
                            "(SELECT * FROM queue ORDER BY id)"),
            "router restarted/none,lease expired/none,lease expired/none");
  absl::StatusOr<QueueStats> stats = StatsAndWait(**store);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->ready, 2);
  EXPECT_EQ(stats->delayed, 1);
  EXPECT_EQ(stats->leased, 0);

  EXPECT_THAT(ClaimAttempts(**store, 10), ElementsAre("due-now@2", "current@2"));
  EXPECT_THAT(ClaimAttempts(**store, 10), ElementsAre());
  clock_.Advance(absl::Seconds(20));
  EXPECT_THAT(ClaimAttempts(**store, 10), ElementsAre("due-later@2"));
  // The file's entries were numbered past 2^36 (by the current build, before the downgrade):
  // range 0 reaches to the highest of them, over range 1, and the next range handed out is 2,
  // above every stored id.
  EXPECT_EQ(QueryText(path, "SELECT last - (1 << 36) FROM queue_ranges WHERE range = 0"), "2");
  ASSERT_TRUE(CommitAndWait(**store, {"after-upgrade"}).ok());
  EXPECT_EQ(QueryText(path, "SELECT id FROM queue q JOIN archive a ON a.seq = q.archive_seq "
                            "WHERE a.event_id = 'after-upgrade'"),
            absl::StrCat(2 * (int64_t{1} << 36)));
}

// Holds the file's write lock from another connection while the requests that `submit` makes
// queue up behind a first one, so that they share the writer's next group.
template <typename Submit>
void InOneGroup(EmbeddedStore& store, const std::filesystem::path& path, Submit submit) {
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  absl::Notification first_done;
  store.Stats("audit", [&](absl::StatusOr<QueueStats>) { first_done.Notify(); });
  absl::SleepFor(absl::Milliseconds(300));  // the writer waits for the lock
  submit();
  ASSERT_EQ(sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

// What a claim for "audit" (one attempt each) and a webhook's commit of `event_id` for `agent`
// got, run in one group.
struct ClaimBesideCommit {
  absl::StatusOr<std::vector<ClaimedDelivery>> claim;
  absl::StatusOr<std::vector<CommitOutcome>> commit;
};
ClaimBesideCommit ClaimBesideACommit(EmbeddedStore& store, const std::filesystem::path& path,
                                     const std::string& event_id, const std::string& agent) {
  ClaimBesideCommit answers;
  absl::Notification claimed, committed;
  InOneGroup(store, path, [&] {
    store.Claim("audit", 10, absl::Seconds(30), 1, nullptr,
                [&](absl::StatusOr<std::vector<ClaimedDelivery>> answer) {
                  answers.claim = std::move(answer);
                  claimed.Notify();
                });
    EventToCommit item;
    item.event.set_id(event_id);
    item.targets.push_back({agent, {}});
    store.Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> answer) {
      answers.commit = std::move(answer);
      committed.Notify();
    });
  });
  EXPECT_TRUE(claimed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(committed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  return answers;
}

// Gives the queue entry of `event_id` its one attempt, so that the next claim dead-letters it,
// and makes every dead letter fail.
void PoisonDeadLetterOf(const std::filesystem::path& path, const std::string& event_id) {
  RunOnFile(path, absl::StrCat("UPDATE queue SET attempt = 1 WHERE archive_seq = "
                               "(SELECT seq FROM archive WHERE event_id = '",
                               event_id,
                               "');"
                               "CREATE TRIGGER poison BEFORE INSERT ON dead_letters "
                               "BEGIN SELECT RAISE(ABORT, 'poisoned'); END;"));
}

// A claim runs without a savepoint. One that fails after it leased an entry cannot roll back
// alone, so its whole group fails (kUnavailable, as when COMMIT fails): the lease is gone from
// the file and from the store's own account of it (Stats), the entry is claimed again at the
// same attempt, and a commit in the same group is refused, not half kept. Failing again within
// the next minute, the claim runs in a savepoint and fails alone.
TEST_F(EmbeddedStoreTest, AClaimThatFailsAfterLeasingFailsItsGroupAndLeavesNoLease) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"fresh", "spent"}).ok());
  PoisonDeadLetterOf(path, "spent");  // refused after "fresh" is leased
  ClaimBesideCommit answers = ClaimBesideACommit(**store, path, "bystander", "audit");
  EXPECT_EQ(answers.claim.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(answers.claim.status().message(), HasSubstr("poisoned"));
  EXPECT_EQ(answers.commit.status().code(), absl::StatusCode::kUnavailable) << "not in one group";

  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE lease_expires_at IS NOT NULL"),
            "0");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM archive WHERE event_id = 'bystander'"), "0");
  absl::StatusOr<QueueStats> stats = StatsAndWait(**store);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->leased, 0);
  EXPECT_EQ(stats->ready, 2);
  EXPECT_EQ(stats->oldest_leased, absl::InfiniteFuture());

  // The same claim fails again, but for a minute after such a failure every request runs in a
  // savepoint: the claim rolls back alone, lease included, and the webhook beside it commits.
  answers = ClaimBesideACommit(**store, path, "bystander", "other");
  EXPECT_THAT(answers.claim.status().message(), HasSubstr("poisoned"));
  ASSERT_TRUE(answers.commit.ok()) << answers.commit.status();
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE lease_expires_at IS NOT NULL"),
            "0");
  stats = StatsAndWait(**store);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->leased, 0);
  EXPECT_EQ(stats->ready, 2);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM archive WHERE event_id = 'bystander'"), "1");

  RunOnFile(path, "DROP TRIGGER poison");
  EXPECT_THAT(ClaimAttempts(**store, 1), ElementsAre("fresh@1"));  // "spent" is dead-lettered
  EXPECT_EQ(QueryText(path, "SELECT event_id FROM dead_letters"), "spent");
  stats = StatsAndWait(**store);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->leased, 1);
  EXPECT_EQ(stats->ready, 0);
  clock_.Advance(absl::Seconds(30));  // the lease ends
  EXPECT_THAT(ClaimAttempts(**store, 2), ElementsAre("fresh@2"));
}

// A claim whose one write fails, undone by SQLite, changed no row: it fails alone, and the
// webhook in its group commits.
TEST_F(EmbeddedStoreTest, AClaimWhoseFirstWriteFailsFailsAlone) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"spent", "fresh"}).ok());
  PoisonDeadLetterOf(path, "spent");  // the first candidate: refused before any change
  const ClaimBesideCommit answers = ClaimBesideACommit(**store, path, "bystander", "audit");
  ASSERT_FALSE(answers.claim.ok());
  EXPECT_THAT(answers.claim.status().message(), HasSubstr("poisoned"));
  ASSERT_TRUE(answers.commit.ok()) << answers.commit.status();
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM archive WHERE event_id = 'bystander'"), "1");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE lease_expires_at IS NOT NULL"),
            "0");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM dead_letters"), "0");
}

// Requests without a savepoint that fail before any row changed fail alone: a claim refused
// for its arguments and an ack of a lease that is not current leave the rest of their group,
// here a claim and a commit, to commit.
TEST_F(EmbeddedStoreTest, RequestsWithoutASavepointThatChangedNothingFailAlone) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"e0"}).ok());
  absl::Notification refused, late, claimed, committed;
  absl::StatusOr<std::vector<ClaimedDelivery>> bad_claim, good_claim;
  absl::Status late_ack;
  absl::StatusOr<std::vector<CommitOutcome>> outcomes;
  InOneGroup(**store, path, [&] {
    (*store)->Claim("audit", 10, absl::ZeroDuration(), 10, nullptr,
                    [&](absl::StatusOr<std::vector<ClaimedDelivery>> answer) {
                      bad_claim = std::move(answer);
                      refused.Notify();
                    });
    (*store)->Ack("999.1", [&](absl::Status status) {
      late_ack = std::move(status);
      late.Notify();
    });
    (*store)->Claim("audit", 10, absl::Seconds(30), 10, nullptr,
                    [&](absl::StatusOr<std::vector<ClaimedDelivery>> answer) {
                      good_claim = std::move(answer);
                      claimed.Notify();
                    });
    EventToCommit item;
    item.event.set_id("e1");
    item.targets.push_back({"audit", {}});
    (*store)->Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> answer) {
      outcomes = std::move(answer);
      committed.Notify();
    });
  });
  for (absl::Notification* done : {&refused, &late, &claimed, &committed}) {
    ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  EXPECT_EQ(bad_claim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(late_ack.code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(good_claim.ok()) << good_claim.status();
  ASSERT_EQ(good_claim->size(), 1u);
  EXPECT_EQ((*good_claim)[0].delivery_id.substr((*good_claim)[0].delivery_id.find('.')), ".1");
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM archive WHERE event_id = 'e1'"), "1");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE lease_expires_at IS NOT NULL"),
            "1");
}

// A group whose COMMIT fails after a claim in it leased entries and an ack in it ended a lease:
// the whole group rolls back, and the store's leases with it. The new leases are gone, and the
// acked one is still there: it ends when its time is up and its entry is delivered again.
TEST_F(EmbeddedStoreTest, AGroupThatDoesNotCommitLeavesTheLeasesAsTheFileHasThem) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string()}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE(CommitAndWait(**store, {"e0", "e1", "e2"}).ok());
  absl::StatusOr<std::vector<ClaimedDelivery>> held =
      WaitFor<absl::StatusOr<std::vector<ClaimedDelivery>>>([&](auto done) {
        (*store)->Claim("audit", 1, absl::Seconds(30), 10, nullptr, std::move(done));
      });
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u);  // e0, leased until now + 30 s
  // The dedupe index's new run, written before COMMIT, is refused: a group with a new event
  // fails as a whole.
  RunOnFile(path, "CREATE TRIGGER poison BEFORE INSERT ON event_id_runs "
                  "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
  absl::Notification acked, claimed, committed;
  absl::Status ack;
  absl::StatusOr<std::vector<ClaimedDelivery>> claim;
  InOneGroup(**store, path, [&] {
    (*store)->Ack((*held)[0].delivery_id, [&](absl::Status status) {
      ack = std::move(status);
      acked.Notify();
    });
    (*store)->Claim("audit", 10, absl::Seconds(30), 10, nullptr,
                    [&](absl::StatusOr<std::vector<ClaimedDelivery>> answer) {
                      claim = std::move(answer);
                      claimed.Notify();
                    });
    EventToCommit item;
    item.event.set_id("e3");
    item.targets.push_back({"audit", {}});
    (*store)->Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
      EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kUnavailable);
      committed.Notify();
    });
  });
  ASSERT_TRUE(acked.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(claimed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(committed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(ack.code(), absl::StatusCode::kUnavailable) << "not in one group";
  EXPECT_EQ(claim.status().code(), absl::StatusCode::kUnavailable) << "not in one group";

  RunOnFile(path, "DROP TRIGGER poison");
  absl::StatusOr<QueueStats> stats = StatsAndWait(**store);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->leased, 1);
  EXPECT_EQ(stats->ready, 2);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM queue WHERE lease_expires_at IS NOT NULL"),
            "1");
  EXPECT_THAT(ClaimAttempts(**store, 10), ElementsAre("e1@1", "e2@1"));
  clock_.Advance(absl::Seconds(30));  // e0's lease, which the failed ack did not end, ends
  EXPECT_THAT(ClaimAttempts(**store, 10), ElementsAre("e0@2", "e1@2", "e2@2"));
}

TEST_F(EmbeddedStoreTest, SyncFullFsyncsEveryCommitAndNotDeliveryBookkeepingAlone) {
  SyncCountingVfs vfs;
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .sync = "full"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();

  int64_t before = vfs.wal_syncs();
  ASSERT_TRUE(CommitAndWait(**store, {"e1", "e2"}).ok());
  EXPECT_GE(vfs.wal_syncs(), before + 1) << "a commit answered before its WAL fsync";

  before = vfs.wal_syncs();
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = ClaimAndWait(**store);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);
  ASSERT_TRUE(AckAndWait(**store, (*claimed)[0].delivery_id).ok());
  absl::Notification nacked;
  (*store)->Nack((*claimed)[1].delivery_id, absl::ZeroDuration(), "later", [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    nacked.Notify();
  });
  ASSERT_TRUE(nacked.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(vfs.wal_syncs(), before) << "delivery bookkeeping alone was fsynced";

  // The next commit fsyncs again, and with it the bookkeeping written before it: a reopened
  // file has the ack and the nack.
  before = vfs.wal_syncs();
  ASSERT_TRUE(CommitAndWait(**store, {"e3"}).ok());
  EXPECT_GE(vfs.wal_syncs(), before + 1);
  store->reset();
  store = EmbeddedStore::Create({.path = path.string(), .sync = "full"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  claimed = ClaimAndWait(**store);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  std::vector<std::string> ids;
  for (const ClaimedDelivery& d : *claimed) ids.push_back(d.ParsedEvent().id());
  EXPECT_THAT(ids, ::testing::UnorderedElementsAre("e2", "e3"));
}

// The claim the dispatcher starts from the enqueue listener (on the writer thread) runs in a
// group of its own, ahead of a webhook queued before it and without an fsync: a new event's
// delivery does not wait for the COMMIT and fsync of the next group of webhooks.
TEST_F(EmbeddedStoreTest, AClaimFromTheEnqueueListenerRunsAheadOfQueuedCommitsWithoutAnFsync) {
  SyncCountingVfs vfs;
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .sync = "full"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddedStore* const raw = store->get();

  absl::Mutex mu;
  std::vector<std::string> order;
  std::vector<std::string> claimed_ids;
  int64_t syncs_when_claimed = -1;
  int64_t syncs_after_e1 = -1;  // e1's group has committed when the listener runs
  absl::Notification claimed;
  absl::Notification second_committed;
  bool first_enqueue = true;  // writer thread only
  // Before the state above goes, even on an early return: the writer may still be running a
  // callback or the listener that uses it.
  absl::Cleanup join_writer = [&store] { store->reset(); };
  raw->SetEnqueueListener([&](const std::string& agent) {
    if (!first_enqueue) return;
    first_enqueue = false;
    syncs_after_e1 = vfs.wal_syncs();
    // A webhook that arrived while e1's group committed is queued before the claim.
    EventToCommit item;
    item.event.set_id("e2");
    item.targets.push_back({"audit", {"all"}});
    raw->Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
      EXPECT_TRUE(outcomes.ok()) << outcomes.status();
      absl::MutexLock lock(&mu);
      order.push_back("commit e2");
      second_committed.Notify();
    });
    raw->Claim(agent, 10, absl::Seconds(30), 10, nullptr,
               [&](absl::StatusOr<std::vector<ClaimedDelivery>> deliveries) {
                 ASSERT_TRUE(deliveries.ok()) << deliveries.status();
                 absl::MutexLock lock(&mu);
                 order.push_back("claim");
                 for (const ClaimedDelivery& d : *deliveries) {
                   claimed_ids.push_back(d.ParsedEvent().id());
                 }
                 syncs_when_claimed = vfs.wal_syncs();
                 claimed.Notify();
               });
  });
  CommitForAudit(**store, "e1");
  ASSERT_TRUE(claimed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(second_committed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ElementsAre("claim", "commit e2"));
  EXPECT_THAT(claimed_ids, ElementsAre("e1"));
  EXPECT_EQ(syncs_when_claimed, syncs_after_e1) << "the claim waited for another fsync";
}

// Claims started from the writer thread go ahead of queued webhooks once, never for good: with
// both queues full the writer alternates, so a chain of claims (each callback starting the next,
// as a dispatcher draining a backlog does) does not hold back a commit.
TEST_F(EmbeddedStoreTest, ClaimsFromTheWriterThreadDoNotStarveQueuedCommits) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .sync = "full"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddedStore* const raw = store->get();
  constexpr int kChain = 20;

  absl::Mutex mu;
  int claims = 0;
  int claims_before_commit = -1;
  absl::Notification first_running;
  absl::Notification commit_queued;
  absl::Notification chain_done;
  absl::Notification committed;
  std::function<void()> claim_next = [&] {
    raw->Claim("audit", 1, absl::Seconds(30), 10, nullptr,
               [&](absl::StatusOr<std::vector<ClaimedDelivery>> deliveries) {
                 EXPECT_TRUE(deliveries.ok()) << deliveries.status();
                 int done;
                 {
                   absl::MutexLock lock(&mu);
                   done = ++claims;
                 }
                 // The first callback waits until the test's commit is queued.
                 if (done == 1) {
                   first_running.Notify();
                   commit_queued.WaitForNotification();
                 }
                 if (done == kChain) {
                   chain_done.Notify();
                 } else {
                   claim_next();
                 }
               });
  };
  // Before the state above goes, even on an early return: the writer may still be running a
  // callback or the listener that uses it.
  absl::Cleanup join_writer = [&store] { store->reset(); };
  claim_next();
  // The commit must be queued while the first claim's callback runs, not share its group.
  first_running.WaitForNotification();
  EventToCommit item;
  item.event.set_id("e1");
  item.targets.push_back({"audit", {"all"}});
  raw->Commit({item}, [&](absl::StatusOr<std::vector<CommitOutcome>> outcomes) {
    EXPECT_TRUE(outcomes.ok()) << outcomes.status();
    absl::MutexLock lock(&mu);
    claims_before_commit = claims;
    committed.Notify();
  });
  commit_queued.Notify();
  ASSERT_TRUE(committed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(chain_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock lock(&mu);
  EXPECT_LE(claims_before_commit, 2) << "the commit waited for " << claims_before_commit
                                     << " of the " << kChain << " chained claims";
}

// With nothing to fsync queued, a follow-up claim shares the group and comes after the queued
// requests, as when it shared their queue: a group's callbacks run in its order, and while the
// claim's callback has not run the dispatcher, woken by each ack's callback, cannot claim again,
// so it then claims once for every slot the acks freed instead of one slot per ack.
TEST_F(EmbeddedStoreTest, AFollowUpClaimComesAfterQueuedAcksInTheirGroup) {
  const std::filesystem::path path = TestDir() / "store.db";
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = path.string(), .sync = "full"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  EmbeddedStore* const raw = store->get();
  ASSERT_TRUE(CommitAndWait(**store, {"e1", "e2"}).ok());
  absl::StatusOr<std::vector<ClaimedDelivery>> claimed = ClaimAndWait(**store);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 2u);

  absl::Mutex mu;
  std::vector<std::string> order;
  absl::Notification blocker_running;
  absl::Notification ack_queued;
  absl::Notification both_done;
  // Before the state above goes, even on an early return: the writer may still be running a
  // callback or the listener that uses it.
  absl::Cleanup join_writer = [&store] { store->reset(); };
  // A request from the test thread whose callback, on the writer thread, waits for the ack to be
  // queued and then claims: the claim is a follow-up, the ack a queued request.
  raw->Claim("other", 1, absl::Seconds(30), 10, nullptr,
             [&](absl::StatusOr<std::vector<ClaimedDelivery>>) {
               blocker_running.Notify();
               ack_queued.WaitForNotification();
               raw->Claim("audit", 10, absl::Seconds(30), 10, nullptr,
                          [&](absl::StatusOr<std::vector<ClaimedDelivery>> deliveries) {
                            EXPECT_TRUE(deliveries.ok()) << deliveries.status();
                            absl::MutexLock lock(&mu);
                            order.push_back("claim");
                            if (order.size() == 2) both_done.Notify();
                          });
             });
  blocker_running.WaitForNotification();
  raw->Ack((*claimed)[0].delivery_id, [&](absl::Status status) {
    EXPECT_TRUE(status.ok()) << status;
    absl::MutexLock lock(&mu);
    order.push_back("ack");
    if (order.size() == 2) both_done.Notify();
  });
  ack_queued.Notify();
  ASSERT_TRUE(both_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ElementsAre("ack", "claim"));
}

TEST_F(EmbeddedStoreTest, SyncNormalDoesNotFsyncACommit) {
  SyncCountingVfs vfs;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
      EmbeddedStore::Create({.path = (TestDir() / "store.db").string(), .sync = "normal"}, clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  const int64_t before = vfs.wal_syncs();
  ASSERT_TRUE(CommitAndWait(**store, {"e1"}).ok());
  EXPECT_EQ(vfs.wal_syncs(), before);
}

// Commits `batches` groups of `per_batch` events of 3 KB for agent "audit", one group at a time,
// with ids "<id_prefix><batch>-<index>"; returns the largest size the file `wal` had after a group.
uintmax_t CommitBatchesOf3KbEvents(EmbeddedStore& store, int batches, int per_batch,
                                   const std::filesystem::path& wal,
                                   const std::string& id_prefix = "e") {
  uintmax_t largest_wal = 0;
  for (int b = 0; b < batches; ++b) {
    std::vector<EventToCommit> items(per_batch);
    for (int i = 0; i < per_batch; ++i) {
      items[i].event.set_id(absl::StrCat(id_prefix, b, "-", i));
      items[i].event.set_raw(std::string(3000, static_cast<char>('a' + i % 26)));
      items[i].targets.push_back({"audit", {}});
    }
    absl::Notification done;
    store.Commit(std::move(items), [&](absl::StatusOr<std::vector<CommitOutcome>> out) {
      EXPECT_TRUE(out.ok()) << out.status();
      done.Notify();
    });
    if (!done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      ADD_FAILURE() << "group " << b << " not committed within 30 s";
      break;
    }
    largest_wal = std::max(largest_wal, std::filesystem::file_size(wal));
  }
  return largest_wal;
}

TEST_F(EmbeddedStoreTest, CheckpointsOffTheWriterKeepTheWalSmallAndLoseNothing) {
  const std::filesystem::path path = TestDir() / "store.db";
  const std::filesystem::path wal = path.string() + "-wal";
  constexpr int kBatches = 60;
  constexpr int kPerBatch = 50;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        // The checkpointer thread at the writer's priority: under a parallel test run an
        // idle-class thread may get no CPU before the writer takes over, and this test is about
        // the thread copying pages at all (the next one covers the idle class).
        EmbeddedStore::Create(
            {.path = path.string(), .checkpoint_pages = 64, .checkpoint_in_idle_class = false},
            clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    const uintmax_t largest_wal = CommitBatchesOf3KbEvents(**store, kBatches, kPerBatch, wal);
    // 3,000 events of 3 KB are about 9 MiB. With no checkpoint all of it stays in the WAL and
    // the database file keeps its empty schema; copied, the database holds it and the WAL
    // restarts from its beginning every few batches.
    const uintmax_t database = std::filesystem::file_size(path);
    EXPECT_GT(database, 6u << 20);
    EXPECT_LT(largest_wal, database / 3) << "the WAL was not restarted";
    EXPECT_GE((*store)->CheckpointsForTest(), 4);
    // The checkpointer thread copies pages too, not the writer alone. A connection that never
    // read the file copies nothing: it has not opened the WAL yet.
    EXPECT_GT((*store)->BackgroundCheckpointFramesForTest(), 0);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT COUNT(*) FROM archive), "
                               "(SELECT COUNT(DISTINCT archive_seq) FROM queue)",
                               -1, &count, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(count, 0), kBatches * kPerBatch);
  EXPECT_EQ(sqlite3_column_int64(count, 1), kBatches * kPerBatch);
  sqlite3_finalize(count);
  sqlite3_close(db);
}

// Under a steady flow of commits the checkpointer thread's pass never copies the last frame, so
// SQLite leaves the database file unsynced, and the writer's copy that restarts the WAL would
// fsync every page the thread copied while requests wait. The thread writes them back and syncs
// them itself before the writer copies: the writer's syncs find none of its pages.
TEST_F(EmbeddedStoreTest, TheCheckpointerSyncsThePagesItCopiedBeforeTheWriterCopies) {
  SyncCountingVfs vfs;
  const std::filesystem::path path = TestDir() / "store.db";
  const std::filesystem::path wal = path.string() + "-wal";
  // Groups of 10 events of 3 KB (about 12 pages) against a 1024-page threshold: the WAL
  // restarts every 85-odd groups, and the writer would take over only if the thread, with its
  // write-back, fell 1024 pages (85 fsynced groups) behind, which a thread at the writer's
  // priority does not.
  constexpr int kThresholdPages = 1024;
  int64_t takeovers = 0;
  int64_t background_frames = 0;
  int64_t writer_syncs = 0;
  int64_t writer_syncs_of_checkpointer_pages = 0;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store = EmbeddedStore::Create(
        {.path = path.string(), .checkpoint_pages = kThresholdPages,
         .checkpoint_in_idle_class = false},
        clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    // Creating the file syncs it on this thread; only the writer's copies count.
    const int64_t syncs_at_open = vfs.writer_database_syncs();
    CommitBatchesOf3KbEvents(**store, 600, 10, wal);
    takeovers = (*store)->CheckpointTakeoversForTest();
    background_frames = (*store)->BackgroundCheckpointFramesForTest();
    // Read before closing: closing interrupts a pass, and the last connection's checkpoint then
    // syncs what it had copied.
    writer_syncs = vfs.writer_database_syncs() - syncs_at_open;
    writer_syncs_of_checkpointer_pages = vfs.writer_syncs_of_checkpointer_pages();
  }
  ASSERT_GT(background_frames, 0) << "the thread copied nothing";
  ASSERT_EQ(takeovers, 0) << "the writer took over: its copies then sync the thread's pages";
  EXPECT_GE(writer_syncs, 3) << "the WAL was not restarted by the writer's copies";
  EXPECT_EQ(writer_syncs_of_checkpointer_pages, 0) << "of " << writer_syncs << " writer syncs";
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM archive"), "6000");
}

// A reader that holds an old snapshot (a backup does) keeps every checkpoint from copying past it,
// so the WAL grows with every commit meanwhile. SQLite keeps a WAL file at the largest size it
// reached; the store's journal_size_limit makes the restart after the reader ends truncate it
// back to the size at which the writer waits for the checkpointer.
TEST_F(EmbeddedStoreTest, AWalGrownByALongReaderIsTruncatedOnceItRestarts) {
  const std::filesystem::path path = TestDir() / "store.db";
  const std::filesystem::path wal = path.string() + "-wal";
  constexpr int kThresholdPages = 64;
  constexpr uintmax_t kLimit = WalCheckpointer::kWaitFactor * kThresholdPages * 4096;
  absl::StatusOr<std::unique_ptr<EmbeddedStore>> store = EmbeddedStore::Create(
      {.path = path.string(), .checkpoint_pages = kThresholdPages,
       .checkpoint_in_idle_class = false},
      clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT COUNT(*) FROM archive;", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  const uintmax_t grown = CommitBatchesOf3KbEvents(**store, 30, 50, wal);
  ASSERT_GT(grown, 3 * kLimit) << "the reader did not hold the WAL";
  ASSERT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(reader);
  // More groups: a checkpoint now copies everything, the next BEGIN restarts the WAL, and its
  // COMMIT truncates the file.
  for (int round = 0; round < 5; ++round) {
    CommitBatchesOf3KbEvents(**store, 4, 50, wal, absl::StrCat("after", round, "-"));
  }
  // Truncated to kLimit, the file grows past it again only as far as the WAL itself may: up to
  // where the writer waits for the checkpointer, plus a group or two of about 60 pages (which a
  // loaded machine reaches when the thread falls behind). Without the limit it stays 8 MB.
  constexpr uintmax_t kFrame = 4096 + 24;
  constexpr uintmax_t kBound =
      (WalCheckpointer::kWaitFactor * kThresholdPages + 2 * 60) * kFrame + 32;
  EXPECT_LE(std::filesystem::file_size(wal), kBound) << "grown to " << grown;
}

// Pins the calling thread to one CPU while it lives; threads it starts meanwhile inherit that.
class PinnedToOneCpu {
 public:
  PinnedToOneCpu() {
    EXPECT_EQ(pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_), 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    EXPECT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
  }
  ~PinnedToOneCpu() { pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_); }

 private:
  cpu_set_t saved_;
};

// The checkpointer thread runs in the idle class, so a busy CPU can starve it. The writer must
// then take the checkpoint over: the WAL stays within kWaitFactor times the threshold plus one
// group, instead of growing with everything committed.
TEST_F(EmbeddedStoreTest, TheWriterTakesOverFromAStarvedCheckpointerAndTheWalStaysBounded) {
  const std::filesystem::path path = TestDir() / "store.db";
  const std::filesystem::path wal = path.string() + "-wal";
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 50;
  constexpr int kThresholdPages = 64;
  PinnedToOneCpu pinned;
  std::atomic<bool> stop_spinning{false};
  // A thread of normal priority that always wants the store's CPU, as a saturated router would.
  std::thread spinner([&] {
    while (!stop_spinning.load(std::memory_order_relaxed)) {
    }
  });
  absl::Cleanup stop_spinner = [&] {
    stop_spinning = true;
    spinner.join();
  };
  uintmax_t largest_wal = 0;
  int64_t takeovers = 0;
  bool idle_class = false;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedStore>> store =
        EmbeddedStore::Create({.path = path.string(), .checkpoint_pages = kThresholdPages}, clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    largest_wal = CommitBatchesOf3KbEvents(**store, kBatches, kPerBatch, wal);
    takeovers = (*store)->CheckpointTakeoversForTest();
    idle_class = (*store)->CheckpointerInIdleClassForTest();
  }
  std::move(stop_spinner).Invoke();
  // A group of 50 events of 3 KB writes about 60 pages (one per row, plus index and queue
  // pages); the bound allows two such groups past the takeover size. A WAL frame is a 4 KiB page
  // plus a 24-byte header, after a 32-byte file header (https://sqlite.org/fileformat.html, "WAL
  // File Format"). 6 MiB were committed in all, and stay in the WAL without a takeover.
  constexpr uintmax_t kFrame = 4096 + 24;
  constexpr uintmax_t kBound =
      (WalCheckpointer::kWaitFactor * kThresholdPages + 2 * 60) * kFrame + 32;
  EXPECT_LE(largest_wal, kBound) << "takeovers " << takeovers;
  if (idle_class) {
    EXPECT_GT(takeovers, 0) << "the idle-class thread kept up beside a busy thread on its CPU";
  } else {
    // Without the idle class (a kernel that refuses it) there may be nothing to take over.
    std::cerr << "the kernel refused SCHED_IDLE; takeovers " << takeovers << "\n";
  }
  EXPECT_EQ(QueryText(path, "SELECT COUNT(*) FROM archive"), absl::StrCat(kBatches * kPerBatch));
}

}  // namespace
}  // namespace switchboard::store
