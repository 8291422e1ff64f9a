#include "common/tenant_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "common/ingestion_store.h"
#include "common/tenant_schema.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/transaction_rows.h"

namespace custra {
namespace {

using ::custra::testing::At;
using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;
using ::custra::testing::Txn;

std::unique_ptr<TenantRegistry> OpenRegistry(const std::filesystem::path& dir,
                                             size_t max_open) {
  TenantRegistryOptions options;
  options.data_dir = dir;
  options.max_open = max_open;
  auto registry = TenantRegistry::Open(options);
  EXPECT_TRUE(registry.ok()) << registry.status();
  return *std::move(registry);
}

int FilesIn(const std::filesystem::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::recursive_directory_iterator(dir)) {
    ++n;
  }
  return n;
}

TEST(TenantRegistryTest, CreateMakesAMigratedDatabaseFile) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  CUSTRA_ASSERT_OK(registry->Create("acme"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "tenants" / "acme.db"));
  auto tenant = registry->Get("acme");
  ASSERT_TRUE(tenant.ok());
  TenantDatabase::Session session(tenant->get());
  EXPECT_EQ(SchemaVersion(session.db()), TenantMigrations().back().version);
  EXPECT_EQ(session.db().execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(session.db().execAndGet("PRAGMA page_size").getInt(), 16384);
}

// One tenant's database and the transaction the read tests write.
class ReadSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = OpenRegistry(dir_.path(), 4);
    CUSTRA_ASSERT_OK(registry_->Create("acme"));
    auto tenant = registry_->Get("acme");
    ASSERT_TRUE(tenant.ok());
    tenant_ = *std::move(tenant);
  }

  const std::vector<TransactionRow> rows_ = {
      Txn("t1", "c1", At(2023, 1, 10), 10'000'000)};
  TempDir dir_;
  std::unique_ptr<TenantRegistry> registry_;
  std::shared_ptr<TenantDatabase> tenant_;
};

// A write or a long analysis holds the tenant's connection; a read meanwhile
// goes to a read-only connection and sees every committed row.
TEST_F(ReadSessionTest, ReadsUseAReaderWhileTheConnectionIsBusy) {
  {
    TenantDatabase::Session session(tenant_.get());
    CUSTRA_ASSERT_OK(
        IngestionStore(&session.db(), absl::Now(), session.ingestion_state())
            .RecordTransactions("", rows_)
            .status());
    session.FoldPending();
  }
  {
    // Free connection: the read takes it (no extra connection).
    TenantDatabase::ReadSession read(tenant_.get());
    EXPECT_FALSE(read.on_reader());
  }
  TenantDatabase::Session busy(tenant_.get());
  std::thread reader([&] {
    TenantDatabase::ReadSession read(tenant_.get());
    EXPECT_TRUE(read.on_reader());
    auto customer = IngestionStore(&read.db()).GetCustomer("c1");
    ASSERT_TRUE(customer.ok()) << customer.status();
    EXPECT_EQ(customer->stats.revenue_micros, 10'000'000);
    EXPECT_THROW(read.db().exec("DELETE FROM customers"), SQLite::Exception);
  });
  reader.join();  // Would hang if the read waited for `busy`.
}

// Rows awaiting the fold are not in the aggregates yet: a read then waits
// for the connection and folds them, rather than read without them.
TEST_F(ReadSessionTest, ReadsWaitForTheConnectionWhenRowsAwaitTheFold) {
  std::optional<TenantDatabase::Session> busy;
  busy.emplace(tenant_.get(), TenantDatabase::Purpose::kAsIs);
  CUSTRA_ASSERT_OK(
      IngestionStore(&busy->db(), absl::Now(), busy->ingestion_state())
          .RecordTransactions("", rows_)
          .status());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    TenantDatabase::ReadSession read(tenant_.get());
    EXPECT_FALSE(read.on_reader());
    auto customer = IngestionStore(&read.db()).GetCustomer("c1");
    ASSERT_TRUE(customer.ok()) << customer.status();
    EXPECT_EQ(customer->stats.revenue_micros, 10'000'000);
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(done);  // Waiting for the connection.
  busy.reset();
  reader.join();
  EXPECT_TRUE(done);
}

TEST(TenantRegistryTest, CreateTwiceIsAlreadyExists) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  CUSTRA_ASSERT_OK(registry->Create("acme"));
  EXPECT_THAT(registry->Create("acme"),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(TenantRegistryTest, GetOfUnknownTenantIsNotFoundAndCreatesNothing) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  const int before = FilesIn(dir.path());
  EXPECT_THAT(registry->Get("ghost"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(FilesIn(dir.path()), before);
}

TEST(TenantRegistryTest, InvalidIdsNeverTouchTheFileSystem) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  const int before = FilesIn(dir.path());
  for (const char* id : {"../x", "../../etc/passwd", "A", "", "a/b"}) {
    EXPECT_THAT(registry->Get(id),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(registry->Create(id),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(registry->Remove(id),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(FilesIn(dir.path()), before);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.db"));
}

TEST(TenantRegistryTest, LruKeepsAtMostMaxOpenIdleDatabases) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 3);
  for (int i = 0; i < 10; ++i) {
    const std::string id = "tenant-" + std::to_string(i);
    CUSTRA_ASSERT_OK(registry->Create(id));
    ASSERT_TRUE(registry->Get(id).ok());
    EXPECT_LE(registry->open_count(), 3u);
  }
  EXPECT_EQ(registry->open_count(), 3u);
}

TEST(TenantRegistryTest, DatabaseInUseIsNeverEvictedSoOneConnectionServesIt) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 1);
  CUSTRA_ASSERT_OK(registry->Create("first"));
  CUSTRA_ASSERT_OK(registry->Create("second"));
  auto held = registry->Get("first");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(registry->Get("second").ok());  // Over the bound: first stays.
  auto again = registry->Get("first");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(held->get(), again->get());
  EXPECT_EQ(registry->open_count(), 2u);
  held->reset();
  again->reset();
  CUSTRA_ASSERT_OK(registry->Create("third"));
  ASSERT_TRUE(registry->Get("third").ok());
  EXPECT_EQ(registry->open_count(), 1u);  // Idle ones were evicted.
}

TEST(TenantRegistryTest, RemoveDeletesDatabaseAndWal) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  CUSTRA_ASSERT_OK(registry->Create("acme"));
  ASSERT_TRUE(registry->Get("acme").ok());
  CUSTRA_ASSERT_OK(registry->Remove("acme"));
  for (const char* f : {"acme.db", "acme.db-wal", "acme.db-shm"}) {
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "tenants" / f)) << f;
  }
  EXPECT_THAT(registry->Get("acme"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(TenantRegistryTest, BackupThenRestoreRoundTripsData) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  CUSTRA_ASSERT_OK(registry->Create("acme"));
  {
    auto acme = registry->Get("acme");
    TenantDatabase::Session session(acme->get());
    session.db().exec("INSERT INTO tenant_meta VALUES ('answer', '42')");
  }
  const auto backup = dir.path() / "acme.backup";
  auto size = registry->Backup("acme", backup);
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_GT(*size, 0);
  {
    auto acme = registry->Get("acme");
    TenantDatabase::Session session(acme->get());
    session.db().exec("UPDATE tenant_meta SET value = 'changed'");
  }
  CUSTRA_ASSERT_OK(registry->Restore("acme", backup));
  CUSTRA_ASSERT_OK(registry->Restore("copy", backup));  // New tenant.
  for (const char* id : {"acme", "copy"}) {
    auto tenant = registry->Get(id);
    ASSERT_TRUE(tenant.ok());
    TenantDatabase::Session session(tenant->get());
    EXPECT_EQ(
        session.db()
            .execAndGet("SELECT value FROM tenant_meta WHERE key='answer'")
            .getString(),
        "42")
        << id;
  }
}

TEST(TenantRegistryTest, RestoreRejectsNonBackupsAndLeavesDataAlone) {
  TempDir dir;
  auto registry = OpenRegistry(dir.path(), 4);
  CUSTRA_ASSERT_OK(registry->Create("acme"));
  {
    auto acme = registry->Get("acme");
    TenantDatabase::Session session(acme->get());
    session.db().exec("INSERT INTO tenant_meta VALUES ('keep', 'me')");
  }
  const auto garbage = dir.path() / "garbage.db";
  std::ofstream(garbage) << "this is not an SQLite database at all, no sir";
  EXPECT_THAT(registry->Restore("acme", garbage),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const auto foreign = dir.path() / "foreign.db";
  {
    SQLite::Database db(foreign.string(),
                        SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE other (x)");
  }
  EXPECT_THAT(registry->Restore("acme", foreign),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto acme = registry->Get("acme");
  TenantDatabase::Session session(acme->get());
  EXPECT_EQ(
      session.db().execAndGet("SELECT value FROM tenant_meta").getString(),
      "me");
}

}  // namespace
}  // namespace custra
