#include "common/account_scoring.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace custra {
namespace {

constexpr absl::string_view kPrefix = "scoring_profile.";

// Scores are compared in units of 1e-9 points.
constexpr double kScoreResolution = 1e9;

int64_t ScoreKey(double score) {
  return std::llround(score * kScoreResolution);
}

bool IsKnownCriterion(int number) {
  return number >= 1 && number <= kScoringCriterionCount;
}

// How a criterion's raw value becomes its normalised value.
enum class Scale {
  kRelative,  // Percentile rank or min-max over the accounts.
  kAsIs,      // Already in [0, 1].
  kRating,    // 1..5 -> (r - 1) / 4.
};

Scale ScaleOf(ScoringCriterion criterion) {
  switch (criterion) {
    case ScoringCriterion::kLoyaltyRegularity:
    case ScoringCriterion::kLoyaltyPAlive:
    case ScoringCriterion::kShareOfWallet:
      return Scale::kAsIs;
    case ScoringCriterion::kStrategicValue:
    case ScoringCriterion::kCooperation:
      return Scale::kRating;
    default:
      return Scale::kRelative;
  }
}

// One criterion's raw value for one account; nullopt when unavailable.
struct Raw {
  double value = 0;
  std::optional<int64_t> money;
};

// max(x, 0) / total, or 0 when total <= 0.
double PositiveShare(int64_t x, double total) {
  return total > 0 ? static_cast<double>(std::max<int64_t>(x, 0)) / total : 0;
}

std::optional<double> Regularity(const std::vector<int64_t>& purchase_days) {
  std::vector<int64_t> days = purchase_days;
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  if (days.size() < 3) return std::nullopt;
  const size_t gaps = days.size() - 1;
  const double mean = static_cast<double>(days.back() - days.front()) /
                      static_cast<double>(gaps);
  double sum_sq = 0;
  for (size_t i = 1; i < days.size(); ++i) {
    const double d = static_cast<double>(days[i] - days[i - 1]) - mean;
    sum_sq += d * d;
  }
  const double cv = std::sqrt(sum_sq / static_cast<double>(gaps)) / mean;
  return 1 / (1 + cv);
}

std::optional<Raw> Rating(int r) {
  if (r < 1 || r > 5) return std::nullopt;
  return Raw{static_cast<double>(r), std::nullopt};
}

// Tenant totals the contribution criteria divide by.
struct Totals {
  double revenue = 0;  // Sum of positive window revenue.
  double profit = 0;   // Sum of positive profit, accounts with profit data.
};

std::optional<Raw> RawValue(ScoringCriterion criterion, const AccountInput& a,
                            const Totals& totals) {
  switch (criterion) {
    case ScoringCriterion::kRevenueContribution:
      return Raw{PositiveShare(a.revenue_window, totals.revenue),
                 a.revenue_window};
    case ScoringCriterion::kProfitContribution:
      if (!a.has_profit_data) return std::nullopt;
      return Raw{PositiveShare(a.profit_window, totals.profit),
                 a.profit_window};
    case ScoringCriterion::kGrowth: {
      const int64_t current = std::max<int64_t>(a.revenue_window, 0);
      const int64_t previous = std::max<int64_t>(a.revenue_previous_window, 0);
      if (current == 0 && previous == 0) return std::nullopt;
      return Raw{static_cast<double>(current - previous) /
                     static_cast<double>(std::max(current, previous)),
                 std::nullopt};
    }
    case ScoringCriterion::kPotential:
      if (!a.clv_micros.has_value()) return std::nullopt;
      return Raw{static_cast<double>(*a.clv_micros) / 1e6, a.clv_micros};
    case ScoringCriterion::kLoyaltyTenure:
      if (!a.first_purchase_day.has_value()) return std::nullopt;
      return Raw{static_cast<double>(
                     std::max<int64_t>(a.as_of_day - *a.first_purchase_day, 0)),
                 std::nullopt};
    case ScoringCriterion::kLoyaltyRegularity: {
      const std::optional<double> r = Regularity(a.purchase_days);
      if (!r.has_value()) return std::nullopt;
      return Raw{*r, std::nullopt};
    }
    case ScoringCriterion::kLoyaltyPAlive:
      if (!a.p_alive.has_value() || std::isnan(*a.p_alive)) return std::nullopt;
      return Raw{std::clamp(*a.p_alive, 0.0, 1.0), std::nullopt};
    case ScoringCriterion::kStrategicValue:
      return Rating(a.strategic_value);
    case ScoringCriterion::kCooperation:
      return Rating(a.cooperation);
    case ScoringCriterion::kReferrals:
      return Raw{static_cast<double>(a.referrals_in_window), std::nullopt};
    case ScoringCriterion::kShareOfWallet: {
      if (!a.wallet_micros.has_value() || *a.wallet_micros <= 0) {
        return std::nullopt;
      }
      const double share =
          static_cast<double>(std::max<int64_t>(a.revenue_last_12_months, 0)) /
          static_cast<double>(*a.wallet_micros);
      return Raw{std::min(share, 1.0), std::nullopt};
    }
  }
  return std::nullopt;
}

// Normalised values of a relative criterion, for the accounts listed in
// `available` (indices into `raw`), written into `normalized`.
void NormalizeRelative(ScoreNormalization method,
                       const std::vector<size_t>& available,
                       const std::vector<double>& raw,
                       std::vector<double>& normalized) {
  if (available.empty()) return;
  std::vector<size_t> order = available;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return raw[a] < raw[b]; });
  if (method == ScoreNormalization::kMinMax) {
    const double lo = raw[order.front()], hi = raw[order.back()];
    for (size_t i : order) {
      normalized[i] = hi > lo ? (raw[i] - lo) / (hi - lo) : 1.0;
    }
    return;
  }
  // Percentile rank: (lower + equal / 2) / n, per run of equal values.
  const double n = static_cast<double>(order.size());
  for (size_t begin = 0; begin < order.size();) {
    size_t end = begin + 1;
    while (end < order.size() && raw[order[end]] == raw[order[begin]]) ++end;
    const double value =
        (static_cast<double>(begin) + static_cast<double>(end - begin) / 2) / n;
    for (size_t k = begin; k < end; ++k) normalized[order[k]] = value;
    begin = end;
  }
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  if (values.size() % 2 == 1) return values[mid];
  return (values[mid - 1] + values[mid]) / 2;
}

int TierIndex(AccountTierKind tier) { return static_cast<int>(tier) - 1; }

}  // namespace

absl::string_view ScoringCriterionName(ScoringCriterion criterion) {
  switch (criterion) {
    case ScoringCriterion::kRevenueContribution:
      return "revenue_contribution";
    case ScoringCriterion::kProfitContribution:
      return "profit_contribution";
    case ScoringCriterion::kGrowth:
      return "growth";
    case ScoringCriterion::kPotential:
      return "potential";
    case ScoringCriterion::kLoyaltyTenure:
      return "loyalty_tenure";
    case ScoringCriterion::kLoyaltyRegularity:
      return "loyalty_regularity";
    case ScoringCriterion::kLoyaltyPAlive:
      return "loyalty_p_alive";
    case ScoringCriterion::kStrategicValue:
      return "strategic_value";
    case ScoringCriterion::kCooperation:
      return "cooperation";
    case ScoringCriterion::kReferrals:
      return "referrals";
    case ScoringCriterion::kShareOfWallet:
      return "share_of_wallet";
  }
  return "unknown";
}

ScoringProfileParams DefaultScoringProfile() {
  ScoringProfileParams p;
  auto set = [&p](ScoringCriterion c, double w) {
    p.weights[CriterionIndex(c)] = w;
  };
  set(ScoringCriterion::kRevenueContribution, 0.20);
  set(ScoringCriterion::kProfitContribution, 0.15);
  set(ScoringCriterion::kGrowth, 0.10);
  set(ScoringCriterion::kPotential, 0.15);
  set(ScoringCriterion::kLoyaltyTenure, 0.04);
  set(ScoringCriterion::kLoyaltyRegularity, 0.03);
  set(ScoringCriterion::kLoyaltyPAlive, 0.05);
  set(ScoringCriterion::kStrategicValue, 0.10);
  set(ScoringCriterion::kCooperation, 0.05);
  set(ScoringCriterion::kReferrals, 0.03);
  set(ScoringCriterion::kShareOfWallet, 0.10);
  p.tier_a_min_score = 70;
  p.tier_b_min_score = 40;
  p.normalization = ScoreNormalization::kPercentileRank;
  p.window_months = 12;
  p.customer_kinds.clear();
  p.clv_horizon_days = 365;
  p.clv_annual_discount_rate = 0.10;
  p.clv_margin = 1.0;
  return p;
}

absl::Status ValidateScoringProfile(const ScoringProfileParams& params) {
  const std::string weights_field = absl::StrCat(kPrefix, "weights");
  bool any_positive = false;
  for (ScoringCriterion c : kAllScoringCriteria) {
    const double w = params.weight(c);
    if (!std::isfinite(w) || w < 0) {
      return InvalidFieldError(
          weights_field, absl::StrCat("the weight of ", ScoringCriterionName(c),
                                      " is ", w, "; must be >= 0 and finite"));
    }
    if (w > 0) any_positive = true;
  }
  if (!any_positive) {
    return InvalidFieldError(weights_field,
                             "at least one weight must be positive");
  }

  const double a = params.tier_a_min_score, b = params.tier_b_min_score;
  if (!(a >= 0 && a <= 100)) {
    return InvalidFieldError(absl::StrCat(kPrefix, "tier_a_min_score"),
                             absl::StrCat("is ", a, "; must be in [0, 100]"));
  }
  if (!(b >= 0 && b <= 100)) {
    return InvalidFieldError(absl::StrCat(kPrefix, "tier_b_min_score"),
                             absl::StrCat("is ", b, "; must be in [0, 100]"));
  }
  if (!(b < a)) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "tier_b_min_score"),
        absl::StrCat("is ", b, "; must be less than tier_a_min_score (", a,
                     ")"));
  }
  if (params.normalization != ScoreNormalization::kPercentileRank &&
      params.normalization != ScoreNormalization::kMinMax) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "normalization"),
        absl::StrCat("unknown normalization ",
                     static_cast<int>(params.normalization)));
  }
  if (params.window_months < 1 || params.window_months > 60) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "window_months"),
        absl::StrCat("is ", params.window_months, "; must be 1 to 60"));
  }
  for (size_t i = 0; i < params.customer_kinds.size(); ++i) {
    const int kind = params.customer_kinds[i];
    if (kind < 1 || kind > 3) {
      return InvalidFieldError(absl::StrCat(kPrefix, "customer_kinds[", i, "]"),
                               absl::StrCat("unknown customer kind ", kind));
    }
  }
  if (params.clv_horizon_days < 1 || params.clv_horizon_days > 3650) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "clv_horizon_days"),
        absl::StrCat("is ", params.clv_horizon_days, "; must be 1 to 3650"));
  }
  const double rate = params.clv_annual_discount_rate;
  if (!(rate >= 0 && rate < 1)) {
    return InvalidFieldError(absl::StrCat(kPrefix, "clv_annual_discount_rate"),
                             absl::StrCat("is ", rate, "; must be in [0, 1)"));
  }
  const double margin = params.clv_margin;
  if (!(margin > 0 && margin <= 1)) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "clv_margin"),
        absl::StrCat("is ", margin, "; must be in (0, 1]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::array<double, kScoringCriterionCount>> WeightsFromList(
    std::span<const CriterionWeightEntry> weights) {
  std::array<double, kScoringCriterionCount> out{};
  std::array<int, kScoringCriterionCount> seen_at;
  seen_at.fill(-1);
  bool any_positive = false;
  for (size_t i = 0; i < weights.size(); ++i) {
    const CriterionWeightEntry& e = weights[i];
    const std::string entry = absl::StrCat(kPrefix, "weights[", i, "]");
    if (!IsKnownCriterion(e.criterion)) {
      return InvalidFieldError(absl::StrCat(entry, ".criterion"),
                               absl::StrCat("unknown criterion ", e.criterion));
    }
    const int index = e.criterion - 1;
    if (seen_at[index] >= 0) {
      return InvalidFieldError(absl::StrCat(entry, ".criterion"),
                               absl::StrCat("repeats the criterion of weights[",
                                            seen_at[index], "]"));
    }
    seen_at[index] = static_cast<int>(i);
    if (!std::isfinite(e.weight) || e.weight < 0) {
      return InvalidFieldError(
          absl::StrCat(entry, ".weight"),
          absl::StrCat("is ", e.weight, "; must be >= 0 and finite"));
    }
    if (e.weight > 0) any_positive = true;
    out[index] = e.weight;
  }
  if (!any_positive) {
    return InvalidFieldError(absl::StrCat(kPrefix, "weights"),
                             "at least one weight must be positive");
  }
  return out;
}

std::vector<CriterionWeightEntry> WeightsToList(
    const std::array<double, kScoringCriterionCount>& weights) {
  std::vector<CriterionWeightEntry> out;
  for (ScoringCriterion c : kAllScoringCriteria) {
    const double w = weights[CriterionIndex(c)];
    if (w > 0) out.push_back({static_cast<int>(c), w});
  }
  return out;
}

bool NeedsPurchaseModel(const ScoringProfileParams& params) {
  return params.weight(ScoringCriterion::kLoyaltyPAlive) > 0 ||
         params.weight(ScoringCriterion::kPotential) > 0;
}

bool NeedsSpendModel(const ScoringProfileParams& params) {
  return params.weight(ScoringCriterion::kPotential) > 0;
}

AccountTierKind TierOf(double score, const ScoringProfileParams& params) {
  const int64_t key = ScoreKey(score);
  if (key >= ScoreKey(params.tier_a_min_score)) return AccountTierKind::kA;
  if (key >= ScoreKey(params.tier_b_min_score)) return AccountTierKind::kB;
  return AccountTierKind::kC;
}

bool ListsBefore(const AccountScoreValue& a, const AccountScoreValue& b) {
  return std::tie(a.rank, a.customer_id) < std::tie(b.rank, b.customer_id);
}

ScoringResult ScoreAccounts(std::span<const AccountInput> accounts,
                            const ScoringProfileParams& params,
                            const TenantTotals* tenant) {
  const size_t n = accounts.size();
  ScoringResult result;

  Totals totals;
  for (const AccountInput& a : accounts) {
    totals.revenue +=
        static_cast<double>(std::max<int64_t>(a.revenue_window, 0));
    if (a.has_profit_data) {
      totals.profit +=
          static_cast<double>(std::max<int64_t>(a.profit_window, 0));
    }
  }
  if (tenant != nullptr) {
    totals.revenue = static_cast<double>(tenant->positive_revenue);
    totals.profit = static_cast<double>(tenant->positive_profit);
  }

  // The positively weighted criteria, in enum order.
  std::vector<ScoringCriterion> weighted;
  for (ScoringCriterion c : kAllScoringCriteria) {
    if (params.weight(c) > 0) weighted.push_back(c);
  }

  result.scores.resize(n);
  for (size_t i = 0; i < n; ++i) {
    result.scores[i].customer_id = accounts[i].customer_id;
    result.scores[i].criteria.resize(weighted.size());
  }

  // Raw and normalised values, one criterion at a time.
  std::vector<double> raw(n), normalized(n);
  std::vector<size_t> available;
  for (size_t k = 0; k < weighted.size(); ++k) {
    const ScoringCriterion c = weighted[k];
    available.clear();
    for (size_t i = 0; i < n; ++i) {
      CriterionScore& cs = result.scores[i].criteria[k];
      cs.criterion = c;
      const std::optional<Raw> r = RawValue(c, accounts[i], totals);
      if (!r.has_value()) continue;
      cs.available = true;
      cs.raw_value = r->value;
      cs.raw_money = r->money;
      raw[i] = r->value;
      available.push_back(i);
    }
    if (available.empty()) {
      result.unavailable_criteria.push_back(c);
      continue;
    }
    switch (ScaleOf(c)) {
      case Scale::kRelative:
        NormalizeRelative(params.normalization, available, raw, normalized);
        break;
      case Scale::kAsIs:
        for (size_t i : available) normalized[i] = raw[i];
        break;
      case Scale::kRating:
        for (size_t i : available) normalized[i] = (raw[i] - 1) / 4;
        break;
    }
    for (size_t i : available) {
      result.scores[i].criteria[k].normalized = normalized[i];
    }
  }

  // Scores: effective weights over the available criteria.
  std::vector<double> scores(n);
  for (size_t i = 0; i < n; ++i) {
    AccountScoreValue& s = result.scores[i];
    double weight_sum = 0;
    for (const CriterionScore& cs : s.criteria) {
      if (cs.available) weight_sum += params.weight(cs.criterion);
    }
    double score = 0;
    if (weight_sum > 0) {
      for (CriterionScore& cs : s.criteria) {
        if (!cs.available) continue;
        cs.weight = params.weight(cs.criterion) / weight_sum;
        cs.contribution = 100 * cs.weight * cs.normalized;
        score += cs.contribution;
      }
    }
    s.score = score;
    s.tier = TierOf(score, params);
    scores[i] = score;
    switch (s.tier) {
      case AccountTierKind::kA:
        ++result.tier_a_count;
        break;
      case AccountTierKind::kB:
        ++result.tier_b_count;
        break;
      default:
        ++result.tier_c_count;
        break;
    }
  }

  // Ranks: 1 + the number of accounts with a higher (rounded) score.
  std::vector<int64_t> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = ScoreKey(scores[i]);
  std::vector<int64_t> sorted_keys = keys;
  std::sort(sorted_keys.begin(), sorted_keys.end(), std::greater<>());
  for (size_t i = 0; i < n; ++i) {
    const auto first = std::lower_bound(sorted_keys.begin(), sorted_keys.end(),
                                        keys[i], std::greater<>());
    result.scores[i].rank = (first - sorted_keys.begin()) + 1;
  }

  if (n > 0) {
    result.mean_score = std::accumulate(scores.begin(), scores.end(), 0.0) /
                        static_cast<double>(n);
  }
  result.median_score = Median(std::move(scores));
  return result;
}

TierMigrationResult CompareTiers(std::span<const ScoredAccount> base,
                                 std::span<const ScoredAccount> target) {
  auto by_id = [](std::span<const ScoredAccount> run) {
    std::vector<const ScoredAccount*> sorted;
    sorted.reserve(run.size());
    for (const ScoredAccount& a : run) sorted.push_back(&a);
    std::sort(sorted.begin(), sorted.end(),
              [](const ScoredAccount* x, const ScoredAccount* y) {
                return x->customer_id < y->customer_id;
              });
    return sorted;
  };
  const std::vector<const ScoredAccount*> from = by_id(base);
  const std::vector<const ScoredAccount*> to = by_id(target);

  constexpr int kTiers = 4;
  std::array<std::array<int64_t, kTiers>, kTiers> counts{};
  TierMigrationResult result;
  auto record = [&](const ScoredAccount* f, const ScoredAccount* t) {
    const AccountTierKind from_tier = f ? f->tier : AccountTierKind::kNotScored;
    const AccountTierKind to_tier = t ? t->tier : AccountTierKind::kNotScored;
    ++counts[TierIndex(from_tier)][TierIndex(to_tier)];
    if (from_tier == to_tier) return;
    TierMove move;
    move.customer_id = std::string(f ? f->customer_id : t->customer_id);
    move.from = from_tier;
    move.to = to_tier;
    if (f) move.from_score = f->score;
    if (t) move.to_score = t->score;
    result.moves.push_back(std::move(move));
  };
  size_t i = 0, j = 0;
  while (i < from.size() || j < to.size()) {
    if (j == to.size() ||
        (i < from.size() && from[i]->customer_id < to[j]->customer_id)) {
      record(from[i++], nullptr);
    } else if (i == from.size() || to[j]->customer_id < from[i]->customer_id) {
      record(nullptr, to[j++]);
    } else {
      record(from[i++], to[j++]);
    }
  }

  for (int f = 0; f < kTiers; ++f) {
    for (int t = 0; t < kTiers; ++t) {
      if (counts[f][t] == 0) continue;
      result.cells.push_back({static_cast<AccountTierKind>(f + 1),
                              static_cast<AccountTierKind>(t + 1),
                              counts[f][t]});
    }
  }

  // Moves are recorded in id order, so (-|change|, index) is the listing
  // order: largest change first, ties by customer id.
  std::vector<std::pair<int64_t, size_t>> order(result.moves.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const TierMove& m = result.moves[k];
    const int64_t change = std::llabs(ScoreKey(m.to_score.value_or(0)) -
                                      ScoreKey(m.from_score.value_or(0)));
    order[k] = {-change, k};
  }
  std::sort(order.begin(), order.end());
  std::vector<TierMove> sorted;
  sorted.reserve(order.size());
  for (const auto& [key, k] : order) {
    sorted.push_back(std::move(result.moves[k]));
  }
  result.moves = std::move(sorted);
  return result;
}

}  // namespace custra
