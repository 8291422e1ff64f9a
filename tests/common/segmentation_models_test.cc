#include "common/segmentation_models.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "tests/testing/status_matchers.h"

namespace custra {
namespace {

using ::custra::testing::IsOk;
using ::custra::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kTol = 1e-9;

// The field of the single violation of `status` ("" when there is not
// exactly one).
std::string FieldOf(const absl::Status& status) {
  const std::vector<FieldViolation> v = FieldViolationsOf(status);
  return v.size() == 1 ? v[0].field : "";
}

std::string DescriptionOf(const absl::Status& status) {
  const std::vector<FieldViolation> v = FieldViolationsOf(status);
  return v.size() == 1 ? v[0].description : "";
}

CustomerWindowStats Customer(std::string id, int64_t revenue,
                             int64_t profit = 0, int64_t orders = 1,
                             int64_t last_purchase_day = 0) {
  CustomerWindowStats c;
  c.id = std::move(id);
  c.revenue = revenue;
  c.profit = profit;
  c.orders = orders;
  c.purchase_days = orders;
  c.last_purchase_day = last_purchase_day;
  return c;
}

std::vector<int> SegmentsOf(const std::vector<SegmentMember>& members) {
  std::vector<int> segments;
  for (const SegmentMember& m : members) segments.push_back(m.segment);
  return segments;
}

std::vector<int64_t> IntSlotOf(const std::vector<SegmentMember>& members,
                               int slot) {
  std::vector<int64_t> values;
  for (const SegmentMember& m : members) values.push_back(m.ints[slot]);
  return values;
}

// ---------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------

TEST(ShareOfTest, ZeroOrNegativeTotalGivesZero) {
  EXPECT_DOUBLE_EQ(ShareOf(1, 4), 0.25);
  EXPECT_DOUBLE_EQ(ShareOf(-1, 4), -0.25);
  EXPECT_DOUBLE_EQ(ShareOf(1, 0), 0);
  EXPECT_DOUBLE_EQ(ShareOf(1, -5), 0);
}

TEST(SummarizeSegmentsTest, CountsEverySegmentIncludingEmptyOnes) {
  std::vector<SegmentMember> members(4);
  members[0].segment = 0;
  members[0].revenue = 60;
  members[0].profit = 6;
  members[1].segment = 2;
  members[1].revenue = 30;
  members[1].profit = -2;
  members[2].segment = 0;
  members[2].revenue = 10;
  members[2].profit = 0;
  members[3].segment = 2;
  members[3].revenue = 0;
  members[3].profit = -4;
  // Totals: 4 customers, revenue 100, profit 0 (so profit shares are 0).
  const std::vector<SegmentTotals> totals = SummarizeSegments(members, 3);
  ASSERT_EQ(totals.size(), 3u);
  EXPECT_EQ(totals[0].customer_count, 2);
  EXPECT_DOUBLE_EQ(totals[0].customer_share, 0.5);
  EXPECT_EQ(totals[0].revenue, 70);
  EXPECT_DOUBLE_EQ(totals[0].revenue_share, 0.7);
  EXPECT_EQ(totals[0].profit, 6);
  EXPECT_DOUBLE_EQ(totals[0].profit_share, 0);
  EXPECT_EQ(totals[1].customer_count, 0);
  EXPECT_DOUBLE_EQ(totals[1].customer_share, 0);
  EXPECT_EQ(totals[1].revenue, 0);
  EXPECT_EQ(totals[2].customer_count, 2);
  EXPECT_EQ(totals[2].revenue, 30);
  EXPECT_DOUBLE_EQ(totals[2].revenue_share, 0.3);
  EXPECT_EQ(totals[2].profit, -6);
}

TEST(SummarizeSegmentsTest, NoMembers) {
  const std::vector<SegmentTotals> totals = SummarizeSegments({}, 2);
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].customer_count, 0);
  EXPECT_DOUBLE_EQ(totals[0].customer_share, 0);
}

// ---------------------------------------------------------------------------
// ABC
// ---------------------------------------------------------------------------

TEST(AbcTest, SegmentsAreABC) {
  ASSERT_EQ(AbcSegments().size(), 3u);
  EXPECT_EQ(AbcSegments()[0].name, "A");
  EXPECT_EQ(AbcSegments()[1].name, "B");
  EXPECT_EQ(AbcSegments()[2].name, "C");
  for (const SegmentInfo& s : AbcSegments())
    EXPECT_FALSE(s.description.empty());
}

TEST(AbcTest, ValueShareBoundariesAreInclusive) {
  // Values a 15, b 50, c 5, d 30 (total 100). Ranked b, d, a, c with
  // cumulative shares 0.50, 0.80, 0.95, 1.00: b A, d A (exactly 0.80),
  // a B (exactly 0.95), c C.
  const std::vector<CustomerWindowStats> customers = {
      Customer("a", 15'000'000), Customer("b", 50'000'000),
      Customer("c", 5'000'000), Customer("d", 30'000'000)};
  const AbcResult result = RunAbc(customers, AbcParams{});
  ASSERT_EQ(result.members.size(), 4u);
  EXPECT_EQ(result.members[0].customer_id, "a");
  EXPECT_EQ(result.members[3].customer_id, "d");
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(1, 0, 2, 0));
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kRank),
              ElementsAre(3, 1, 4, 2));
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kValue),
              ElementsAre(15'000'000, 50'000'000, 5'000'000, 30'000'000));
  EXPECT_EQ(result.positive_value_total, 100'000'000);
  EXPECT_EQ(result.non_positive_customer_count, 0);

  const SegmentMember& a = result.members[0];
  EXPECT_NEAR(a.reals[AbcSlots::kValueShare], 0.15, kTol);
  EXPECT_NEAR(a.reals[AbcSlots::kCumulativeValueShare], 0.95, kTol);
  EXPECT_NEAR(a.reals[AbcSlots::kCumulativeCustomerShare], 0.75, kTol);
  EXPECT_TRUE(a.has_real(AbcSlots::kValueShare));
  EXPECT_TRUE(a.has_real(AbcSlots::kCumulativeValueShare));
  EXPECT_TRUE(a.has_real(AbcSlots::kCumulativeCustomerShare));
  const SegmentMember& d = result.members[3];
  EXPECT_NEAR(d.reals[AbcSlots::kValueShare], 0.30, kTol);
  EXPECT_NEAR(d.reals[AbcSlots::kCumulativeValueShare], 0.80, kTol);
  EXPECT_NEAR(d.reals[AbcSlots::kCumulativeCustomerShare], 0.50, kTol);
}

TEST(AbcTest, TiesByIdAndNonPositiveValuesAreC) {
  // a 10, b 0, c 10, d -5, e 20; positive total 40. Ranked e (0.50, A),
  // a (0.75, A; tie with c broken by id), c (1.00 > 0.95, C), b (0, C),
  // d (-5, C). b and d keep the cumulative share at 1.
  const std::vector<CustomerWindowStats> customers = {
      Customer("a", 10), Customer("b", 0), Customer("c", 10), Customer("d", -5),
      Customer("e", 20)};
  const AbcResult result = RunAbc(customers, AbcParams{});
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kRank),
              ElementsAre(2, 4, 3, 5, 1));
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(0, 2, 2, 2, 0));
  EXPECT_EQ(result.positive_value_total, 40);
  EXPECT_EQ(result.non_positive_customer_count, 2);
  EXPECT_DOUBLE_EQ(result.members[1].reals[AbcSlots::kValueShare], 0);
  EXPECT_DOUBLE_EQ(result.members[3].reals[AbcSlots::kValueShare], 0);
  EXPECT_DOUBLE_EQ(result.members[3].reals[AbcSlots::kCumulativeValueShare],
                   1.0);
  EXPECT_DOUBLE_EQ(result.members[3].reals[AbcSlots::kCumulativeCustomerShare],
                   1.0);
}

TEST(AbcTest, CustomerShareMode) {
  // c00..c09 with values 10..1 (c09: 0). Cumulative customer share rank/10:
  // A up to 0.2 (c00, c01), B up to 0.5 (c02..c04), C after; c09 is C.
  std::vector<CustomerWindowStats> customers;
  for (int i = 0; i < 10; ++i) {
    customers.push_back(
        Customer(absl::StrCat("c0", i), i == 9 ? 0 : (10 - i) * 1'000'000));
  }
  AbcParams params;
  params.customer_share_mode = true;
  params.a_cutoff = 0.20;
  params.b_cutoff = 0.50;
  const AbcResult result = RunAbc(customers, params);
  EXPECT_THAT(SegmentsOf(result.members),
              ElementsAre(0, 0, 1, 1, 1, 2, 2, 2, 2, 2));
  EXPECT_EQ(result.non_positive_customer_count, 1);
  EXPECT_EQ(result.positive_value_total, 54'000'000);
}

TEST(AbcTest, NonPositiveIsCEvenInsideTheCustomerShareCutoff) {
  // x 5 (rank 1, share 0.5: A); y 0 (rank 2, share 1.0 <= b_cutoff 1.0, but
  // not positive: C).
  AbcParams params;
  params.customer_share_mode = true;
  params.a_cutoff = 0.5;
  params.b_cutoff = 1.0;
  const AbcResult result =
      RunAbc({{Customer("x", 5), Customer("y", 0)}}, params);
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(0, 2));
}

TEST(AbcTest, ProfitMetric) {
  // Revenue favours a, profit favours b: by profit b 40 (rank 1), a -10
  // (rank 2, C).
  AbcParams params;
  params.metric = ValueMetric::kProfit;
  const AbcResult result =
      RunAbc({{Customer("a", 100, -10), Customer("b", 10, 40)}}, params);
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kRank), ElementsAre(2, 1));
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kValue),
              ElementsAre(-10, 40));
  EXPECT_EQ(result.positive_value_total, 40);
  EXPECT_EQ(result.non_positive_customer_count, 1);
  // b holds all positive value: cumulative share 1.0 > 0.95, so C too.
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(2, 2));
}

TEST(AbcTest, AllEqualValues) {
  // Five customers of 1 each: cumulative shares 0.2, 0.4, 0.6, 0.8, 1.0 in
  // id order: A, A, A, A (exactly 0.8), C (1.0 > 0.95).
  std::vector<CustomerWindowStats> customers;
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    customers.push_back(Customer(id, 1'000'000));
  }
  const AbcResult result = RunAbc(customers, AbcParams{});
  EXPECT_THAT(IntSlotOf(result.members, AbcSlots::kRank),
              ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(0, 0, 0, 0, 2));
}

TEST(AbcTest, SingleCustomer) {
  // One customer holds 100 % of the value: cumulative share 1.0 exceeds both
  // cut-offs, so it is C under the literal rule.
  const AbcResult result = RunAbc({{Customer("only", 7)}}, AbcParams{});
  ASSERT_EQ(result.members.size(), 1u);
  EXPECT_EQ(result.members[0].ints[AbcSlots::kRank], 1);
  EXPECT_DOUBLE_EQ(result.members[0].reals[AbcSlots::kValueShare], 1.0);
  EXPECT_DOUBLE_EQ(result.members[0].reals[AbcSlots::kCumulativeValueShare],
                   1.0);
  EXPECT_EQ(result.members[0].segment, 2);
}

TEST(AbcTest, AllZeroValuesGiveZeroShares) {
  AbcParams params;
  params.curve_points = 3;
  const AbcResult result =
      RunAbc({{Customer("a", 0), Customer("b", 0)}}, params);
  EXPECT_EQ(result.positive_value_total, 0);
  EXPECT_EQ(result.non_positive_customer_count, 2);
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(2, 2));
  for (const SegmentMember& m : result.members) {
    EXPECT_DOUBLE_EQ(m.reals[AbcSlots::kValueShare], 0);
    EXPECT_DOUBLE_EQ(m.reals[AbcSlots::kCumulativeValueShare], 0);
  }
  ASSERT_EQ(result.curve.size(), 3u);
  for (const AbcCurvePointValue& p : result.curve) {
    EXPECT_DOUBLE_EQ(p.value_share, 0);
  }
}

TEST(AbcTest, CurvePoints) {
  // Values 50, 30, 15, 5 and 5 points: point k at customer share k/4 covers
  // the top ceil(4k/4) = k customers: value shares 0, .5, .8, .95, 1.
  AbcParams params;
  params.curve_points = 5;
  const AbcResult result = RunAbc({{Customer("a", 50), Customer("b", 30),
                                    Customer("c", 15), Customer("d", 5)}},
                                  params);
  ASSERT_EQ(result.curve.size(), 5u);
  const double customer[] = {0, 0.25, 0.5, 0.75, 1};
  const double value[] = {0, 0.5, 0.8, 0.95, 1};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(result.curve[k].customer_share, customer[k], kTol) << k;
    EXPECT_NEAR(result.curve[k].value_share, value[k], kTol) << k;
  }
}

TEST(AbcTest, CurveRoundsCustomerCountUp) {
  // n = 3, K = 3: point 1 at share 0.5 covers ceil(3 / 2) = 2 customers
  // (60 + 30 of 100 = 0.9).
  AbcParams params;
  params.curve_points = 3;
  const AbcResult result = RunAbc(
      {{Customer("a", 60), Customer("b", 30), Customer("c", 10)}}, params);
  ASSERT_EQ(result.curve.size(), 3u);
  EXPECT_DOUBLE_EQ(result.curve[0].customer_share, 0);
  EXPECT_DOUBLE_EQ(result.curve[0].value_share, 0);
  EXPECT_DOUBLE_EQ(result.curve[1].customer_share, 0.5);
  EXPECT_NEAR(result.curve[1].value_share, 0.9, kTol);
  EXPECT_DOUBLE_EQ(result.curve[2].customer_share, 1);
  EXPECT_DOUBLE_EQ(result.curve[2].value_share, 1);
}

TEST(AbcTest, EmptyPopulation) {
  AbcParams params;
  params.curve_points = 3;
  const AbcResult result = RunAbc({}, params);
  EXPECT_TRUE(result.members.empty());
  EXPECT_EQ(result.positive_value_total, 0);
  EXPECT_EQ(result.non_positive_customer_count, 0);
  ASSERT_EQ(result.curve.size(), 3u);
  EXPECT_DOUBLE_EQ(result.curve[0].customer_share, 0);
  EXPECT_DOUBLE_EQ(result.curve[1].customer_share, 0.5);
  EXPECT_DOUBLE_EQ(result.curve[2].customer_share, 1);
  for (const AbcCurvePointValue& p : result.curve) {
    EXPECT_DOUBLE_EQ(p.value_share, 0);
  }
}

TEST(AbcValidationTest, AcceptsDefaultsOfBothModes) {
  CUSTRA_EXPECT_OK(ValidateAbcParams(AbcParams{}));
  AbcParams params;
  params.customer_share_mode = true;
  params.a_cutoff = 0.2;
  params.b_cutoff = 0.5;
  CUSTRA_EXPECT_OK(ValidateAbcParams(params));
  params.b_cutoff = 1.0;
  params.curve_points = 2;
  CUSTRA_EXPECT_OK(ValidateAbcParams(params));
  params.curve_points = 1001;
  CUSTRA_EXPECT_OK(ValidateAbcParams(params));
}

TEST(AbcValidationTest, RejectsCutoffsOutOfRangeOrOrder) {
  struct Case {
    double a, b;
    int points;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {0, 0.95, 101, "parameters.abc.a_cutoff"},
           {1, 1, 101, "parameters.abc.a_cutoff"},
           {-0.1, 0.95, 101, "parameters.abc.a_cutoff"},
           {std::nan(""), 0.95, 101, "parameters.abc.a_cutoff"},
           {0.8, 0.8, 101, "parameters.abc.b_cutoff"},
           {0.8, 0.7, 101, "parameters.abc.b_cutoff"},
           {0.8, 1.01, 101, "parameters.abc.b_cutoff"},
           {0.8, 0.95, 1, "parameters.abc.curve_points"},
           {0.8, 0.95, 1002, "parameters.abc.curve_points"},
       }) {
    AbcParams params;
    params.a_cutoff = c.a;
    params.b_cutoff = c.b;
    params.curve_points = c.points;
    const absl::Status status = ValidateAbcParams(params);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << c.a << " " << c.b << " " << c.points;
    EXPECT_EQ(FieldOf(status), c.field);
  }
}

// ---------------------------------------------------------------------------
// RFM
// ---------------------------------------------------------------------------

// Index of the default map's rule `name`.
int DefaultRule(absl::string_view name) {
  const std::vector<RfmRule>& map = DefaultRfmMap();
  for (size_t i = 0; i < map.size(); ++i) {
    if (map[i].name == name) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no default rule " << name;
  return -1;
}

constexpr uint8_t Mask(int lo, int hi) {
  uint8_t mask = 0;
  for (int s = lo; s <= hi; ++s) mask |= static_cast<uint8_t>(1u << (s - 1));
  return mask;
}

TEST(RfmMapTest, DefaultMapNamesInOrder) {
  std::vector<std::string> names;
  for (const RfmRule& rule : DefaultRfmMap()) {
    names.push_back(rule.name);
    EXPECT_FALSE(rule.description.empty()) << rule.name;
  }
  EXPECT_THAT(
      names,
      ElementsAre("Hibernating", "At Risk", "Can't Lose Them", "About To Sleep",
                  "Need Attention", "Loyal Customers", "Promising",
                  "New Customers", "Potential Loyalists", "Champions"));
}

TEST(RfmMapTest, DefaultMapCoversEveryCellExactlyOnce) {
  const std::vector<RfmRule>& map = DefaultRfmMap();
  for (int r = 1; r <= 5; ++r) {
    for (int f = 1; f <= 5; ++f) {
      for (int m = 1; m <= 5; ++m) {
        int covering = 0;
        for (const RfmRule& rule : map) {
          for (const RfmPattern& p : rule.patterns) {
            if ((p.recency >> (r - 1) & 1) && (p.frequency >> (f - 1) & 1) &&
                (p.monetary >> (m - 1) & 1)) {
              ++covering;
            }
          }
        }
        EXPECT_EQ(covering, 1) << "R" << r << " F" << f << " M" << m;
      }
    }
  }
  CUSTRA_EXPECT_OK(ValidateRfmMap(map));
}

TEST(RfmMapTest, DefaultMapCells) {
  const std::vector<RfmRule>& map = DefaultRfmMap();
  // Spot checks of the R x F layout, any M.
  for (int m = 1; m <= 5; ++m) {
    EXPECT_EQ(RfmRuleOf(map, 1, 1, m), DefaultRule("Hibernating"));
    EXPECT_EQ(RfmRuleOf(map, 2, 2, m), DefaultRule("Hibernating"));
    EXPECT_EQ(RfmRuleOf(map, 2, 3, m), DefaultRule("At Risk"));
    EXPECT_EQ(RfmRuleOf(map, 1, 5, m), DefaultRule("Can't Lose Them"));
    EXPECT_EQ(RfmRuleOf(map, 3, 2, m), DefaultRule("About To Sleep"));
    EXPECT_EQ(RfmRuleOf(map, 3, 3, m), DefaultRule("Need Attention"));
    EXPECT_EQ(RfmRuleOf(map, 3, 4, m), DefaultRule("Loyal Customers"));
    EXPECT_EQ(RfmRuleOf(map, 4, 5, m), DefaultRule("Loyal Customers"));
    EXPECT_EQ(RfmRuleOf(map, 4, 1, m), DefaultRule("Promising"));
    EXPECT_EQ(RfmRuleOf(map, 5, 1, m), DefaultRule("New Customers"));
    EXPECT_EQ(RfmRuleOf(map, 4, 2, m), DefaultRule("Potential Loyalists"));
    EXPECT_EQ(RfmRuleOf(map, 5, 3, m), DefaultRule("Potential Loyalists"));
    EXPECT_EQ(RfmRuleOf(map, 5, 4, m), DefaultRule("Champions"));
    EXPECT_EQ(RfmRuleOf(map, 5, 5, m), DefaultRule("Champions"));
  }
}

// Every cell except R2 F3 M1.
std::vector<RfmRule> MapMissingR2F3M1() {
  RfmRule rule;
  rule.name = "Rest";
  rule.patterns = {{Mask(1, 1), Mask(1, 5), Mask(1, 5)},
                   {Mask(3, 5), Mask(1, 5), Mask(1, 5)},
                   {Mask(2, 2), Mask(1, 2), Mask(1, 5)},
                   {Mask(2, 2), Mask(4, 5), Mask(1, 5)},
                   {Mask(2, 2), Mask(3, 3), Mask(2, 5)}};
  return {rule};
}

TEST(RfmMapTest, ReportsAnUncoveredCell) {
  const absl::Status status = ValidateRfmMap(MapMissingR2F3M1());
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(status), "parameters.rfm.segment_map");
  EXPECT_EQ(DescriptionOf(status), "cell R2 F3 M1 is not covered by any rule");

  std::vector<RfmRule> fixed = MapMissingR2F3M1();
  fixed.push_back({"Gap", "", {{Mask(2, 2), Mask(3, 3), Mask(1, 1)}}});
  CUSTRA_EXPECT_OK(ValidateRfmMap(fixed));
}

TEST(RfmMapTest, ReportsADoublyCoveredCell) {
  const std::vector<RfmRule> map = {
      {"Low", "", {{Mask(1, 2), Mask(1, 5), Mask(1, 5)}}},
      {"High", "", {{Mask(3, 5), Mask(1, 5), Mask(1, 5)}}},
      {"Extra", "", {{Mask(2, 2), Mask(3, 3), Mask(1, 1)}}}};
  const absl::Status status = ValidateRfmMap(map);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(FieldOf(status), "parameters.rfm.segment_map");
  EXPECT_EQ(DescriptionOf(status),
            "cell R2 F3 M1 is covered by rules 'Low' and 'Extra'");
}

TEST(RfmMapTest, OverlappingPatternsOfOneRuleAreFine) {
  const std::vector<RfmRule> map = {
      {"All", "", {RfmPattern{}, {Mask(1, 1), Mask(1, 1), Mask(1, 1)}}}};
  CUSTRA_EXPECT_OK(ValidateRfmMap(map));
}

TEST(RfmMapTest, RejectsBadNamesAndPatterns) {
  const RfmPattern any;
  struct Case {
    std::vector<RfmRule> map;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"", "", {any}}}, "parameters.rfm.segment_map[0].name"},
      {{{std::string(65, 'x'), "", {any}}},
       "parameters.rfm.segment_map[0].name"},
      {{{"(mixed)", "", {any}}}, "parameters.rfm.segment_map[0].name"},
      {{{"Low", "", {{Mask(1, 2), Mask(1, 5), Mask(1, 5)}}},
        {"Low", "", {{Mask(3, 5), Mask(1, 5), Mask(1, 5)}}}},
       "parameters.rfm.segment_map[1].name"},
      {{{"All", "", {any}}, {"None", "", {}}},
       "parameters.rfm.segment_map[1].patterns"},
      {{{"All", "", {{0, Mask(1, 5), Mask(1, 5)}}}},
       "parameters.rfm.segment_map[0].patterns[0].recency_scores"},
      {{{"All", "", {any, {Mask(1, 5), Mask(1, 5), 0b100000}}}},
       "parameters.rfm.segment_map[0].patterns[1].monetary_scores"},
  };
  for (const Case& c : cases) {
    const absl::Status status = ValidateRfmMap(c.map);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << c.field;
    EXPECT_EQ(FieldOf(status), c.field);
  }
  CUSTRA_EXPECT_OK(
      ValidateRfmMap(std::vector<RfmRule>{{std::string(64, 'x'), "", {any}}}));
}

// The 10-customer fixture, as of day 100 (recency = 100 - last day):
//
//   id   last  recency  orders  revenue
//   c01   100     0        8      800
//   c02    90    10        1       50
//   c03    40    60        5      300
//   c04    95     5        3      120
//   c05    10    90        1       20
//   c06    70    30        2      200
//   c07    90    10        6      -10
//   c08    20    80        4        0
//   c09    60    40        2      150
//   c10    30    70        1       90
//
// n = 10, so rank i scores ceil(i / 2).
// Recency, descending, ties by id: c05 90, c08 80 | c10 70, c03 60 |
//   c09 40, c06 30 | c02 10, c07 10 | c04 5, c01 0.
// Frequency, ascending: c02 1, c05 1 | c10 1, c06 2 | c09 2, c04 3 |
//   c08 4, c03 5 | c07 6, c01 8   (c10 has 1 order like c02 but scores 2).
// Monetary, ascending: c07 -10, c08 0 | c05 20, c02 50 | c10 90, c04 120 |
//   c09 150, c06 200 | c03 300, c01 800.
//
//   id   R F M  segment
//   c01  5 5 5  Champions
//   c02  4 1 2  Promising
//   c03  2 4 5  At Risk
//   c04  5 3 3  Potential Loyalists
//   c05  1 1 2  Hibernating
//   c06  3 2 4  About To Sleep
//   c07  4 5 1  Loyal Customers
//   c08  1 4 1  At Risk
//   c09  3 3 4  Need Attention
//   c10  2 2 3  Hibernating
std::vector<CustomerWindowStats> TenCustomers() {
  return {
      Customer("c01", 800, 0, 8, 100), Customer("c02", 50, 0, 1, 90),
      Customer("c03", 300, 0, 5, 40),  Customer("c04", 120, 0, 3, 95),
      Customer("c05", 20, 0, 1, 10),   Customer("c06", 200, 0, 2, 70),
      Customer("c07", -10, 0, 6, 90),  Customer("c08", 0, 0, 4, 20),
      Customer("c09", 150, 0, 2, 60),  Customer("c10", 90, 0, 1, 30),
  };
}

TEST(RfmTest, TenCustomersScoresAndSegments) {
  const RfmResult result = RunRfm(TenCustomers(), 100, DefaultRfmMap());
  ASSERT_EQ(result.members.size(), 10u);
  EXPECT_EQ(result.members[0].customer_id, "c01");
  EXPECT_EQ(result.members[9].customer_id, "c10");
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kRecencyDays),
              ElementsAre(0, 10, 60, 5, 90, 30, 10, 80, 40, 70));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kFrequency),
              ElementsAre(8, 1, 5, 3, 1, 2, 6, 4, 2, 1));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kMonetary),
              ElementsAre(800, 50, 300, 120, 20, 200, -10, 0, 150, 90));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kLastPurchaseDay),
              ElementsAre(100, 90, 40, 95, 10, 70, 90, 20, 60, 30));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kRecencyScore),
              ElementsAre(5, 4, 2, 5, 1, 3, 4, 1, 3, 2));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kFrequencyScore),
              ElementsAre(5, 1, 4, 3, 1, 2, 5, 4, 3, 2));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kMonetaryScore),
              ElementsAre(5, 2, 5, 3, 2, 4, 1, 1, 4, 3));
  EXPECT_THAT(
      SegmentsOf(result.members),
      ElementsAre(DefaultRule("Champions"), DefaultRule("Promising"),
                  DefaultRule("At Risk"), DefaultRule("Potential Loyalists"),
                  DefaultRule("Hibernating"), DefaultRule("About To Sleep"),
                  DefaultRule("Loyal Customers"), DefaultRule("At Risk"),
                  DefaultRule("Need Attention"), DefaultRule("Hibernating")));
}

TEST(RfmTest, TenCustomersBands) {
  const RfmResult result = RunRfm(TenCustomers(), 100, DefaultRfmMap());
  struct Band {
    int64_t count, rmin, rmax, fmin, fmax, mmin, mmax;
  };
  const Band expected[5] = {
      {2, 80, 90, 1, 1, -10, 0},  {2, 60, 70, 1, 2, 20, 50},
      {2, 30, 40, 2, 3, 90, 120}, {2, 10, 10, 4, 5, 150, 200},
      {2, 0, 5, 6, 8, 300, 800},
  };
  for (int s = 0; s < 5; ++s) {
    const RfmBand& b = result.bands[s];
    EXPECT_EQ(b.score, s + 1);
    EXPECT_EQ(b.recency_customer_count, expected[s].count) << s + 1;
    EXPECT_EQ(b.recency_days_min, expected[s].rmin) << s + 1;
    EXPECT_EQ(b.recency_days_max, expected[s].rmax) << s + 1;
    EXPECT_EQ(b.frequency_min, expected[s].fmin) << s + 1;
    EXPECT_EQ(b.frequency_max, expected[s].fmax) << s + 1;
    EXPECT_EQ(b.monetary_min, expected[s].mmin) << s + 1;
    EXPECT_EQ(b.monetary_max, expected[s].mmax) << s + 1;
  }
}

TEST(RfmTest, TenCustomersGrid) {
  const RfmResult result = RunRfm(TenCustomers(), 100, DefaultRfmMap());
  ASSERT_EQ(result.grid.size(), 25u);
  // (R, F) -> count 1 and the customer's revenue; all other cells empty.
  struct Cell {
    int r, f;
    int64_t revenue;
  };
  const std::vector<Cell> occupied = {
      {1, 1, 20},  {1, 4, 0},  {2, 2, 90},  {2, 4, 300}, {3, 2, 200},
      {3, 3, 150}, {4, 1, 50}, {4, 5, -10}, {5, 3, 120}, {5, 5, 800}};
  int64_t total_count = 0;
  for (int r = 1; r <= 5; ++r) {
    for (int f = 1; f <= 5; ++f) {
      const RfmGridCellValue& cell = result.grid[(r - 1) * 5 + (f - 1)];
      EXPECT_EQ(cell.recency_score, r);
      EXPECT_EQ(cell.frequency_score, f);
      EXPECT_EQ(cell.segment, RfmRuleOf(DefaultRfmMap(), r, f, 1));
      EXPECT_NE(cell.segment, -1);
      total_count += cell.customer_count;
      int64_t count = 0, revenue = 0;
      for (const Cell& c : occupied) {
        if (c.r == r && c.f == f) {
          count = 1;
          revenue = c.revenue;
        }
      }
      EXPECT_EQ(cell.customer_count, count) << "R" << r << " F" << f;
      EXPECT_EQ(cell.revenue, revenue) << "R" << r << " F" << f;
    }
  }
  EXPECT_EQ(total_count, 10);
  EXPECT_EQ(result.grid[2 * 5 + 2].segment, DefaultRule("Need Attention"));
}

TEST(RfmTest, GridCellSplitByMonetaryIsMixed) {
  const std::vector<RfmRule> map = {
      {"Low M", "", {{Mask(1, 5), Mask(1, 5), Mask(1, 3)}}},
      {"High M", "", {{Mask(1, 5), Mask(1, 5), Mask(4, 5)}}}};
  CUSTRA_ASSERT_OK(ValidateRfmMap(map));
  // Two customers (n = 2 scores 3 and 5): a R3 F3 M3 (Low M), b R5 F5 M5
  // (High M).
  const RfmResult result = RunRfm(
      {{Customer("a", 1, 0, 1, 0), Customer("b", 2, 0, 2, 10)}}, 10, map);
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(0, 1));
  for (const RfmGridCellValue& cell : result.grid) {
    EXPECT_EQ(cell.segment, -1);
  }
}

TEST(RfmTest, SingleCustomerScoresFive) {
  const RfmResult result =
      RunRfm({{Customer("a", 10, 0, 1, 5)}}, 7, DefaultRfmMap());
  ASSERT_EQ(result.members.size(), 1u);
  const SegmentMember& m = result.members[0];
  EXPECT_EQ(m.ints[RfmSlots::kRecencyDays], 2);
  EXPECT_EQ(m.ints[RfmSlots::kRecencyScore], 5);
  EXPECT_EQ(m.ints[RfmSlots::kFrequencyScore], 5);
  EXPECT_EQ(m.ints[RfmSlots::kMonetaryScore], 5);
  EXPECT_EQ(m.segment, DefaultRule("Champions"));
  EXPECT_EQ(result.bands[4].recency_customer_count, 1);
  EXPECT_EQ(result.bands[4].recency_days_min, 2);
  EXPECT_EQ(result.bands[0].recency_customer_count, 0);
  EXPECT_EQ(result.bands[0].recency_days_min, 0);
  EXPECT_EQ(result.bands[0].monetary_max, 0);
}

TEST(RfmTest, TwoCustomersScoreThreeAndFive) {
  // n = 2: ranks score ceil(5/2) = 3 and ceil(10/2) = 5.
  const RfmResult result =
      RunRfm({{Customer("a", 10, 0, 1, 5), Customer("b", 5, 0, 3, 6)}}, 10,
             DefaultRfmMap());
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kRecencyScore),
              ElementsAre(3, 5));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kFrequencyScore),
              ElementsAre(3, 5));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kMonetaryScore),
              ElementsAre(5, 3));
}

TEST(RfmTest, AllEqualValuesAreScoredInIdOrder) {
  std::vector<CustomerWindowStats> customers;
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    customers.push_back(Customer(id, 100, 0, 2, 50));
  }
  const RfmResult result = RunRfm(customers, 60, DefaultRfmMap());
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kRecencyScore),
              ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kFrequencyScore),
              ElementsAre(1, 2, 3, 4, 5));
  EXPECT_THAT(IntSlotOf(result.members, RfmSlots::kMonetaryScore),
              ElementsAre(1, 2, 3, 4, 5));
  // Every band holds one customer with the same raw value.
  for (const RfmBand& b : result.bands) {
    EXPECT_EQ(b.recency_customer_count, 1);
    EXPECT_EQ(b.recency_days_min, 10);
    EXPECT_EQ(b.recency_days_max, 10);
    EXPECT_EQ(b.frequency_min, 2);
    EXPECT_EQ(b.monetary_max, 100);
  }
}

TEST(RfmTest, EmptyPopulation) {
  const RfmResult result = RunRfm({}, 100, DefaultRfmMap());
  EXPECT_TRUE(result.members.empty());
  ASSERT_EQ(result.grid.size(), 25u);
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(result.bands[s].score, s + 1);
    EXPECT_EQ(result.bands[s].recency_customer_count, 0);
  }
  for (const RfmGridCellValue& cell : result.grid) {
    EXPECT_EQ(cell.customer_count, 0);
    EXPECT_EQ(cell.revenue, 0);
  }
}

// ---------------------------------------------------------------------------
// Value matrix
// ---------------------------------------------------------------------------

TEST(InterpolatedQuantileTest, LinearBetweenOrderStatistics) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(v, 0.5), 2.5);    // h = 1.5
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(v, 0.25), 1.75);  // h = 0.75
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(v, 0), 1);
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(v, 1), 4);
  const std::vector<double> odd = {10, 20, 40};
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(odd, 0.5), 20);
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(odd, 0.75), 30);  // h = 1.5
  const std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(InterpolatedQuantile(one, 0.3), 7);
}

TEST(AxisValueTest, MeasuresOfACustomer) {
  const CustomerWindowStats stats = Customer("a", 5, 3, 2);
  ValueMatrixInput input{&stats, std::nullopt, 42.0};
  EXPECT_EQ(AxisValue(input, ValueAxis::kFrequency), 2.0);
  EXPECT_EQ(AxisValue(input, ValueAxis::kAverageOrderValue), 2.5);
  EXPECT_EQ(AxisValue(input, ValueAxis::kRevenue), 5.0);
  EXPECT_EQ(AxisValue(input, ValueAxis::kProfit), 3.0);
  EXPECT_EQ(AxisValue(input, ValueAxis::kPredictedClv), std::nullopt);
  EXPECT_EQ(AxisValue(input, ValueAxis::kKeyAccountScore), 42.0);
  input.predicted_clv = 1e6;
  EXPECT_EQ(AxisValue(input, ValueAxis::kPredictedClv), 1e6);

  const CustomerWindowStats none = Customer("b", 0, 0, 0);
  const ValueMatrixInput no_orders{&none, std::nullopt, std::nullopt};
  EXPECT_EQ(AxisValue(no_orders, ValueAxis::kAverageOrderValue), std::nullopt);
  EXPECT_EQ(AxisValue(no_orders, ValueAxis::kFrequency), 0.0);
}

TEST(AxisValueTest, MoneyAxes) {
  EXPECT_FALSE(IsMoneyAxis(ValueAxis::kFrequency));
  EXPECT_TRUE(IsMoneyAxis(ValueAxis::kAverageOrderValue));
  EXPECT_TRUE(IsMoneyAxis(ValueAxis::kRevenue));
  EXPECT_TRUE(IsMoneyAxis(ValueAxis::kProfit));
  EXPECT_TRUE(IsMoneyAxis(ValueAxis::kPredictedClv));
  EXPECT_FALSE(IsMoneyAxis(ValueAxis::kKeyAccountScore));
}

std::vector<ValueMatrixInput> InputsOf(
    const std::vector<CustomerWindowStats>& stats) {
  std::vector<ValueMatrixInput> inputs;
  for (const CustomerWindowStats& s : stats) {
    inputs.push_back({&s, std::nullopt, std::nullopt});
  }
  return inputs;
}

TEST(ValueMatrixTest, MedianSplitQuadrantsAndTiers) {
  // Default parameters: x frequency, y average order value, median splits,
  // equal weights, tiers 20 % / 30 % / 50 %.
  //
  //   id orders revenue profit AOV
  //   a     1     100     10   100
  //   b     2     100     10    50
  //   c     3     300     30   100
  //   d     4      80      8    20
  //   e     5    1000    100   200
  //   f     6     120     12    20
  //   g     0       0      0    -    (no AOV: left out)
  //
  // x median of 1..6: h = 2.5 -> 3.5; high x: d, e, f.
  // y sorted 20 20 50 100 100 200: h = 2.5 -> (50 + 100) / 2 = 75;
  // high y: a, c, e.
  // Quadrants: a low/high 1, b low/low 3, c low/high 1, d high/low 2,
  // e high/high 0, f high/low 2.
  //
  // Percentile ranks (rank / 6): x a1 b2 c3 d4 e5 f6; y d,f 1.5 (tie of
  // ranks 1, 2), b 3, a,c 4.5 (ranks 4, 5), e 6.
  // Composite = 100 * (x + y) / 12: a 45.83, b 41.67, c 62.5, d 45.83,
  // e 91.67, f 62.5.
  // Ranked e, c, f, a, d, b; high = round(1.2) = 1 (e), high + mid =
  // round(3.0) = 3 (c, f), low a, d, b.
  const std::vector<CustomerWindowStats> stats = {
      Customer("a", 100, 10, 1),   Customer("b", 100, 10, 2),
      Customer("c", 300, 30, 3),   Customer("d", 80, 8, 4),
      Customer("e", 1000, 100, 5), Customer("f", 120, 12, 6),
      Customer("g", 0, 0, 0)};
  const ValueMatrixResult result =
      RunValueMatrix(InputsOf(stats), ValueMatrixParams{});
  EXPECT_EQ(result.left_out, 1);
  ASSERT_EQ(result.members.size(), 6u);
  EXPECT_EQ(result.members[5].customer_id, "f");
  EXPECT_DOUBLE_EQ(result.x_split, 3.5);
  EXPECT_DOUBLE_EQ(result.y_split, 75);
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(1, 3, 1, 2, 0, 2));
  EXPECT_THAT(IntSlotOf(result.members, ValueMatrixSlots::kHighX),
              ElementsAre(0, 0, 0, 1, 1, 1));
  EXPECT_THAT(IntSlotOf(result.members, ValueMatrixSlots::kHighY),
              ElementsAre(1, 0, 1, 0, 1, 0));
  EXPECT_THAT(IntSlotOf(result.members, ValueMatrixSlots::kTier),
              ElementsAre(3, 3, 2, 3, 1, 2));
  const double expected_score[] = {5.5 * 100 / 12, 5.0 * 100 / 12,  62.5,
                                   5.5 * 100 / 12, 11.0 * 100 / 12, 62.5};
  const double expected_y[] = {100, 50, 100, 20, 200, 20};
  for (int i = 0; i < 6; ++i) {
    const SegmentMember& m = result.members[i];
    EXPECT_NEAR(m.reals[ValueMatrixSlots::kCompositeScore], expected_score[i],
                kTol)
        << m.customer_id;
    EXPECT_TRUE(m.has_real(ValueMatrixSlots::kCompositeScore));
    EXPECT_DOUBLE_EQ(m.reals[ValueMatrixSlots::kXValue], i + 1);
    EXPECT_DOUBLE_EQ(m.reals[ValueMatrixSlots::kYValue], expected_y[i]);
  }
  EXPECT_NEAR(result.high_tier_min_score, 11.0 * 100 / 12, kTol);
  EXPECT_NEAR(result.mid_tier_min_score, 62.5, kTol);

  // Revenue total 1700, profit total 170.
  const SegmentTotals& high = result.tiers[0];
  EXPECT_EQ(high.customer_count, 1);
  EXPECT_NEAR(high.customer_share, 1.0 / 6, kTol);
  EXPECT_EQ(high.revenue, 1000);
  EXPECT_NEAR(high.revenue_share, 1000.0 / 1700, kTol);
  EXPECT_EQ(high.profit, 100);
  EXPECT_NEAR(high.profit_share, 100.0 / 170, kTol);
  const SegmentTotals& mid = result.tiers[1];
  EXPECT_EQ(mid.customer_count, 2);
  EXPECT_EQ(mid.revenue, 420);
  EXPECT_NEAR(mid.revenue_share, 420.0 / 1700, kTol);
  const SegmentTotals& low = result.tiers[2];
  EXPECT_EQ(low.customer_count, 3);
  EXPECT_NEAR(low.customer_share, 0.5, kTol);
  EXPECT_EQ(low.revenue, 280);
  EXPECT_EQ(low.profit, 28);
}

TEST(ValueMatrixTest, QuantileThresholdCustomWeightsAndLeftOut) {
  //   id orders revenue clv
  //   p     1     400    10
  //   q     2     100    40
  //   r     3     300    20
  //   s     4     200    30
  //   t     5     500    -    (left out)
  //   u     1      50    -    (left out)
  // x = frequency split at threshold 2: high q, r, s.
  // y = predicted CLV at quantile 0.25 of 10 20 30 40: h = 0.75 -> 17.5;
  // high q, r, s. Quadrants: p 3, q r s 0.
  // Weights revenue 3, frequency 1 -> 0.75, 0.25; profit 0 is ignored.
  // Revenue ranks q1 s2 r3 p4, frequency ranks p1 q2 r3 s4:
  // composite = 25 * (0.75 rev + 0.25 freq): p 81.25, q 31.25, r 75,
  // s 62.5. Tiers 25 % / 50 %: high 1 (p), high + mid 3 (r, s), low q.
  const std::vector<CustomerWindowStats> stats = {
      Customer("p", 400, 0, 1), Customer("q", 100, 0, 2),
      Customer("r", 300, 0, 3), Customer("s", 200, 0, 4),
      Customer("t", 500, 0, 5), Customer("u", 50, 0, 1)};
  std::vector<ValueMatrixInput> inputs = InputsOf(stats);
  inputs[0].predicted_clv = 10;
  inputs[1].predicted_clv = 40;
  inputs[2].predicted_clv = 20;
  inputs[3].predicted_clv = 30;
  ValueMatrixParams params;
  params.x = {ValueAxis::kFrequency, SplitMethod::kThreshold, 0.5, 2};
  params.y = {ValueAxis::kPredictedClv, SplitMethod::kQuantile, 0.25, 0};
  params.weights = {{ValueAxis::kRevenue, 3},
                    {ValueAxis::kFrequency, 1},
                    {ValueAxis::kProfit, 0}};
  params.high_tier_share = 0.25;
  params.mid_tier_share = 0.5;
  CUSTRA_ASSERT_OK(ValidateValueMatrixParams(params));
  const ValueMatrixResult result = RunValueMatrix(inputs, params);
  EXPECT_EQ(result.left_out, 2);
  ASSERT_EQ(result.members.size(), 4u);
  EXPECT_DOUBLE_EQ(result.x_split, 2);
  EXPECT_DOUBLE_EQ(result.y_split, 17.5);
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(3, 0, 0, 0));
  const double expected[] = {81.25, 31.25, 75, 62.5};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(result.members[i].reals[ValueMatrixSlots::kCompositeScore],
                expected[i], kTol)
        << i;
  }
  EXPECT_THAT(IntSlotOf(result.members, ValueMatrixSlots::kTier),
              ElementsAre(1, 3, 2, 2));
  EXPECT_NEAR(result.high_tier_min_score, 81.25, kTol);
  EXPECT_NEAR(result.mid_tier_min_score, 62.5, kTol);
}

TEST(ValueMatrixTest, SingleCustomer) {
  // The median is its own value, so it is high on both; composite 100;
  // high = round(0.2) = 0, high + mid = round(0.5) = 1: mid tier.
  const std::vector<CustomerWindowStats> stats = {Customer("a", 10, 0, 2)};
  const ValueMatrixResult result =
      RunValueMatrix(InputsOf(stats), ValueMatrixParams{});
  ASSERT_EQ(result.members.size(), 1u);
  EXPECT_EQ(result.members[0].segment, 0);
  EXPECT_DOUBLE_EQ(result.members[0].reals[ValueMatrixSlots::kCompositeScore],
                   100);
  EXPECT_EQ(result.members[0].ints[ValueMatrixSlots::kTier], 2);
  EXPECT_DOUBLE_EQ(result.high_tier_min_score, 0);
  EXPECT_DOUBLE_EQ(result.mid_tier_min_score, 100);
  EXPECT_EQ(result.tiers[0].customer_count, 0);
  EXPECT_EQ(result.tiers[1].customer_count, 1);
}

TEST(ValueMatrixTest, AllEqualValuesTieOnScoreAndTierById) {
  // Four equal customers: every percentile rank is 2.5 / 4, composite 62.5;
  // all high on both axes. high = round(0.8) = 1 (a), high + mid = round(2)
  // = 2 (b), low c, d.
  std::vector<CustomerWindowStats> stats;
  for (const char* id : {"a", "b", "c", "d"}) {
    stats.push_back(Customer(id, 100, 0, 2));
  }
  const ValueMatrixResult result =
      RunValueMatrix(InputsOf(stats), ValueMatrixParams{});
  EXPECT_THAT(SegmentsOf(result.members), ElementsAre(0, 0, 0, 0));
  for (const SegmentMember& m : result.members) {
    EXPECT_NEAR(m.reals[ValueMatrixSlots::kCompositeScore], 62.5, kTol);
  }
  EXPECT_THAT(IntSlotOf(result.members, ValueMatrixSlots::kTier),
              ElementsAre(1, 2, 3, 3));
}

TEST(ValueMatrixTest, EmptyPopulation) {
  const std::vector<CustomerWindowStats> stats = {Customer("a", 0, 0, 0)};
  const ValueMatrixResult result =
      RunValueMatrix(InputsOf(stats), ValueMatrixParams{});
  EXPECT_TRUE(result.members.empty());
  EXPECT_EQ(result.left_out, 1);
  EXPECT_EQ(result.tiers[0].customer_count, 0);
  EXPECT_DOUBLE_EQ(result.high_tier_min_score, 0);
  EXPECT_DOUBLE_EQ(result.mid_tier_min_score, 0);
}

TEST(ValueMatrixValidationTest, AcceptsDefaults) {
  CUSTRA_EXPECT_OK(ValidateValueMatrixParams(ValueMatrixParams{}));
  ValueMatrixParams params;
  params.high_tier_share = 0.2;
  params.mid_tier_share = 0.8;  // 1 - 0.2 exactly, despite rounding.
  CUSTRA_EXPECT_OK(ValidateValueMatrixParams(params));
  params.mid_tier_share = 0;
  params.x.split = SplitMethod::kMedian;
  params.x.quantile = 7;  // Ignored without QUANTILE.
  CUSTRA_EXPECT_OK(ValidateValueMatrixParams(params));
}

TEST(ValueMatrixValidationTest, RejectsBadParameters) {
  struct Case {
    std::string label;
    ValueMatrixParams params;
    std::string field;
  };
  std::vector<Case> cases;
  auto add = [&](std::string label, auto mutate, std::string field) {
    ValueMatrixParams params;
    mutate(params);
    cases.push_back({std::move(label), std::move(params), std::move(field)});
  };
  add(
      "same axes",
      [](ValueMatrixParams& p) { p.y.axis = ValueAxis::kFrequency; },
      "parameters.value_matrix.y_axis.axis");
  add(
      "unknown x axis",
      [](ValueMatrixParams& p) { p.x.axis = static_cast<ValueAxis>(9); },
      "parameters.value_matrix.x_axis.axis");
  add(
      "unknown y axis",
      [](ValueMatrixParams& p) { p.y.axis = static_cast<ValueAxis>(0); },
      "parameters.value_matrix.y_axis.axis");
  add(
      "quantile 0",
      [](ValueMatrixParams& p) {
        p.x.split = SplitMethod::kQuantile;
        p.x.quantile = 0;
      },
      "parameters.value_matrix.x_axis.quantile");
  add(
      "quantile 1",
      [](ValueMatrixParams& p) {
        p.y.split = SplitMethod::kQuantile;
        p.y.quantile = 1;
      },
      "parameters.value_matrix.y_axis.quantile");
  add(
      "duplicate quadrant name",
      [](ValueMatrixParams& p) { p.quadrant_names[3] = "best"; },
      "parameters.value_matrix.quadrant_names");
  add(
      "empty quadrant name",
      [](ValueMatrixParams& p) { p.quadrant_names[1] = ""; },
      "parameters.value_matrix.quadrant_names");
  add(
      "long quadrant name",
      [](ValueMatrixParams& p) { p.quadrant_names[2] = std::string(65, 'q'); },
      "parameters.value_matrix.quadrant_names");
  add(
      "negative weight",
      [](ValueMatrixParams& p) {
        p.weights = {{ValueAxis::kRevenue, 1}, {ValueAxis::kProfit, -1}};
      },
      "parameters.value_matrix.score_weights");
  add(
      "all weights zero",
      [](ValueMatrixParams& p) {
        p.weights = {{ValueAxis::kRevenue, 0}};
      },
      "parameters.value_matrix.score_weights");
  add(
      "duplicate measure",
      [](ValueMatrixParams& p) {
        p.weights = {{ValueAxis::kRevenue, 1}, {ValueAxis::kRevenue, 2}};
      },
      "parameters.value_matrix.score_weights");
  add(
      "high share 0", [](ValueMatrixParams& p) { p.high_tier_share = 0; },
      "parameters.value_matrix.high_tier_share");
  add(
      "high share 1", [](ValueMatrixParams& p) { p.high_tier_share = 1; },
      "parameters.value_matrix.high_tier_share");
  add(
      "mid share negative",
      [](ValueMatrixParams& p) { p.mid_tier_share = -0.1; },
      "parameters.value_matrix.mid_tier_share");
  add(
      "mid share too large",
      [](ValueMatrixParams& p) { p.mid_tier_share = 0.81; },
      "parameters.value_matrix.mid_tier_share");
  for (const Case& c : cases) {
    const absl::Status status = ValidateValueMatrixParams(c.params);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << c.label;
    EXPECT_EQ(FieldOf(status), c.field) << c.label;
  }
}

TEST(ValueMatrixValidationTest, DuplicateQuadrantNameIsNamed) {
  ValueMatrixParams params;
  params.quadrant_names[3] = "best";
  EXPECT_THAT(DescriptionOf(ValidateValueMatrixParams(params)),
              HasSubstr("'best'"));
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

constexpr int64_t kAsOf = 1000;

struct LifecycleCase {
  LifecycleCase(std::string id, std::vector<int64_t> days, int64_t latest = 0,
                int64_t previous = 0,
                std::optional<double> p_alive = std::nullopt)
      : id(std::move(id)),
        days(std::move(days)),
        latest(latest),
        previous(previous),
        p_alive(p_alive) {}

  std::string id;
  std::vector<int64_t> days;
  int64_t latest;
  int64_t previous;
  std::optional<double> p_alive;
};

LifecycleResult RunCases(const std::vector<LifecycleCase>& cases,
                         const LifecycleParams& params) {
  std::vector<LifecycleInput> inputs;
  for (const LifecycleCase& c : cases) {
    LifecycleInput in;
    in.id = c.id;
    in.purchase_days = c.days;
    in.latest_period_spend = c.latest;
    in.previous_period_spend = c.previous;
    in.revenue = c.latest + c.previous;
    in.p_alive = c.p_alive;
    inputs.push_back(in);
  }
  return RunLifecycle(inputs, kAsOf, params);
}

TEST(LifecycleTest, SegmentsInOrder) {
  std::vector<std::string> names;
  for (const SegmentInfo& s : LifecycleSegments()) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("prospect", "new", "growth", "maturity",
                                 "decline", "lost"));
}

TEST(LifecycleTest, OneCustomerPerRule) {
  // As of day 1000 with the defaults (new 90, period 90, +-20 %, gap x2 from
  // 3 purchase days, lost after 365) and P(alive) below 0.3 lost.
  LifecycleParams params;
  params.lost_p_alive_below = 0.3;
  const std::vector<LifecycleCase> cases = {
      // No purchase days: prospect.
      {"r1", {}},
      // Last purchase 400 days ago > 365: lost.
      {"r2", {500, 600}},
      // P(alive) 0.1 < 0.3: lost.
      {"r3", {900, 950}, 0, 0, 0.1},
      // First purchase 50 days ago <= 90: new (P(alive) 0.9 is fine).
      {"r4", {950, 980}, 100, 0, 0.9},
      // Gaps 10, 10, 10: typical 10; 270 days since the last > 20: overdue.
      {"r5", {700, 710, 720, 730}},
      // No spend in either period.
      {"r6", {700, 800}},
      // 80 after 100: -20 %, exactly the decline threshold.
      {"r7", {500, 950}, 80'000'000, 100'000'000},
      // 120 after 100: +20 %, exactly the growth threshold.
      {"r8", {600, 990}, 120'000'000, 100'000'000},
      // Spend after none in the previous period: growth.
      {"r8b", {600, 990}, 50, 0},
      // 110 after 100: +10 %, stable.
      {"r9", {600, 990}, 110, 100},
  };
  const LifecycleResult result = RunCases(cases, params);
  ASSERT_EQ(result.members.size(), cases.size());
  EXPECT_THAT(IntSlotOf(result.members, LifecycleSlots::kRule),
              ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 8, 9));
  EXPECT_THAT(SegmentsOf(result.members),
              ElementsAre(0, 5, 5, 1, 4, 4, 4, 2, 2, 3));
  EXPECT_THAT(result.rule_counts, ElementsAre(1, 1, 1, 1, 1, 1, 1, 2, 1));

  const SegmentMember& prospect = result.members[0];
  EXPECT_EQ(prospect.customer_id, "r1");
  EXPECT_EQ(prospect.ints[LifecycleSlots::kFirstPurchaseDay],
            LifecycleSlots::kNoDay);
  EXPECT_EQ(prospect.ints[LifecycleSlots::kLastPurchaseDay],
            LifecycleSlots::kNoDay);
  EXPECT_EQ(prospect.reals_present, 0u);

  const SegmentMember& lost = result.members[1];
  EXPECT_EQ(lost.ints[LifecycleSlots::kFirstPurchaseDay], 500);
  EXPECT_EQ(lost.ints[LifecycleSlots::kLastPurchaseDay], 600);
  EXPECT_FALSE(lost.has_real(LifecycleSlots::kTypicalIntervalDays));
  EXPECT_FALSE(lost.has_real(LifecycleSlots::kSpendChange));

  EXPECT_TRUE(result.members[2].has_real(LifecycleSlots::kPAlive));
  EXPECT_DOUBLE_EQ(result.members[2].reals[LifecycleSlots::kPAlive], 0.1);

  const SegmentMember& overdue = result.members[4];
  ASSERT_TRUE(overdue.has_real(LifecycleSlots::kTypicalIntervalDays));
  EXPECT_DOUBLE_EQ(overdue.reals[LifecycleSlots::kTypicalIntervalDays], 10);

  const SegmentMember& down = result.members[6];
  EXPECT_EQ(down.ints[LifecycleSlots::kLatestSpend], 80'000'000);
  EXPECT_EQ(down.ints[LifecycleSlots::kPreviousSpend], 100'000'000);
  ASSERT_TRUE(down.has_real(LifecycleSlots::kSpendChange));
  EXPECT_NEAR(down.reals[LifecycleSlots::kSpendChange], -0.2, kTol);
  EXPECT_FALSE(result.members[8].has_real(LifecycleSlots::kSpendChange));
}

TEST(LifecycleTest, Explanations) {
  LifecycleParams params;
  params.lost_p_alive_below = 0.3;
  const std::vector<LifecycleCase> cases = {
      {"r1", {}},
      {"r2", {500, 588}},
      {"r3", {900, 950}, 0, 0, 0.1},
      {"r4", {970, 980}},
      {"r5", {700, 710, 720, 730}},
      {"r6", {700, 800}},
      {"r7", {500, 950}, 65, 100},
      {"r8", {600, 990}, 135, 100},
      {"r8b", {600, 990}, 50, 0},
      {"r9", {600, 990}, 110, 100},
  };
  const LifecycleResult result = RunCases(cases, params);
  std::vector<std::string> explanations;
  for (const SegmentMember& m : result.members) {
    explanations.push_back(ExplainLifecycle(m, kAsOf, params));
  }
  EXPECT_THAT(
      explanations,
      ElementsAre("no purchase yet",
                  "no purchase for 412 days (lost after 365)",
                  "P(alive) 0.10 is below 0.30",
                  "first purchase 30 days ago (new for 90)",
                  "no purchase for 270 days, over 2 times the typical "
                  "interval of 10 days",
                  "no spend in the latest 90 days nor in the 90 days before",
                  "spend down 35% on the previous 90 days",
                  "spend up 35% on the previous 90 days",
                  "spend in the latest 90 days after none in the 90 days "
                  "before",
                  "spend steady (up 10% on the previous 90 days)"));
}

TEST(LifecycleTest, PAliveRuleIsOffWhenUnset) {
  // P(alive) 0.01 without lost_p_alive_below: first purchase 5 days ago,
  // new; P(alive) still recorded.
  const LifecycleResult result =
      RunCases({{"a", {995}, 10, 0, 0.01}}, LifecycleParams{});
  EXPECT_EQ(result.members[0].ints[LifecycleSlots::kRule], 4);
  EXPECT_EQ(result.members[0].segment, 1);
  EXPECT_TRUE(result.members[0].has_real(LifecycleSlots::kPAlive));
}

TEST(LifecycleTest, TypicalIntervalIsTheMedianGap) {
  // Gaps 40, 10, 30, 20 -> median of 10 20 30 40 = 25; lost anyway (800
  // days), but the interval is recorded.
  const LifecycleResult result =
      RunCases({{"a", {100, 140, 150, 180, 200}}}, LifecycleParams{});
  const SegmentMember& m = result.members[0];
  EXPECT_EQ(m.ints[LifecycleSlots::kRule], 2);
  ASSERT_TRUE(m.has_real(LifecycleSlots::kTypicalIntervalDays));
  EXPECT_DOUBLE_EQ(m.reals[LifecycleSlots::kTypicalIntervalDays], 25);
}

TEST(LifecycleTest, OverdueIsStrict) {
  // Gaps 10, 10, 260: typical 10; last purchase 20 days ago = 2 x 10, not
  // overdue; spend 100 after 100: stable.
  const LifecycleResult result =
      RunCases({{"a", {700, 710, 720, 980}, 100, 100}}, LifecycleParams{});
  EXPECT_EQ(result.members[0].ints[LifecycleSlots::kRule], 9);
  EXPECT_EQ(result.members[0].segment, 3);
  EXPECT_DOUBLE_EQ(
      result.members[0].reals[LifecycleSlots::kTypicalIntervalDays], 10);
}

TEST(LifecycleTest, BoundariesOfNewAndLost) {
  // a: first purchase exactly 90 days ago: new.
  // b: last purchase exactly 365 days ago: not lost; first purchase 400 days
  // ago, so not new; two purchase days give no typical interval; no spend in
  // either period: NO_RECENT_SPEND.
  const LifecycleResult result =
      RunCases({{"a", {910}, 5, 0}, {"b", {600, 635}}}, LifecycleParams{});
  EXPECT_EQ(result.members[0].ints[LifecycleSlots::kRule], 4);
  EXPECT_EQ(result.members[1].ints[LifecycleSlots::kRule], 6);
}

TEST(LifecycleTest, EmptyPopulation) {
  const LifecycleResult result = RunLifecycle({}, kAsOf, LifecycleParams{});
  EXPECT_TRUE(result.members.empty());
  EXPECT_THAT(result.rule_counts, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0));
}

TEST(LifecycleValidationTest, AcceptsDefaults) {
  CUSTRA_EXPECT_OK(ValidateLifecycleParams(LifecycleParams{}));
  LifecycleParams params;
  params.decline_threshold = 1;
  params.gap_multiplier = 1;
  params.gap_min_purchase_days = 2;
  params.growth_threshold = 0;
  params.lost_p_alive_below = 0.5;
  params.new_customer_days = 1;
  params.lost_after_days = 2;
  CUSTRA_EXPECT_OK(ValidateLifecycleParams(params));
}

TEST(LifecycleValidationTest, RejectsEachBadField) {
  struct Case {
    std::string field;
    void (*mutate)(LifecycleParams&);
  };
  const std::vector<Case> cases = {
      {"new_customer_days",
       [](LifecycleParams& p) { p.new_customer_days = 0; }},
      {"period_days", [](LifecycleParams& p) { p.period_days = 0; }},
      {"growth_threshold",
       [](LifecycleParams& p) { p.growth_threshold = -0.1; }},
      {"decline_threshold",
       [](LifecycleParams& p) { p.decline_threshold = 1.1; }},
      {"decline_threshold",
       [](LifecycleParams& p) { p.decline_threshold = -0.1; }},
      {"gap_multiplier", [](LifecycleParams& p) { p.gap_multiplier = 0.99; }},
      {"gap_min_purchase_days",
       [](LifecycleParams& p) { p.gap_min_purchase_days = 1; }},
      {"lost_after_days", [](LifecycleParams& p) { p.lost_after_days = 90; }},
      {"lost_p_alive_below",
       [](LifecycleParams& p) { p.lost_p_alive_below = 0; }},
      {"lost_p_alive_below",
       [](LifecycleParams& p) { p.lost_p_alive_below = 1; }},
  };
  for (const Case& c : cases) {
    LifecycleParams params;
    c.mutate(params);
    const absl::Status status = ValidateLifecycleParams(params);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument))
        << c.field;
    EXPECT_EQ(FieldOf(status), "parameters.lifecycle." + c.field);
  }
}

// ---------------------------------------------------------------------------
// MAN
// ---------------------------------------------------------------------------

TEST(ManTest, SegmentsAndApproaches) {
  std::vector<std::string> names;
  for (const SegmentInfo& s : ManSegments()) {
    names.push_back(s.name);
    EXPECT_FALSE(s.description.empty());
  }
  EXPECT_THAT(names,
              ElementsAre("M+A+N+", "M+A+N-", "M+A-N+", "M-A+N+", "M+A-N-",
                          "M-A+N-", "M-A-N+", "M-A-N-", "unassessed"));
  std::vector<int> approaches;
  for (int c = 1; c <= 9; ++c) approaches.push_back(ManApproachOf(c));
  EXPECT_THAT(approaches, ElementsAre(1, 2, 3, 4, 5, 5, 5, 6, 7));
}

TEST(ManTest, AllNineClasses) {
  // Levels: 1 high, 2 low, 0 unassessed.
  const std::vector<ManInput> inputs = {
      {"a", 1, 1, 1, 10, 1}, {"b", 1, 1, 2}, {"c", 1, 2, 1}, {"d", 2, 1, 1},
      {"e", 1, 2, 2},        {"f", 2, 1, 2}, {"g", 2, 2, 1}, {"h", 2, 2, 2},
      {"i", 0, 1, 1},        {"j", 1, 1, 0}, {"k", 1, 0, 1}, {"l", 0, 0, 0}};
  const std::vector<SegmentMember> members = RunMan(inputs);
  EXPECT_THAT(SegmentsOf(members),
              ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8));
  EXPECT_THAT(IntSlotOf(members, ManSlots::kApproach),
              ElementsAre(1, 2, 3, 4, 5, 5, 5, 6, 7, 7, 7, 7));
  EXPECT_EQ(members[0].customer_id, "a");
  EXPECT_EQ(members[0].revenue, 10);
  EXPECT_EQ(members[0].profit, 1);
  EXPECT_EQ(members[2].ints[ManSlots::kMoney], 1);
  EXPECT_EQ(members[2].ints[ManSlots::kAuthority], 2);
  EXPECT_EQ(members[2].ints[ManSlots::kNeed], 1);
  EXPECT_EQ(members[9].ints[ManSlots::kNeed], 0);
  EXPECT_TRUE(RunMan({}).empty());
}

// ---------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------

TEST(StructureTest, GroupsAndConcentrationByHand) {
  //   row  keys   revenue profit
  //   a    east     100     10
  //   b    west      50     15
  //   c    east     200     20
  //   d    (none)   -50     -5
  // Totals: 4 customers, revenue 300, profit 40.
  // Groups: east 2 / 300 / 30, west 1 / 50 / 15, "" 1 / -50 / -5.
  // Revenue clamped: 0 50 100 200, sum 350.
  //   top 1 = 200 / 350 = 4/7; top 2 = 300 / 350 = 6/7.
  //   HHI = (50² + 100² + 200²) / 350² = 52500 / 122500 = 3/7.
  //   Gini = (-3·0 - 1·50 + 1·100 + 3·200) / (4 · 350) = 650 / 1400 = 13/28.
  //   Group HHI over east 300, west 50, "" 0: (36 + 1) / 49 = 37/49.
  const std::vector<std::string> east = {"east"};
  const std::vector<std::string> west = {"west"};
  const std::vector<StructureInput> rows = {
      {east, 100, 10}, {west, 50, 15}, {east, 200, 20}, {{}, -50, -5}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 1, false);
  EXPECT_EQ(s.customer_count, 4);
  EXPECT_EQ(s.total_revenue, 300);
  EXPECT_EQ(s.total_profit, 40);
  ASSERT_EQ(s.groups.size(), 3u);
  EXPECT_EQ(s.groups[0].key, "east");
  EXPECT_EQ(s.groups[0].totals.customer_count, 2);
  EXPECT_DOUBLE_EQ(s.groups[0].totals.customer_share, 0.5);
  EXPECT_EQ(s.groups[0].totals.revenue, 300);
  EXPECT_DOUBLE_EQ(s.groups[0].totals.revenue_share, 1.0);
  EXPECT_EQ(s.groups[0].totals.profit, 30);
  EXPECT_DOUBLE_EQ(s.groups[0].totals.profit_share, 0.75);
  EXPECT_EQ(s.groups[1].key, "west");
  EXPECT_EQ(s.groups[1].totals.customer_count, 1);
  EXPECT_NEAR(s.groups[1].totals.revenue_share, 1.0 / 6, kTol);
  EXPECT_NEAR(s.groups[1].totals.profit_share, 0.375, kTol);
  EXPECT_EQ(s.groups[2].key, "");
  EXPECT_EQ(s.groups[2].totals.revenue, -50);
  EXPECT_NEAR(s.groups[2].totals.revenue_share, -1.0 / 6, kTol);
  EXPECT_NEAR(s.groups[2].totals.profit_share, -0.125, kTol);

  EXPECT_NEAR(s.top_n_share, 4.0 / 7, kTol);
  EXPECT_NEAR(s.customer_hhi, 3.0 / 7, kTol);
  EXPECT_NEAR(s.gini, 13.0 / 28, kTol);
  EXPECT_NEAR(s.group_hhi, 37.0 / 49, kTol);

  EXPECT_NEAR(
      ComputeStructure(rows, ValueMetric::kRevenue, 2, false).top_n_share,
      6.0 / 7, kTol);
  EXPECT_NEAR(
      ComputeStructure(rows, ValueMetric::kRevenue, 10, false).top_n_share, 1.0,
      kTol);
}

TEST(StructureTest, ProfitMetric) {
  // Profit clamped: 0 10 15 20, sum 45.
  //   top 1 = 20/45 = 4/9; HHI = (100 + 225 + 400) / 2025 = 725/2025;
  //   Gini = (-1·10 + 1·15 + 3·20) / (4 · 45) = 65/180;
  //   group HHI over east 30, west 15, "" 0: (4 + 1) / 9 = 5/9.
  const std::vector<std::string> east = {"east"};
  const std::vector<std::string> west = {"west"};
  const std::vector<StructureInput> rows = {
      {east, 100, 10}, {west, 50, 15}, {east, 200, 20}, {{}, -50, -5}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kProfit, 1, false);
  EXPECT_NEAR(s.top_n_share, 4.0 / 9, kTol);
  EXPECT_NEAR(s.customer_hhi, 725.0 / 2025, kTol);
  EXPECT_NEAR(s.gini, 65.0 / 180, kTol);
  EXPECT_NEAR(s.group_hhi, 5.0 / 9, kTol);
  // Groups are still ordered by revenue.
  EXPECT_EQ(s.groups[0].key, "east");
}

TEST(StructureTest, TagsCountInEveryGroup) {
  //   row  tags        revenue
  //   a    vip, new      100
  //   b    vip            50
  //   c    (none)        200
  //   d    new, new       30   (a repeated tag counts once)
  // Groups: "" 1 / 200, vip 2 / 150, new 2 / 130; customer shares 0.25,
  // 0.5, 0.5 (sum > 1). Group HHI is 0 for tags.
  const std::vector<std::string> a = {"vip", "new"};
  const std::vector<std::string> b = {"vip"};
  const std::vector<std::string> d = {"new", "new"};
  const std::vector<StructureInput> rows = {
      {a, 100, 0}, {b, 50, 0}, {{}, 200, 0}, {d, 30, 0}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 10, true);
  EXPECT_EQ(s.customer_count, 4);
  EXPECT_EQ(s.total_revenue, 380);
  ASSERT_EQ(s.groups.size(), 3u);
  EXPECT_EQ(s.groups[0].key, "");
  EXPECT_EQ(s.groups[0].totals.customer_count, 1);
  EXPECT_DOUBLE_EQ(s.groups[0].totals.customer_share, 0.25);
  EXPECT_EQ(s.groups[1].key, "vip");
  EXPECT_EQ(s.groups[1].totals.customer_count, 2);
  EXPECT_EQ(s.groups[1].totals.revenue, 150);
  EXPECT_DOUBLE_EQ(s.groups[1].totals.customer_share, 0.5);
  EXPECT_EQ(s.groups[2].key, "new");
  EXPECT_EQ(s.groups[2].totals.customer_count, 2);
  EXPECT_EQ(s.groups[2].totals.revenue, 130);
  EXPECT_NEAR(s.groups[2].totals.revenue_share, 130.0 / 380, kTol);
  EXPECT_DOUBLE_EQ(s.group_hhi, 0);
  EXPECT_DOUBLE_EQ(s.top_n_share, 1.0);
}

TEST(StructureTest, RevenueTiesAreOrderedByKey) {
  const std::vector<std::string> zeta = {"zeta"};
  const std::vector<std::string> alpha = {"alpha"};
  const std::vector<StructureInput> rows = {{zeta, 10, 0}, {alpha, 10, 0}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 10, false);
  ASSERT_EQ(s.groups.size(), 2u);
  EXPECT_EQ(s.groups[0].key, "alpha");
  EXPECT_EQ(s.groups[1].key, "zeta");
  EXPECT_NEAR(s.group_hhi, 0.5, kTol);
}

TEST(StructureTest, EqualValuesHaveNoInequality) {
  // Four customers of 100: Gini 0, HHI 4 · (1/4)² = 0.25, top 2 = 0.5.
  const std::vector<std::string> key = {"k"};
  const std::vector<StructureInput> rows(4, StructureInput{key, 100, 0});
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 2, false);
  EXPECT_NEAR(s.gini, 0, kTol);
  EXPECT_NEAR(s.customer_hhi, 0.25, kTol);
  EXPECT_NEAR(s.top_n_share, 0.5, kTol);
  EXPECT_NEAR(s.group_hhi, 1, kTol);
}

TEST(StructureTest, SingleCustomer) {
  const std::vector<std::string> key = {"k"};
  const std::vector<StructureInput> rows = {{key, 100, 0}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 10, false);
  EXPECT_DOUBLE_EQ(s.top_n_share, 1);
  EXPECT_DOUBLE_EQ(s.customer_hhi, 1);
  EXPECT_DOUBLE_EQ(s.gini, 0);
  EXPECT_DOUBLE_EQ(s.group_hhi, 1);
}

TEST(StructureTest, NoValueGivesZeroConcentration) {
  const std::vector<std::string> key = {"k"};
  const std::vector<StructureInput> rows = {{key, 0, 0}, {key, -10, 0}};
  const StructureSnapshotValue s =
      ComputeStructure(rows, ValueMetric::kRevenue, 10, false);
  EXPECT_EQ(s.customer_count, 2);
  EXPECT_EQ(s.total_revenue, -10);
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_DOUBLE_EQ(s.groups[0].totals.revenue_share, 0);
  EXPECT_DOUBLE_EQ(s.top_n_share, 0);
  EXPECT_DOUBLE_EQ(s.customer_hhi, 0);
  EXPECT_DOUBLE_EQ(s.gini, 0);
  EXPECT_DOUBLE_EQ(s.group_hhi, 0);
}

TEST(StructureTest, EmptyPopulation) {
  const StructureSnapshotValue s =
      ComputeStructure({}, ValueMetric::kRevenue, 10, false);
  EXPECT_EQ(s.customer_count, 0);
  EXPECT_TRUE(s.groups.empty());
  EXPECT_DOUBLE_EQ(s.gini, 0);
  EXPECT_DOUBLE_EQ(s.customer_hhi, 0);
}

}  // namespace
}  // namespace custra
