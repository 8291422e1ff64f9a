#include "common/sqlite_util.h"

#include <gtest/gtest.h>

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
