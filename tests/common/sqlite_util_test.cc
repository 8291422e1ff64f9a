#include "common/sqlite_util.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;

constexpr Migration kMigrations[] = {
    {1, "create t", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"},
    {2, "add column", "ALTER TABLE t ADD COLUMN w INTEGER NOT NULL DEFAULT 7;"},
};

TEST(SqliteUtilTest, OpenSetsWalBusyTimeoutAndForeignKeys) {
  TempDir dir;
  SqliteOptions options;
  options.busy_timeout_ms = 1234;
  auto db = OpenSqlite((dir.path() / "a.db").string(), options);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ((*db)->execAndGet("PRAGMA busy_timeout").getInt(), 1234);
  EXPECT_EQ((*db)->execAndGet("PRAGMA foreign_keys").getInt(), 1);
  EXPECT_EQ((*db)->execAndGet("PRAGMA synchronous").getInt(), 2);  // FULL
}

TEST(SqliteUtilTest, ReadsGoThroughThePageCacheUnlessAMapIsAskedFor) {
  TempDir dir;
  auto plain = OpenSqlite((dir.path() / "a.db").string(), SqliteOptions());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->execAndGet("PRAGMA mmap_size").getInt64(), 0);
  SqliteOptions mapped;
  mapped.mmap_bytes = int64_t{8} << 20;
  auto db = OpenSqlite((dir.path() / "b.db").string(), mapped);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->execAndGet("PRAGMA mmap_size").getInt64(), int64_t{8} << 20);
}

TEST(SqliteUtilTest, PreparedStatementsAreReusedWithoutTheirBindings) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "a.db").string(), SqliteOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  Connection& c = **db;
  const SQLite::Statement* first = nullptr;
  {
    Connection::Statement q = c.Prepare("SELECT ?1, ?2");
    q->bind(1, 5);
    q->bind(2, "x");
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getInt(), 5);
    first = &*q;
  }
  Connection::Statement again = c.Prepare("SELECT ?1, ?2");
  EXPECT_EQ(&*again, first);          // The cached statement...
  ASSERT_TRUE(again->executeStep());  // ...reset, and unbound: NULLs.
  EXPECT_TRUE(again->getColumn(0).isNull());
  EXPECT_TRUE(again->getColumn(1).isNull());
  EXPECT_EQ(c.cached_statements(), 1u);
}

TEST(SqliteUtilTest, ANestedUseOfTheSameSqlGetsAStatementOfItsOwn) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "a.db").string(), SqliteOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  Connection& c = **db;
  c.exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3);");
  const std::string sql = "SELECT v FROM t WHERE v >= ? ORDER BY v";
  Connection::Statement outer = c.Prepare(sql);
  outer->bind(1, 1);
  int pairs = 0;
  while (outer->executeStep()) {
    Connection::Statement inner = c.Prepare(sql);
    EXPECT_NE(&*inner, &*outer);
    inner->bind(1, outer->getColumn(0).getInt());
    while (inner->executeStep()) ++pairs;
  }
  EXPECT_EQ(pairs, 3 + 2 + 1);
  EXPECT_EQ(c.cached_statements(), 1u);
}

TEST(SqliteUtilTest, AReleasedStatementNoLongerHoldsItsSnapshot) {
  TempDir dir;
  const std::string path = (dir.path() / "a.db").string();
  auto writer = OpenSqlite(path, SqliteOptions());
  ASSERT_TRUE(writer.ok()) << writer.status();
  (*writer)->exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);");
  SqliteOptions read_only;
  read_only.read_only = true;
  auto reader = OpenSqlite(path, read_only);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::string sql = "SELECT v FROM t ORDER BY v";
  {
    // Stops after the first row: the statement is left mid-scan.
    Connection::Statement q = (*reader)->Prepare(sql);
    ASSERT_TRUE(q->executeStep());
  }
  (*writer)->exec("INSERT INTO t VALUES (0)");
  Connection::Statement q = (*reader)->Prepare(sql);
  ASSERT_TRUE(q->executeStep());
  EXPECT_EQ(q->getColumn(0).getInt(), 0);  // Sees the later commit.
}

TEST(SqliteUtilTest, GeneratedSqlBeyondTheCacheIsPreparedEachTime) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "a.db").string(), SqliteOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  Connection& c = **db;
  const int n = static_cast<int>(Connection::kMaxCachedStatements) + 10;
  for (int i = 0; i < n; ++i) {
    Connection::Statement q = c.Prepare(absl::StrCat("SELECT ", i));
    ASSERT_TRUE(q->executeStep());
    EXPECT_EQ(q->getColumn(0).getInt(), i);
  }
  EXPECT_EQ(c.cached_statements(), Connection::kMaxCachedStatements);
  Connection::Statement last = c.Prepare(absl::StrCat("SELECT ", n - 1));
  ASSERT_TRUE(last->executeStep());
  EXPECT_EQ(last->getColumn(0).getInt(), n - 1);
}

TEST(SqliteUtilTest, OpenWithoutCreateIsNotFoundForMissingFile) {
  TempDir dir;
  SqliteOptions options;
  options.create = false;
  EXPECT_THAT(OpenSqlite((dir.path() / "missing.db").string(), options),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SqliteUtilTest, MigrateAppliesEveryStepOnce) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "m.db").string(), {});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(SchemaVersion(**db), 0);
  auto version = Migrate(**db, kMigrations);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2);
  (*db)->exec("INSERT INTO t(v) VALUES ('x')");
  EXPECT_EQ((*db)->execAndGet("SELECT w FROM t").getInt(), 7);
  // Running again is a no-op (an ALTER twice would fail).
  EXPECT_EQ(*Migrate(**db, kMigrations), 2);
}

TEST(SqliteUtilTest, MigrateContinuesFromAnOlderVersion) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "m.db").string(), {});
  ASSERT_TRUE(db.ok());
  ASSERT_EQ(*Migrate(**db, std::span(kMigrations, 1)), 1);
  EXPECT_EQ(*Migrate(**db, kMigrations), 2);
}

TEST(SqliteUtilTest, MigrateRefusesANewerDatabase) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "m.db").string(), {});
  ASSERT_TRUE(db.ok());
  (*db)->exec("PRAGMA user_version=9");
  EXPECT_THAT(Migrate(**db, kMigrations),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(SchemaVersion(**db), 9);
}

TEST(SqliteUtilTest, FailedMigrationRollsBackItsStep) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "m.db").string(), {});
  ASSERT_TRUE(db.ok());
  constexpr Migration kBroken[] = {
      {1, "ok", "CREATE TABLE a (x);"},
      {2, "half", "CREATE TABLE b (x); CREATE TABLE a (y);"},
  };
  EXPECT_THAT(Migrate(**db, kBroken), StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(SchemaVersion(**db), 1);
  EXPECT_FALSE((*db)->tableExists("b"));
}

TEST(SqliteUtilTest, MapsSqliteErrorsToCanonicalCodes) {
  TempDir dir;
  auto db = OpenSqlite((dir.path() / "e.db").string(), {});
  ASSERT_TRUE(db.ok());
  (*db)->exec("CREATE TABLE u (id TEXT PRIMARY KEY)");
  (*db)->exec("INSERT INTO u VALUES ('a')");
  absl::Status duplicate = CatchSqlite("insert", [&] {
    (*db)->exec("INSERT INTO u VALUES ('a')");
    return absl::OkStatus();
  });
  EXPECT_THAT(duplicate, StatusIs(absl::StatusCode::kAlreadyExists));
  absl::Status syntax = CatchSqlite("bad sql", [&] {
    (*db)->exec("SELEC 1");
    return absl::OkStatus();
  });
  EXPECT_THAT(syntax, StatusIs(absl::StatusCode::kInternal));
}

TEST(SqliteUtilTest, BusyDatabaseIsUnavailable) {
  TempDir dir;
  const std::string path = (dir.path() / "busy.db").string();
  SqliteOptions options;
  options.busy_timeout_ms = 10;
  auto writer = OpenSqlite(path, options);
  auto other = OpenSqlite(path, options);
  ASSERT_TRUE(writer.ok() && other.ok());
  (*writer)->exec("CREATE TABLE t (x)");
  (*writer)->exec("BEGIN IMMEDIATE");
  absl::Status busy = CatchSqlite("second writer", [&] {
    (*other)->exec("INSERT INTO t VALUES (1)");
    return absl::OkStatus();
  });
  EXPECT_THAT(busy, StatusIs(absl::StatusCode::kUnavailable));
  (*writer)->exec("ROLLBACK");
}

}  // namespace
}  // namespace custra
