#include "common/transaction_log.h"

#include <gtest/gtest.h>

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ingestion_store.h"
#include "common/sqlite_util.h"
#include "common/tenant_registry.h"
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

const absl::Time kNow = absl::FromUnixSeconds(1700000000);  // 2023-11-14.

StoredTransaction Stored(std::string id, int64_t amount,
                         std::optional<int64_t> cost) {
  StoredTransaction t;
  t.id = std::move(id);
  t.customer_id = "c-\xC3\xA9";  // UTF-8 survives as bytes.
  t.time_us = -86'400'000'000;   // Before the epoch.
  t.amount_micros = amount;
  t.cost_micros = cost;
  t.quantity = 2.5;
  t.order_id = "o";
  t.product = std::string(300, 'p');  // A length needing two varint bytes.
  t.category = "";
  t.channel = "web";
  return t;
}

TEST(TransactionLogTest, BatchesRoundTrip) {
  const std::vector<StoredTransaction> rows = {
      Stored("a", 1, std::nullopt),
      Stored("b", -7'000'000, 3),
      Stored("c", std::numeric_limits<int64_t>::max(),
             std::numeric_limits<int64_t>::min()),
  };
  std::string body;
  for (const StoredTransaction& row : rows) AppendTransaction(row, &body);
  auto decoded = DecodeTransactionBatch(body);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, rows);
  auto empty = DecodeTransactionBatch(kBatchMagic);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(TransactionLogTest, DamagedBatchesAreDataLossNotGarbage) {
  std::string body;
  AppendTransaction(Stored("a", 1, 2), &body);
  for (size_t cut = kBatchMagic.size() + 1; cut < body.size(); ++cut) {
    EXPECT_THAT(DecodeTransactionBatch(body.substr(0, cut)),
                StatusIs(absl::StatusCode::kDataLoss))
        << "cut at " << cut;
  }
  EXPECT_THAT(DecodeTransactionBatch("XXXX"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeTransactionBatch(""),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(TransactionLogTest, StoredBatchesAreCompressedAndDecodeToTheSameRows) {
  std::vector<StoredTransaction> rows;
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    rows.push_back(Stored(absl::StrCat("t", i), i * 1000, std::nullopt));
    AppendTransaction(rows.back(), &body);
  }
  const std::string stored = StoredBatch(body);
  ASSERT_TRUE(absl::StartsWith(stored, kCompressedBatchMagic));
  EXPECT_LT(stored.size(), body.size() / 2);
  auto decoded = DecodeTransactionBatch(stored);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, rows);
  // What compression would not shrink (an empty batch) stays as it is.
  EXPECT_EQ(StoredBatch(kBatchMagic), kBatchMagic);
}

TEST(TransactionLogTest, DamagedCompressedBatchesAreDataLoss) {
  std::string body;
  for (int i = 0; i < 100; ++i) {
    AppendTransaction(Stored(absl::StrCat("t", i), i, 1), &body);
  }
  const std::string stored = StoredBatch(body);
  ASSERT_TRUE(absl::StartsWith(stored, kCompressedBatchMagic));
  for (size_t cut = kCompressedBatchMagic.size(); cut < stored.size();
       cut += 7) {
    EXPECT_THAT(DecodeTransactionBatch(stored.substr(0, cut)),
                StatusIs(absl::StatusCode::kDataLoss))
        << "cut at " << cut;
  }
  // Frames carry a checksum: a flipped bit anywhere is caught.
  for (size_t at = kCompressedBatchMagic.size(); at < stored.size(); at += 5) {
    std::string flipped = stored;
    flipped[at] ^= 0x10;
    EXPECT_THAT(DecodeTransactionBatch(flipped),
                StatusIs(absl::StatusCode::kDataLoss))
        << "bit flipped at " << at;
  }
}

class TransactionFoldTest : public ::testing::Test {
 protected:
  std::unique_ptr<custra::Connection> Open(const std::string& name) {
    auto db = OpenSqlite((dir_.path() / name).string(), {});
    EXPECT_TRUE(db.ok());
    EXPECT_TRUE(Migrate(**db, TenantMigrations()).ok());
    return *std::move(db);
  }
  int64_t Count(SQLite::Database& db, const std::string& sql) {
    return db.execAndGet(sql).getInt64();
  }

  TempDir dir_;
};

// Three batches; the order "o2" has lines in two of them.
std::vector<std::vector<TransactionRow>> Batches() {
  return {
      {Txn("t1", "c1", At(2023, 1, 10), 10'000'000, "o1"),
       Txn("t2", "c2", At(2023, 1, 11), 4'000'000, "o2")},
      {Txn("t3", "c2", At(2023, 1, 11), 6'000'000, "o2"),
       Txn("t4", "c1", At(2023, 2, 1), -3'000'000, "r1"),
       Txn("t1", "c1", At(2023, 1, 10), 10'000'000, "o1")},  // Duplicate.
      {Txn("t5", "c3", At(2023, 3, 1), 1'000'000)},
  };
}

TEST_F(TransactionFoldTest, DeferredFoldGivesTheSameAggregatesAsImmediate) {
  auto immediate = Open("immediate.db");
  auto deferred = Open("deferred.db");
  IngestionState state;
  for (const auto& batch : Batches()) {
    auto a =
        IngestionStore(immediate.get(), kNow).RecordTransactions("", batch);
    auto b = IngestionStore(deferred.get(), kNow, &state)
                 .RecordTransactions("", batch);
    ASSERT_TRUE(a.ok() && b.ok());
    // The acknowledgement is the same either way.
    EXPECT_EQ(a->accepted, b->accepted);
    EXPECT_EQ(a->duplicates, b->duplicates);
    EXPECT_EQ(a->customers_created, b->customers_created);
  }
  EXPECT_EQ(state.fold_pending, true);
  EXPECT_EQ(state.known_customers.size(), 3u);
  // Before the fold the deferred tenant's aggregates are untouched.
  EXPECT_EQ(*HasPendingTransactions(*deferred), true);
  EXPECT_EQ(*HasPendingTransactions(*immediate), false);
  EXPECT_EQ(Count(*deferred, "SELECT sum(transaction_count) FROM customers"),
            0);

  // Folding one row per chunk still ends in the same state.
  auto folded = FoldPendingTransactions(*deferred, /*chunk_rows=*/1);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(*folded, 5);
  EXPECT_EQ(*HasPendingTransactions(*deferred), false);
  EXPECT_EQ(*FoldPendingTransactions(*deferred), 0);
  for (const char* sql :
       {"SELECT group_concat(id || ':' || transaction_count || ':' || "
        "revenue_micros || ':' || returns_micros || ':' || order_count || "
        "':' || purchase_day_count || ':' || first_purchase_us || ':' || "
        "last_purchase_us, ' ') FROM (SELECT * FROM customers ORDER BY id)",
        "SELECT group_concat(customer_id || ':' || day || ':' || "
        "amount_micros || ':' || purchase_lines || ':' || orders, ' ') FROM "
        "(SELECT * FROM customer_days ORDER BY day, customer_id)",
        "SELECT group_concat(order_id || ':' || customer_id, ' ') FROM "
        "(SELECT * FROM customer_orders ORDER BY order_id, customer_id)"}) {
    EXPECT_EQ(immediate->execAndGet(sql).getString(),
              deferred->execAndGet(sql).getString())
        << sql;
  }
  // Worked by hand: c2 bought once (order o2, two lines, one day).
  auto c2 = IngestionStore(deferred.get(), kNow).GetCustomer("c2");
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->stats.transaction_count, 2);
  EXPECT_EQ(c2->stats.revenue_micros, 10'000'000);
  EXPECT_EQ(c2->stats.order_count, 1);
  EXPECT_EQ(c2->stats.purchase_day_count, 1);
}

TEST_F(TransactionFoldTest, ErasedCustomersAreCreatedAgainByALaterImport) {
  auto db = Open("t.db");
  IngestionState state;
  IngestionStore store(db.get(), kNow, &state);
  auto rows = Batches()[0];
  ASSERT_EQ(store.RecordTransactions("", rows)->customers_created, 2);
  ASSERT_TRUE(FoldPendingTransactions(*db).ok());
  auto deleted = store.DeleteCustomer("c1");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->transactions, 1);
  EXPECT_FALSE(state.known_customers.contains("c1"));
  // The id is free again and the customer is created again, not assumed.
  auto again = store.RecordTransactions("", {&rows[0], 1});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accepted, 1);
  EXPECT_EQ(again->customers_created, 1);
  ASSERT_TRUE(FoldPendingTransactions(*db).ok());
  EXPECT_EQ(store.GetCustomer("c1")->stats.revenue_micros, 10'000'000);
}

TEST_F(TransactionFoldTest, MigrationMovesTableRowsIntoTheLog) {
  const std::string path = (dir_.path() / "old.db").string();
  {
    auto db = OpenSqlite(path, {});
    ASSERT_TRUE(db.ok());
    // A version-6 database with 25,001 rows in the transactions table and
    // their 7 customers, aggregates not filled (the migration rebuilds them).
    ASSERT_TRUE(Migrate(**db, TenantMigrations().subspan(0, 6)).ok());
    (*db)->exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 25000) INSERT INTO transactions(id, customer_id, time_us, "
        "amount_micros, cost_micros, quantity, order_id, product) SELECT 'x' "
        "|| i, 'c' || (i % 7), i * 1000000, i - 5, CASE WHEN i % 2 = 0 THEN "
        "i END, 1.5, 'o' || (i / 3), 'p' FROM n");
    (*db)->exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 6) INSERT INTO customers(id, create_time_us, "
        "update_time_us) SELECT 'c' || i, 0, 0 FROM n");
  }
  auto db = OpenSqlite(path, {});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(**db, TenantMigrations()).ok());
  Connection& d = **db;
  EXPECT_EQ(Count(d,
                  "SELECT count(*) FROM sqlite_master WHERE name = "
                  "'transactions'"),
            0);
  EXPECT_EQ(Count(d, "SELECT count(*) FROM transaction_ids"), 25001);
  EXPECT_EQ(Count(d, "SELECT count(*) FROM transaction_batches"), 3);
  // The aggregates are rebuilt from the log by the first fold.
  EXPECT_EQ(*HasPendingTransactions(d), true);
  EXPECT_EQ(Count(d, "SELECT sum(transaction_count) FROM customers"), 0);
  SQLite::Statement select(d,
                           "SELECT body FROM transaction_batches WHERE "
                           "seq = 3");
  ASSERT_TRUE(select.executeStep());
  auto last = DecodeTransactionBatch(BlobOf(select.getColumn(0)));
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->size(), 5001u);
  const StoredTransaction& row = last->back();  // i = 25000, in order.
  EXPECT_EQ(row.id, "x25000");
  EXPECT_EQ(row.customer_id, "c3");
  EXPECT_EQ(row.time_us, 25'000'000'000);
  EXPECT_EQ(row.amount_micros, 24995);
  EXPECT_EQ(row.cost_micros, 25000);
  EXPECT_EQ((*last)[1].cost_micros, std::nullopt);  // i = 20001.
  EXPECT_EQ(row.order_id, "o8333");
  ASSERT_EQ(*FoldPendingTransactions(d), 25001);
  // Customer c3 has the rows i = 3, 10, ..., 25000 (i % 7 == 3): 3572
  // rows. Amounts are i - 5, so i = 3 is a return and the other 3571 are
  // purchases; orders are i / 3 and hold at most one c3 row each (a c3 row
  // is 7 rows from the next), so 3571 orders.
  EXPECT_EQ(Count(d,
                  "SELECT transaction_count FROM customers WHERE id = "
                  "'c3'"),
            3572);
  EXPECT_EQ(Count(d, "SELECT order_count FROM customers WHERE id = 'c3'"),
            3571);
  EXPECT_EQ(Count(d, "SELECT returns_micros FROM customers WHERE id = 'c3'"),
            -2);
  // The migrated ids still make re-sent rows duplicates.
  const TransactionRow resent = Txn("x7", "c0", At(2023, 1, 1), 1);
  auto result = IngestionStore(&d, kNow).RecordTransactions("", {&resent, 1});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->duplicates, 1);
}

TEST_F(TransactionFoldTest, SessionsFoldWhatACrashLeftPending) {
  {
    // What a crash after an acknowledged append leaves: a batch in the log
    // past the watermark.
    ASSERT_TRUE(std::filesystem::create_directories(dir_.path() / "tenants"));
    auto db = Open("tenants/acme.db");
    IngestionState state;
    ASSERT_TRUE(IngestionStore(db.get(), kNow, &state)
                    .RecordTransactions("", Batches()[0])
                    .ok());
  }
  TenantRegistryOptions options;
  options.data_dir = dir_.path();
  options.fold_when_quiet = absl::ZeroDuration();
  auto registry = TenantRegistry::Open(options);
  ASSERT_TRUE(registry.ok());
  auto acme = (*registry)->Get("acme");
  ASSERT_TRUE(acme.ok()) << acme.status();
  {
    TenantDatabase::Session append((*acme).get(),
                                   TenantDatabase::Purpose::kAsIs);
    EXPECT_EQ(
        Count(append.db(), "SELECT sum(transaction_count) FROM customers"), 0);
  }
  TenantDatabase::Session read((*acme).get());
  EXPECT_EQ(Count(read.db(), "SELECT sum(transaction_count) FROM customers"),
            2);
  EXPECT_EQ(*HasPendingTransactions(read.db()), false);
}

}  // namespace
}  // namespace custra
