// SegmentationService against a real custra-server on loopback, through the
// SDK. Every expected value below is worked out by hand from the contract in
// protos/custra/v1/segmentation.proto (the comments show the arithmetic);
// none comes from the model code.

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "custra/client.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::UnorderedElementsAre;

// Every run looks at the data as of this date unless a test says otherwise;
// "day -n" in the comments is `kAsOf - n`.
constexpr absl::CivilDay kAsOf(2023, 6, 30);

int64_t Usd(int64_t dollars) { return dollars * 1'000'000; }

v1::Date ToDate(absl::CivilDay day) {
  v1::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

std::string Str(const v1::Date& date) {
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(),
                         date.day());
}

// "A->C x2": one cell of a transition matrix.
std::string Cell(const v1::SegmentTransition& t) {
  return absl::StrCat(t.from_segment(), "->", t.to_segment(), " x",
                      t.customer_count());
}

// The field of the one field violation of an INVALID_ARGUMENT status.
std::string ViolatedField(const absl::Status& status) {
  const ErrorDetails details = ErrorDetailsOf(status);
  if (details.field_violations.size() != 1) {
    return absl::StrCat("<", details.field_violations.size(), " violations>");
  }
  return details.field_violations[0].field;
}

std::vector<std::string> SegmentNames(const v1::SegmentationRun& run) {
  std::vector<std::string> names;
  for (const v1::SegmentSummary& s : run.segments()) {
    names.push_back(s.segment());
  }
  return names;
}

std::vector<int64_t> SegmentCounts(const v1::SegmentationRun& run) {
  std::vector<int64_t> counts;
  for (const v1::SegmentSummary& s : run.segments()) {
    counts.push_back(s.customer_count());
  }
  return counts;
}

std::vector<std::string> Ids(const std::vector<v1::SegmentMember>& members) {
  std::vector<std::string> ids;
  for (const v1::SegmentMember& m : members) ids.push_back(m.customer_id());
  return ids;
}

std::map<std::string, v1::SegmentMember> ById(
    const std::vector<v1::SegmentMember>& members) {
  std::map<std::string, v1::SegmentMember> out;
  for (const v1::SegmentMember& m : members) out[m.customer_id()] = m;
  return out;
}

// A request as of `as_of` with no model set yet.
v1::RunSegmentationRequest AsOf(absl::CivilDay as_of) {
  v1::RunSegmentationRequest request;
  *request.mutable_as_of_date() = ToDate(as_of);
  return request;
}

v1::RunSegmentationRequest RfmRequest(absl::CivilDay as_of = kAsOf) {
  v1::RunSegmentationRequest request = AsOf(as_of);
  request.mutable_parameters()->mutable_rfm();
  return request;
}

v1::RunSegmentationRequest AbcRequest(absl::CivilDay as_of = kAsOf) {
  v1::RunSegmentationRequest request = AsOf(as_of);
  request.mutable_parameters()->mutable_abc();
  return request;
}

// The RFM values of one member as the contract defines them; the three
// scores are the digits of `code`.
struct ExpectedRfm {
  const char* id;
  int64_t recency_days;
  int64_t frequency;
  int64_t monetary_dollars;
  const char* code;
  const char* segment;
};

void ExpectRfmMembers(const std::vector<v1::SegmentMember>& members,
                      std::span<const ExpectedRfm> expected) {
  ASSERT_EQ(members.size(), expected.size());
  const auto by_id = ById(members);
  for (const ExpectedRfm& e : expected) {
    SCOPED_TRACE(e.id);
    auto it = by_id.find(e.id);
    ASSERT_NE(it, by_id.end());
    const v1::SegmentMember& m = it->second;
    ASSERT_TRUE(m.has_rfm());
    EXPECT_EQ(m.rfm().recency_days(), e.recency_days);
    EXPECT_EQ(m.rfm().frequency(), e.frequency);
    EXPECT_EQ(m.rfm().monetary().amount_micros(), Usd(e.monetary_dollars));
    EXPECT_EQ(m.revenue().amount_micros(), Usd(e.monetary_dollars));
    EXPECT_EQ(m.rfm().recency_score(), e.code[0] - '0');
    EXPECT_EQ(m.rfm().frequency_score(), e.code[1] - '0');
    EXPECT_EQ(m.rfm().monetary_score(), e.code[2] - '0');
    EXPECT_EQ(m.rfm().rfm_code(), e.code);
    EXPECT_EQ(m.segment(), e.segment);
  }
}

// The default map's segments, in map order.
constexpr const char* kRfmSegments[] = {
    "Hibernating",    "At Risk",        "Can't Lose Them",
    "About To Sleep", "Need Attention", "Loyal Customers",
    "Promising",      "New Customers",  "Potential Loyalists",
    "Champions"};

class SegmentationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / "data";
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = Connect("", server_->admin_key());
    ASSERT_TRUE(admin_->CreateTenant("acme").ok());
    auto key = admin_->IssueApiKey("acme");
    ASSERT_TRUE(key.ok());
    acme_ = Connect("acme", key->secret());
  }

  std::unique_ptr<Client> Connect(const std::string& tenant,
                                  const std::string& key) {
    ClientOptions options;
    options.target = server_->address();
    options.tenant_id = tenant;
    options.api_key = key;
    options.default_deadline = absl::Seconds(20);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  // A USD transaction at noon UTC of `day` with a fresh id; negative
  // dollars are a return.
  v1::Transaction Buy(const std::string& customer, absl::CivilDay day,
                      int64_t dollars, const std::string& order = "") {
    v1::Transaction t;
    t.set_id(absl::StrCat("t", ++transaction_count_));
    t.set_customer_id(customer);
    t.mutable_time()->set_seconds((day - absl::CivilDay(1970, 1, 1)) * 86400 +
                                  12 * 3600);
    t.mutable_amount()->set_currency_code("USD");
    t.mutable_amount()->set_amount_micros(Usd(dollars));
    t.set_order_id(order);
    return t;
  }

  void Record(const std::vector<v1::Transaction>& rows) {
    auto result = acme_->RecordTransactions(rows);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->rejected_count(), 0) << result->DebugString();
    ASSERT_EQ(result->accepted_count(), static_cast<int32_t>(rows.size()));
  }

  void Upsert(const std::vector<v1::Customer>& customers) {
    auto result = acme_->UpsertCustomers(customers);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->rejected_count(), 0) << result->DebugString();
  }

  v1::SegmentationRun Run(const v1::RunSegmentationRequest& request) {
    auto run = acme_->RunSegmentation(request);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *std::move(run) : v1::SegmentationRun();
  }

  // Every member of a run, following next_page_token.
  std::vector<v1::SegmentMember> Members(const std::string& run_id,
                                         const std::string& order_by = "",
                                         const std::string& filter = "") {
    std::vector<v1::SegmentMember> members;
    v1::ListSegmentMembersRequest request;
    request.set_run_id(run_id);
    request.set_order_by(order_by);
    request.set_filter(filter);
    request.set_page_size(1000);
    do {
      auto page = acme_->ListSegmentMembers(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      members.insert(members.end(), page->members().begin(),
                     page->members().end());
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    return members;
  }

  int RunCount() {
    auto runs = acme_->ListRuns(v1::ListRunsRequest());
    EXPECT_TRUE(runs.ok()) << runs.status();
    return runs.ok() ? runs->runs_size() : -1;
  }

  // The shop: ten buying customers and one with only a return. "$a on d1,
  // d2, ..." is a single-line order of $a on each of those days.
  //
  //   id   purchases                                  R days  F  M ($)
  //   c01  5 orders of two lines ($60 + $40, one        20    5  500
  //        order id) on -20, -30, -40, -50, -60
  //   c02  $40 on -5, -15, -25                           5    3  120
  //   c03  $50 on -60, -70, ..., -110                   60    6  300
  //   c04  $50 on -30, -40, -50, -60                    30    4  200
  //   c05  $125 on 0, -10, ..., -70; returns $100 on -3  0    8  900
  //   c06  $50 on -150                                 150    1   50
  //   c07  $60 on -5, -15                                5    2  120
  //   c08  $30 on -170, -173, -176, -179; returns      170    4   80
  //        $40 on -100 (a return is not a purchase, so recency stays 170)
  //   c09  $30 on -45, -55                              45    2   60
  //   c10  $100 on -100, -110, ..., -160               100    7  700
  //   c11  only a $25 return on -20: no purchase, never in a population
  void LoadShop() {
    std::vector<v1::Transaction> rows;
    auto every_ten_days = [&](const std::string& customer, int64_t dollars,
                              int first_day_before, int count) {
      for (int i = 0; i < count; ++i) {
        rows.push_back(
            Buy(customer, kAsOf - (first_day_before + 10 * i), dollars));
      }
    };
    for (int i = 0; i < 5; ++i) {
      const std::string order = absl::StrCat("c01-order-", i);
      rows.push_back(Buy("c01", kAsOf - (20 + 10 * i), 60, order));
      rows.push_back(Buy("c01", kAsOf - (20 + 10 * i), 40, order));
    }
    every_ten_days("c02", 40, 5, 3);
    every_ten_days("c03", 50, 60, 6);
    every_ten_days("c04", 50, 30, 4);
    every_ten_days("c05", 125, 0, 8);
    rows.push_back(Buy("c05", kAsOf - 3, -100));
    every_ten_days("c06", 50, 150, 1);
    every_ten_days("c07", 60, 5, 2);
    for (int day : {170, 173, 176, 179}) {
      rows.push_back(Buy("c08", kAsOf - day, 30));
    }
    rows.push_back(Buy("c08", kAsOf - 100, -40));
    every_ten_days("c09", 30, 45, 2);
    every_ten_days("c10", 100, 100, 7);
    rows.push_back(Buy("c11", kAsOf - 20, -25));
    Record(rows);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> admin_;
  std::unique_ptr<Client> acme_;
  int transaction_count_ = 0;
};

// The shop's RFM run over all history as of 2023-06-30. n = 10, so the
// customer at rank i scores ceil(5 i / 10): ranks 1-2 score 1, 3-4 score 2,
// ..., 9-10 score 5.
//
// Recency, descending (ties by id): c08 170, c06 150 | c10 100, c03 60 |
//   c09 45, c04 30 | c01 20, c02 5 | c07 5, c05 0. The tie c02 = c07 = 5
//   days straddles R4 / R5: c02 (lower id) ranks 8 -> R4, c07 ranks 9 -> R5.
// Frequency, ascending: c06 1, c07 2 | c09 2, c02 3 | c04 4, c08 4 |
//   c01 5, c03 6 | c10 7, c05 8. The tie c07 = c09 = 2 straddles F1 / F2.
// Monetary, ascending: c06 50, c09 60 | c08 80, c02 120 | c07 120, c04 200 |
//   c03 300, c01 500 | c10 700, c05 900. The tie c02 = c07 = $120 straddles
//   M2 / M3.
// Segments from the default R x F map.
constexpr ExpectedRfm kShopRfm[] = {
    {"c01", 20, 5, 500, "444", "Loyal Customers"},     // R3-4 / F4-5
    {"c02", 5, 3, 120, "422", "Potential Loyalists"},  // R4-5 / F2-3
    {"c03", 60, 6, 300, "244", "At Risk"},             // R1-2 / F3-4
    {"c04", 30, 4, 200, "333", "Need Attention"},      // R3 / F3
    {"c05", 0, 8, 900, "555", "Champions"},            // R5 / F4-5
    {"c06", 150, 1, 50, "111", "Hibernating"},         // R1-2 / F1-2
    {"c07", 5, 2, 120, "513", "New Customers"},        // R5 / F1
    {"c08", 170, 4, 80, "132", "At Risk"},             // R1-2 / F3-4
    {"c09", 45, 2, 60, "321", "About To Sleep"},       // R3 / F1-2
    {"c10", 100, 7, 700, "255", "Can't Lose Them"},    // R1-2 / F5
};

TEST_F(SegmentationTest, RfmOnHandWorkedShop) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun run = Run(RfmRequest());
  ASSERT_FALSE(run.id().empty());
  EXPECT_EQ(run.model(), v1::SEGMENTATION_MODEL_RFM);
  EXPECT_EQ(Str(run.as_of_date()), "2023-06-30");
  EXPECT_FALSE(run.has_window_start_date());
  // Defaults are filled in: the ten rules of the default map.
  EXPECT_EQ(run.parameters().rfm().segment_map_size(), 10);
  // c11 has no purchase, so ten members with 500 + 120 + 300 + 200 + 900 +
  // 50 + 120 + 80 + 60 + 700 = $3,030.
  EXPECT_EQ(run.customer_count(), 10);
  EXPECT_EQ(run.total_revenue().amount_micros(), Usd(3030));
  EXPECT_EQ(run.total_revenue().currency_code(), "USD");
  EXPECT_THAT(SegmentNames(run), ElementsAreArray(kRfmSegments));
  // Hibernating c06; At Risk c03, c08; Can't Lose Them c10; About To Sleep
  // c09; Need Attention c04; Loyal c01; Promising none; New c07; Potential
  // Loyalists c02; Champions c05.
  EXPECT_THAT(SegmentCounts(run), ElementsAre(1, 2, 1, 1, 1, 1, 0, 1, 1, 1));
  const v1::SegmentSummary& at_risk = run.segments(1);
  EXPECT_EQ(at_risk.revenue().amount_micros(), Usd(380));  // 300 + 80
  EXPECT_DOUBLE_EQ(at_risk.customer_share(), 0.2);
  EXPECT_DOUBLE_EQ(at_risk.revenue_share(), 380.0 / 3030.0);
  EXPECT_EQ(run.segments(6).revenue().amount_micros(), 0);

  // Score bands: score 1 holds c08, c06 (recency), c06, c07 (frequency) and
  // c06, c09 (monetary); score 5 holds c07, c05 / c10, c05 / c10, c05.
  ASSERT_EQ(run.rfm().score_bands_size(), 5);
  const v1::RfmScoreBand& band1 = run.rfm().score_bands(0);
  EXPECT_EQ(band1.score(), 1);
  EXPECT_EQ(band1.recency_customer_count(), 2);
  EXPECT_EQ(band1.recency_days_min(), 150);
  EXPECT_EQ(band1.recency_days_max(), 170);
  EXPECT_EQ(band1.frequency_min(), 1);
  EXPECT_EQ(band1.frequency_max(), 2);
  EXPECT_EQ(band1.monetary_min().amount_micros(), Usd(50));
  EXPECT_EQ(band1.monetary_max().amount_micros(), Usd(60));
  const v1::RfmScoreBand& band5 = run.rfm().score_bands(4);
  EXPECT_EQ(band5.score(), 5);
  EXPECT_EQ(band5.recency_days_min(), 0);
  EXPECT_EQ(band5.recency_days_max(), 5);
  EXPECT_EQ(band5.frequency_min(), 7);
  EXPECT_EQ(band5.frequency_max(), 8);
  EXPECT_EQ(band5.monetary_min().amount_micros(), Usd(700));
  EXPECT_EQ(band5.monetary_max().amount_micros(), Usd(900));
  // Grid cells by R then F: R1/F3 (index 2) is c08, R5/F1 (index 20) c07.
  ASSERT_EQ(run.rfm().grid_size(), 25);
  EXPECT_EQ(run.rfm().grid(2).recency_score(), 1);
  EXPECT_EQ(run.rfm().grid(2).frequency_score(), 3);
  EXPECT_EQ(run.rfm().grid(2).customer_count(), 1);
  EXPECT_EQ(run.rfm().grid(2).revenue().amount_micros(), Usd(80));
  EXPECT_EQ(run.rfm().grid(2).segment(), "At Risk");
  EXPECT_EQ(run.rfm().grid(20).customer_count(), 1);
  EXPECT_EQ(run.rfm().grid(20).revenue().amount_micros(), Usd(120));
  EXPECT_EQ(run.rfm().grid(20).segment(), "New Customers");

  const std::vector<v1::SegmentMember> members = Members(run.id());
  ExpectRfmMembers(members, kShopRfm);
  // Default order: rfm_code descending.
  EXPECT_THAT(Ids(members), ElementsAre("c05", "c07", "c01", "c02", "c04",
                                        "c09", "c10", "c03", "c08", "c06"));
  // c08's last purchase is day -170 (2023-01-11), not its later return.
  EXPECT_EQ(Str(ById(members)["c08"].rfm().last_purchase_date()), "2023-01-11");
  // The return-only customer is not a member.
  EXPECT_TRUE(Members(run.id(), "", "customer_id=c11").empty());
  // GetRun returns the stored run as RunSegmentation did.
  auto got = acme_->GetRun(run.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->customer_count(), 10);
  EXPECT_THAT(SegmentCounts(*got), ElementsAre(1, 2, 1, 1, 1, 1, 0, 1, 1, 1));
}

// A window [2023-05-11, 2023-06-20] (days -50 to -10) is read from the
// per-day rollups: only purchases on days -50 .. -10 count, and recency is
// measured to 2023-06-20 (day -10).
//
//   c01  -20, -30, -40, -50 of its orders: F 4, M $400, last -20 -> R 10
//   c02  -15, -25: F 2, M $80, R 5        c04  -30, -40, -50: F 3, $150, R 20
//   c05  -10 .. -50: F 5, M $625 (the return on -3 is after the window), R 0
//   c07  -15: F 1, $60, R 5               c09  -45: F 1, $30, R 35
//   c03, c06, c08, c10 bought only before day -50; c11 has only a return.
//
// n = 6: rank i scores ceil(5 i / 6) = 1, 2, 3, 4, 5, 5.
//   Recency desc: c09 35, c04 20, c01 10, c02 5, c07 5, c05 0.
//   Frequency asc: c07 1, c09 1, c02 2, c04 3, c01 4, c05 5.
//   Monetary asc: c09 30, c07 60, c02 80, c04 150, c01 400, c05 625.
TEST_F(SegmentationTest, WindowedRfmReadsDailyRollups) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  v1::RunSegmentationRequest request = RfmRequest(kAsOf - 10);
  *request.mutable_window_start_date() = ToDate(kAsOf - 50);
  const v1::SegmentationRun run = Run(request);
  EXPECT_EQ(Str(run.as_of_date()), "2023-06-20");
  EXPECT_EQ(Str(run.window_start_date()), "2023-05-11");
  EXPECT_EQ(run.customer_count(), 6);
  // 400 + 80 + 150 + 625 + 60 + 30.
  EXPECT_EQ(run.total_revenue().amount_micros(), Usd(1345));
  constexpr ExpectedRfm kWindowed[] = {
      {"c01", 10, 4, 400, "355", "Loyal Customers"},
      {"c02", 5, 2, 80, "433", "Potential Loyalists"},
      {"c04", 20, 3, 150, "244", "At Risk"},
      {"c05", 0, 5, 625, "555", "Champions"},
      {"c07", 5, 1, 60, "512", "New Customers"},
      {"c09", 35, 1, 30, "121", "Hibernating"},
  };
  ExpectRfmMembers(Members(run.id()), kWindowed);
}

// ABC over all history with one more customer, c12, who bought $20 and
// returned $30 (net -$10): in the population (it has a purchase), always C.
//
// Ranked by revenue: c05 900, c10 700, c01 500, c03 300, c04 200, c02 120,
// c07 120, c08 80, c09 60, c06 50, c12 -10. Positive total $3,030.
// Cumulative shares: 900/3030 = .297, 1600 = .528, 2100 = .693,
// 2400 = .792 (<= .80: A) | 2600 = .858, 2720 = .898, 2840 = .937
// (<= .95: B) | 2920 = .964, 2980, 3030 = 1 (C) | c12 non-positive (C).
TEST_F(SegmentationTest, AbcClassesAndParetoCurve) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  ASSERT_NO_FATAL_FAILURE(
      Record({Buy("c12", kAsOf - 90, 20), Buy("c12", kAsOf - 80, -30)}));
  const v1::SegmentationRun run = Run(AbcRequest());
  EXPECT_EQ(run.model(), v1::SEGMENTATION_MODEL_ABC);
  EXPECT_EQ(run.customer_count(), 11);
  EXPECT_EQ(run.total_revenue().amount_micros(), Usd(3020));
  EXPECT_THAT(SegmentNames(run), ElementsAre("A", "B", "C"));
  EXPECT_THAT(SegmentCounts(run), ElementsAre(4, 3, 4));
  // A: 900 + 700 + 500 + 300.
  EXPECT_EQ(run.segments(0).revenue().amount_micros(), Usd(2400));
  // Defaults filled in.
  EXPECT_EQ(run.parameters().abc().metric(),
            v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  EXPECT_EQ(run.parameters().abc().mode(), v1::ABC_CUTOFF_MODE_VALUE_SHARE);
  EXPECT_DOUBLE_EQ(run.parameters().abc().a_cutoff(), 0.80);
  EXPECT_DOUBLE_EQ(run.parameters().abc().b_cutoff(), 0.95);
  EXPECT_EQ(run.parameters().abc().curve_points(), 101);

  EXPECT_EQ(run.abc().metric(), v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  EXPECT_EQ(run.abc().positive_value_total().amount_micros(), Usd(3030));
  EXPECT_EQ(run.abc().non_positive_customer_count(), 1);
  ASSERT_EQ(run.abc().curve_size(), 101);
  EXPECT_DOUBLE_EQ(run.abc().curve(0).customer_share(), 0.0);
  EXPECT_DOUBLE_EQ(run.abc().curve(0).value_share(), 0.0);
  EXPECT_DOUBLE_EQ(run.abc().curve(100).customer_share(), 1.0);
  EXPECT_DOUBLE_EQ(run.abc().curve(100).value_share(), 1.0);
  // Point 50 of 101: the top ceil(50 * 11 / 100) = 6 customers hold
  // 900 + 700 + 500 + 300 + 200 + 120 = 2,720 of 3,030.
  EXPECT_DOUBLE_EQ(run.abc().curve(50).customer_share(), 0.5);
  EXPECT_DOUBLE_EQ(run.abc().curve(50).value_share(), 2720.0 / 3030.0);

  const std::vector<v1::SegmentMember> members = Members(run.id());
  // Default order: rank (the c02 = c07 tie goes to the lower id).
  EXPECT_THAT(Ids(members),
              ElementsAre("c05", "c10", "c01", "c03", "c04", "c02", "c07",
                          "c08", "c09", "c06", "c12"));
  std::vector<std::string> classes;
  for (const auto& m : members) classes.push_back(m.segment());
  EXPECT_THAT(classes, ElementsAre("A", "A", "A", "A", "B", "B", "B", "C", "C",
                                   "C", "C"));
  auto by_id = ById(members);
  const v1::AbcMemberDetails& c03 = by_id["c03"].abc();
  EXPECT_EQ(c03.rank(), 4);
  EXPECT_EQ(c03.value().amount_micros(), Usd(300));
  EXPECT_DOUBLE_EQ(c03.value_share(), 300.0 / 3030.0);
  EXPECT_DOUBLE_EQ(c03.cumulative_value_share(), 2400.0 / 3030.0);
  EXPECT_DOUBLE_EQ(c03.cumulative_customer_share(), 4.0 / 11.0);
  const v1::AbcMemberDetails& c07 = by_id["c07"].abc();
  EXPECT_EQ(c07.rank(), 7);
  EXPECT_DOUBLE_EQ(c07.cumulative_value_share(), 2840.0 / 3030.0);
  const v1::AbcMemberDetails& c12 = by_id["c12"].abc();
  EXPECT_EQ(c12.rank(), 11);
  EXPECT_EQ(c12.value().amount_micros(), Usd(-10));
  EXPECT_DOUBLE_EQ(c12.value_share(), 0.0);
  EXPECT_DOUBLE_EQ(c12.cumulative_value_share(), 1.0);
  EXPECT_DOUBLE_EQ(c12.cumulative_customer_share(), 1.0);

  // Customer-share mode with its defaults (0.20 / 0.50): A is rank / 11 <=
  // 0.2 (ranks 1-2), B rank / 11 <= 0.5 (ranks 3-5), C the other six.
  v1::RunSegmentationRequest by_count = AbcRequest();
  by_count.mutable_parameters()->mutable_abc()->set_mode(
      v1::ABC_CUTOFF_MODE_CUSTOMER_SHARE);
  const v1::SegmentationRun counted = Run(by_count);
  EXPECT_DOUBLE_EQ(counted.parameters().abc().a_cutoff(), 0.20);
  EXPECT_DOUBLE_EQ(counted.parameters().abc().b_cutoff(), 0.50);
  EXPECT_THAT(SegmentCounts(counted), ElementsAre(2, 3, 6));
}

TEST_F(SegmentationTest, RunIsIdempotentPerRequestId) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  v1::RunSegmentationRequest request = RfmRequest();
  request.set_request_id("nightly-2023-06-30");
  request.set_display_name("nightly RFM");
  const v1::SegmentationRun first = Run(request);
  ASSERT_FALSE(first.id().empty());
  const v1::SegmentationRun again = Run(request);
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.display_name(), "nightly RFM");
  EXPECT_EQ(again.customer_count(), 10);
  EXPECT_EQ(RunCount(), 1);

  // The same request id with other parameters is refused.
  v1::RunSegmentationRequest other = AbcRequest();
  other.set_request_id("nightly-2023-06-30");
  auto refused = acme_->RunSegmentation(other);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrorDetailsOf(refused.status()).reason, "FAILED_PRECONDITION");
  // So is the same model with another as-of date.
  v1::RunSegmentationRequest later = request;
  *later.mutable_as_of_date() = ToDate(kAsOf + 1);
  EXPECT_THAT(acme_->RunSegmentation(later),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(RunCount(), 1);
}

TEST_F(SegmentationTest, BadParametersAreRejectedAndStoreNothing) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  auto expect_invalid = [&](const v1::RunSegmentationRequest& request,
                            const std::string& field) {
    SCOPED_TRACE(field);
    auto result = acme_->RunSegmentation(request);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(ViolatedField(result.status()), field);
    EXPECT_EQ(ErrorDetailsOf(result.status()).reason, "INVALID_FIELD");
  };

  // b_cutoff must lie in (a_cutoff, 1]; the server names b_cutoff.
  v1::RunSegmentationRequest abc = AbcRequest();
  abc.mutable_parameters()->mutable_abc()->set_a_cutoff(0.5);
  abc.mutable_parameters()->mutable_abc()->set_b_cutoff(0.4);
  expect_invalid(abc, "parameters.abc.b_cutoff");

  // The two value-matrix axes must differ.
  v1::RunSegmentationRequest matrix = AsOf(kAsOf);
  v1::ValueMatrixParameters* vm =
      matrix.mutable_parameters()->mutable_value_matrix();
  vm->mutable_x_axis()->set_axis(v1::VALUE_MATRIX_AXIS_REVENUE);
  vm->mutable_y_axis()->set_axis(v1::VALUE_MATRIX_AXIS_REVENUE);
  expect_invalid(matrix, "parameters.value_matrix.y_axis.axis");

  // A custom RFM map covering R1-4 only leaves the 25 R5 cells unmapped.
  v1::RunSegmentationRequest rfm = RfmRequest();
  v1::RfmSegmentRule* rule =
      rfm.mutable_parameters()->mutable_rfm()->add_segment_map();
  rule->set_name("Everyone but R5");
  for (int r : {1, 2, 3, 4}) rule->add_patterns()->add_recency_scores(r);
  expect_invalid(rfm, "parameters.rfm.segment_map");

  v1::RunSegmentationRequest window = RfmRequest();
  *window.mutable_window_start_date() = ToDate(kAsOf + 1);
  expect_invalid(window, "window_start_date");

  v1::RunSegmentationRequest feb30 = RfmRequest();
  feb30.mutable_as_of_date()->set_month(2);
  feb30.mutable_as_of_date()->set_day(30);
  expect_invalid(feb30, "as_of_date");

  v1::RunSegmentationRequest filter = RfmRequest();
  filter.set_customer_filter("colour=red");
  expect_invalid(filter, "customer_filter");

  const v1::RunSegmentationRequest no_model = AsOf(kAsOf);
  expect_invalid(no_model, "parameters");

  // Predicted CLV needs a fitted customer-value model; the tenant has none.
  v1::RunSegmentationRequest clv = AsOf(kAsOf);
  clv.mutable_parameters()->mutable_value_matrix()->mutable_x_axis()->set_axis(
      v1::VALUE_MATRIX_AXIS_PREDICTED_CLV);
  auto no_clv = acme_->RunSegmentation(clv);
  EXPECT_THAT(no_clv, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ErrorDetailsOf(no_clv.status()).reason, "FAILED_PRECONDITION");

  EXPECT_EQ(RunCount(), 0);
}

TEST_F(SegmentationTest, ListSegmentMembersPagesFiltersAndSorts) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun run = Run(RfmRequest());
  ASSERT_FALSE(run.id().empty());

  // Pages of 3 over the 10 members in the default order (rfm_code desc):
  // 3 + 3 + 3 + 1, every member once.
  v1::ListSegmentMembersRequest request;
  request.set_run_id(run.id());
  request.set_page_size(3);
  std::vector<std::string> ids;
  std::vector<int> page_sizes;
  std::string first_token;
  do {
    auto page = acme_->ListSegmentMembers(request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->total_size(), 10);
    page_sizes.push_back(page->members_size());
    for (const auto& m : page->members()) ids.push_back(m.customer_id());
    if (first_token.empty()) first_token = page->next_page_token();
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty() && page_sizes.size() < 10u);
  EXPECT_THAT(page_sizes, ElementsAre(3, 3, 3, 1));
  EXPECT_THAT(ids, ElementsAre("c05", "c07", "c01", "c02", "c04", "c09", "c10",
                               "c03", "c08", "c06"));

  // Monetary descending; the $120 tie of c02 and c07 goes by customer id.
  EXPECT_THAT(Ids(Members(run.id(), "monetary desc")),
              ElementsAre("c05", "c10", "c01", "c03", "c04", "c02", "c07",
                          "c08", "c09", "c06"));
  // Recency ascending, then customer id: the 5-day tie c02, c07.
  EXPECT_THAT(Ids(Members(run.id(), "recency_days, customer_id desc")),
              ElementsAre("c05", "c07", "c02", "c01", "c04", "c09", "c03",
                          "c10", "c06", "c08"));

  // Filter by segment: At Risk holds c03 (244) and c08 (132).
  v1::ListSegmentMembersRequest at_risk;
  at_risk.set_run_id(run.id());
  at_risk.set_filter("segment=\"At Risk\"");
  auto filtered = acme_->ListSegmentMembers(at_risk);
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_EQ(filtered->total_size(), 2);
  EXPECT_TRUE(filtered->next_page_token().empty());
  std::vector<std::string> risky;
  for (const auto& m : filtered->members()) risky.push_back(m.customer_id());
  EXPECT_THAT(risky, ElementsAre("c03", "c08"));

  // `rank` is a field of ABC runs, not of this RFM run.
  v1::ListSegmentMembersRequest by_rank;
  by_rank.set_run_id(run.id());
  by_rank.set_order_by("rank");
  auto bad_order = acme_->ListSegmentMembers(by_rank);
  EXPECT_THAT(bad_order, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(bad_order.status()), "order_by");

  // A page token of the unfiltered listing, used with a filter.
  ASSERT_FALSE(first_token.empty());
  v1::ListSegmentMembersRequest mixed = at_risk;
  mixed.set_page_size(3);
  mixed.set_page_token(first_token);
  auto bad_token = acme_->ListSegmentMembers(mixed);
  EXPECT_THAT(bad_token, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(bad_token.status()), "page_token");
  EXPECT_EQ(ErrorDetailsOf(bad_token.status()).reason, "INVALID_PAGE_TOKEN");
}

// Base: ABC as of 2023-06-30 over all history (the shop):
//   A c05 900, c10 700, c01 500, c03 300 | B c04 200, c02 120, c07 120 |
//   C c08 80, c09 60, c06 50.
// Then c09 buys $1,000 on 2023-07-10 and a new customer c13 $400 on
// 2023-07-20. Target: ABC as of 2023-07-31 over [2023-01-15, 2023-07-31],
// which drops c08 (purchases 2023-01-02 .. 01-11; its return on 03-22 is no
// purchase). Total 1060 + 900 + 700 + 500 + 400 + 300 + 200 + 120 + 120 + 50
// = 4,350; cumulative: c09 .244, c05 .451, c10 .611, c01 .726 (A) | c13
// .818, c03 .887, c04 .933 (B) | c02 .961, c07 .989, c06 1 (C).
TEST_F(SegmentationTest, CompareRunsTransitionMatrix) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun base = Run(AbcRequest());
  EXPECT_THAT(SegmentCounts(base), ElementsAre(4, 3, 3));
  ASSERT_NO_FATAL_FAILURE(
      Record({Buy("c09", absl::CivilDay(2023, 7, 10), 1000),
              Buy("c13", absl::CivilDay(2023, 7, 20), 400)}));
  v1::RunSegmentationRequest later = AbcRequest(absl::CivilDay(2023, 7, 31));
  *later.mutable_window_start_date() = ToDate(absl::CivilDay(2023, 1, 15));
  const v1::SegmentationRun target = Run(later);
  EXPECT_THAT(SegmentCounts(target), ElementsAre(4, 3, 3));

  auto compared = acme_->CompareRuns(base.id(), target.id());
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_EQ(compared->base_model(), v1::SEGMENTATION_MODEL_ABC);
  EXPECT_EQ(compared->target_model(), v1::SEGMENTATION_MODEL_ABC);
  EXPECT_THAT(compared->from_segments(), ElementsAre("A", "B", "C"));
  EXPECT_THAT(compared->to_segments(), ElementsAre("A", "B", "C"));
  // A->A c01 c05 c10; A->B c03; B->B c04; B->C c02 c07; C->A c09; C->C c06;
  // c08 left, c13 entered.
  std::vector<std::string> cells;
  for (const auto& t : compared->transitions()) cells.push_back(Cell(t));
  ASSERT_EQ(cells.size(), 8u);
  EXPECT_THAT(std::vector<std::string>(cells.begin(), cells.begin() + 6),
              ElementsAre("A->A x3", "A->B x1", "B->B x1", "B->C x2", "C->A x1",
                          "C->C x1"));
  EXPECT_THAT(std::vector<std::string>(cells.begin() + 6, cells.end()),
              UnorderedElementsAre("C-> x1", "->B x1"));
  std::map<std::string, double> from_share;
  for (const auto& t : compared->transitions()) {
    from_share[Cell(t)] = t.from_share();
  }
  EXPECT_DOUBLE_EQ(from_share["A->A x3"], 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(from_share["A->B x1"], 1.0 / 4.0);
  EXPECT_DOUBLE_EQ(from_share["B->C x2"], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(from_share["C->A x1"], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(from_share["C-> x1"], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(from_share["->B x1"], 0.0);
  EXPECT_EQ(compared->common_customer_count(), 9);
  EXPECT_EQ(compared->unchanged_customer_count(), 5);  // c01 c05 c10 c04 c06
  EXPECT_EQ(compared->left_customer_count(), 1);
  EXPECT_EQ(compared->entered_customer_count(), 1);

  // The B->C cell, one member per page.
  v1::ListSegmentTransitionMembersRequest cell;
  cell.set_base_run_id(base.id());
  cell.set_target_run_id(target.id());
  cell.set_from_segment("B");
  cell.set_to_segment("C");
  cell.set_page_size(1);
  auto page1 = acme_->ListSegmentTransitionMembers(cell);
  ASSERT_TRUE(page1.ok()) << page1.status();
  EXPECT_EQ(page1->total_size(), 2);
  ASSERT_EQ(page1->members_size(), 1);
  const v1::SegmentTransitionMember& c02 = page1->members(0);
  EXPECT_EQ(c02.customer_id(), "c02");
  EXPECT_EQ(c02.base().segment(), "B");
  EXPECT_EQ(c02.base().abc().rank(), 6);
  EXPECT_EQ(c02.target().segment(), "C");
  EXPECT_EQ(c02.target().abc().rank(), 8);
  ASSERT_FALSE(page1->next_page_token().empty());
  cell.set_page_token(page1->next_page_token());
  auto page2 = acme_->ListSegmentTransitionMembers(cell);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->members_size(), 1);
  EXPECT_EQ(page2->members(0).customer_id(), "c07");
  EXPECT_TRUE(page2->next_page_token().empty());

  // The entering cell: c13, with no base assignment.
  v1::ListSegmentTransitionMembersRequest entered;
  entered.set_base_run_id(base.id());
  entered.set_target_run_id(target.id());
  entered.set_to_segment("B");
  auto newcomers = acme_->ListSegmentTransitionMembers(entered);
  ASSERT_TRUE(newcomers.ok()) << newcomers.status();
  ASSERT_EQ(newcomers->members_size(), 1);
  EXPECT_EQ(newcomers->members(0).customer_id(), "c13");
  EXPECT_FALSE(newcomers->members(0).has_base());
  EXPECT_EQ(newcomers->members(0).target().abc().value().amount_micros(),
            Usd(400));
}

TEST_F(SegmentationTest, GetCustomerSegmentsGivesLatestRunPerModel) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun abc = Run(AbcRequest());
  const v1::SegmentationRun rfm_all = Run(RfmRequest());
  // The windowed run of WindowedRfmReadsDailyRollups: c05 is in it
  // ("555", Champions), c03 is not.
  v1::RunSegmentationRequest windowed = RfmRequest(kAsOf - 10);
  *windowed.mutable_window_start_date() = ToDate(kAsOf - 50);
  const v1::SegmentationRun rfm_window = Run(windowed);

  auto c05 = acme_->GetCustomerSegments("c05");
  ASSERT_TRUE(c05.ok()) << c05.status();
  ASSERT_EQ(c05->assignments_size(), 2);
  EXPECT_EQ(c05->assignments(0).model(), v1::SEGMENTATION_MODEL_ABC);
  EXPECT_EQ(c05->assignments(0).run_id(), abc.id());
  EXPECT_EQ(c05->assignments(0).member().segment(), "A");
  EXPECT_EQ(c05->assignments(0).member().abc().rank(), 1);
  EXPECT_EQ(c05->assignments(1).model(), v1::SEGMENTATION_MODEL_RFM);
  EXPECT_EQ(c05->assignments(1).run_id(), rfm_window.id());
  EXPECT_EQ(Str(c05->assignments(1).as_of_date()), "2023-06-20");
  EXPECT_EQ(c05->assignments(1).member().segment(), "Champions");
  EXPECT_EQ(c05->assignments(1).member().rfm().frequency(), 5);

  // c03 is outside the newest RFM run, so its RFM entry is the older run's.
  auto c03 = acme_->GetCustomerSegments("c03");
  ASSERT_TRUE(c03.ok()) << c03.status();
  ASSERT_EQ(c03->assignments_size(), 2);
  EXPECT_EQ(c03->assignments(0).run_id(), abc.id());
  EXPECT_EQ(c03->assignments(0).member().segment(), "A");
  EXPECT_EQ(c03->assignments(1).run_id(), rfm_all.id());
  EXPECT_EQ(c03->assignments(1).member().segment(), "At Risk");
  EXPECT_EQ(c03->assignments(1).member().rfm().rfm_code(), "244");

  // A customer in no run has no assignments; an unknown one is NOT_FOUND.
  auto c11 = acme_->GetCustomerSegments("c11");
  ASSERT_TRUE(c11.ok()) << c11.status();
  EXPECT_EQ(c11->assignments_size(), 0);
  EXPECT_THAT(acme_->GetCustomerSegments("nobody"),
              StatusIs(absl::StatusCode::kNotFound));

  // ListRuns filtered by model, newest first.
  v1::ListRunsRequest rfm_runs;
  rfm_runs.set_filter("model=RFM");
  auto listed = acme_->ListRuns(rfm_runs);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->runs_size(), 2);
  EXPECT_EQ(listed->runs(0).id(), rfm_window.id());
  EXPECT_EQ(listed->runs(1).id(), rfm_all.id());
}

// ListRuns and GetRun send the stored runs without parsing them; the client
// reads each as RunSegmentation returned it, in order, across pages, with no
// bytes left over.
TEST_F(SegmentationTest, ListRunsAndGetRunReturnTheRunsAsCreated) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun abc = Run(AbcRequest());
  const v1::SegmentationRun rfm = Run(RfmRequest());
  v1::RunSegmentationRequest windowed = RfmRequest(kAsOf - 10);
  *windowed.mutable_window_start_date() = ToDate(kAsOf - 50);
  const v1::SegmentationRun rfm_window = Run(windowed);
  const std::vector<const v1::SegmentationRun*> newest_first = {&rfm_window,
                                                                &rfm, &abc};

  v1::ListRunsRequest request;
  request.set_page_size(2);
  std::vector<v1::SegmentationRun> listed;
  int pages = 0;
  do {
    auto page = acme_->ListRuns(request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->GetReflection()->GetUnknownFields(*page).field_count(), 0);
    listed.insert(listed.end(), page->runs().begin(), page->runs().end());
    request.set_page_token(page->next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 5);
  EXPECT_EQ(pages, 2);
  ASSERT_EQ(listed.size(), newest_first.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(listed[i], *newest_first[i]))
        << "run " << i << ": " << listed[i].ShortDebugString();
    EXPECT_EQ(
        listed[i].GetReflection()->GetUnknownFields(listed[i]).field_count(),
        0);
  }

  auto got = acme_->GetRun(rfm.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, rfm));
  EXPECT_EQ(got->GetReflection()->GetUnknownFields(*got).field_count(), 0);
  EXPECT_THAT(acme_->GetRun(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(acme_->GetRun("run-none"), StatusIs(absl::StatusCode::kNotFound));
}

// Lifecycle as of 2023-06-30 with the defaults (new 90 days, periods of 90
// days, growth / decline 20 %, lost after 365 days, overdue at 2x the
// median gap with >= 3 purchase days). Latest period: days -89 .. 0;
// previous period: days -179 .. -90.
//
//   p-prospect  no purchase                         prospect  NO_PURCHASE
//   p-new       $80 on -30: first purchase 30 <= 90 new       RECENT_FIRST_
//   p-lost      $70 on -400 (2022-05-26): 400 > 365 lost      INACTIVE_...
//   p-growth    $100 on -170, $150 on -30: +50 %    growth    SPEND_UP
//   p-mature    $100 on -170, $110 on -30: +10 %    maturity  STABLE
//   p-decline   $200 on -170, $100 on -30: -50 %    decline   SPEND_DOWN
//   p-overdue   $50 on -170, -160, -150: median gap decline   PURCHASE_
//               10, 150 days since > 2 x 10                   OVERDUE
TEST_F(SegmentationTest, LifecycleStages) {
  v1::Customer prospect;
  prospect.set_id("p-prospect");
  prospect.set_kind(v1::CUSTOMER_KIND_INDIVIDUAL);
  ASSERT_NO_FATAL_FAILURE(Upsert({prospect}));
  ASSERT_NO_FATAL_FAILURE(Record({
      Buy("p-new", kAsOf - 30, 80),
      Buy("p-lost", kAsOf - 400, 70),
      Buy("p-growth", kAsOf - 170, 100),
      Buy("p-growth", kAsOf - 30, 150),
      Buy("p-mature", kAsOf - 170, 100),
      Buy("p-mature", kAsOf - 30, 110),
      Buy("p-decline", kAsOf - 170, 200),
      Buy("p-decline", kAsOf - 30, 100),
      Buy("p-overdue", kAsOf - 170, 50),
      Buy("p-overdue", kAsOf - 160, 50),
      Buy("p-overdue", kAsOf - 150, 50),
  }));
  v1::RunSegmentationRequest request = AsOf(kAsOf);
  request.mutable_parameters()->mutable_lifecycle();
  const v1::SegmentationRun run = Run(request);
  EXPECT_EQ(run.model(), v1::SEGMENTATION_MODEL_LIFECYCLE);
  const v1::LifecycleParameters& applied = run.parameters().lifecycle();
  EXPECT_EQ(applied.new_customer_days(), 90);
  EXPECT_EQ(applied.period_days(), 90);
  EXPECT_DOUBLE_EQ(applied.growth_threshold(), 0.20);
  EXPECT_DOUBLE_EQ(applied.decline_threshold(), 0.20);
  EXPECT_EQ(applied.lost_after_days(), 365);
  EXPECT_FALSE(applied.has_lost_p_alive_below());

  EXPECT_EQ(run.customer_count(), 7);
  // 80 + 70 + 250 + 210 + 300 + 150.
  EXPECT_EQ(run.total_revenue().amount_micros(), Usd(1060));
  EXPECT_THAT(SegmentNames(run), ElementsAre("prospect", "new", "growth",
                                             "maturity", "decline", "lost"));
  EXPECT_THAT(SegmentCounts(run), ElementsAre(1, 1, 1, 1, 2, 1));
  // Every rule in rule order, with how many customers it decided.
  std::vector<std::string> rule_counts;
  for (const auto& c : run.lifecycle().rule_counts()) {
    rule_counts.push_back(absl::StrCat(v1::LifecycleRule_Name(c.rule()), " ",
                                       c.customer_count()));
  }
  EXPECT_THAT(rule_counts, ElementsAre("LIFECYCLE_RULE_NO_PURCHASE 1",
                                       "LIFECYCLE_RULE_INACTIVE_TOO_LONG 1",
                                       "LIFECYCLE_RULE_LOW_P_ALIVE 0",
                                       "LIFECYCLE_RULE_RECENT_FIRST_PURCHASE 1",
                                       "LIFECYCLE_RULE_PURCHASE_OVERDUE 1",
                                       "LIFECYCLE_RULE_NO_RECENT_SPEND 0",
                                       "LIFECYCLE_RULE_SPEND_DOWN 1",
                                       "LIFECYCLE_RULE_SPEND_UP 1",
                                       "LIFECYCLE_RULE_STABLE 1"));

  const std::vector<v1::SegmentMember> members = Members(run.id());
  // Default order: stage order, ties by customer id.
  EXPECT_THAT(Ids(members),
              ElementsAre("p-prospect", "p-new", "p-growth", "p-mature",
                          "p-decline", "p-overdue", "p-lost"));
  auto by_id = ById(members);
  struct Expected {
    const char* id;
    const char* segment;
    v1::LifecycleStage stage;
    v1::LifecycleRule rule;
  };
  for (const Expected& e : std::vector<Expected>{
           {"p-prospect", "prospect", v1::LIFECYCLE_STAGE_PROSPECT,
            v1::LIFECYCLE_RULE_NO_PURCHASE},
           {"p-new", "new", v1::LIFECYCLE_STAGE_NEW,
            v1::LIFECYCLE_RULE_RECENT_FIRST_PURCHASE},
           {"p-growth", "growth", v1::LIFECYCLE_STAGE_GROWTH,
            v1::LIFECYCLE_RULE_SPEND_UP},
           {"p-mature", "maturity", v1::LIFECYCLE_STAGE_MATURITY,
            v1::LIFECYCLE_RULE_STABLE},
           {"p-decline", "decline", v1::LIFECYCLE_STAGE_DECLINE,
            v1::LIFECYCLE_RULE_SPEND_DOWN},
           {"p-overdue", "decline", v1::LIFECYCLE_STAGE_DECLINE,
            v1::LIFECYCLE_RULE_PURCHASE_OVERDUE},
           {"p-lost", "lost", v1::LIFECYCLE_STAGE_LOST,
            v1::LIFECYCLE_RULE_INACTIVE_TOO_LONG},
       }) {
    SCOPED_TRACE(e.id);
    const v1::SegmentMember& m = by_id[e.id];
    EXPECT_EQ(m.segment(), e.segment);
    EXPECT_EQ(m.lifecycle().stage(), e.stage);
    EXPECT_EQ(m.lifecycle().rule(), e.rule);
    EXPECT_FALSE(m.lifecycle().explanation().empty());
  }
  const v1::LifecycleMemberDetails& prospect_details =
      by_id["p-prospect"].lifecycle();
  EXPECT_FALSE(prospect_details.has_first_purchase_date());
  EXPECT_FALSE(prospect_details.has_last_purchase_date());
  const v1::LifecycleMemberDetails& growth = by_id["p-growth"].lifecycle();
  EXPECT_EQ(growth.latest_period_spend().amount_micros(), Usd(150));
  EXPECT_EQ(growth.previous_period_spend().amount_micros(), Usd(100));
  ASSERT_TRUE(growth.has_spend_change());
  EXPECT_DOUBLE_EQ(growth.spend_change(), 0.5);
  EXPECT_FALSE(growth.has_typical_interval_days());  // 2 purchase days < 3
  EXPECT_DOUBLE_EQ(by_id["p-mature"].lifecycle().spend_change(), 0.1);
  EXPECT_DOUBLE_EQ(by_id["p-decline"].lifecycle().spend_change(), -0.5);
  EXPECT_FALSE(by_id["p-new"].lifecycle().has_spend_change());
  const v1::LifecycleMemberDetails& overdue = by_id["p-overdue"].lifecycle();
  ASSERT_TRUE(overdue.has_typical_interval_days());
  EXPECT_DOUBLE_EQ(overdue.typical_interval_days(), 10.0);
  EXPECT_EQ(overdue.previous_period_spend().amount_micros(), Usd(150));
  EXPECT_EQ(overdue.latest_period_spend().amount_micros(), 0);
  const v1::LifecycleMemberDetails& lost = by_id["p-lost"].lifecycle();
  EXPECT_EQ(Str(lost.first_purchase_date()), "2022-05-26");
  EXPECT_EQ(Str(lost.last_purchase_date()), "2022-05-26");
  EXPECT_FALSE(lost.has_p_alive());
}

TEST_F(SegmentationTest, ManClassesAndApproaches) {
  auto account = [](const std::string& id, v1::CustomerKind kind,
                    v1::ManLevel money, v1::ManLevel authority,
                    v1::ManLevel need) {
    v1::Customer c;
    c.set_id(id);
    c.set_kind(kind);
    c.mutable_man_assessment()->set_money(money);
    c.mutable_man_assessment()->set_authority(authority);
    c.mutable_man_assessment()->set_need(need);
    return c;
  };
  v1::Customer person;
  person.set_id("m-person");
  person.set_kind(v1::CUSTOMER_KIND_INDIVIDUAL);
  ASSERT_NO_FATAL_FAILURE(Upsert({
      account("m-ideal", v1::CUSTOMER_KIND_ENTERPRISE, v1::MAN_LEVEL_HIGH,
              v1::MAN_LEVEL_HIGH, v1::MAN_LEVEL_HIGH),
      // Only money assessed: unassessed, never guessed.
      account("m-partial", v1::CUSTOMER_KIND_GOVERNMENT, v1::MAN_LEVEL_HIGH,
              v1::MAN_LEVEL_UNSPECIFIED, v1::MAN_LEVEL_UNSPECIFIED),
      account("m-none", v1::CUSTOMER_KIND_ENTERPRISE, v1::MAN_LEVEL_LOW,
              v1::MAN_LEVEL_LOW, v1::MAN_LEVEL_LOW),
      person,  // Individuals are not classified by default.
  }));
  ASSERT_NO_FATAL_FAILURE(
      Record({Buy("m-ideal", absl::CivilDay(2023, 6, 1), 1000)}));
  v1::RunSegmentationRequest request = AsOf(kAsOf);
  request.mutable_parameters()->mutable_man();
  const v1::SegmentationRun run = Run(request);
  EXPECT_EQ(run.model(), v1::SEGMENTATION_MODEL_MAN);
  EXPECT_THAT(
      run.parameters().man().customer_kinds(),
      ElementsAre(v1::CUSTOMER_KIND_ENTERPRISE, v1::CUSTOMER_KIND_GOVERNMENT));
  EXPECT_EQ(run.customer_count(), 3);
  EXPECT_THAT(SegmentNames(run),
              ElementsAre("M+A+N+", "M+A+N-", "M+A-N+", "M-A+N+", "M+A-N-",
                          "M-A+N-", "M-A-N+", "M-A-N-", "unassessed"));
  EXPECT_THAT(SegmentCounts(run), ElementsAre(1, 0, 0, 0, 0, 0, 0, 1, 1));
  EXPECT_EQ(run.segments(0).revenue().amount_micros(), Usd(1000));
  EXPECT_DOUBLE_EQ(run.segments(0).revenue_share(), 1.0);

  std::vector<v1::ManApproach> approaches;
  for (const auto& a : run.man().approaches()) {
    approaches.push_back(a.approach());
  }
  EXPECT_THAT(
      approaches,
      ElementsAre(v1::MAN_APPROACH_PURSUE, v1::MAN_APPROACH_DEVELOP_NEED,
                  v1::MAN_APPROACH_REACH_DECISION_MAKER,
                  v1::MAN_APPROACH_ARRANGE_FINANCING, v1::MAN_APPROACH_NURTURE,
                  v1::MAN_APPROACH_NURTURE, v1::MAN_APPROACH_NURTURE,
                  v1::MAN_APPROACH_DISQUALIFY, v1::MAN_APPROACH_ASSESS));
  EXPECT_EQ(run.man().approaches(2).man_class(), v1::MAN_CLASS_MONEY_NEED);
  EXPECT_EQ(run.man().approaches(2).segment(), "M+A-N+");

  const std::vector<v1::SegmentMember> members = Members(run.id());
  // Default order: segment order.
  EXPECT_THAT(Ids(members), ElementsAre("m-ideal", "m-none", "m-partial"));
  auto by_id = ById(members);
  EXPECT_EQ(by_id["m-ideal"].segment(), "M+A+N+");
  EXPECT_EQ(by_id["m-ideal"].man().man_class(),
            v1::MAN_CLASS_MONEY_AUTHORITY_NEED);
  EXPECT_EQ(by_id["m-ideal"].man().approach(), v1::MAN_APPROACH_PURSUE);
  EXPECT_EQ(by_id["m-ideal"].revenue().amount_micros(), Usd(1000));
  EXPECT_EQ(by_id["m-none"].segment(), "M-A-N-");
  EXPECT_EQ(by_id["m-none"].man().man_class(), v1::MAN_CLASS_NONE);
  EXPECT_EQ(by_id["m-none"].man().approach(), v1::MAN_APPROACH_DISQUALIFY);
  const v1::ManMemberDetails& partial = by_id["m-partial"].man();
  EXPECT_EQ(by_id["m-partial"].segment(), "unassessed");
  EXPECT_EQ(partial.man_class(), v1::MAN_CLASS_UNASSESSED);
  EXPECT_EQ(partial.approach(), v1::MAN_APPROACH_ASSESS);
  EXPECT_EQ(partial.assessment().money(), v1::MAN_LEVEL_HIGH);
  EXPECT_EQ(partial.assessment().authority(), v1::MAN_LEVEL_UNSPECIFIED);
  EXPECT_EQ(partial.assessment().need(), v1::MAN_LEVEL_UNSPECIFIED);
}

// Four customers by region:
//   s1 east  $100 on 2023-02-10, $300 on 2023-05-10
//   s2 east  $100 on 2023-02-20
//   s3 west  $200 on 2023-03-05, $500 on 2023-06-01
//   s4 (no region)  $200 on 2023-05-20
// Current period [2023-04-01, 2023-06-30]: s1 300, s3 500, s4 200 (total
// 1,000). The comparison as of 2023-03-31 takes a window as long as the
// current one: 91 days, [2022-12-31, 2023-03-31]: s1 100, s2 100, s3 200
// (total 400).
TEST_F(SegmentationTest, StructureReportByRegionAndBySegment) {
  auto customer = [](const std::string& id, const std::string& region) {
    v1::Customer c;
    c.set_id(id);
    c.set_kind(v1::CUSTOMER_KIND_INDIVIDUAL);
    c.set_region(region);
    return c;
  };
  ASSERT_NO_FATAL_FAILURE(
      Upsert({customer("s1", "east"), customer("s2", "east"),
              customer("s3", "west"), customer("s4", "")}));
  ASSERT_NO_FATAL_FAILURE(Record({
      Buy("s1", absl::CivilDay(2023, 2, 10), 100),
      Buy("s1", absl::CivilDay(2023, 5, 10), 300),
      Buy("s2", absl::CivilDay(2023, 2, 20), 100),
      Buy("s3", absl::CivilDay(2023, 3, 5), 200),
      Buy("s3", absl::CivilDay(2023, 6, 1), 500),
      Buy("s4", absl::CivilDay(2023, 5, 20), 200),
  }));

  v1::GetStructureReportRequest request;
  request.set_dimension(v1::STRUCTURE_DIMENSION_REGION);
  *request.mutable_period()->mutable_as_of_date() = ToDate(kAsOf);
  *request.mutable_period()->mutable_window_start_date() =
      ToDate(absl::CivilDay(2023, 4, 1));
  *request.mutable_comparison_period()->mutable_as_of_date() =
      ToDate(absl::CivilDay(2023, 3, 31));
  auto report = acme_->GetStructureReport(request);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->dimension(), v1::STRUCTURE_DIMENSION_REGION);

  const v1::StructureSnapshot& now = report->current();
  EXPECT_EQ(now.customer_count(), 3);
  EXPECT_EQ(now.total_revenue().amount_micros(), Usd(1000));
  // By revenue descending: west 500, east 300, "" 200.
  ASSERT_EQ(now.groups_size(), 3);
  EXPECT_EQ(now.groups(0).key(), "west");
  EXPECT_EQ(now.groups(0).customer_count(), 1);
  EXPECT_DOUBLE_EQ(now.groups(0).customer_share(), 1.0 / 3.0);
  EXPECT_EQ(now.groups(0).revenue().amount_micros(), Usd(500));
  EXPECT_DOUBLE_EQ(now.groups(0).revenue_share(), 0.5);
  EXPECT_EQ(now.groups(1).key(), "east");
  EXPECT_EQ(now.groups(1).customer_count(), 1);
  EXPECT_DOUBLE_EQ(now.groups(1).revenue_share(), 0.3);
  EXPECT_EQ(now.groups(2).key(), "");
  EXPECT_DOUBLE_EQ(now.groups(2).revenue_share(), 0.2);
  // Concentration over 500, 300, 200: the top 10 hold everything; HHI
  // .5^2 + .3^2 + .2^2 = .38, over customers and over groups alike.
  EXPECT_EQ(now.concentration().metric(),
            v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  EXPECT_EQ(now.concentration().top_n(), 10);
  EXPECT_DOUBLE_EQ(now.concentration().top_n_share(), 1.0);
  EXPECT_NEAR(now.concentration().customer_hhi(), 0.38, 1e-12);
  EXPECT_NEAR(now.concentration().group_hhi(), 0.38, 1e-12);

  const v1::StructureSnapshot& then = report->comparison();
  EXPECT_EQ(Str(then.period().as_of_date()), "2023-03-31");
  EXPECT_EQ(Str(then.period().window_start_date()), "2022-12-31");
  EXPECT_EQ(then.customer_count(), 3);
  EXPECT_EQ(then.total_revenue().amount_micros(), Usd(400));
  // east 200 (s1, s2) and west 200 tie on revenue: by key.
  ASSERT_EQ(then.groups_size(), 2);
  EXPECT_EQ(then.groups(0).key(), "east");
  EXPECT_EQ(then.groups(0).customer_count(), 2);
  EXPECT_DOUBLE_EQ(then.groups(0).revenue_share(), 0.5);
  EXPECT_EQ(then.groups(1).key(), "west");

  // Changes in the current groups' order: west, east, "".
  ASSERT_EQ(report->changes_size(), 3);
  const v1::StructureGroupChange& west = report->changes(0);
  EXPECT_EQ(west.key(), "west");
  EXPECT_EQ(west.customer_count_change(), 0);
  EXPECT_EQ(west.revenue_change().amount_micros(), Usd(300));  // 500 - 200
  EXPECT_NEAR(west.revenue_share_change(), 0.0, 1e-12);        // .5 - .5
  ASSERT_TRUE(west.has_revenue_growth());
  EXPECT_DOUBLE_EQ(west.revenue_growth(), 1.5);  // 300 / 200
  const v1::StructureGroupChange& east = report->changes(1);
  EXPECT_EQ(east.key(), "east");
  EXPECT_EQ(east.customer_count_change(), -1);                   // 1 - 2
  EXPECT_NEAR(east.customer_share_change(), -1.0 / 3.0, 1e-12);  // 1/3 - 2/3
  EXPECT_EQ(east.revenue_change().amount_micros(), Usd(100));    // 300 - 200
  EXPECT_NEAR(east.revenue_share_change(), -0.2, 1e-12);         // .3 - .5
  EXPECT_DOUBLE_EQ(east.revenue_growth(), 0.5);
  const v1::StructureGroupChange& none = report->changes(2);
  EXPECT_EQ(none.key(), "");
  EXPECT_EQ(none.customer_count_change(), 1);
  EXPECT_EQ(none.revenue_change().amount_micros(), Usd(200));
  EXPECT_FALSE(none.has_revenue_growth());  // nothing before

  // By the segments of an ABC run over all history: s3 700 (.5), s1 400
  // (1100 / 1400 = .786) are A; s4 200 (.929) B; s2 100 C.
  const v1::SegmentationRun abc = Run(AbcRequest());
  v1::GetStructureReportRequest by_segment;
  by_segment.set_dimension(v1::STRUCTURE_DIMENSION_SEGMENT);
  *by_segment.mutable_period()->mutable_as_of_date() = ToDate(kAsOf);
  by_segment.mutable_period()->set_segmentation_run_id(abc.id());
  auto segments = acme_->GetStructureReport(by_segment);
  ASSERT_TRUE(segments.ok()) << segments.status();
  const v1::StructureSnapshot& s = segments->current();
  EXPECT_EQ(s.customer_count(), 4);
  EXPECT_EQ(s.total_revenue().amount_micros(), Usd(1400));
  ASSERT_EQ(s.groups_size(), 3);
  EXPECT_EQ(s.groups(0).key(), "A");
  EXPECT_EQ(s.groups(0).customer_count(), 2);
  EXPECT_EQ(s.groups(0).revenue().amount_micros(), Usd(1100));
  EXPECT_DOUBLE_EQ(s.groups(0).revenue_share(), 1100.0 / 1400.0);
  EXPECT_EQ(s.groups(1).key(), "B");
  EXPECT_EQ(s.groups(1).revenue().amount_micros(), Usd(200));
  EXPECT_EQ(s.groups(2).key(), "C");
  EXPECT_EQ(s.groups(2).revenue().amount_micros(), Usd(100));
  EXPECT_FALSE(segments->has_comparison());
  EXPECT_EQ(segments->changes_size(), 0);

  // SEGMENT without a run id is INVALID_ARGUMENT.
  by_segment.mutable_period()->clear_segmentation_run_id();
  auto no_run = acme_->GetStructureReport(by_segment);
  EXPECT_THAT(no_run, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ViolatedField(no_run.status()), "period.segmentation_run_id");
}

TEST_F(SegmentationTest, DeleteRunRemovesItButNotTheData) {
  ASSERT_NO_FATAL_FAILURE(LoadShop());
  const v1::SegmentationRun run = Run(RfmRequest());
  ASSERT_FALSE(run.id().empty());
  CUSTRA_ASSERT_OK(acme_->DeleteRun(run.id()));
  EXPECT_THAT(acme_->GetRun(run.id()), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(acme_->DeleteRun(run.id()),
              StatusIs(absl::StatusCode::kNotFound));
  v1::ListSegmentMembersRequest members;
  members.set_run_id(run.id());
  EXPECT_THAT(acme_->ListSegmentMembers(members),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(RunCount(), 0);
  auto c05 = acme_->GetCustomer("c05");
  ASSERT_TRUE(c05.ok()) << c05.status();
  EXPECT_EQ(c05->purchase_stats().order_count(), 8);
  EXPECT_EQ(c05->purchase_stats().revenue().amount_micros(), Usd(900));
  auto segments = acme_->GetCustomerSegments("c05");
  ASSERT_TRUE(segments.ok()) << segments.status();
  EXPECT_EQ(segments->assignments_size(), 0);
}

}  // namespace
}  // namespace custra
