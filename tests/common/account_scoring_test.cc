#include "common/account_scoring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.h"
#include "tests/testing/status_matchers.h"

namespace custra {
namespace {

using ::custra::testing::IsOk;
using ::custra::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using C = ScoringCriterion;
using T = AccountTierKind;

constexpr double kTol = 1e-9;
constexpr int64_t kMicros = 1'000'000;

// (8 - 2 sqrt 2) / 7: the regularity of gaps 10, 20, 10 (worked out in
// RegularityIsUnavailableBelowThreeDaysAndUsesPopulationCv).
const double kRegularity10_20_10 = (8 - 2 * std::sqrt(2.0)) / 7;

std::string FieldOf(const absl::Status& status) {
  const std::vector<FieldViolation> v = FieldViolationsOf(status);
  return v.size() == 1 ? v[0].field : "";
}

std::string DescriptionOf(const absl::Status& status) {
  const std::vector<FieldViolation> v = FieldViolationsOf(status);
  return v.size() == 1 ? v[0].description : "";
}

// A profile weighting only the given criteria.
ScoringProfileParams OnlyWeights(
    std::vector<std::pair<ScoringCriterion, double>> weights,
    ScoreNormalization normalization = ScoreNormalization::kPercentileRank) {
  ScoringProfileParams p = DefaultScoringProfile();
  p.weights.fill(0);
  for (const auto& [c, w] : weights) p.weights[CriterionIndex(c)] = w;
  p.normalization = normalization;
  return p;
}

AccountInput Account(std::string id) {
  AccountInput a;
  a.customer_id = std::move(id);
  a.as_of_day = 1000;
  return a;
}

const AccountScoreValue& ById(const ScoringResult& result,
                              const std::string& id) {
  for (const AccountScoreValue& s : result.scores) {
    if (s.customer_id == id) return s;
  }
  ADD_FAILURE() << "no score for " << id;
  static const AccountScoreValue kNone;
  return kNone;
}

const CriterionScore& Criterion(const AccountScoreValue& score, C c) {
  for (const CriterionScore& cs : score.criteria) {
    if (cs.criterion == c) return cs;
  }
  ADD_FAILURE() << "no criterion " << static_cast<int>(c) << " for "
                << score.customer_id;
  static const CriterionScore kNone;
  return kNone;
}

std::vector<std::string> IdsOf(const ScoringResult& result) {
  std::vector<std::string> ids;
  for (const AccountScoreValue& s : result.scores) ids.push_back(s.customer_id);
  return ids;
}

std::vector<double> ScoresOf(const ScoringResult& result) {
  std::vector<double> scores;
  for (const AccountScoreValue& s : result.scores) scores.push_back(s.score);
  return scores;
}

std::vector<int64_t> RanksOf(const ScoringResult& result) {
  std::vector<int64_t> ranks;
  for (const AccountScoreValue& s : result.scores) ranks.push_back(s.rank);
  return ranks;
}

std::vector<T> TiersOf(const ScoringResult& result) {
  std::vector<T> tiers;
  for (const AccountScoreValue& s : result.scores) tiers.push_back(s.tier);
  return tiers;
}

void ExpectContributionsSumToScore(const AccountScoreValue& s) {
  double sum = 0, weights = 0;
  for (const CriterionScore& cs : s.criteria) {
    sum += cs.contribution;
    weights += cs.weight;
    EXPECT_NEAR(cs.contribution, 100 * cs.weight * cs.normalized, kTol);
  }
  EXPECT_NEAR(sum, s.score, kTol) << s.customer_id;
  if (s.score > 0) {
    EXPECT_NEAR(weights, 1.0, kTol) << s.customer_id;
  }
}

// ---------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------

TEST(DefaultScoringProfileTest, IsTheProtosDefault) {
  const ScoringProfileParams p = DefaultScoringProfile();
  EXPECT_EQ(p.weight(C::kRevenueContribution), 0.20);
  EXPECT_EQ(p.weight(C::kProfitContribution), 0.15);
  EXPECT_EQ(p.weight(C::kGrowth), 0.10);
  EXPECT_EQ(p.weight(C::kPotential), 0.15);
  EXPECT_EQ(p.weight(C::kLoyaltyTenure), 0.04);
  EXPECT_EQ(p.weight(C::kLoyaltyRegularity), 0.03);
  EXPECT_EQ(p.weight(C::kLoyaltyPAlive), 0.05);
  EXPECT_EQ(p.weight(C::kStrategicValue), 0.10);
  EXPECT_EQ(p.weight(C::kCooperation), 0.05);
  EXPECT_EQ(p.weight(C::kReferrals), 0.03);
  EXPECT_EQ(p.weight(C::kShareOfWallet), 0.10);
  // Loyalty 0.12 = 0.04 + 0.03 + 0.05; all eleven sum to 1.
  double sum = 0;
  for (double w : p.weights) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_EQ(p.tier_a_min_score, 70);
  EXPECT_EQ(p.tier_b_min_score, 40);
  EXPECT_EQ(p.normalization, ScoreNormalization::kPercentileRank);
  EXPECT_EQ(p.window_months, 12);
  EXPECT_THAT(p.customer_kinds, IsEmpty());
  EXPECT_EQ(p.clv_horizon_days, 365);
  EXPECT_EQ(p.clv_annual_discount_rate, 0.10);
  EXPECT_EQ(p.clv_margin, 1.0);
  EXPECT_THAT(ValidateScoringProfile(p), IsOk());
}

TEST(ScoringCriterionTest, NumbersAndNames) {
  EXPECT_EQ(static_cast<int>(C::kRevenueContribution), 1);
  EXPECT_EQ(static_cast<int>(C::kShareOfWallet), 11);
  EXPECT_EQ(CriterionIndex(C::kLoyaltyPAlive), 6);
  EXPECT_EQ(ScoringCriterionName(C::kLoyaltyPAlive), "loyalty_p_alive");
  EXPECT_EQ(ScoringCriterionName(C::kShareOfWallet), "share_of_wallet");
  EXPECT_EQ(ScoringCriterionName(static_cast<C>(12)), "unknown");
  EXPECT_EQ(static_cast<int>(T::kNotScored), 4);
}

TEST(ValidateScoringProfileTest, BoundariesAreAccepted) {
  ScoringProfileParams p = OnlyWeights({{C::kReferrals, 0.5}});
  p.tier_a_min_score = 100;
  p.tier_b_min_score = 0;
  p.window_months = 60;
  p.customer_kinds = {1, 2, 3};
  p.clv_horizon_days = 3650;
  p.clv_annual_discount_rate = 0;
  p.clv_margin = 1;
  EXPECT_THAT(ValidateScoringProfile(p), IsOk());
  p.window_months = 1;
  p.clv_horizon_days = 1;
  p.clv_margin = 0.01;
  p.clv_annual_discount_rate = 0.99;
  p.normalization = ScoreNormalization::kMinMax;
  EXPECT_THAT(ValidateScoringProfile(p), IsOk());
}

TEST(ValidateScoringProfileTest, NamesTheBadField) {
  struct Case {
    std::string name;
    std::function<void(ScoringProfileParams&)> mutate;
    std::string field;
    std::string description_part;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {"no positive weight", [](auto& p) { p.weights.fill(0); },
       "scoring_profile.weights", "at least one weight must be positive"},
      {"negative weight",
       [](auto& p) { p.weights[CriterionIndex(C::kGrowth)] = -0.1; },
       "scoring_profile.weights", "growth"},
      {"NaN weight",
       [&](auto& p) { p.weights[CriterionIndex(C::kReferrals)] = nan; },
       "scoring_profile.weights", "referrals"},
      {"A above 100", [](auto& p) { p.tier_a_min_score = 100.5; },
       "scoring_profile.tier_a_min_score", "[0, 100]"},
      {"A NaN", [&](auto& p) { p.tier_a_min_score = nan; },
       "scoring_profile.tier_a_min_score", "[0, 100]"},
      {"B negative", [](auto& p) { p.tier_b_min_score = -1; },
       "scoring_profile.tier_b_min_score", "[0, 100]"},
      {"B equal to A", [](auto& p) { p.tier_b_min_score = 70; },
       "scoring_profile.tier_b_min_score", "less than tier_a_min_score"},
      {"B above A",
       [](auto& p) {
         p.tier_a_min_score = 50;
         p.tier_b_min_score = 60;
       },
       "scoring_profile.tier_b_min_score", "less than tier_a_min_score"},
      {"normalization",
       [](auto& p) { p.normalization = static_cast<ScoreNormalization>(0); },
       "scoring_profile.normalization", "unknown"},
      {"window 0", [](auto& p) { p.window_months = 0; },
       "scoring_profile.window_months", "1 to 60"},
      {"window 61", [](auto& p) { p.window_months = 61; },
       "scoring_profile.window_months", "1 to 60"},
      {"kind",
       [](auto& p) {
         p.customer_kinds = {2, 4};
       },
       "scoring_profile.customer_kinds[1]", "unknown customer kind 4"},
      {"kind unspecified", [](auto& p) { p.customer_kinds = {0}; },
       "scoring_profile.customer_kinds[0]", "unknown customer kind 0"},
      {"horizon 0", [](auto& p) { p.clv_horizon_days = 0; },
       "scoring_profile.clv_horizon_days", "1 to 3650"},
      {"horizon 3651", [](auto& p) { p.clv_horizon_days = 3651; },
       "scoring_profile.clv_horizon_days", "1 to 3650"},
      {"discount 1", [](auto& p) { p.clv_annual_discount_rate = 1; },
       "scoring_profile.clv_annual_discount_rate", "[0, 1)"},
      {"discount negative", [](auto& p) { p.clv_annual_discount_rate = -0.01; },
       "scoring_profile.clv_annual_discount_rate", "[0, 1)"},
      {"margin 0", [](auto& p) { p.clv_margin = 0; },
       "scoring_profile.clv_margin", "(0, 1]"},
      {"margin above 1", [](auto& p) { p.clv_margin = 1.5; },
       "scoring_profile.clv_margin", "(0, 1]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ScoringProfileParams p = DefaultScoringProfile();
    c.mutate(p);
    const absl::Status status = ValidateScoringProfile(p);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(FieldOf(status), c.field);
    EXPECT_THAT(DescriptionOf(status), HasSubstr(c.description_part));
  }
}

TEST(WeightsFromListTest, ChecksEachEntryWithItsPosition) {
  struct Case {
    std::vector<CriterionWeightEntry> list;
    std::string field;
    std::string description_part;
  };
  const std::vector<Case> cases = {
      {{{1, 0.5}, {12, 0.1}},
       "scoring_profile.weights[1].criterion",
       "unknown criterion 12"},
      {{{0, 0.5}},
       "scoring_profile.weights[0].criterion",
       "unknown criterion 0"},
      {{{1, 0.5}, {3, 0.2}, {1, 0.1}},
       "scoring_profile.weights[2].criterion",
       "repeats the criterion of weights[0]"},
      {{{4, 0.5}, {2, -1}}, "scoring_profile.weights[1].weight", "is -1"},
      {{{2, std::numeric_limits<double>::infinity()}},
       "scoring_profile.weights[0].weight",
       "finite"},
      {{{1, 0}, {2, 0}}, "scoring_profile.weights", "positive"},
      {{}, "scoring_profile.weights", "positive"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    const auto weights = WeightsFromList(c.list);
    EXPECT_THAT(weights, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(FieldOf(weights.status()), c.field);
    EXPECT_THAT(DescriptionOf(weights.status()), HasSubstr(c.description_part));
  }
}

TEST(WeightsFromListTest, BuildsTheArrayAndBack) {
  const std::vector<CriterionWeightEntry> list = {{11, 0.3}, {1, 0.7}, {5, 0}};
  const auto weights = WeightsFromList(list);
  ASSERT_THAT(weights, IsOk());
  std::array<double, kScoringCriterionCount> expected{};
  expected[0] = 0.7;   // revenue contribution
  expected[10] = 0.3;  // share of wallet
  EXPECT_EQ(*weights, expected);

  // Back to the wire: positive weights in enum order, the zero dropped.
  const std::vector<CriterionWeightEntry> back = WeightsToList(*weights);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].criterion, 1);
  EXPECT_EQ(back[0].weight, 0.7);
  EXPECT_EQ(back[1].criterion, 11);
  EXPECT_EQ(back[1].weight, 0.3);

  EXPECT_EQ(WeightsToList(DefaultScoringProfile().weights).size(), 11u);
}

TEST(ModelNeedsTest, FollowTheWeightedCriteria) {
  EXPECT_TRUE(NeedsPurchaseModel(DefaultScoringProfile()));
  EXPECT_TRUE(NeedsSpendModel(DefaultScoringProfile()));

  const ScoringProfileParams p_alive = OnlyWeights({{C::kLoyaltyPAlive, 1}});
  EXPECT_TRUE(NeedsPurchaseModel(p_alive));
  EXPECT_FALSE(NeedsSpendModel(p_alive));

  const ScoringProfileParams potential = OnlyWeights({{C::kPotential, 1}});
  EXPECT_TRUE(NeedsPurchaseModel(potential));
  EXPECT_TRUE(NeedsSpendModel(potential));

  const ScoringProfileParams data_only =
      OnlyWeights({{C::kRevenueContribution, 1}, {C::kLoyaltyRegularity, 1}});
  EXPECT_FALSE(NeedsPurchaseModel(data_only));
  EXPECT_FALSE(NeedsSpendModel(data_only));
}

// ---------------------------------------------------------------------------
// Scoring: the four-account fixture with every criterion
// ---------------------------------------------------------------------------

// As of day 1000, cost data present. Money in currency units (x 1e6):
//
//        rev  prev profit first days                 P(a) CLV  str coop ref
//                                                                   wallet
//   a    500  250  100    0     700,710,730,740      0.9  1000 5   4    2 1000
//   b    300  300  150    500   800,900,1000         0.8  2000 3   -    0  200
//   c    200    0  -50    900   950,990              0.6  -    -   2    1    -
//   d      0  400    0    100   -                    0.1   500 1   3    0  100
//
// Revenue over the last 12 months = revenue in the window.
std::vector<AccountInput> FourAccounts() {
  AccountInput a = Account("a");
  a.revenue_window = 500 * kMicros;
  a.revenue_previous_window = 250 * kMicros;
  a.profit_window = 100 * kMicros;
  a.has_profit_data = true;
  a.first_purchase_day = 0;
  a.purchase_days = {700, 710, 730, 740};
  a.p_alive = 0.9;
  a.clv_micros = 1000 * kMicros;
  a.strategic_value = 5;
  a.cooperation = 4;
  a.referrals_in_window = 2;
  a.wallet_micros = 1000 * kMicros;
  a.revenue_last_12_months = 500 * kMicros;

  AccountInput b = Account("b");
  b.revenue_window = 300 * kMicros;
  b.revenue_previous_window = 300 * kMicros;
  b.profit_window = 150 * kMicros;
  b.has_profit_data = true;
  b.first_purchase_day = 500;
  b.purchase_days = {800, 900, 1000};
  b.p_alive = 0.8;
  b.clv_micros = 2000 * kMicros;
  b.strategic_value = 3;
  b.cooperation = 0;
  b.referrals_in_window = 0;
  b.wallet_micros = 200 * kMicros;
  b.revenue_last_12_months = 300 * kMicros;

  AccountInput c = Account("c");
  c.revenue_window = 200 * kMicros;
  c.revenue_previous_window = 0;
  c.profit_window = -50 * kMicros;
  c.has_profit_data = true;
  c.first_purchase_day = 900;
  c.purchase_days = {950, 990};
  c.p_alive = 0.6;
  c.strategic_value = 0;
  c.cooperation = 2;
  c.referrals_in_window = 1;
  c.revenue_last_12_months = 200 * kMicros;

  AccountInput d = Account("d");
  d.revenue_window = 0;
  d.revenue_previous_window = 400 * kMicros;
  d.profit_window = 0;
  d.has_profit_data = true;
  d.first_purchase_day = 100;
  d.p_alive = 0.1;
  d.clv_micros = 500 * kMicros;
  d.strategic_value = 1;
  d.cooperation = 3;
  d.referrals_in_window = 0;
  d.wallet_micros = 100 * kMicros;
  d.revenue_last_12_months = 0;

  // Deliberately not in id or score order.
  return {c, a, d, b};
}

TEST(ScoreAccountsTest, FixtureRawValues) {
  const std::vector<AccountInput> accounts = FourAccounts();
  const ScoringResult r = ScoreAccounts(accounts, DefaultScoringProfile());
  EXPECT_THAT(IdsOf(r), ElementsAre("c", "a", "d", "b"));  // Input order.

  const AccountScoreValue& a = ById(r, "a");
  const AccountScoreValue& b = ById(r, "b");
  const AccountScoreValue& c = ById(r, "c");
  const AccountScoreValue& d = ById(r, "d");

  // One entry per weighted criterion (all eleven), in enum order.
  ASSERT_EQ(a.criteria.size(), 11u);
  for (int i = 0; i < 11; ++i) {
    EXPECT_EQ(static_cast<int>(a.criteria[i].criterion), i + 1);
  }

  // Revenue: positive total 500 + 300 + 200 + 0 = 1000.
  EXPECT_NEAR(Criterion(a, C::kRevenueContribution).raw_value, 0.5, kTol);
  EXPECT_EQ(Criterion(a, C::kRevenueContribution).raw_money, 500 * kMicros);
  EXPECT_NEAR(Criterion(d, C::kRevenueContribution).raw_value, 0.0, kTol);
  EXPECT_EQ(Criterion(d, C::kRevenueContribution).raw_money, 0);
  // Profit: positive total 100 + 150 = 250; c's loss counts as 0 share but
  // keeps its money.
  EXPECT_NEAR(Criterion(b, C::kProfitContribution).raw_value, 0.6, kTol);
  EXPECT_EQ(Criterion(b, C::kProfitContribution).raw_money, 150 * kMicros);
  EXPECT_NEAR(Criterion(c, C::kProfitContribution).raw_value, 0.0, kTol);
  EXPECT_EQ(Criterion(c, C::kProfitContribution).raw_money, -50 * kMicros);
  // Growth: a (500-250)/500, b 0, c new +1, d stopped -1.
  EXPECT_NEAR(Criterion(a, C::kGrowth).raw_value, 0.5, kTol);
  EXPECT_NEAR(Criterion(b, C::kGrowth).raw_value, 0.0, kTol);
  EXPECT_NEAR(Criterion(c, C::kGrowth).raw_value, 1.0, kTol);
  EXPECT_NEAR(Criterion(d, C::kGrowth).raw_value, -1.0, kTol);
  EXPECT_FALSE(Criterion(a, C::kGrowth).raw_money.has_value());
  // Potential in currency units, money in micros; c has no CLV.
  EXPECT_NEAR(Criterion(a, C::kPotential).raw_value, 1000.0, kTol);
  EXPECT_EQ(Criterion(a, C::kPotential).raw_money, 1000 * kMicros);
  EXPECT_FALSE(Criterion(c, C::kPotential).available);
  EXPECT_FALSE(Criterion(c, C::kPotential).raw_money.has_value());
  // Tenure: 1000 - first purchase day.
  EXPECT_NEAR(Criterion(a, C::kLoyaltyTenure).raw_value, 1000, kTol);
  EXPECT_NEAR(Criterion(c, C::kLoyaltyTenure).raw_value, 100, kTol);
  // Regularity: a gaps 10, 20, 10; b gaps 100, 100 (CV 0); c two days, d none.
  EXPECT_NEAR(Criterion(a, C::kLoyaltyRegularity).raw_value,
              kRegularity10_20_10, kTol);
  EXPECT_NEAR(Criterion(b, C::kLoyaltyRegularity).raw_value, 1.0, kTol);
  EXPECT_FALSE(Criterion(c, C::kLoyaltyRegularity).available);
  EXPECT_FALSE(Criterion(d, C::kLoyaltyRegularity).available);
  // Ratings are raw 1..5; 0 is unavailable.
  EXPECT_NEAR(Criterion(a, C::kStrategicValue).raw_value, 5, kTol);
  EXPECT_FALSE(Criterion(c, C::kStrategicValue).available);
  EXPECT_FALSE(Criterion(b, C::kCooperation).available);
  // Referrals: a count.
  EXPECT_NEAR(Criterion(a, C::kReferrals).raw_value, 2, kTol);
  // Share of wallet: a 500/1000, b 300/200 capped at 1, d 0/100, c none.
  EXPECT_NEAR(Criterion(a, C::kShareOfWallet).raw_value, 0.5, kTol);
  EXPECT_NEAR(Criterion(b, C::kShareOfWallet).raw_value, 1.0, kTol);
  EXPECT_NEAR(Criterion(d, C::kShareOfWallet).raw_value, 0.0, kTol);
  EXPECT_FALSE(Criterion(c, C::kShareOfWallet).available);

  // An unavailable entry carries nothing.
  const CriterionScore& none = Criterion(b, C::kCooperation);
  EXPECT_EQ(none.raw_value, 0);
  EXPECT_EQ(none.normalized, 0);
  EXPECT_EQ(none.weight, 0);
  EXPECT_EQ(none.contribution, 0);
}

TEST(ScoreAccountsTest, FixtureNormalizedValues) {
  const std::vector<AccountInput> accounts = FourAccounts();
  const ScoringResult r = ScoreAccounts(accounts, DefaultScoringProfile());

  // Percentile rank (lower + equal/2) / n, n = accounts with the criterion:
  // revenue   d 0 .125, c .2 .375, b .3 .625, a .5 .875
  // profit    c,d tie at 0: (0 + 2/2)/4 = .25; a .4 .625; b .6 .875
  // growth    d -1 .125, b 0 .375, a .5 .625, c 1 .875
  // potential n = 3: d 500 (0.5)/3, a 1000 1.5/3, b 2000 2.5/3
  // tenure    c 100 .125, b 500 .375, d 900 .625, a 1000 .875
  // referrals b,d tie at 0: (0 + 1)/4 = .25; c 1 .625; a 2 .875
  // Fixed scales: regularity and P(alive) and share of wallet as is,
  // ratings (r - 1)/4: a strategic 5 -> 1, b 3 -> .5, d 1 -> 0; cooperation
  // a 4 -> .75, c 2 -> .25, d 3 -> .5.
  struct Row {
    std::string id;
    std::vector<std::optional<double>> n;  // Enum order; nullopt: absent.
  };
  const std::optional<double> x;
  const std::vector<Row> rows = {
      {"a",
       {.875, .625, .625, 1.5 / 3, .875, kRegularity10_20_10, .9, 1, .75, .875,
        .5}},
      {"b", {.625, .875, .375, 2.5 / 3, .375, 1, .8, .5, x, .25, 1}},
      {"c", {.375, .25, .875, x, .125, x, .6, x, .25, .625, x}},
      {"d", {.125, .25, .125, 0.5 / 3, .625, x, .1, 0, .5, .25, 0}},
  };
  for (const Row& row : rows) {
    const AccountScoreValue& s = ById(r, row.id);
    for (int i = 0; i < 11; ++i) {
      SCOPED_TRACE(row.id + " criterion " + std::to_string(i + 1));
      const CriterionScore& cs = s.criteria[i];
      EXPECT_EQ(cs.available, row.n[i].has_value());
      if (row.n[i].has_value()) {
        EXPECT_NEAR(cs.normalized, *row.n[i], kTol);
      }
    }
  }
}

TEST(ScoreAccountsTest, FixtureScoresTiersRanksAndSummary) {
  const std::vector<AccountInput> accounts = FourAccounts();
  const ScoringResult r = ScoreAccounts(accounts, DefaultScoringProfile());

  // a: every criterion available, sum of weights 1:
  //   .2*.875 + .15*.625 + .1*.625 + .15*.5 + .04*.875 + .03*.738796125036
  //   + .05*.9 + .1*1 + .05*.75 + .03*.875 + .1*.5
  //   = .175 + .09375 + .0625 + .075 + .035 + .022163883751 + .045 + .1
  //     + .0375 + .02625 + .05 = .722163883751  -> 72.2163883751
  // b: no cooperation, W = .95:
  //   .125 + .13125 + .0375 + .125 + .015 + .03 + .04 + .05 + .0075 + .1
  //   = .66125 -> 66.125 / .95 = 69.6052631579
  // c: no potential, regularity, strategic, wallet: W = .62:
  //   .075 + .0375 + .0875 + .005 + .03 + .0125 + .01875 = .26625
  //   -> 26.625 / .62 = 42.9435483871
  // d: no regularity, W = .97:
  //   .025 + .0375 + .0125 + .025 + .025 + .005 + 0 + .025 + .0075 + 0
  //   = .1625 -> 16.25 / .97 = 16.7525773196
  const double score_a = 72.21638837510878;
  const double score_b = 69.60526315789474;
  const double score_c = 42.94354838709677;
  const double score_d = 16.75257731958763;
  EXPECT_NEAR(ById(r, "a").score, score_a, kTol);
  EXPECT_NEAR(ById(r, "b").score, score_b, kTol);
  EXPECT_NEAR(ById(r, "c").score, score_c, kTol);
  EXPECT_NEAR(ById(r, "d").score, score_d, kTol);

  // Input order c, a, d, b.
  EXPECT_THAT(TiersOf(r), ElementsAre(T::kB, T::kA, T::kC, T::kB));
  EXPECT_THAT(RanksOf(r), ElementsAre(3, 1, 4, 2));
  EXPECT_EQ(r.tier_a_count, 1);
  EXPECT_EQ(r.tier_b_count, 2);
  EXPECT_EQ(r.tier_c_count, 1);
  // Mean (72.2163883751 + 69.6052631579 + 42.9435483871 + 16.7525773196) / 4
  //   = 201.5177772397 / 4; median (69.6052631579 + 42.9435483871) / 2.
  EXPECT_NEAR(r.mean_score, 50.37944430992199, kTol);
  EXPECT_NEAR(r.median_score, 56.27440577249576, kTol);
  EXPECT_THAT(r.unavailable_criteria, IsEmpty());

  // Effective weights: b's revenue .2 / .95 = 4/19, contribution
  // 100 * 4/19 * .625 = 13.1578947368; c's revenue .2 / .62 = 10/31,
  // contribution 100 * 10/31 * .375 = 12.0967741935.
  const CriterionScore& b_revenue =
      Criterion(ById(r, "b"), C::kRevenueContribution);
  EXPECT_NEAR(b_revenue.weight, 4.0 / 19, kTol);
  EXPECT_NEAR(b_revenue.contribution, 13.157894736842106, kTol);
  const CriterionScore& c_revenue =
      Criterion(ById(r, "c"), C::kRevenueContribution);
  EXPECT_NEAR(c_revenue.weight, 10.0 / 31, kTol);
  EXPECT_NEAR(c_revenue.contribution, 12.096774193548388, kTol);
  // a has every criterion: effective weights are the profile's.
  EXPECT_NEAR(Criterion(ById(r, "a"), C::kShareOfWallet).weight, 0.10, kTol);
  for (const AccountScoreValue& s : r.scores) ExpectContributionsSumToScore(s);
}

TEST(ScoreAccountsTest, ProfitWithoutCostDataIsUnavailableForTheRun) {
  std::vector<AccountInput> accounts = FourAccounts();
  for (AccountInput& a : accounts) {
    a.has_profit_data = false;
    a.wallet_micros.reset();
  }
  const ScoringResult r = ScoreAccounts(accounts, DefaultScoringProfile());
  EXPECT_THAT(r.unavailable_criteria,
              ElementsAre(C::kProfitContribution, C::kShareOfWallet));
  const AccountScoreValue& a = ById(r, "a");
  EXPECT_FALSE(Criterion(a, C::kProfitContribution).available);
  EXPECT_FALSE(Criterion(a, C::kProfitContribution).raw_money.has_value());
  // Still listed (weighted), one entry per weighted criterion.
  EXPECT_EQ(a.criteria.size(), 11u);
  // a's other normalised values are unchanged; drop profit (.15 * .625) and
  // wallet (.10 * .5): (.722163883751 - .09375 - .05) / .75
  //   = .578413883751 / .75 = 77.1218511668.
  EXPECT_NEAR(a.score, 77.1218511668117, kTol);
  EXPECT_NEAR(Criterion(a, C::kRevenueContribution).weight, 0.2 / 0.75, kTol);
  for (const AccountScoreValue& s : r.scores) ExpectContributionsSumToScore(s);
}

// ---------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------

std::vector<AccountInput> WithReferrals(
    const std::vector<std::pair<std::string, int64_t>>& counts) {
  std::vector<AccountInput> accounts;
  for (const auto& [id, count] : counts) {
    AccountInput a = Account(id);
    a.referrals_in_window = count;
    accounts.push_back(a);
  }
  return accounts;
}

TEST(NormalizationTest, PercentileRankCountsTiesHalf) {
  // Referrals 0, 0, 1, 3, 3 of n = 5:
  //   0: (0 lower + 2 equal / 2) / 5 = .2
  //   1: (2 + 1/2) / 5 = .5
  //   3: (3 + 2/2) / 5 = .8
  const std::vector<AccountInput> accounts =
      WithReferrals({{"p", 3}, {"q", 0}, {"r", 1}, {"s", 0}, {"t", 3}});
  const ScoringResult r =
      ScoreAccounts(accounts, OnlyWeights({{C::kReferrals, 1}}));
  const std::vector<double> scores = ScoresOf(r);
  const std::vector<double> expected = {80, 20, 50, 20, 80};
  ASSERT_EQ(scores.size(), expected.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_NEAR(scores[i], expected[i], kTol) << i;
  }
  EXPECT_THAT(RanksOf(r), ElementsAre(1, 4, 3, 4, 1));
  EXPECT_THAT(TiersOf(r), ElementsAre(T::kA, T::kC, T::kB, T::kC, T::kA));
  EXPECT_NEAR(r.median_score, 50, kTol);
  EXPECT_NEAR(r.mean_score, 50, kTol);  // (80 + 20 + 50 + 20 + 80) / 5
}

TEST(NormalizationTest, PercentileRankOfALoneAccountIsAHalf) {
  AccountInput a = Account("a");
  a.revenue_window = 10 * kMicros;
  const ScoringResult r =
      ScoreAccounts(std::vector<AccountInput>{a},
                    OnlyWeights({{C::kRevenueContribution, 1}}));
  // Share 1, n = 1: (0 + 1/2) / 1 = .5.
  EXPECT_NEAR(r.scores[0].score, 50, kTol);
  EXPECT_EQ(r.scores[0].rank, 1);
}

TEST(NormalizationTest, MinMaxWithAllEqualValuesGivesOne) {
  // Tenure 100 days for everyone (all equal -> 1); referrals 0, 2, 4 -> 0,
  // .5, 1. Scores 100 * (.5 * 1 + .5 * n_ref): 50, 75, 100.
  std::vector<AccountInput> accounts =
      WithReferrals({{"x", 0}, {"y", 2}, {"z", 4}});
  for (AccountInput& a : accounts) a.first_purchase_day = 900;
  const ScoringResult r = ScoreAccounts(
      accounts, OnlyWeights({{C::kLoyaltyTenure, 1}, {C::kReferrals, 1}},
                            ScoreNormalization::kMinMax));
  for (const AccountScoreValue& s : r.scores) {
    EXPECT_NEAR(Criterion(s, C::kLoyaltyTenure).normalized, 1.0, kTol);
    EXPECT_NEAR(Criterion(s, C::kLoyaltyTenure).raw_value, 100, kTol);
  }
  EXPECT_NEAR(r.scores[0].score, 50, kTol);
  EXPECT_NEAR(r.scores[1].score, 75, kTol);
  EXPECT_NEAR(r.scores[2].score, 100, kTol);
  EXPECT_THAT(RanksOf(r), ElementsAre(3, 2, 1));
}

TEST(NormalizationTest, FixedScaleCriteriaAreNotRenormalized) {
  // P(alive) .2 and .4 under min-max stay .2 and .4 (not 0 and 1); ratings
  // 2 and 4 become .25 and .75 under either method.
  AccountInput x = Account("x");
  x.p_alive = 0.2;
  x.strategic_value = 2;
  AccountInput y = Account("y");
  y.p_alive = 0.4;
  y.strategic_value = 4;
  const std::vector<AccountInput> accounts = {x, y};
  for (ScoreNormalization method :
       {ScoreNormalization::kMinMax, ScoreNormalization::kPercentileRank}) {
    const ScoringResult r = ScoreAccounts(
        accounts,
        OnlyWeights({{C::kLoyaltyPAlive, 1}, {C::kStrategicValue, 1}}, method));
    EXPECT_NEAR(Criterion(r.scores[0], C::kLoyaltyPAlive).normalized, .2, kTol);
    EXPECT_NEAR(Criterion(r.scores[1], C::kLoyaltyPAlive).normalized, .4, kTol);
    EXPECT_NEAR(Criterion(r.scores[0], C::kStrategicValue).normalized, .25,
                kTol);
    EXPECT_NEAR(Criterion(r.scores[1], C::kStrategicValue).normalized, .75,
                kTol);
    // x: 100 * (.2 + .25) / 2 = 22.5; y: 100 * (.4 + .75) / 2 = 57.5.
    EXPECT_NEAR(r.scores[0].score, 22.5, kTol);
    EXPECT_NEAR(r.scores[1].score, 57.5, kTol);
  }
}

// ---------------------------------------------------------------------------
// Availability and weights
// ---------------------------------------------------------------------------

TEST(AvailabilityTest, UnavailableWeightIsSpreadOverTheOthers) {
  // Share of wallet .5, strategic value .5.
  // x: no wallet, strategic 4 (.75): strategic carries the whole weight,
  //    100 * 1 * .75 = 75.
  // y: 250 / 1000 = .25, strategic 2 (.25): 100 * (.5 * .25 + .5 * .25) = 25.
  // z: a wallet of 0 is no estimate; strategic 5: 100.
  AccountInput x = Account("x");
  x.strategic_value = 4;
  x.revenue_last_12_months = 300 * kMicros;
  AccountInput y = Account("y");
  y.strategic_value = 2;
  y.wallet_micros = 1000 * kMicros;
  y.revenue_last_12_months = 250 * kMicros;
  AccountInput z = Account("z");
  z.strategic_value = 5;
  z.wallet_micros = 0;
  z.revenue_last_12_months = 100 * kMicros;
  const std::vector<AccountInput> accounts = {x, y, z};
  const ScoringResult r = ScoreAccounts(
      accounts,
      OnlyWeights({{C::kShareOfWallet, .5}, {C::kStrategicValue, .5}}));

  const AccountScoreValue& sx = r.scores[0];
  ASSERT_EQ(sx.criteria.size(), 2u);
  EXPECT_EQ(sx.criteria[0].criterion, C::kStrategicValue);  // Enum order.
  EXPECT_EQ(sx.criteria[1].criterion, C::kShareOfWallet);
  EXPECT_FALSE(sx.criteria[1].available);
  EXPECT_EQ(sx.criteria[1].weight, 0);
  EXPECT_EQ(sx.criteria[1].contribution, 0);
  EXPECT_NEAR(sx.criteria[0].weight, 1.0, kTol);
  EXPECT_NEAR(sx.criteria[0].contribution, 75, kTol);
  EXPECT_NEAR(sx.score, 75, kTol);

  const AccountScoreValue& sy = r.scores[1];
  EXPECT_NEAR(sy.criteria[0].weight, .5, kTol);
  EXPECT_NEAR(sy.criteria[1].weight, .5, kTol);
  EXPECT_NEAR(sy.criteria[0].contribution, 12.5, kTol);
  EXPECT_NEAR(sy.criteria[1].contribution, 12.5, kTol);
  EXPECT_NEAR(sy.score, 25, kTol);

  EXPECT_FALSE(r.scores[2].criteria[1].available);
  EXPECT_NEAR(r.scores[2].score, 100, kTol);

  EXPECT_THAT(r.unavailable_criteria, IsEmpty());
  for (const AccountScoreValue& s : r.scores) ExpectContributionsSumToScore(s);
}

TEST(AvailabilityTest, AccountWithNoAvailableCriterionScoresZero) {
  // Strategic value only; u not assessed (0), v rated 7 (outside 1..5, not
  // assessed either).
  AccountInput u = Account("u");
  AccountInput v = Account("v");
  v.strategic_value = 7;
  const std::vector<AccountInput> accounts = {u, v};
  const ScoringResult r =
      ScoreAccounts(accounts, OnlyWeights({{C::kStrategicValue, 1}}));
  for (const AccountScoreValue& s : r.scores) {
    EXPECT_EQ(s.score, 0);
    EXPECT_EQ(s.tier, T::kC);
    EXPECT_EQ(s.rank, 1);
    ASSERT_EQ(s.criteria.size(), 1u);
    EXPECT_FALSE(s.criteria[0].available);
    EXPECT_EQ(s.criteria[0].weight, 0);
  }
  EXPECT_THAT(r.unavailable_criteria, ElementsAre(C::kStrategicValue));
  EXPECT_EQ(r.tier_c_count, 2);

  // With tier B from 0, a score of 0 is B like any other score >= 0.
  ScoringProfileParams b_from_zero = OnlyWeights({{C::kStrategicValue, 1}});
  b_from_zero.tier_b_min_score = 0;
  EXPECT_EQ(ScoreAccounts(accounts, b_from_zero).scores[0].tier, T::kB);
}

TEST(AvailabilityTest, NoAccounts) {
  const ScoringResult r =
      ScoreAccounts({}, OnlyWeights({{C::kGrowth, 1}, {C::kReferrals, 2}}));
  EXPECT_THAT(r.scores, IsEmpty());
  EXPECT_EQ(r.tier_a_count + r.tier_b_count + r.tier_c_count, 0);
  EXPECT_EQ(r.mean_score, 0);
  EXPECT_EQ(r.median_score, 0);
  EXPECT_THAT(r.unavailable_criteria, ElementsAre(C::kGrowth, C::kReferrals));
}

// ---------------------------------------------------------------------------
// Criteria
// ---------------------------------------------------------------------------

TEST(CriteriaTest, RegularityIsUnavailableBelowThreeDaysAndUsesPopulationCv) {
  // Days 0, 10, 30, 40: gaps 10, 20, 10, mean 40/3, population variance
  // ((10/3)^2 * 2 + (20/3)^2) / 3 = (200/9 + 400/9) / 3 = 200/9, so
  // sd = 10 sqrt(2) / 3 and CV = sd / mean = sqrt(2) / 4 = .353553.
  // Regularity 1 / (1 + .353553) = .738796 (= (8 - 2 sqrt 2) / 7).
  AccountInput even_gaps = Account("a");
  even_gaps.purchase_days = {0, 10, 30, 40};
  AccountInput shuffled = Account("b");  // Same days, any order, a repeat.
  shuffled.purchase_days = {40, 0, 30, 10, 10};
  AccountInput two_days = Account("c");
  two_days.purchase_days = {5, 10};
  AccountInput one_day_thrice = Account("d");
  one_day_thrice.purchase_days = {10, 10, 10};
  AccountInput daily = Account("e");  // Gaps 1, 1: CV 0.
  daily.purchase_days = {1, 2, 3};
  AccountInput skewed = Account("f");  // Gaps 10, 30: mean 20, sd 10, CV .5.
  skewed.purchase_days = {600, 610, 640};
  const std::vector<AccountInput> accounts = {
      even_gaps, shuffled, two_days, one_day_thrice, daily, skewed};
  const ScoringResult r =
      ScoreAccounts(accounts, OnlyWeights({{C::kLoyaltyRegularity, 1}}));

  EXPECT_NEAR(r.scores[0].criteria[0].raw_value, 0.7387961250362586, kTol);
  EXPECT_NEAR(r.scores[0].score, 73.87961250362586, kTol);
  EXPECT_NEAR(r.scores[1].score, 73.87961250362586, kTol);
  EXPECT_FALSE(r.scores[2].criteria[0].available);
  EXPECT_EQ(r.scores[2].score, 0);
  EXPECT_FALSE(r.scores[3].criteria[0].available);
  EXPECT_NEAR(r.scores[4].score, 100, kTol);
  EXPECT_NEAR(r.scores[5].criteria[0].raw_value, 2.0 / 3, kTol);
  EXPECT_THAT(r.unavailable_criteria, IsEmpty());
}

TEST(CriteriaTest, GrowthOfNewStoppedAndDormantAccounts) {
  // (current, previous) -> raw (c - p) / max(c, p), negatives as 0:
  //   new      (100, 0)   +1
  //   stopped  (0, 100)   -1
  //   grew     (150, 100) 50/150 = 1/3
  //   declined (50, 200)  -150/200 = -.75
  //   refunds  (-20, 50)  (0 - 50)/50 = -1
  //   dormant  (0, 0)     unavailable
  // Min-max over [-1, 1]: n = (raw + 1) / 2 -> 1, 0, 2/3, .125, 0.
  auto growth = [](std::string id, int64_t current, int64_t previous) {
    AccountInput a = Account(std::move(id));
    a.revenue_window = current * kMicros;
    a.revenue_previous_window = previous * kMicros;
    return a;
  };
  const std::vector<AccountInput> accounts = {
      growth("new", 100, 0),      growth("stopped", 0, 100),
      growth("grew", 150, 100),   growth("declined", 50, 200),
      growth("refunds", -20, 50), growth("dormant", 0, 0)};
  const ScoringResult r = ScoreAccounts(
      accounts, OnlyWeights({{C::kGrowth, 1}}, ScoreNormalization::kMinMax));
  const std::vector<double> raw = {1, -1, 1.0 / 3, -.75, -1};
  const std::vector<double> score = {100, 0, 200.0 / 3, 12.5, 0};
  for (size_t i = 0; i < raw.size(); ++i) {
    SCOPED_TRACE(accounts[i].customer_id);
    EXPECT_TRUE(r.scores[i].criteria[0].available);
    EXPECT_NEAR(r.scores[i].criteria[0].raw_value, raw[i], kTol);
    EXPECT_NEAR(r.scores[i].score, score[i], kTol);
  }
  EXPECT_FALSE(r.scores[5].criteria[0].available);
  EXPECT_EQ(r.scores[5].score, 0);
}

TEST(CriteriaTest, PAliveIsClampedAndNanIsUnavailable) {
  AccountInput x = Account("x");
  x.p_alive = 1.5;
  AccountInput y = Account("y");
  y.p_alive = std::numeric_limits<double>::quiet_NaN();
  const std::vector<AccountInput> accounts = {x, y};
  const ScoringResult r =
      ScoreAccounts(accounts, OnlyWeights({{C::kLoyaltyPAlive, 1}}));
  EXPECT_NEAR(r.scores[0].score, 100, kTol);
  EXPECT_FALSE(r.scores[1].criteria[0].available);
}

// ---------------------------------------------------------------------------
// Ranks and tiers
// ---------------------------------------------------------------------------

TEST(RankTest, EqualScoresShareARank) {
  // Referrals 3, 1, 1, 0 of n = 4 -> (3 + .5)/4, (1 + 1)/4 twice, .5/4:
  // scores 87.5, 50, 50, 12.5; ranks 1, 2, 2, 4.
  const std::vector<AccountInput> accounts =
      WithReferrals({{"y", 1}, {"z", 0}, {"w", 3}, {"x", 1}});
  const ScoringResult r =
      ScoreAccounts(accounts, OnlyWeights({{C::kReferrals, 1}}));
  EXPECT_NEAR(r.scores[0].score, 50, kTol);
  EXPECT_NEAR(r.scores[1].score, 12.5, kTol);
  EXPECT_NEAR(r.scores[2].score, 87.5, kTol);
  EXPECT_NEAR(r.scores[3].score, 50, kTol);
  EXPECT_THAT(RanksOf(r), ElementsAre(2, 4, 1, 2));

  // Listing order: rank, then customer id.
  std::vector<AccountScoreValue> listed = r.scores;
  std::sort(listed.begin(), listed.end(), ListsBefore);
  std::vector<std::string> ids;
  for (const AccountScoreValue& s : listed) ids.push_back(s.customer_id);
  EXPECT_THAT(ids, ElementsAre("w", "x", "y", "z"));
}

// Weights P(alive) .1 and share of wallet .2 (sum 0.30000000000000004 in
// floating point): (P, SoW) = (.5, .8) scores exactly 70, (.7, .7) scores
// 69.99999999999999 though both are 100 * (.1 * .5 + .2 * .8) / .3 =
// 100 * (.07 + .14) / .3 = 70. Likewise (.4, .4) gives 40.0 and (.0, .6)
// 39.99999999999999, both 100 * .12 / .3 = 40.
std::vector<AccountInput> NoisyScores() {
  auto account = [](std::string id, double p_alive, int64_t revenue) {
    AccountInput a = Account(std::move(id));
    a.p_alive = p_alive;
    a.wallet_micros = 1000 * kMicros;
    a.revenue_last_12_months = revenue * kMicros;
    return a;
  };
  return {account("exact70", .5, 800), account("noisy70", .7, 700),
          account("exact40", .4, 400), account("noisy40", .0, 600),
          // 100 * (.1 * .6 + .2 * .5) / .3 = 100 * .16 / .3 = 53.33
          account("mid", .6, 500)};
}

TEST(RankTest, ScoresEqualUpToFloatNoiseShareRankAndTier) {
  const std::vector<AccountInput> accounts = NoisyScores();
  const ScoringResult r = ScoreAccounts(
      accounts,
      OnlyWeights({{C::kLoyaltyPAlive, .1}, {C::kShareOfWallet, .2}}));
  // The noise is real (else this test proves nothing)...
  EXPECT_EQ(r.scores[0].score, 70.0);
  EXPECT_LT(r.scores[1].score, 70.0);
  EXPECT_NEAR(r.scores[1].score, 70.0, 1e-12);
  EXPECT_EQ(r.scores[2].score, 40.0);
  EXPECT_LT(r.scores[3].score, 40.0);
  EXPECT_NEAR(r.scores[4].score, 160.0 / 3, kTol);
  // ...and ignored: inclusive thresholds, shared ranks.
  EXPECT_THAT(TiersOf(r), ElementsAre(T::kA, T::kA, T::kB, T::kB, T::kB));
  EXPECT_THAT(RanksOf(r), ElementsAre(1, 1, 4, 4, 3));
  EXPECT_EQ(r.tier_a_count, 2);
  EXPECT_EQ(r.tier_b_count, 3);
  EXPECT_EQ(r.tier_c_count, 0);
}

TEST(TierTest, ThresholdsAreInclusiveLowerBounds) {
  const ScoringProfileParams p = DefaultScoringProfile();  // A 70, B 40.
  EXPECT_EQ(TierOf(100, p), T::kA);
  EXPECT_EQ(TierOf(70, p), T::kA);
  EXPECT_EQ(TierOf(70 - 1e-12, p), T::kA);  // Below the 1e-9 resolution.
  EXPECT_EQ(TierOf(70 - 1e-7, p), T::kB);
  EXPECT_EQ(TierOf(69.99, p), T::kB);
  EXPECT_EQ(TierOf(40, p), T::kB);
  EXPECT_EQ(TierOf(39.99, p), T::kC);
  EXPECT_EQ(TierOf(0, p), T::kC);
}

// ---------------------------------------------------------------------------
// Tier migration
// ---------------------------------------------------------------------------

TEST(CompareTiersTest, MatrixAndMovesLargestChangeFirst) {
  // base            target          change
  //   a  80 A         a  85 A         stays A
  //   k  90 A         k  91 A         stays A
  //   b  50 B         b  72 A         +22
  //   c  30 C         -               left:    30 -> (0)   -30
  //   d  75 A         d  35 C         -40
  //   e  45 B         e  44 B         stays B
  //   -               f  60 B         entered: (0) -> 60   +60
  //   -               g  22 C         entered: +22 (ties b; b first by id)
  //   h  0.1 C        h  0.3 B        0.3 - 0.1 = 0.19999999999999998
  //   -               i  0.2 C        +0.2: ties h after rounding; h first
  const std::vector<ScoredAccount> base = {
      {"d", 75, T::kA}, {"a", 80, T::kA}, {"h", 0.1, T::kC}, {"c", 30, T::kC},
      {"k", 90, T::kA}, {"e", 45, T::kB}, {"b", 50, T::kB}};
  const std::vector<ScoredAccount> target = {
      {"g", 22, T::kC},  {"e", 44, T::kB}, {"a", 85, T::kA},
      {"i", 0.2, T::kC}, {"f", 60, T::kB}, {"d", 35, T::kC},
      {"b", 72, T::kA},  {"k", 91, T::kA}, {"h", 0.3, T::kB}};
  const TierMigrationResult r = CompareTiers(base, target);

  // Cells by from then to (A, B, C, not scored), non-zero only.
  struct Cell {
    T from, to;
    int64_t count;
  };
  const std::vector<Cell> expected_cells = {
      {T::kA, T::kA, 2},         {T::kA, T::kC, 1},
      {T::kB, T::kA, 1},         {T::kB, T::kB, 1},
      {T::kC, T::kB, 1},         {T::kC, T::kNotScored, 1},
      {T::kNotScored, T::kB, 1}, {T::kNotScored, T::kC, 2}};
  ASSERT_EQ(r.cells.size(), expected_cells.size());
  for (size_t i = 0; i < r.cells.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.cells[i].from, expected_cells[i].from);
    EXPECT_EQ(r.cells[i].to, expected_cells[i].to);
    EXPECT_EQ(r.cells[i].count, expected_cells[i].count);
  }

  std::vector<std::string> ids;
  for (const TierMove& m : r.moves) ids.push_back(m.customer_id);
  EXPECT_THAT(ids, ElementsAre("f", "d", "c", "b", "g", "h", "i"));

  const TierMove& f = r.moves[0];
  EXPECT_EQ(f.from, T::kNotScored);
  EXPECT_EQ(f.to, T::kB);
  EXPECT_FALSE(f.from_score.has_value());
  EXPECT_EQ(f.to_score, 60);
  const TierMove& c = r.moves[2];
  EXPECT_EQ(c.from, T::kC);
  EXPECT_EQ(c.to, T::kNotScored);
  EXPECT_EQ(c.from_score, 30);
  EXPECT_FALSE(c.to_score.has_value());
  const TierMove& d = r.moves[1];
  EXPECT_EQ(d.from, T::kA);
  EXPECT_EQ(d.to, T::kC);
  EXPECT_EQ(d.from_score, 75);
  EXPECT_EQ(d.to_score, 35);
}

TEST(CompareTiersTest, SameRunHasOnlyTheDiagonal) {
  const std::vector<ScoredAccount> run = {
      {"a", 80, T::kA}, {"b", 50, T::kB}, {"c", 10, T::kC}, {"d", 20, T::kC}};
  const TierMigrationResult r = CompareTiers(run, run);
  ASSERT_EQ(r.cells.size(), 3u);
  EXPECT_EQ(r.cells[0].from, T::kA);
  EXPECT_EQ(r.cells[0].to, T::kA);
  EXPECT_EQ(r.cells[0].count, 1);
  EXPECT_EQ(r.cells[2].from, T::kC);
  EXPECT_EQ(r.cells[2].to, T::kC);
  EXPECT_EQ(r.cells[2].count, 2);
  EXPECT_THAT(r.moves, IsEmpty());

  const TierMigrationResult empty = CompareTiers({}, {});
  EXPECT_THAT(empty.cells, IsEmpty());
  EXPECT_THAT(empty.moves, IsEmpty());
}

}  // namespace
}  // namespace custra
