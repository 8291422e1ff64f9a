// Durability: a server killed with SIGKILL in the middle of a streamed
// import keeps every acknowledged batch, its database passes SQLite's
// integrity check, and the SDK's resumption completes the import exactly
// (no row lost, none twice).

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "custra/client.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::TempDir;

constexpr int kRows = 200000;
constexpr int kCustomers = 5000;
constexpr int kBatch = 2000;

v1::Transaction Row(int i) {
  v1::Transaction t;
  t.set_id(absl::StrCat("t", i));
  t.set_customer_id(absl::StrCat("c", i % kCustomers));
  t.mutable_time()->set_seconds(1672531200 + (i % 365) * 86400);
  t.mutable_amount()->set_currency_code("USD");
  t.mutable_amount()->set_amount_micros(1'000'000 + i % 997);
  t.set_order_id(absl::StrCat("o", i / 3));
  return t;
}

TEST(CrashTest, KillDuringImportLosesNothingAcknowledgedAndResumesExactly) {
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  ClientOptions admin_options;
  admin_options.target = address;
  admin_options.api_key = (*server)->admin_key();
  auto admin = Client::Create(admin_options);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->CreateTenant("acme").ok());
  auto key = (*admin)->IssueApiKey("acme");
  ASSERT_TRUE(key.ok());

  ClientOptions tenant_options = admin_options;
  tenant_options.tenant_id = "acme";
  tenant_options.api_key = key->secret();
  auto client = Client::Create(tenant_options);
  ASSERT_TRUE(client.ok());

  // The import runs on its own thread; the progress callback tells the
  // test when a third of the rows are acknowledged.
  std::atomic<int64_t> acknowledged_before_kill{-1};
  std::atomic<bool> killed{false};
  absl::Notification third_acknowledged;
  std::atomic<int64_t> last_acknowledged{0};
  ImportOptions import_options;
  import_options.batch_size = kBatch;
  import_options.max_attempts = 20;
  import_options.on_progress = [&](const ImportProgress& p) {
    if (!killed.load()) last_acknowledged.store(p.rows_acknowledged);
    if (p.rows_acknowledged >= kRows / 3 &&
        !third_acknowledged.HasBeenNotified()) {
      third_acknowledged.Notify();
    }
  };
  int next = 0;
  absl::StatusOr<ImportSummary> summary;
  std::thread importer([&] {
    summary = (*client)->ImportTransactions(
        [&](v1::Transaction* out) {
          if (next == kRows) return false;
          *out = Row(next++);
          return true;
        },
        import_options);
  });

  third_acknowledged.WaitForNotification();
  killed.store(true);
  const int status = (*server)->SignalAndWait(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status));
  acknowledged_before_kill.store(last_acknowledged.load());

  // Everything acknowledged is on disk, and the file is sound.
  const std::string db_path =
      (dir.path() / "data" / "tenants" / "acme.db").string();
  int64_t rows_on_disk = 0;
  {
    SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
    rows_on_disk =
        db.execAndGet("SELECT count(*) FROM transaction_ids").getInt64();
  }
  EXPECT_GE(rows_on_disk, acknowledged_before_kill.load());
  EXPECT_LT(rows_on_disk, kRows);  // Killed mid-import, as intended.

  // Restart on the same address; the SDK re-sends what was not
  // acknowledged and replays what was committed but not acknowledged.
  options.listen = address;
  auto restarted = ServerProcess::Start(options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  importer.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->reconnects, 1);
  EXPECT_EQ(summary->rows_acknowledged, kRows);
  EXPECT_EQ(summary->accepted, kRows);
  EXPECT_EQ(summary->duplicates, 0);
  EXPECT_EQ(summary->customers_created, kCustomers);

  const int stopped = (*restarted)->SignalAndWait(SIGTERM);
  ASSERT_TRUE(WIFEXITED(stopped));
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM transaction_ids").getInt64(),
            kRows);
  EXPECT_EQ(
      db.execAndGet("SELECT sum(transaction_count) FROM customers").getInt64(),
      kRows);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM customers").getInt64(),
            kCustomers);
  // Orders are every three rows: each counted once.
  EXPECT_EQ(db.execAndGet("SELECT sum(order_count) FROM customers").getInt64(),
            db.execAndGet("SELECT count(*) FROM customer_orders").getInt64());
}

}  // namespace
}  // namespace custra
