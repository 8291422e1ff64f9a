#include "common/segmentation_store.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"
#include "common/ingestion_store.h"
#include "common/sqlite_util.h"
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

int64_t DayNumber(int y, int m, int d) {
  return absl::CivilDay(y, m, d) - absl::CivilDay(1970, 1, 1);
}

SegmentMember Member(std::string id, int segment, int64_t revenue) {
  SegmentMember m;
  m.customer_id = std::move(id);
  m.segment = segment;
  m.revenue = revenue;
  m.ints[3] = revenue * 2;
  m.set_real(1, 0.25);
  return m;
}

class SegmentationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenSqlite((dir_.path() / "t.db").string(), {});
    ASSERT_TRUE(db.ok());
    db_ = *std::move(db);
  }
  void MigrateAll() { ASSERT_TRUE(Migrate(*db_, TenantMigrations()).ok()); }
  void Record(const std::vector<TransactionRow>& rows) {
    auto result = IngestionStore(db_.get(), kNow).RecordTransactions("", rows);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->rejected, 0);
  }
  SegmentationStore Store() { return SegmentationStore(db_.get()); }

  TempDir dir_;
  std::unique_ptr<custra::Connection> db_;
};

TEST(MemberBlobTest, RoundTripsSortedByIdAndFindsById) {
  std::vector<SegmentMember> members = {
      Member("c3", 2, 30), Member("c1", 0, 10), Member("c2", 1, -5)};
  const std::string blob = EncodeMembers(members);
  auto decoded = DecodeMembers(blob);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 3u);
  EXPECT_EQ((*decoded)[0].customer_id, "c1");
  EXPECT_EQ((*decoded)[1].customer_id, "c2");
  EXPECT_EQ((*decoded)[1].revenue, -5);
  EXPECT_EQ((*decoded)[1].ints[3], -10);
  EXPECT_TRUE((*decoded)[1].has_real(1));
  EXPECT_FALSE((*decoded)[1].has_real(0));
  EXPECT_DOUBLE_EQ((*decoded)[1].reals[1], 0.25);
  EXPECT_EQ((*decoded)[2].segment, 2);

  auto found = FindMember(blob, "c2");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->segment, 1);
  EXPECT_FALSE(FindMember(blob, "c0").has_value());
  EXPECT_FALSE(FindMember(blob, "c4").has_value());
  EXPECT_FALSE(FindMember(blob, "c").has_value());
}

TEST(MemberBlobTest, RejectsMalformedBlobs) {
  const std::vector<SegmentMember> one = {Member("abc", 0, 1)};
  const std::string blob = EncodeMembers(one);
  EXPECT_FALSE(DecodeMembers("").has_value());
  EXPECT_FALSE(DecodeMembers("XXXX\1\0\0\0").has_value());
  EXPECT_FALSE(DecodeMembers(blob.substr(0, blob.size() - 1)).has_value());
  EXPECT_FALSE(FindMember(blob.substr(0, 20), "abc").has_value());
  auto empty = DecodeMembers(EncodeMembers(std::vector<SegmentMember>{}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

// c1: order o1 with lines on Jan 10 and Jan 12 (counted on Jan 10), a
// purchase on Feb 1 with a cost, a return on Feb 3. c2: one purchase on
// Mar 5. c3: only a return.
class WindowTest : public SegmentationStoreTest {
 protected:
  void SetUp() override {
    SegmentationStoreTest::SetUp();
    MigrateAll();
    std::vector<TransactionRow> rows = {
        Txn("t1", "c1", At(2023, 1, 10), 10'000'000, "o1"),
        Txn("t2", "c1", At(2023, 1, 12), 5'000'000, "o1"),
        Txn("t3", "c1", At(2023, 2, 1), 20'000'000, "o2"),
        Txn("t4", "c1", At(2023, 2, 3), -4'000'000, "r1"),
        Txn("t5", "c2", At(2023, 3, 5), 7'000'000),
        Txn("t6", "c3", At(2023, 3, 6), -1'000'000),
    };
    rows[2].cost = MoneyValue{"EUR", 12'000'000};
    Record(rows);
  }
};

TEST_F(WindowTest, WholeHistoryReadsTheCustomerAggregates) {
  auto stats =
      Store().LoadWindowStats({}, {std::nullopt, DayNumber(2023, 12, 31)});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 2u);  // c3 never purchased.
  const CustomerWindowStats& c1 = (*stats)[0];
  EXPECT_EQ(c1.id, "c1");
  EXPECT_EQ(c1.revenue, 31'000'000);
  EXPECT_EQ(c1.profit, 8'000'000);
  EXPECT_EQ(c1.orders, 2);
  EXPECT_EQ(c1.purchase_days, 3);  // Jan 10, Jan 12, Feb 1.
  EXPECT_EQ(c1.last_purchase_day, DayNumber(2023, 2, 1));
  EXPECT_EQ((*stats)[1].id, "c2");
  EXPECT_EQ((*stats)[1].orders, 1);
}

TEST_F(WindowTest, WindowReadsTheDailyRollups) {
  // Jan 11 .. Feb 2: o1 was counted on Jan 10 (outside), so c1 has one
  // order (o2) with revenue 5 (t2) + 20 (t3); the Feb 3 return is outside.
  auto stats = Store().LoadWindowStats(
      {}, {DayNumber(2023, 1, 11), DayNumber(2023, 2, 2)});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  const CustomerWindowStats& c1 = (*stats)[0];
  EXPECT_EQ(c1.revenue, 25'000'000);
  EXPECT_EQ(c1.profit, 8'000'000);
  EXPECT_EQ(c1.orders, 1);
  EXPECT_EQ(c1.purchase_days, 2);
  EXPECT_EQ(c1.last_purchase_day, DayNumber(2023, 2, 1));

  // As of Jan 31: only o1; the window stops before Feb.
  stats = Store().LoadWindowStats({}, {std::nullopt, DayNumber(2023, 1, 31)});
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].revenue, 15'000'000);
  EXPECT_EQ((*stats)[0].orders, 1);
  EXPECT_EQ((*stats)[0].last_purchase_day, DayNumber(2023, 1, 12));
}

TEST_F(WindowTest, FilterRestrictsBothPaths) {
  CustomerRecord c2;
  c2.id = "c2";
  c2.kind = 2;
  c2.region = "east";
  ASSERT_TRUE(IngestionStore(db_.get(), kNow)
                  .UpsertCustomers("", {&c2, 1}, nullptr)
                  .ok());
  CustomerFilter filter;
  filter.region = "east";
  for (const RunWindow& window :
       {RunWindow{std::nullopt, DayNumber(2023, 12, 31)},
        RunWindow{DayNumber(2023, 3, 1), DayNumber(2023, 3, 31)}}) {
    auto stats = Store().LoadWindowStats(filter, window);
    ASSERT_TRUE(stats.ok()) << stats.status();
    ASSERT_EQ(stats->size(), 1u);
    EXPECT_EQ((*stats)[0].id, "c2");
  }
}

TEST_F(WindowTest, LifecycleHistoryHasPurchaseDaysAndPeriodSpend) {
  // As of Mar 31 with 30-day periods: latest (Mar 1, Mar 31], previous
  // (Jan 30, Mar 1].
  auto data =
      Store().LoadLifecycle({}, {std::nullopt, DayNumber(2023, 3, 31)}, 30);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->inputs.size(), 3u);
  const LifecycleInput& c1 = data->inputs[0];
  EXPECT_EQ(c1.id, "c1");
  ASSERT_EQ(c1.purchase_days.size(), 3u);
  EXPECT_EQ(c1.purchase_days[0], DayNumber(2023, 1, 10));
  EXPECT_EQ(c1.purchase_days[2], DayNumber(2023, 2, 1));
  EXPECT_EQ(c1.latest_period_spend, 0);
  EXPECT_EQ(c1.previous_period_spend, 16'000'000);  // 20 - 4
  EXPECT_EQ(c1.revenue, 31'000'000);
  EXPECT_EQ(data->inputs[1].latest_period_spend, 7'000'000);
  EXPECT_TRUE(data->inputs[2].purchase_days.empty());  // c3: a prospect.
}

TEST_F(SegmentationStoreTest, MigrationFillsDailyProfitAndOrders) {
  // A database at schema 2, written as that version did (no per-day
  // profit or orders), then migrated.
  ASSERT_TRUE(Migrate(*db_, TenantMigrations().first(2)).ok());
  const int64_t jan10 = absl::ToUnixMicros(At(2023, 1, 10));
  const int64_t jan12 = jan10 + int64_t{2} * 86400 * 1000000;
  db_->exec(absl::StrCat(
      "INSERT INTO transactions(id, customer_id, time_us, amount_micros, "
      "cost_micros, order_id) VALUES "
      "('t1', 'c1', ",
      jan10,
      ", 10000000, 4000000, 'o1'), "
      "('t2', 'c1', ",
      jan12,
      ", 5000000, NULL, 'o1'), "
      "('t3', 'c1', ",
      jan12,
      ", 3000000, 1000000, ''), "
      "('t4', 'c1', ",
      jan12, ", -2000000, NULL, 'r1')"));
  db_->exec(
      absl::StrCat("INSERT INTO customer_days(customer_id, day, amount_micros, "
                   "purchase_lines) VALUES ('c1', ",
                   DayNumber(2023, 1, 10), ", 10000000, 1), ('c1', ",
                   DayNumber(2023, 1, 12), ", 6000000, 2)"));
  auto expect_days = [&] {
    SQLite::Statement select(
        *db_,
        "SELECT day, profit_micros, orders FROM customer_days ORDER BY day");
    ASSERT_TRUE(select.executeStep());
    EXPECT_EQ(select.getColumn(0).getInt64(), DayNumber(2023, 1, 10));
    EXPECT_EQ(select.getColumn(1).getInt64(), 6'000'000);  // 10 - 4
    EXPECT_EQ(select.getColumn(2).getInt64(), 1);          // o1
    ASSERT_TRUE(select.executeStep());
    EXPECT_EQ(select.getColumn(1).getInt64(), 2'000'000);  // t3: 3 - 1
    EXPECT_EQ(select.getColumn(2).getInt64(), 1);          // t3 (o1 on Jan 10)
    EXPECT_FALSE(select.executeStep());
  };
  ASSERT_TRUE(Migrate(*db_, TenantMigrations().first(3)).ok());
  expect_days();
  // Migration 7 moves the rows into the transaction log and rebuilds the
  // rollups from it: the same days.
  MigrateAll();
  ASSERT_TRUE(FoldPendingTransactions(*db_).ok());
  expect_days();
}

TEST_F(SegmentationStoreTest, StoresListsFindsAndDeletesRuns) {
  MigrateAll();
  SegmentationStore store = Store();
  for (int i = 0; i < 3; ++i) {
    StoredRun run{absl::StrCat("run-", i), i == 2 ? 2 : 1, 1000 + i,
                  absl::StrCat("record ", i)};
    std::vector<SegmentMember> members = {Member("a", i, 1)};
    if (i < 2) members.push_back(Member("b", 0, 2));
    ASSERT_TRUE(store.SaveRun(run, members, "", "", kNow).ok());
  }
  auto page = store.ListRuns(std::nullopt, std::nullopt, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, "run-2");
  EXPECT_EQ((*page)[1].record, "record 1");
  page = store.ListRuns(std::nullopt,
                        SegmentationStore::RunCursor{1001, "run-1"}, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, "run-0");
  page = store.ListRuns(2, std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);

  // "b" is in the newest model-1 run (run-1) and in no model-2 run.
  auto latest = store.LatestAssignments("b");
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].first.id, "run-1");
  latest = store.LatestAssignments("a");
  ASSERT_TRUE(latest.ok());
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[0].first.id, "run-1");
  EXPECT_EQ((*latest)[1].first.id, "run-2");
  EXPECT_EQ((*latest)[1].second.segment, 2);

  ASSERT_TRUE(store.DeleteRun("run-1").ok());
  EXPECT_THAT(store.DeleteRun("run-1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.GetRun("run-1").status(),
              StatusIs(absl::StatusCode::kNotFound));
  latest = store.LatestAssignments("b");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)[0].first.id, "run-0");
  auto members = store.LoadMembers("run-0");
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->size(), 2u);
}

TEST_F(SegmentationStoreTest, RequestIdsMapToTheirRun) {
  MigrateAll();
  SegmentationStore store = Store();
  StoredRun run{"run-x", 1, 5, "r"};
  ASSERT_TRUE(store.SaveRun(run, {}, "req-1", "fp-1", kNow).ok());
  auto found = store.FindRequest("req-1", "fp-1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->value_or(""), "run-x");
  EXPECT_THAT(store.FindRequest("req-1", "fp-2").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  found = store.FindRequest("req-2", "fp-1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  // A second run under the same request id is refused, and not stored.
  StoredRun again{"run-y", 1, 6, "r"};
  EXPECT_THAT(store.SaveRun(again, {}, "req-1", "fp-1", kNow),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store.GetRun("run-y").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace custra

namespace custra {
namespace {

TEST_F(SegmentationStoreTest, DeletingACustomerErasesItsAssignments) {
  MigrateAll();
  Record({Txn("t1", "a", At(2023, 1, 10), 1'000'000),
          Txn("t2", "b", At(2023, 1, 11), 2'000'000)});
  SegmentationStore store = Store();
  const std::vector<SegmentMember> members = {Member("a", 0, 1),
                                              Member("b", 1, 2)};
  ASSERT_TRUE(store.SaveRun({"run-1", 1, 1, "r"}, members, "", "", kNow).ok());
  ASSERT_TRUE(
      store.SaveRun({"run-2", 2, 2, "r"}, {members.data() + 1, 1}, "", "", kNow)
          .ok());
  ASSERT_TRUE(IngestionStore(db_.get(), kNow).DeleteCustomer("a").ok());
  auto left = store.LoadMembers("run-1");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].customer_id, "b");
  left = store.LoadMembers("run-2");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 1u);
  auto latest = store.LatestAssignments("a");
  ASSERT_TRUE(latest.ok());
  EXPECT_TRUE(latest->empty());
}

}  // namespace
}  // namespace custra
