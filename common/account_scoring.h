#ifndef CUSTRA_COMMON_ACCOUNT_SCORING_H_
#define CUSTRA_COMMON_ACCOUNT_SCORING_H_

// The key-account scoring model of KeyAccountService as pure functions over
// plain structs: scoring profiles and their validation, per-account raw
// criteria, normalisation, scores, tiers and ranks, and the tier migration
// between two runs. The proto comments in protos/custra/v1/key_account.proto
// (section "Key-account scoring") are the specification; this file names
// only what the code adds to them.
//
// Conventions:
// - Money is integer micros of the tenant currency; dates are UTC days since
//   1970-01-01 (`int64_t day`).
// - The caller computes every per-account input from storage (windows,
//   models, assessments); nothing here reads a clock or a database.
// - Scores are compared after rounding to 1e-9 points (ranks, tiers, move
//   order), so float noise never splits equal scores or misses a boundary.
// - Validation functions return INVALID_ARGUMENT with a field violation
//   whose field is the proto path, e.g. "scoring_profile.window_months".

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace custra {

// Numbers of custra.v1.AccountScoringCriterion.
enum class ScoringCriterion : int {
  kRevenueContribution = 1,
  kProfitContribution = 2,
  kGrowth = 3,
  kPotential = 4,
  kLoyaltyTenure = 5,
  kLoyaltyRegularity = 6,
  kLoyaltyPAlive = 7,
  kStrategicValue = 8,
  kCooperation = 9,
  kReferrals = 10,
  kShareOfWallet = 11,
};

inline constexpr int kScoringCriterionCount = 11;

// Every criterion, in enum order.
inline constexpr std::array<ScoringCriterion, kScoringCriterionCount>
    kAllScoringCriteria = {
        ScoringCriterion::kRevenueContribution,
        ScoringCriterion::kProfitContribution,
        ScoringCriterion::kGrowth,
        ScoringCriterion::kPotential,
        ScoringCriterion::kLoyaltyTenure,
        ScoringCriterion::kLoyaltyRegularity,
        ScoringCriterion::kLoyaltyPAlive,
        ScoringCriterion::kStrategicValue,
        ScoringCriterion::kCooperation,
        ScoringCriterion::kReferrals,
        ScoringCriterion::kShareOfWallet,
};

// The index of a criterion in ScoringProfileParams::weights (number - 1).
constexpr int CriterionIndex(ScoringCriterion criterion) {
  return static_cast<int>(criterion) - 1;
}

// The proto name without its prefix, lower case, e.g. "revenue_contribution",
// "loyalty_p_alive"; "unknown" for a number outside 1..11.
absl::string_view ScoringCriterionName(ScoringCriterion criterion);

// Numbers of custra.v1.AccountTier.
enum class AccountTierKind : int { kA = 1, kB = 2, kC = 3, kNotScored = 4 };

// Numbers of custra.v1.AccountScoreNormalization (unspecified resolved to
// percentile rank by the caller).
enum class ScoreNormalization : int { kPercentileRank = 1, kMinMax = 2 };

// A scoring profile's model parameters (ScoringProfile without id, names
// and times). Defaults of the create call (0 means 12 months, ...) are
// resolved by the caller before validation.
struct ScoringProfileParams {
  // Indexed by CriterionIndex; a criterion not listed on the wire is 0.
  std::array<double, kScoringCriterionCount> weights{};
  double tier_a_min_score = 70;
  double tier_b_min_score = 40;
  ScoreNormalization normalization = ScoreNormalization::kPercentileRank;
  int window_months = 12;
  std::vector<int> customer_kinds;  // CustomerKind numbers; empty: all.
  int clv_horizon_days = 365;
  double clv_annual_discount_rate = 0.10;
  double clv_margin = 1.0;

  double weight(ScoringCriterion c) const { return weights[CriterionIndex(c)]; }
};

// The built-in "default" profile, exactly as the proto states it: weights
// revenue 0.20, profit 0.15, growth 0.10, potential 0.15, tenure 0.04,
// regularity 0.03, P(alive) 0.05, strategic 0.10, cooperation 0.05,
// referrals 0.03, share of wallet 0.10 (sum 1); A >= 70, B >= 40;
// percentile rank; 12 months; all kinds; CLV 365 days, 10 %, margin 1.
ScoringProfileParams DefaultScoringProfile();

// Checks a resolved profile: weights finite and >= 0 with at least one
// positive (field "scoring_profile.weights", the description naming the
// criterion; per-entry paths come from WeightsFromList), 0 <= B < A <= 100
// (a B not below A is reported on "scoring_profile.tier_b_min_score"), a
// known normalisation, window 1..60 months, kinds 1..3
// ("scoring_profile.customer_kinds[i]"), CLV horizon 1..3650 days, discount
// rate in [0, 1), margin in (0, 1].
absl::Status ValidateScoringProfile(const ScoringProfileParams& params);

// One AccountCriterionWeight as on the wire.
struct CriterionWeightEntry {
  int criterion = 0;  // AccountScoringCriterion number.
  double weight = 0;
};

// The weights array of a wire list, checking each entry with its position:
// "scoring_profile.weights[i].criterion" (unknown or repeated),
// "scoring_profile.weights[i].weight" (negative or not finite), and
// "scoring_profile.weights" when no weight is positive.
absl::StatusOr<std::array<double, kScoringCriterionCount>> WeightsFromList(
    std::span<const CriterionWeightEntry> weights);

// The wire list of a weights array: the criteria with a positive weight, in
// enum order (a criterion not listed has weight 0).
std::vector<CriterionWeightEntry> WeightsToList(
    const std::array<double, kScoringCriterionCount>& weights);

// Whether scoring with `params` needs a purchase-count model (P(alive) or
// potential weighted) and a Gamma-Gamma spend model (potential weighted).
bool NeedsPurchaseModel(const ScoringProfileParams& params);
bool NeedsSpendModel(const ScoringProfileParams& params);

// The tier of a score under the profile's thresholds (inclusive, compared
// after rounding to 1e-9): A, B or C.
AccountTierKind TierOf(double score, const ScoringProfileParams& params);

// One account's raw inputs, computed by the caller as of the scoring date
// over the profile's window W (the `window_months` months ending on that
// date) unless said otherwise. Only the inputs of positively weighted
// criteria are read.
struct AccountInput {
  std::string customer_id;

  // Revenue contribution: net revenue in W. The raw value is
  // max(revenue_window, 0) / sum over the scored accounts of
  // max(revenue_window, 0), in [0, 1] (0 for everyone when that sum is 0);
  // raw money is revenue_window itself. Always available.
  int64_t revenue_window = 0;

  // Growth: net revenue in the window of equal length before W. With
  // c = max(revenue_window, 0) and p = max(revenue_previous_window, 0) the
  // raw value is (c - p) / max(c, p): +1 for a new account, -1 for one that
  // stopped buying; unavailable when c = p = 0 (0 / 0: nothing to grow).
  int64_t revenue_previous_window = 0;

  // Profit contribution: gross profit in W over lines with a known cost.
  // The raw value is max(profit_window, 0) / sum of max(profit_window, 0)
  // over the scored accounts with profit data (0 for everyone when that sum
  // is 0); raw money is profit_window itself. Available only when
  // `has_profit_data`, which is normally the same for every account: whether
  // the tenant has any cost or margin data.
  int64_t profit_window = 0;
  bool has_profit_data = false;

  // Tenure: as_of_day - first_purchase_day (the first purchase ever, not
  // only in W; clamped at 0). Unavailable without a purchase.
  std::optional<int64_t> first_purchase_day;
  int64_t as_of_day = 0;  // The scoring date, the same for every account.

  // Regularity: the distinct days with a purchase in W (any order;
  // duplicates ignored). With gaps g between consecutive days, the raw value
  // is 1 / (1 + CV), CV = population standard deviation / mean of the gaps,
  // in (0, 1]. Unavailable with fewer than three distinct days.
  std::vector<int64_t> purchase_days;

  // P(alive) as of the scoring date from the purchase-count model, in
  // [0, 1] (clamped); unset (or NaN): unavailable.
  std::optional<double> p_alive;

  // Potential: predicted CLV over the profile's horizon with its discount
  // rate and margin (purchase-count and Gamma-Gamma models). The raw value
  // is the CLV in currency units (micros / 1e6), raw money the micros;
  // unset: unavailable.
  std::optional<int64_t> clv_micros;

  // Manual ratings (KeyAccountAssessment) 1..5; 0 (or anything outside
  // 1..5): not assessed, unavailable. Raw value r, normalised (r - 1) / 4.
  int strategic_value = 0;
  int cooperation = 0;

  // Referrals: REFERRAL interactions recorded on the account in W. Always
  // available (0 is a value).
  int64_t referrals_in_window = 0;

  // Share of wallet: min(1, max(revenue_last_12_months, 0) / wallet_micros)
  // with the revenue of the 12 months ending on the scoring date (whatever
  // the profile's window). Unavailable without a positive wallet estimate.
  std::optional<int64_t> wallet_micros;
  int64_t revenue_last_12_months = 0;
};

// One criterion's part in an account's score (AccountScoreCriterion). When
// not available every value below is 0 / unset.
struct CriterionScore {
  ScoringCriterion criterion = ScoringCriterion::kRevenueContribution;
  bool available = false;
  double raw_value = 0;
  std::optional<int64_t> raw_money;  // Revenue, profit and potential only.
  double normalized = 0;             // [0, 1]
  double weight = 0;        // Profile weight / sum of available weights.
  double contribution = 0;  // 100 * weight * normalized, points.
};

// One account's score (AccountScore without the run's data).
struct AccountScoreValue {
  std::string customer_id;
  double score = 0;  // 0..100, the sum of the contributions.
  AccountTierKind tier = AccountTierKind::kC;
  int64_t rank = 0;  // 1 = best; equal scores share a rank (1, 2, 2, 4).
  // One per positively weighted criterion, in enum order.
  std::vector<CriterionScore> criteria;
};

// Whether `a` is listed before `b` (ListTopAccounts): better rank first,
// equal ranks by customer id.
bool ListsBefore(const AccountScoreValue& a, const AccountScoreValue& b);

struct ScoringResult {
  std::vector<AccountScoreValue> scores;  // In input order.
  int64_t tier_a_count = 0;
  int64_t tier_b_count = 0;
  int64_t tier_c_count = 0;
  double mean_score = 0;    // 0 without accounts.
  double median_score = 0;  // Mean of the middle two for an even count.
  // Positively weighted criteria available for no account, in enum order
  // (every weighted criterion when there are no accounts).
  std::vector<ScoringCriterion> unavailable_criteria;
};

// Scores every account of a run; `accounts` is the whole population of the
// run (the normalisation and the revenue and profit totals are over it),
// each customer at most once; `params` must be valid.
//
// Data-derived criteria (revenue and profit contribution, growth,
// potential, tenure, referrals) are normalised over the accounts for which
// they are available:
// - percentile rank: (B + E / 2) / N, B the number of those accounts with a
//   lower raw value, E the number with an equal one (the account itself
//   included), N their count; i.e. scipy's percentileofscore(kind="mean").
//   A lone account gets 0.5;
// - min-max: (raw - min) / (max - min), 1 when all are equal.
// Fixed-scale criteria are never re-normalised: P(alive), regularity and
// share of wallet as they are, ratings (r - 1) / 4.
//
// score = 100 * sum(w_i n_i) / sum(w_i) over the positively weighted
// criteria available for the account; an account with none of them scores
// 0 (its tier then follows from the thresholds like any other score).
//
// Revenue and profit contributions are shares of `tenant` when given: the
// sums of max(revenue, 0) and max(profit, 0) in the window over every
// customer of the tenant (the proto's "share of the tenant's revenue"),
// scored or not; without it, of the sums over `accounts`.
struct TenantTotals {
  int64_t positive_revenue = 0;
  int64_t positive_profit = 0;
};
ScoringResult ScoreAccounts(std::span<const AccountInput> accounts,
                            const ScoringProfileParams& params,
                            const TenantTotals* tenant = nullptr);

// ---------------------------------------------------------------------------
// Tier migration (CompareScorings)
// ---------------------------------------------------------------------------

// One account of a stored run, with its tier A, B or C. The id is not
// owned.
struct ScoredAccount {
  absl::string_view customer_id;
  double score = 0;
  AccountTierKind tier = AccountTierKind::kC;
};

struct TierMigrationCell {
  AccountTierKind from = AccountTierKind::kA;
  AccountTierKind to = AccountTierKind::kA;
  int64_t count = 0;
};

struct TierMove {
  std::string customer_id;
  AccountTierKind from = AccountTierKind::kA;
  AccountTierKind to = AccountTierKind::kA;
  std::optional<double> from_score;  // Unset: not in the base run.
  std::optional<double> to_score;    // Unset: not in the target run.
};

struct TierMigrationResult {
  // Non-zero cells by from tier then to tier (A, B, C, not scored).
  std::vector<TierMigrationCell> cells;
  // Accounts whose tier changed, entering and leaving ones included
  // (not scored on one side): largest |to_score - from_score| first, an
  // unset score counting as 0 (compared after rounding to 1e-9), ties by
  // customer id.
  std::vector<TierMove> moves;
};

// Compares two runs given in any order, each customer at most once per run.
TierMigrationResult CompareTiers(std::span<const ScoredAccount> base,
                                 std::span<const ScoredAccount> target);

}  // namespace custra

#endif  // CUSTRA_COMMON_ACCOUNT_SCORING_H_
