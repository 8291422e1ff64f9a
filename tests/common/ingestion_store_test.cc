#include "common/ingestion_store.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
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

class IngestionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = OpenSqlite((dir_.path() / "t.db").string(), {});
    ASSERT_TRUE(db.ok());
    db_ = *std::move(db);
    ASSERT_TRUE(Migrate(*db_, TenantMigrations()).ok());
  }
  IngestionStore Store() { return IngestionStore(db_.get(), kNow); }

  TempDir dir_;
  std::unique_ptr<custra::Connection> db_;
};

// A hand-worked example: customer c1 buys on two days, one order with two
// lines, returns part of it, and has a line with a known cost.
TEST_F(IngestionStoreTest, AggregatesMatchAHandWorkedExample) {
  std::vector<TransactionRow> rows = {
      Txn("t1", "c1", At(2023, 1, 10, 9), 10'000'000, "o1"),
      Txn("t2", "c1", At(2023, 1, 10, 9), 5'000'000, "o1"),
      Txn("t3", "c1", At(2023, 2, 1), 20'000'000, "o2"),
      Txn("t4", "c1", At(2023, 2, 3), -4'000'000, "r1"),
  };
  rows[2].cost = MoneyValue{"EUR", 12'000'000};
  auto result = Store().RecordTransactions("", rows);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 4);
  EXPECT_EQ(result->customers_created, 1);
  auto c = Store().GetCustomer("c1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->stats.transaction_count, 4);
  EXPECT_EQ(c->stats.revenue_micros, 31'000'000);  // 10 + 5 + 20 - 4
  EXPECT_EQ(c->stats.returns_micros, -4'000'000);
  EXPECT_EQ(c->stats.profit_micros, 8'000'000);  // 20 - 12, only t3
  EXPECT_EQ(c->stats.order_count, 2);            // o1, o2 (r1 is a return)
  EXPECT_EQ(c->stats.purchase_day_count, 2);     // Jan 10, Feb 1
  EXPECT_EQ(c->stats.first_purchase, At(2023, 1, 10, 9));
  EXPECT_EQ(c->stats.last_purchase, At(2023, 2, 1));
}

TEST_F(IngestionStoreTest, AggregatesAreTheSameWhateverTheBatching) {
  std::vector<TransactionRow> rows = {
      Txn("a", "c", At(2023, 3, 1), 1'000'000, "o"),
      Txn("b", "c", At(2023, 3, 1), 2'000'000, "o"),
      Txn("d", "c", At(2023, 3, 5), 3'000'000),
  };
  for (const TransactionRow& row : rows) {
    ASSERT_TRUE(Store().RecordTransactions("", {&row, 1}).ok());
  }
  auto c = Store().GetCustomer("c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->stats.order_count, 2);  // "o" once, "d" is its own order.
  EXPECT_EQ(c->stats.purchase_day_count, 2);
  EXPECT_EQ(c->stats.revenue_micros, 6'000'000);
}

TEST_F(IngestionStoreTest, ResentIdsAreDuplicatesAndChangeNothing) {
  std::vector<TransactionRow> rows = {Txn("t1", "c1", At(2023, 1, 1), 7),
                                      Txn("t1", "c1", At(2023, 1, 2), 9)};
  auto first = Store().RecordTransactions("", rows);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->accepted, 1);
  EXPECT_EQ(first->duplicates, 1);  // Same id later in the batch.
  auto again = Store().RecordTransactions("", rows);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accepted, 0);
  EXPECT_EQ(again->duplicates, 2);
  EXPECT_EQ(Store().GetCustomer("c1")->stats.revenue_micros, 7);
}

TEST_F(IngestionStoreTest, TheFirstRowOfEachIdWinsWhateverTheIdOrder) {
  // Ids are claimed in id order; the earlier row of an id must still win.
  std::vector<TransactionRow> rows = {
      Txn("b", "c1", At(2023, 1, 1), 1), Txn("a", "c1", At(2023, 1, 1), 2),
      Txn("b", "c1", At(2023, 1, 1), 4), Txn("c", "c1", At(2023, 1, 1), 8),
      Txn("a", "c1", At(2023, 1, 1), 16)};
  auto result = Store().RecordTransactions("", rows);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 3);
  EXPECT_EQ(result->duplicates, 2);
  EXPECT_EQ(Store().GetCustomer("c1")->stats.revenue_micros, 1 + 2 + 8);
}

// Ids are claimed 64 at a time; a chunk where some ids exist already must
// still tell each row apart.
TEST_F(IngestionStoreTest, ChunksMixingNewAndKnownIdsCountEachRow) {
  std::vector<TransactionRow> earlier;
  for (int i = 0; i < 300; i += 3) {
    earlier.push_back(Txn(absl::StrCat("t", i), "old", At(2023, 1, 1), 1));
  }
  ASSERT_TRUE(Store().RecordTransactions("", earlier).ok());
  std::vector<TransactionRow> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back(Txn(absl::StrCat("t", i), "new", At(2023, 1, 2), 10));
  }
  rows.push_back(Txn("t1", "new", At(2023, 1, 2), 1000));  // Repeat in batch.
  auto result = Store().RecordTransactions("", rows);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 200);
  EXPECT_EQ(result->duplicates, 101);
  EXPECT_EQ(Store().GetCustomer("new")->stats.revenue_micros, 200 * 10);
  EXPECT_EQ(Store().GetCustomer("old")->stats.revenue_micros, 100);
}

TEST_F(IngestionStoreTest, APreparedBatchIsCheckedAgainWhenTheCurrencyChanged) {
  // Prepared while the tenant had no currency: USD rows look valid.
  std::vector<TransactionRow> usd = {Txn("u1", "c1", At(2023, 1, 1), 5),
                                     Txn("u2", "c2", At(2023, 1, 2), 6)};
  for (TransactionRow& row : usd) row.amount->currency = "USD";
  PreparedTransactions prepared = PrepareTransactions("", usd, "", kNow);
  EXPECT_TRUE(prepared.rejections.empty());
  EXPECT_EQ(prepared.currency, "USD");
  // Meanwhile another import makes it a EUR tenant.
  const std::vector<TransactionRow> eur = {Txn("e1", "c1", At(2023, 1, 1), 7)};
  ASSERT_TRUE(Store().RecordTransactions("", eur).ok());
  auto result = Store().RecordPrepared(&prepared);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 0);
  EXPECT_EQ(result->rejected, 2);
  ASSERT_EQ(result->rejections.size(), 2u);
  EXPECT_EQ(result->rejections[0].field, "amount.currency_code");
  EXPECT_EQ(prepared.currency, "EUR");
  EXPECT_EQ(Store().GetCustomer("c1")->stats.revenue_micros, 7);
}

TEST_F(IngestionStoreTest, ReplayedRequestIdReturnsTheFirstResult) {
  std::vector<TransactionRow> rows = {Txn("t1", "c1", At(2023, 1, 1), 7),
                                      Txn("", "c1", At(2023, 1, 1), 7)};
  auto first = Store().RecordTransactions("req-1", rows);
  ASSERT_TRUE(first.ok());
  auto replay = Store().RecordTransactions("req-1", rows);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->accepted, 1);
  EXPECT_EQ(replay->rejected, 1);
  EXPECT_EQ(replay->customers_created, 1);
  ASSERT_EQ(replay->rejections.size(), 1u);
  EXPECT_EQ(replay->rejections[0], first->rejections[0]);
}

TEST_F(IngestionStoreTest, BadRowsAreReportedAndGoodRowsLand) {
  std::vector<TransactionRow> rows = {
      Txn("ok", "c1", At(2023, 1, 1), 5),
      Txn("future", "c1", kNow + absl::Hours(48), 5),
      Txn("old", "c1", At(1850, 1, 1), 5),
      Txn("nocustomer", "", At(2023, 1, 1), 5),
  };
  rows.push_back(Txn("badcur", "c1", At(2023, 1, 1), 5));
  rows.back().amount->currency = "euro";
  rows.push_back(Txn("othercur", "c1", At(2023, 1, 1), 5));
  rows.back().amount->currency = "USD";
  rows.push_back(Txn(std::string(200, 'x'), "c1", At(2023, 1, 1), 5));
  auto result = Store().RecordTransactions("", rows);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->accepted, 1);
  ASSERT_EQ(result->rejected, 6);
  const RowError& future = result->rejections[0];
  EXPECT_EQ(future.row_index, 1);
  EXPECT_EQ(future.field, "time");
  EXPECT_EQ(future.reason, RejectReason::kOutOfRange);
  EXPECT_EQ(result->rejections[1].reason, RejectReason::kOutOfRange);
  EXPECT_EQ(result->rejections[2].field, "customer_id");
  EXPECT_EQ(result->rejections[2].reason, RejectReason::kMissingField);
  EXPECT_EQ(result->rejections[3].reason, RejectReason::kInvalidValue);
  EXPECT_EQ(result->rejections[4].reason, RejectReason::kCurrencyMismatch);
  EXPECT_EQ(result->rejections[5].reason, RejectReason::kTooLong);
}

TEST_F(IngestionStoreTest, UpsertReportsCreatedUpdatedUnchanged) {
  CustomerRecord c;
  c.id = "acme";
  c.kind = 2;
  c.industry = "steel";
  c.tags = {"vip", "north"};
  auto created = Store().UpsertCustomers("", {&c, 1}, nullptr);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->created, 1);
  auto unchanged = Store().UpsertCustomers("", {&c, 1}, nullptr);
  EXPECT_EQ(unchanged->unchanged, 1);
  CustomerRecord patch;
  patch.id = "acme";
  patch.region = "east";
  std::set<std::string> mask = {"region"};
  auto updated = Store().UpsertCustomers("", {&patch, 1}, &mask);
  EXPECT_EQ(updated->updated, 1);
  auto stored = Store().GetCustomer("acme");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->industry, "steel");  // Not in the mask: kept.
  EXPECT_EQ(stored->region, "east");
  EXPECT_EQ(stored->tags, (std::vector<std::string>{"north", "vip"}));
}

TEST_F(IngestionStoreTest, ListFiltersByKindRegionAndTag) {
  std::vector<CustomerRecord> customers(3);
  customers[0].id = "a";
  customers[0].kind = 2;
  customers[0].region = "east";
  customers[0].tags = {"vip"};
  customers[1].id = "b";
  customers[1].kind = 2;
  customers[1].region = "west";
  customers[2].id = "c";
  customers[2].kind = 3;
  customers[2].region = "east";
  customers[2].tags = {"vip"};
  ASSERT_TRUE(Store().UpsertCustomers("", customers, nullptr).ok());
  auto ids = [&](absl::string_view filter) {
    std::vector<std::string> out;
    auto parsed = ParseCustomerFilter(filter);
    EXPECT_TRUE(parsed.ok()) << filter;
    auto listed = Store().ListCustomers(*parsed, "", 100);
    EXPECT_TRUE(listed.ok());
    if (!listed.ok()) return out;
    for (const auto& c : *listed) out.push_back(c.id);
    return out;
  };
  EXPECT_EQ(ids("kind=ENTERPRISE"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ids("region=\"east\" AND tag=vip"),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(ids("kind=CUSTOMER_KIND_GOVERNMENT and region=east"),
            (std::vector<std::string>{"c"}));
  EXPECT_EQ(ids(""), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THAT(ParseCustomerFilter("colour=red"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCustomerFilter("kind=ALIEN"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IngestionStoreTest,
       AListedPageCarriesEachCustomersOwnTagsAndAttributes) {
  // Ids a..e; the filter skips b and d, whose tags and attributes lie inside
  // the page's id range and must not leak into a, c or e.
  std::vector<CustomerRecord> customers(5);
  for (int i = 0; i < 5; ++i) {
    CustomerRecord& c = customers[i];
    c.id = std::string(1, static_cast<char>('a' + i));
    c.kind = i % 2 == 0 ? 2 : 3;
    c.tags = {absl::StrCat("tag-", c.id), "shared"};
    c.attributes = {{"owner", absl::StrCat("owner-", c.id)}};
  }
  customers[4].tags.clear();
  customers[4].attributes.clear();
  ASSERT_TRUE(Store().UpsertCustomers("", customers, nullptr).ok());
  auto filter = ParseCustomerFilter("kind=ENTERPRISE");
  ASSERT_TRUE(filter.ok());
  auto listed = Store().ListCustomers(*filter, "", 100);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  for (const CustomerRecord& c : *listed) {
    auto alone = Store().GetCustomer(c.id);  // One customer at a time.
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(c.tags, alone->tags) << c.id;
    EXPECT_EQ(c.attributes, alone->attributes) << c.id;
  }
  EXPECT_EQ((*listed)[0].tags, (std::vector<std::string>{"shared", "tag-a"}));
  EXPECT_EQ((*listed)[1].attributes.at("owner"), "owner-c");
  EXPECT_TRUE((*listed)[2].tags.empty());
  EXPECT_TRUE((*listed)[2].attributes.empty());
  // A page that ends inside the range: after "a", one customer.
  auto second = Store().ListCustomers(*filter, "a", 1);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, "c");
  EXPECT_EQ((*second)[0].tags, (std::vector<std::string>{"shared", "tag-c"}));
}

TEST_F(IngestionStoreTest, CustomerNamesSkipUnknownIds) {
  std::vector<CustomerRecord> customers(2);
  customers[0].id = "acme";
  customers[0].kind = 2;
  customers[0].display_name = "Acme Steel";
  customers[1].id = "city";
  customers[1].kind = 3;
  customers[1].display_name = "City of Ulm";
  ASSERT_TRUE(Store().UpsertCustomers("", customers, nullptr).ok());
  const std::vector<std::string> ids = {"city", "nobody", "acme", "city"};
  auto names = Store().GetCustomerNames(ids);
  ASSERT_TRUE(names.ok()) << names.status();
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ(names->at("acme").kind, 2);
  EXPECT_EQ(names->at("acme").display_name, "Acme Steel");
  EXPECT_EQ(names->at("city").kind, 3);
  EXPECT_EQ(names->at("city").display_name, "City of Ulm");
  EXPECT_FALSE(names->contains("nobody"));
}

TEST_F(IngestionStoreTest, DeleteCustomerErasesEverythingAboutIt) {
  std::vector<TransactionRow> rows = {Txn("t1", "c1", At(2023, 1, 1), 5),
                                      Txn("t2", "c2", At(2023, 1, 1), 5)};
  ASSERT_TRUE(Store().RecordTransactions("", rows).ok());
  InteractionRow visit;
  visit.id = "i1";
  visit.customer_id = "c1";
  visit.kind = 1;
  visit.time = At(2023, 1, 2);
  ASSERT_TRUE(Store().RecordInteractions("", {&visit, 1}).ok());
  auto deleted = Store().DeleteCustomer("c1");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->transactions, 1);
  EXPECT_EQ(deleted->interactions, 1);
  EXPECT_THAT(Store().GetCustomer("c1"), StatusIs(absl::StatusCode::kNotFound));
  // The log keeps c2's row and frees c1's id (a re-import may bring it back).
  EXPECT_EQ(db_->execAndGet("SELECT group_concat(id) FROM transaction_ids")
                .getString(),
            "t2");
  EXPECT_EQ(Store().RecordTransactions("", {&rows[0], 1})->accepted, 1);
  ASSERT_TRUE(Store().DeleteCustomer("c1").ok());
  for (const char* table :
       {"customer_days", "customer_orders", "interactions"}) {
    EXPECT_EQ(db_->execAndGet(absl::StrCat("SELECT count(*) FROM ", table,
                                           " WHERE customer_id = 'c1'"))
                  .getInt(),
              0)
        << table;
  }
  EXPECT_TRUE(Store().GetCustomer("c2").ok());
  EXPECT_THAT(Store().DeleteCustomer("c1"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IngestionStoreTest, InteractionFilterSelectsKindChannelAndTime) {
  std::vector<InteractionRow> rows(4);
  const int kinds[] = {1, 4, 4, 5};  // VISIT, SURVEY, SURVEY, COMPLAINT
  for (int i = 0; i < 4; ++i) {
    rows[i].id = absl::StrCat("i", i);
    rows[i].customer_id = "c";
    rows[i].kind = kinds[i];
    rows[i].time = At(2023, 1, 1 + i);
    rows[i].channel = i == 2 ? "web" : "phone";
  }
  ASSERT_TRUE(Store().RecordInteractions("", rows).ok());
  auto ids = [&](absl::string_view text) {
    std::vector<std::string> out;
    auto filter = ParseInteractionFilter(text);
    EXPECT_TRUE(filter.ok()) << text;
    if (!filter.ok()) return out;
    auto listed = Store().ListInteractions("", *filter, std::nullopt, 100);
    EXPECT_TRUE(listed.ok());
    if (!listed.ok()) return out;
    for (const InteractionRow& row : *listed) out.push_back(row.id);
    return out;
  };
  EXPECT_EQ(ids("kind=SURVEY"), (std::vector<std::string>{"i2", "i1"}));
  EXPECT_EQ(ids("kind=INTERACTION_KIND_SURVEY AND channel=\"web\""),
            (std::vector<std::string>{"i2"}));
  EXPECT_EQ(
      ids("time>=\"2023-01-02T12:00:00Z\" AND time<\"2023-01-04T00:00:00Z\""),
      (std::vector<std::string>{"i2", "i1"}));
  EXPECT_EQ(ids("time>\"2023-01-02T12:00:00Z\""),
            (std::vector<std::string>{"i3", "i2"}));
  EXPECT_EQ(ids(""), (std::vector<std::string>{"i3", "i2", "i1", "i0"}));
  EXPECT_THAT(ParseInteractionFilter("time>=yesterday"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseInteractionFilter("mood=happy"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IngestionStoreTest, RequestIdReusedForOtherRowsIsRefused) {
  std::vector<TransactionRow> first = {Txn("a", "c", At(2023, 1, 1), 5),
                                       Txn("b", "c", At(2023, 1, 1), 5)};
  ASSERT_TRUE(Store().RecordTransactions("req", first).ok());
  // Same id, a different (larger) batch: a resumed import with another
  // batch size. Replaying would hide row "d".
  std::vector<TransactionRow> second = first;
  second.push_back(Txn("d", "c", At(2023, 1, 1), 5));
  EXPECT_THAT(Store().RecordTransactions("req", second),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Store().GetCustomer("c")->stats.transaction_count, 2);
}

TEST_F(IngestionStoreTest, ReplayWorksWhenRejectedIdsHoldSeparators) {
  std::vector<TransactionRow> rows = {Txn("a\x1F\x1E", "c", At(2023, 1, 1), 5),
                                      Txn("ok", "c", At(2023, 1, 1), 5)};
  auto first = Store().RecordTransactions("req", rows);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->rejected, 1);
  auto replay = Store().RecordTransactions("req", rows);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->replayed);
  ASSERT_EQ(replay->rejections.size(), 1u);
  EXPECT_EQ(replay->rejections[0].row_id, "a\x1F\x1E");
}

TEST_F(IngestionStoreTest, AmountsBeyondOneBillionUnitsAreOutOfRange) {
  std::vector<TransactionRow> rows = {
      Txn("big", "c", At(2023, 1, 1), 9'000'000'000'000'000'000),
      Txn("max", "c", At(2023, 1, 1), 1'000'000'000'000'000)};
  auto result = Store().RecordTransactions("", rows);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->accepted, 1);
  ASSERT_EQ(result->rejected, 1);
  EXPECT_EQ(result->rejections[0].reason, RejectReason::kOutOfRange);
}

TEST_F(IngestionStoreTest, TransactionIdsAndOrderIdsNeverShareAnOrder) {
  // "X" is a transaction without an order on day 1 and an order id on
  // day 2: two orders, not one.
  std::vector<TransactionRow> rows = {Txn("X", "c", At(2023, 1, 1), 5),
                                      Txn("t2", "c", At(2023, 1, 2), 5, "X")};
  ASSERT_TRUE(Store().RecordTransactions("", rows).ok());
  auto c = Store().GetCustomer("c");
  EXPECT_EQ(c->stats.order_count, 2);
  EXPECT_EQ(c->stats.purchase_day_count, 2);
}

}  // namespace
}  // namespace custra
