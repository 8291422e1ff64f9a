#include "common/segmentation_models.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errors.h"

namespace custra {
namespace {

// Tolerance of the inclusive comparisons against cut-offs and thresholds, so
// that a share computed as exactly 0.8 in floating point counts as <= 0.8.
constexpr double kEpsilon = 1e-12;

constexpr int kScoreCount = 5;
constexpr uint8_t kAnyScore = 0b11111;
constexpr int kRfmCells = kScoreCount * kScoreCount * kScoreCount;
constexpr size_t kMaxNameBytes = 64;

// 0, 1, ..., n - 1.
std::vector<size_t> Iota(size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  return order;
}

// The position of each customer in id order (ascending, byte-wise): the
// identity when the population arrives sorted by id, as the store delivers
// it, so ties are broken with integer compares instead of string compares.
template <typename IdOf>
std::vector<uint32_t> IdRanks(size_t n, IdOf id_of) {
  std::vector<uint32_t> ranks(n);
  std::iota(ranks.begin(), ranks.end(), uint32_t{0});
  bool sorted = true;
  for (size_t i = 1; i < n && sorted; ++i) sorted = id_of(i - 1) < id_of(i);
  if (sorted) return ranks;
  std::vector<uint32_t> by_id = ranks;
  std::sort(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
    const absl::string_view x = id_of(a), y = id_of(b);
    return x != y ? x < y : a < b;
  });
  for (size_t pos = 0; pos < n; ++pos) ranks[by_id[pos]] = pos;
  return ranks;
}

// Sorts `order` (indices) by `before`, then by id rank, so the order is
// total and deterministic.
template <typename Before>
void SortIndices(std::vector<size_t>& order, Before before,
                 const std::vector<uint32_t>& id_rank) {
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (before(a, b)) return true;
    if (before(b, a)) return false;
    return id_rank[a] < id_rank[b];
  });
}

// Indices ordered by an integer value (descending if asked), ties by id
// rank: one compact key array, sorted without indirection.
std::vector<uint32_t> OrderByValue(size_t n, auto value_of, bool descending,
                                   const std::vector<uint32_t>& id_rank) {
  std::vector<std::pair<std::pair<int64_t, uint32_t>, uint32_t>> keys(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = value_of(i);
    keys[i] = {{descending ? ~v : v, id_rank[i]}, static_cast<uint32_t>(i)};
  }
  std::sort(keys.begin(), keys.end());
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = keys[i].second;
  return order;
}

SegmentMember NewMember(absl::string_view id, int64_t revenue, int64_t profit) {
  SegmentMember member;
  member.customer_id = std::string(id);
  member.revenue = revenue;
  member.profit = profit;
  return member;
}

// Fills the shares of `totals` from the population's totals.
void SetShares(SegmentTotals& totals, int64_t count, int64_t revenue,
               int64_t profit) {
  totals.customer_share = ShareOf(static_cast<double>(totals.customer_count),
                                  static_cast<double>(count));
  totals.revenue_share = ShareOf(static_cast<double>(totals.revenue),
                                 static_cast<double>(revenue));
  totals.profit_share =
      ShareOf(static_cast<double>(totals.profit), static_cast<double>(profit));
}

// True when `x` lies in the open interval (lo, hi); false for NaN.
bool InOpen(double x, double lo, double hi) { return x > lo && x < hi; }

// ---------------------------------------------------------------------------
// RFM helpers
// ---------------------------------------------------------------------------

// Mask of the scores lo..hi (1-based, inclusive).
constexpr uint8_t Scores(int lo, int hi) {
  uint8_t mask = 0;
  for (int s = lo; s <= hi; ++s) mask |= static_cast<uint8_t>(1u << (s - 1));
  return mask;
}

bool Matches(const RfmPattern& pattern, int r, int f, int m) {
  return ((pattern.recency >> (r - 1)) & 1u) &&
         ((pattern.frequency >> (f - 1)) & 1u) &&
         ((pattern.monetary >> (m - 1)) & 1u);
}

int CellIndex(int r, int f, int m) {
  return ((r - 1) * kScoreCount + (f - 1)) * kScoreCount + (m - 1);
}

std::string CellName(int r, int f, int m) {
  return absl::StrCat("cell R", r, " F", f, " M", m);
}

// Score of the customer at 0-based rank `rank` of `n`: ceil(5 (rank+1) / n).
int QuintileScore(size_t rank, size_t n) {
  const uint64_t i = rank + 1;
  return static_cast<int>((kScoreCount * i + n - 1) / n);
}

void ExtendRange(bool& seen, int64_t& lo, int64_t& hi, int64_t value) {
  if (!seen) {
    seen = true;
    lo = hi = value;
    return;
  }
  lo = std::min(lo, value);
  hi = std::max(hi, value);
}

// ---------------------------------------------------------------------------
// Value-matrix helpers
// ---------------------------------------------------------------------------

bool IsKnownAxis(ValueAxis axis) {
  const int n = static_cast<int>(axis);
  return n >= static_cast<int>(ValueAxis::kFrequency) &&
         n <= static_cast<int>(ValueAxis::kKeyAccountScore);
}

absl::Status ValidateAxis(const AxisSpec& spec, absl::string_view name) {
  const std::string prefix = absl::StrCat("parameters.value_matrix.", name);
  if (!IsKnownAxis(spec.axis)) {
    return InvalidFieldError(
        absl::StrCat(prefix, ".axis"),
        absl::StrCat("unknown axis ", static_cast<int>(spec.axis)));
  }
  switch (spec.split) {
    case SplitMethod::kMedian:
      return absl::OkStatus();
    case SplitMethod::kQuantile:
      if (!InOpen(spec.quantile, 0, 1)) {
        return InvalidFieldError(
            absl::StrCat(prefix, ".quantile"),
            absl::StrCat("is ", spec.quantile, "; must be in (0, 1)"));
      }
      return absl::OkStatus();
    case SplitMethod::kThreshold:
      if (!std::isfinite(spec.threshold)) {
        return InvalidFieldError(absl::StrCat(prefix, ".threshold"),
                                 "must be a finite number");
      }
      return absl::OkStatus();
  }
  return InvalidFieldError(
      absl::StrCat(prefix, ".split_method"),
      absl::StrCat("unknown split method ", static_cast<int>(spec.split)));
}

// The measures of the composite score with weights summing to 1; measures
// of weight 0 are dropped.
std::vector<std::pair<ValueAxis, double>> NormalizedWeights(
    const ValueMatrixParams& params) {
  if (params.weights.empty()) {
    return {{params.x.axis, 0.5}, {params.y.axis, 0.5}};
  }
  double total = 0;
  for (const auto& [axis, weight] : params.weights) {
    if (weight > 0) total += weight;
  }
  std::vector<std::pair<ValueAxis, double>> result;
  for (const auto& [axis, weight] : params.weights) {
    if (weight > 0) result.emplace_back(axis, weight / total);
  }
  return result;
}

// The split value of one axis over the population's values (unsorted
// `values`, which this sorts).
double SplitValue(const AxisSpec& spec, std::vector<double>& values) {
  if (spec.split == SplitMethod::kThreshold) return spec.threshold;
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return InterpolatedQuantile(
      values, spec.split == SplitMethod::kQuantile ? spec.quantile : 0.5);
}

// ---------------------------------------------------------------------------
// Lifecycle helpers
// ---------------------------------------------------------------------------

enum LifecycleStageIndex : int {
  kProspect = 0,
  kNew = 1,
  kGrowth = 2,
  kMaturity = 3,
  kDecline = 4,
  kLost = 5,
};

// The median gap between consecutive days of `days` (ascending, at least two
// days), using `scratch` as working space.
double MedianGap(std::span<const int64_t> days, std::vector<double>& scratch) {
  scratch.clear();
  for (size_t i = 1; i < days.size(); ++i) {
    scratch.push_back(static_cast<double>(days[i] - days[i - 1]));
  }
  std::sort(scratch.begin(), scratch.end());
  return InterpolatedQuantile(scratch, 0.5);
}

// "35%" for 0.35 (rounded to whole percent, sign dropped).
std::string Percent(double change) {
  return absl::StrCat(std::llround(std::fabs(change) * 100), "%");
}

// ---------------------------------------------------------------------------
// MAN helpers
// ---------------------------------------------------------------------------

constexpr int kManUnassessedIndex = 8;

// The segment index of an assessment (ManLevel numbers).
int ManIndexOf(int money, int authority, int need) {
  auto assessed = [](int level) { return level == 1 || level == 2; };
  if (!assessed(money) || !assessed(authority) || !assessed(need)) {
    return kManUnassessedIndex;
  }
  // [money high][authority high][need high]
  static constexpr int kIndex[2][2][2] = {
      {{7, 6}, {5, 3}},  // M-: A-N-, A-N+, A+N-, A+N+
      {{4, 2}, {1, 0}},  // M+: A-N-, A-N+, A+N-, A+N+
  };
  return kIndex[money == 1][authority == 1][need == 1];
}

}  // namespace

// ---------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------

double ShareOf(double part, double total) {
  return total > 0 ? part / total : 0;
}

std::vector<SegmentTotals> SummarizeSegments(
    std::span<const SegmentMember> members, int segment_count) {
  std::vector<SegmentTotals> totals(std::max(segment_count, 0));
  int64_t count = 0;
  int64_t revenue = 0;
  int64_t profit = 0;
  for (const SegmentMember& member : members) {
    ++count;
    revenue += member.revenue;
    profit += member.profit;
    if (member.segment < 0 || member.segment >= segment_count) continue;
    SegmentTotals& t = totals[member.segment];
    ++t.customer_count;
    t.revenue += member.revenue;
    t.profit += member.profit;
  }
  for (SegmentTotals& t : totals) SetShares(t, count, revenue, profit);
  return totals;
}

// ---------------------------------------------------------------------------
// ABC / Pareto
// ---------------------------------------------------------------------------

absl::Status ValidateAbcParams(const AbcParams& params) {
  if (!InOpen(params.a_cutoff, 0, 1)) {
    return InvalidFieldError(
        "parameters.abc.a_cutoff",
        absl::StrCat("is ", params.a_cutoff, "; must be in (0, 1)"));
  }
  if (!(params.b_cutoff > params.a_cutoff && params.b_cutoff <= 1)) {
    return InvalidFieldError(
        "parameters.abc.b_cutoff",
        absl::StrCat("is ", params.b_cutoff,
                     "; must be in (a_cutoff = ", params.a_cutoff, ", 1]"));
  }
  if (params.curve_points < 2 || params.curve_points > 1001) {
    return InvalidFieldError(
        "parameters.abc.curve_points",
        absl::StrCat("is ", params.curve_points, "; must be 2 to 1001"));
  }
  return absl::OkStatus();
}

const std::vector<SegmentInfo>& AbcSegments() {
  static const auto* const kSegments = new std::vector<SegmentInfo>{
      {"A",
       "Key customers: the top customers making up most of the value (80 % "
       "with the default cut-off); retain them and serve them personally."},
      {"B",
       "Important customers: the next band of value; develop them with "
       "regular attention toward class A."},
      {"C",
       "General customers: the long tail of small, zero or negative value; "
       "serve them efficiently at low cost."},
  };
  return *kSegments;
}

AbcResult RunAbc(std::span<const CustomerWindowStats> customers,
                 const AbcParams& params) {
  const size_t n = customers.size();
  auto value_of = [&](size_t i) {
    return params.metric == ValueMetric::kProfit ? customers[i].profit
                                                 : customers[i].revenue;
  };

  AbcResult result;
  for (size_t i = 0; i < n; ++i) {
    const int64_t value = value_of(i);
    if (value > 0) {
      result.positive_value_total += value;
    } else {
      ++result.non_positive_customer_count;
    }
  }
  const double positive_total =
      static_cast<double>(result.positive_value_total);

  const std::vector<uint32_t> order = OrderByValue(
      n, value_of, /*descending=*/true,
      IdRanks(n,
              [&](size_t i) -> absl::string_view { return customers[i].id; }));

  result.members.resize(n);
  int64_t cumulative = 0;
  for (size_t rank = 0; rank < n; ++rank) {
    const size_t i = order[rank];
    const CustomerWindowStats& c = customers[i];
    const int64_t value = value_of(i);
    SegmentMember& member = result.members[i];
    member = NewMember(c.id, c.revenue, c.profit);
    member.ints[AbcSlots::kRank] = static_cast<int64_t>(rank + 1);
    member.ints[AbcSlots::kValue] = value;
    if (value > 0) cumulative += value;
    const double value_share =
        value > 0 ? ShareOf(static_cast<double>(value), positive_total) : 0;
    const double cumulative_share =
        std::min(1.0, ShareOf(static_cast<double>(cumulative), positive_total));
    const double customer_share =
        static_cast<double>(rank + 1) / static_cast<double>(n);
    member.set_real(AbcSlots::kValueShare, value_share);
    member.set_real(AbcSlots::kCumulativeValueShare, cumulative_share);
    member.set_real(AbcSlots::kCumulativeCustomerShare, customer_share);

    const double share =
        params.customer_share_mode ? customer_share : cumulative_share;
    if (value <= 0) {
      member.segment = 2;
    } else if (share <= params.a_cutoff + kEpsilon) {
      member.segment = 0;
    } else if (share <= params.b_cutoff + kEpsilon) {
      member.segment = 1;
    } else {
      member.segment = 2;
    }
  }

  const int64_t last = std::max(params.curve_points, 2) - 1;
  result.curve.reserve(last + 1);
  for (int64_t k = 0; k <= last; ++k) {
    // ceil(k n / last) customers.
    const int64_t top = (k * static_cast<int64_t>(n) + last - 1) / last;
    AbcCurvePointValue point;
    point.customer_share = static_cast<double>(k) / static_cast<double>(last);
    if (top > 0) {
      point.value_share =
          result.members[order[top - 1]].reals[AbcSlots::kCumulativeValueShare];
    }
    result.curve.push_back(point);
  }
  return result;
}

// ---------------------------------------------------------------------------
// RFM
// ---------------------------------------------------------------------------

const std::vector<RfmRule>& DefaultRfmMap() {
  auto rule = [](const char* name, const char* description, uint8_t r,
                 uint8_t f) {
    return RfmRule{name, description, {RfmPattern{r, f, kAnyScore}}};
  };
  static const auto* const kMap = new std::vector<RfmRule>{
      rule("Hibernating",
           "Bought long ago, rarely and little; try a low-cost reactivation "
           "offer or let them go.",
           Scores(1, 2), Scores(1, 2)),
      rule("At Risk",
           "Bought fairly often but not for a long time; reach out with "
           "personalised offers before they leave.",
           Scores(1, 2), Scores(3, 4)),
      rule("Can't Lose Them",
           "Bought most often but not for a long time; win them back with "
           "personal contact and your best offers.",
           Scores(1, 2), Scores(5, 5)),
      rule("About To Sleep",
           "Recency and frequency below average; reactivate them with popular "
           "products and limited-time offers before they lapse.",
           Scores(3, 3), Scores(1, 2)),
      rule("Need Attention",
           "Average recency and frequency; keep them engaged with targeted, "
           "time-limited offers.",
           Scores(3, 3), Scores(3, 3)),
      rule("Loyal Customers",
           "Buy often and fairly recently; upsell higher-value products and "
           "ask them for reviews.",
           Scores(3, 4), Scores(4, 5)),
      rule("Promising",
           "Bought recently but only rarely; build the relationship with "
           "onboarding and trial offers.",
           Scores(4, 4), Scores(1, 1)),
      rule("New Customers",
           "Bought very recently for the first time or rarely; welcome them "
           "and help them to an early second purchase.",
           Scores(5, 5), Scores(1, 1)),
      rule("Potential Loyalists",
           "Recent customers buying more than once; offer a membership or "
           "loyalty programme to make them regulars.",
           Scores(4, 5), Scores(2, 3)),
      rule("Champions",
           "Bought most recently and most often; reward them, ask for "
           "referrals and offer new products first.",
           Scores(5, 5), Scores(4, 5)),
  };
  return *kMap;
}

absl::Status ValidateRfmMap(std::span<const RfmRule> rules) {
  constexpr absl::string_view kField = "parameters.rfm.segment_map";
  absl::flat_hash_map<absl::string_view, size_t> names;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RfmRule& rule = rules[i];
    const std::string rule_field = absl::StrCat(kField, "[", i, "]");
    const std::string name_field = absl::StrCat(rule_field, ".name");
    if (rule.name.empty()) return InvalidFieldError(name_field, "is required");
    if (rule.name.size() > kMaxNameBytes) {
      return InvalidFieldError(
          name_field, absl::StrCat("is ", rule.name.size(), " bytes; at most ",
                                   kMaxNameBytes, " allowed"));
    }
    if (rule.name[0] == '(') {
      return InvalidFieldError(
          name_field, "must not start with '(' (reserved for \"(mixed)\")");
    }
    const auto [it, inserted] = names.try_emplace(rule.name, i);
    if (!inserted) {
      return InvalidFieldError(
          name_field, absl::StrCat("'", rule.name, "' is also the name of ",
                                   kField, "[", it->second, "]"));
    }
    if (rule.patterns.empty()) {
      return InvalidFieldError(absl::StrCat(rule_field, ".patterns"),
                               "needs at least one pattern");
    }
    for (size_t j = 0; j < rule.patterns.size(); ++j) {
      const RfmPattern& p = rule.patterns[j];
      const std::pair<uint8_t, absl::string_view> masks[] = {
          {p.recency, "recency_scores"},
          {p.frequency, "frequency_scores"},
          {p.monetary, "monetary_scores"}};
      for (const auto& [mask, name] : masks) {
        if (mask == 0 || mask > kAnyScore) {
          return InvalidFieldError(
              absl::StrCat(rule_field, ".patterns[", j, "].", name),
              "scores must be 1 to 5");
        }
      }
    }
  }

  // The first two rules covering each cell (-1: none). A rule whose patterns
  // overlap still maps the cell to one segment, so it counts once.
  std::array<std::array<int, 2>, kRfmCells> cover;
  for (auto& c : cover) c = {-1, -1};
  for (int rule = 0; rule < static_cast<int>(rules.size()); ++rule) {
    for (const RfmPattern& p : rules[rule].patterns) {
      for (int r = 1; r <= kScoreCount; ++r) {
        for (int f = 1; f <= kScoreCount; ++f) {
          for (int m = 1; m <= kScoreCount; ++m) {
            if (!Matches(p, r, f, m)) continue;
            auto& c = cover[CellIndex(r, f, m)];
            if (c[0] == -1) {
              c[0] = rule;
            } else if (c[0] != rule && c[1] == -1) {
              c[1] = rule;
            }
          }
        }
      }
    }
  }
  for (int r = 1; r <= kScoreCount; ++r) {
    for (int f = 1; f <= kScoreCount; ++f) {
      for (int m = 1; m <= kScoreCount; ++m) {
        const auto& c = cover[CellIndex(r, f, m)];
        if (c[0] == -1) {
          return InvalidFieldError(
              kField,
              absl::StrCat(CellName(r, f, m), " is not covered by any rule"));
        }
        if (c[1] != -1) {
          return InvalidFieldError(
              kField,
              absl::StrCat(CellName(r, f, m), " is covered by rules '",
                           rules[c[0]].name, "' and '", rules[c[1]].name, "'"));
        }
      }
    }
  }
  return absl::OkStatus();
}

int RfmRuleOf(std::span<const RfmRule> rules, int r, int f, int m) {
  for (size_t i = 0; i < rules.size(); ++i) {
    for (const RfmPattern& p : rules[i].patterns) {
      if (Matches(p, r, f, m)) return static_cast<int>(i);
    }
  }
  return -1;
}

RfmResult RunRfm(std::span<const CustomerWindowStats> customers,
                 int64_t as_of_day, std::span<const RfmRule> rules) {
  const size_t n = customers.size();
  std::array<int, kRfmCells> cell_rule;
  for (int r = 1; r <= kScoreCount; ++r) {
    for (int f = 1; f <= kScoreCount; ++f) {
      for (int m = 1; m <= kScoreCount; ++m) {
        cell_rule[CellIndex(r, f, m)] = RfmRuleOf(rules, r, f, m);
      }
    }
  }

  RfmResult result;
  result.members.reserve(n);
  for (const CustomerWindowStats& c : customers) {
    SegmentMember member = NewMember(c.id, c.revenue, c.profit);
    member.ints[RfmSlots::kRecencyDays] = as_of_day - c.last_purchase_day;
    member.ints[RfmSlots::kFrequency] = c.orders;
    member.ints[RfmSlots::kMonetary] = c.revenue;
    member.ints[RfmSlots::kLastPurchaseDay] = c.last_purchase_day;
    result.members.push_back(std::move(member));
  }
  std::vector<SegmentMember>& members = result.members;
  auto id_of = [&](size_t i) -> absl::string_view {
    return members[i].customer_id;
  };
  const std::vector<uint32_t> id_rank = IdRanks(n, id_of);
  // Recency descending: the most recent customer ranks last and scores 5.
  for (const auto& [value, score, descending] :
       {std::tuple{RfmSlots::kRecencyDays, RfmSlots::kRecencyScore, true},
        std::tuple{RfmSlots::kFrequency, RfmSlots::kFrequencyScore, false},
        std::tuple{RfmSlots::kMonetary, RfmSlots::kMonetaryScore, false}}) {
    const int slot = value;  // Lambdas cannot capture bindings (clang 14).
    const std::vector<uint32_t> order = OrderByValue(
        n, [&](size_t i) { return members[i].ints[slot]; }, descending,
        id_rank);
    for (size_t rank = 0; rank < n; ++rank) {
      members[order[rank]].ints[score] = QuintileScore(rank, n);
    }
  }

  for (int s = 1; s <= kScoreCount; ++s) result.bands[s - 1].score = s;
  std::array<bool, kScoreCount> seen_r{}, seen_f{}, seen_m{};
  result.grid.resize(kScoreCount * kScoreCount);
  for (int r = 1; r <= kScoreCount; ++r) {
    for (int f = 1; f <= kScoreCount; ++f) {
      RfmGridCellValue& cell = result.grid[(r - 1) * kScoreCount + (f - 1)];
      cell.recency_score = r;
      cell.frequency_score = f;
      cell.segment = cell_rule[CellIndex(r, f, 1)];
      for (int m = 2; m <= kScoreCount; ++m) {
        if (cell_rule[CellIndex(r, f, m)] != cell.segment) cell.segment = -1;
      }
    }
  }

  for (SegmentMember& member : members) {
    const int r = static_cast<int>(member.ints[RfmSlots::kRecencyScore]);
    const int f = static_cast<int>(member.ints[RfmSlots::kFrequencyScore]);
    const int m = static_cast<int>(member.ints[RfmSlots::kMonetaryScore]);
    member.segment = cell_rule[CellIndex(r, f, m)];

    RfmBand& rb = result.bands[r - 1];
    ++rb.recency_customer_count;
    ExtendRange(seen_r[r - 1], rb.recency_days_min, rb.recency_days_max,
                member.ints[RfmSlots::kRecencyDays]);
    RfmBand& fb = result.bands[f - 1];
    ExtendRange(seen_f[f - 1], fb.frequency_min, fb.frequency_max,
                member.ints[RfmSlots::kFrequency]);
    RfmBand& mb = result.bands[m - 1];
    ExtendRange(seen_m[m - 1], mb.monetary_min, mb.monetary_max,
                member.ints[RfmSlots::kMonetary]);

    RfmGridCellValue& cell = result.grid[(r - 1) * kScoreCount + (f - 1)];
    ++cell.customer_count;
    cell.revenue += member.revenue;
  }
  return result;
}

// ---------------------------------------------------------------------------
// Value matrix
// ---------------------------------------------------------------------------

bool IsMoneyAxis(ValueAxis axis) {
  switch (axis) {
    case ValueAxis::kAverageOrderValue:
    case ValueAxis::kRevenue:
    case ValueAxis::kProfit:
    case ValueAxis::kPredictedClv:
      return true;
    case ValueAxis::kFrequency:
    case ValueAxis::kKeyAccountScore:
      return false;
  }
  return false;
}

absl::Status ValidateValueMatrixParams(const ValueMatrixParams& params) {
  constexpr absl::string_view kPrefix = "parameters.value_matrix.";
  if (absl::Status s = ValidateAxis(params.x, "x_axis"); !s.ok()) return s;
  if (absl::Status s = ValidateAxis(params.y, "y_axis"); !s.ok()) return s;
  if (params.x.axis == params.y.axis) {
    return InvalidFieldError(absl::StrCat(kPrefix, "y_axis.axis"),
                             "must differ from x_axis.axis");
  }

  static constexpr absl::string_view kQuadrants[4] = {
      "high_x_high_y", "low_x_high_y", "high_x_low_y", "low_x_low_y"};
  const std::string names_field = absl::StrCat(kPrefix, "quadrant_names");
  for (int i = 0; i < 4; ++i) {
    const std::string& name = params.quadrant_names[i];
    if (name.empty() || name.size() > kMaxNameBytes) {
      return InvalidFieldError(
          names_field, absl::StrCat(kQuadrants[i], " is ", name.size(),
                                    " bytes; must be 1 to ", kMaxNameBytes));
    }
    for (int j = 0; j < i; ++j) {
      if (params.quadrant_names[j] == name) {
        return InvalidFieldError(
            names_field, absl::StrCat(kQuadrants[i], " '", name,
                                      "' is also the name of ", kQuadrants[j]));
      }
    }
  }

  const std::string weights_field = absl::StrCat(kPrefix, "score_weights");
  bool any_positive = false;
  for (size_t i = 0; i < params.weights.size(); ++i) {
    const auto& [axis, weight] = params.weights[i];
    if (!IsKnownAxis(axis)) {
      return InvalidFieldError(weights_field,
                               absl::StrCat("score_weights[", i,
                                            "] has unknown "
                                            "measure ",
                                            static_cast<int>(axis)));
    }
    if (!(weight >= 0) || !std::isfinite(weight)) {
      return InvalidFieldError(weights_field,
                               absl::StrCat("score_weights[", i, "].weight is ",
                                            weight, "; must be >= 0"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (params.weights[j].first == axis) {
        return InvalidFieldError(weights_field,
                                 absl::StrCat("score_weights[", i,
                                              "] repeats the measure of "
                                              "score_weights[",
                                              j, "]"));
      }
    }
    if (weight > 0) any_positive = true;
  }
  if (!params.weights.empty() && !any_positive) {
    return InvalidFieldError(weights_field,
                             "at least one weight must be positive");
  }

  if (!InOpen(params.high_tier_share, 0, 1)) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "high_tier_share"),
        absl::StrCat("is ", params.high_tier_share, "; must be in (0, 1)"));
  }
  if (!(params.mid_tier_share >= 0 &&
        params.mid_tier_share <= 1 - params.high_tier_share + kEpsilon)) {
    return InvalidFieldError(
        absl::StrCat(kPrefix, "mid_tier_share"),
        absl::StrCat("is ", params.mid_tier_share, "; must be in [0, ",
                     1 - params.high_tier_share, "] (1 - high_tier_share)"));
  }
  return absl::OkStatus();
}

std::optional<double> AxisValue(const ValueMatrixInput& input, ValueAxis axis) {
  const CustomerWindowStats* stats = input.stats;
  switch (axis) {
    case ValueAxis::kFrequency:
      if (stats == nullptr) return std::nullopt;
      return static_cast<double>(stats->orders);
    case ValueAxis::kAverageOrderValue:
      if (stats == nullptr || stats->orders <= 0) return std::nullopt;
      return static_cast<double>(stats->revenue) /
             static_cast<double>(stats->orders);
    case ValueAxis::kRevenue:
      if (stats == nullptr) return std::nullopt;
      return static_cast<double>(stats->revenue);
    case ValueAxis::kProfit:
      if (stats == nullptr) return std::nullopt;
      return static_cast<double>(stats->profit);
    case ValueAxis::kPredictedClv:
      return input.predicted_clv;
    case ValueAxis::kKeyAccountScore:
      return input.key_account_score;
  }
  return std::nullopt;
}

double InterpolatedQuantile(std::span<const double> sorted, double q) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  const double h = static_cast<double>(n - 1) * std::clamp(q, 0.0, 1.0);
  const size_t lo = std::min(static_cast<size_t>(std::floor(h)), n - 1);
  const size_t hi = std::min(lo + 1, n - 1);
  const double fraction = h - static_cast<double>(lo);
  if (fraction == 0 || lo == hi) return sorted[lo];
  return sorted[lo] + fraction * (sorted[hi] - sorted[lo]);
}

ValueMatrixResult RunValueMatrix(std::span<const ValueMatrixInput> customers,
                                 const ValueMatrixParams& params) {
  const std::vector<std::pair<ValueAxis, double>> weights =
      NormalizedWeights(params);
  auto has_every_measure = [&](const ValueMatrixInput& input) {
    if (!AxisValue(input, params.x.axis) || !AxisValue(input, params.y.axis)) {
      return false;
    }
    for (const auto& [axis, weight] : weights) {
      if (!AxisValue(input, axis)) return false;
    }
    return true;
  };

  ValueMatrixResult result;
  // The population's inputs, in input (id) order.
  std::vector<const ValueMatrixInput*> population;
  population.reserve(customers.size());
  for (const ValueMatrixInput& input : customers) {
    if (has_every_measure(input)) {
      population.push_back(&input);
    } else {
      ++result.left_out;
    }
  }
  const size_t n = population.size();
  std::vector<SegmentMember>& members = result.members;
  members.reserve(n);
  int64_t total_revenue = 0;
  int64_t total_profit = 0;
  for (const ValueMatrixInput* input : population) {
    const CustomerWindowStats& s = *input->stats;
    SegmentMember member = NewMember(s.id, s.revenue, s.profit);
    member.set_real(ValueMatrixSlots::kXValue,
                    *AxisValue(*input, params.x.axis));
    member.set_real(ValueMatrixSlots::kYValue,
                    *AxisValue(*input, params.y.axis));
    total_revenue += s.revenue;
    total_profit += s.profit;
    members.push_back(std::move(member));
  }

  // Split values and quadrants.
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = members[i].reals[ValueMatrixSlots::kXValue];
  }
  result.x_split = SplitValue(params.x, values);
  for (size_t i = 0; i < n; ++i) {
    values[i] = members[i].reals[ValueMatrixSlots::kYValue];
  }
  result.y_split = SplitValue(params.y, values);
  for (SegmentMember& member : members) {
    const bool high_x =
        member.reals[ValueMatrixSlots::kXValue] >= result.x_split;
    const bool high_y =
        member.reals[ValueMatrixSlots::kYValue] >= result.y_split;
    member.ints[ValueMatrixSlots::kHighX] = high_x ? 1 : 0;
    member.ints[ValueMatrixSlots::kHighY] = high_y ? 1 : 0;
    member.segment = high_y ? (high_x ? 0 : 1) : (high_x ? 2 : 3);
    member.set_real(ValueMatrixSlots::kCompositeScore, 0);
  }

  // Composite score: weighted percentile ranks (ties averaged), times 100.
  std::vector<size_t> order = Iota(n);
  const std::vector<uint32_t> id_rank = IdRanks(
      n, [&](size_t i) -> absl::string_view { return members[i].customer_id; });
  for (const auto& [axis, weight] : weights) {
    for (size_t i = 0; i < n; ++i) values[i] = *AxisValue(*population[i], axis);
    SortIndices(
        order, [&](size_t a, size_t b) { return values[a] < values[b]; },
        id_rank);
    for (size_t begin = 0; begin < n;) {
      size_t end = begin + 1;
      while (end < n && values[order[end]] == values[order[begin]]) ++end;
      // 1-based ranks begin+1 .. end, averaged.
      const double rank = (static_cast<double>(begin + 1 + end)) / 2;
      const double pct = rank / static_cast<double>(n);
      for (size_t p = begin; p < end; ++p) {
        members[order[p]].reals[ValueMatrixSlots::kCompositeScore] +=
            weight * pct;
      }
      begin = end;
    }
  }
  for (SegmentMember& member : members) {
    member.reals[ValueMatrixSlots::kCompositeScore] *= 100;
  }

  // Tiers by composite score, descending, ties by id.
  auto score = [&](size_t i) {
    return members[i].reals[ValueMatrixSlots::kCompositeScore];
  };
  SortIndices(
      order, [&](size_t a, size_t b) { return score(a) > score(b); }, id_rank);
  const auto count = static_cast<int64_t>(n);
  const int64_t high_count = std::clamp<int64_t>(
      std::llround(count * params.high_tier_share), 0, count);
  const int64_t high_mid_count = std::clamp<int64_t>(
      std::llround(count * (params.high_tier_share + params.mid_tier_share)),
      high_count, count);
  for (int64_t rank = 0; rank < count; ++rank) {
    const int tier = rank < high_count ? 0 : rank < high_mid_count ? 1 : 2;
    SegmentMember& member = members[order[rank]];
    member.ints[ValueMatrixSlots::kTier] = tier + 1;
    SegmentTotals& t = result.tiers[tier];
    ++t.customer_count;
    t.revenue += member.revenue;
    t.profit += member.profit;
  }
  for (SegmentTotals& t : result.tiers) {
    SetShares(t, count, total_revenue, total_profit);
  }
  if (high_count > 0) result.high_tier_min_score = score(order[high_count - 1]);
  if (high_mid_count > high_count) {
    result.mid_tier_min_score = score(order[high_mid_count - 1]);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

absl::Status ValidateLifecycleParams(const LifecycleParams& params) {
  constexpr absl::string_view kPrefix = "parameters.lifecycle.";
  auto error = [&](absl::string_view name, auto value,
                   absl::string_view requirement) {
    return InvalidFieldError(absl::StrCat(kPrefix, name),
                             absl::StrCat("is ", value, "; ", requirement));
  };
  if (params.new_customer_days < 1) {
    return error("new_customer_days", params.new_customer_days, "must be >= 1");
  }
  if (params.period_days < 1) {
    return error("period_days", params.period_days, "must be >= 1");
  }
  if (!(params.growth_threshold >= 0) ||
      !std::isfinite(params.growth_threshold)) {
    return error("growth_threshold", params.growth_threshold,
                 "must be a finite number >= 0");
  }
  if (!(params.decline_threshold >= 0 && params.decline_threshold <= 1)) {
    return error("decline_threshold", params.decline_threshold,
                 "must be in [0, 1]");
  }
  if (!(params.gap_multiplier >= 1) || !std::isfinite(params.gap_multiplier)) {
    return error("gap_multiplier", params.gap_multiplier,
                 "must be a finite number >= 1");
  }
  if (params.gap_min_purchase_days < 2) {
    return error("gap_min_purchase_days", params.gap_min_purchase_days,
                 "must be >= 2");
  }
  if (params.lost_after_days <= params.new_customer_days) {
    return error("lost_after_days", params.lost_after_days,
                 absl::StrCat("must exceed new_customer_days (",
                              params.new_customer_days, ")"));
  }
  if (params.lost_p_alive_below.has_value() &&
      !InOpen(*params.lost_p_alive_below, 0, 1)) {
    return error("lost_p_alive_below", *params.lost_p_alive_below,
                 "must be in (0, 1)");
  }
  return absl::OkStatus();
}

const std::vector<SegmentInfo>& LifecycleSegments() {
  static const auto* const kSegments = new std::vector<SegmentInfo>{
      {"prospect",
       "No purchase yet; convert them with a first-purchase offer."},
      {"new",
       "First purchase recently (acquisition stage); onboard them and "
       "encourage a second purchase."},
      {"growth",
       "Spend rising; cross-sell and upsell while their interest grows."},
      {"maturity",
       "Buying steadily; keep them satisfied and deepen the relationship."},
      {"decline",
       "Spend falling or purchases overdue; find out why and act to win them "
       "back."},
      {"lost",
       "No purchase for too long or judged no longer active; try a low-cost "
       "win-back or let them go."},
  };
  return *kSegments;
}

LifecycleResult RunLifecycle(std::span<const LifecycleInput> customers,
                             int64_t as_of_day, const LifecycleParams& params) {
  LifecycleResult result;
  result.members.reserve(customers.size());
  std::vector<double> scratch;  // Gaps, reused across customers.
  for (const LifecycleInput& c : customers) {
    SegmentMember member = NewMember(c.id, c.revenue, c.profit);
    const int64_t latest = c.latest_period_spend;
    const int64_t previous = c.previous_period_spend;
    member.ints[LifecycleSlots::kLatestSpend] = latest;
    member.ints[LifecycleSlots::kPreviousSpend] = previous;
    member.ints[LifecycleSlots::kFirstPurchaseDay] = LifecycleSlots::kNoDay;
    member.ints[LifecycleSlots::kLastPurchaseDay] = LifecycleSlots::kNoDay;
    std::optional<double> spend_change;
    if (previous > 0) {
      spend_change = static_cast<double>(latest - previous) /
                     static_cast<double>(previous);
      member.set_real(LifecycleSlots::kSpendChange, *spend_change);
    }
    if (c.p_alive.has_value()) {
      member.set_real(LifecycleSlots::kPAlive, *c.p_alive);
    }

    LifecycleRuleKind rule;
    int stage;
    if (c.purchase_days.empty()) {
      rule = LifecycleRuleKind::kNoPurchase;
      stage = kProspect;
    } else {
      const int64_t first = c.purchase_days.front();
      const int64_t last = c.purchase_days.back();
      member.ints[LifecycleSlots::kFirstPurchaseDay] = first;
      member.ints[LifecycleSlots::kLastPurchaseDay] = last;
      const int64_t since_last = as_of_day - last;
      const int64_t since_first = as_of_day - first;
      std::optional<double> typical;
      if (c.purchase_days.size() >=
          static_cast<size_t>(std::max(params.gap_min_purchase_days, 2))) {
        typical = MedianGap(c.purchase_days, scratch);
        member.set_real(LifecycleSlots::kTypicalIntervalDays, *typical);
      }

      if (since_last > params.lost_after_days) {
        rule = LifecycleRuleKind::kInactiveTooLong;
        stage = kLost;
      } else if (c.p_alive.has_value() &&
                 params.lost_p_alive_below.has_value() &&
                 *c.p_alive < *params.lost_p_alive_below) {
        rule = LifecycleRuleKind::kLowPAlive;
        stage = kLost;
      } else if (since_first <= params.new_customer_days) {
        rule = LifecycleRuleKind::kRecentFirstPurchase;
        stage = kNew;
      } else if (typical.has_value() && static_cast<double>(since_last) >
                                            params.gap_multiplier * *typical) {
        rule = LifecycleRuleKind::kPurchaseOverdue;
        stage = kDecline;
      } else if (latest <= 0 && previous <= 0) {
        rule = LifecycleRuleKind::kNoRecentSpend;
        stage = kDecline;
      } else if (spend_change.has_value() &&
                 *spend_change <= -params.decline_threshold + kEpsilon) {
        rule = LifecycleRuleKind::kSpendDown;
        stage = kDecline;
      } else if ((spend_change.has_value() &&
                  *spend_change >= params.growth_threshold - kEpsilon) ||
                 (latest > 0 && previous <= 0)) {
        rule = LifecycleRuleKind::kSpendUp;
        stage = kGrowth;
      } else {
        rule = LifecycleRuleKind::kStable;
        stage = kMaturity;
      }
    }
    member.segment = stage;
    member.ints[LifecycleSlots::kRule] = static_cast<int64_t>(rule);
    ++result.rule_counts[static_cast<int>(rule) - 1];
    result.members.push_back(std::move(member));
  }
  return result;
}

std::string ExplainLifecycle(const SegmentMember& member, int64_t as_of_day,
                             const LifecycleParams& params) {
  const int64_t first = member.ints[LifecycleSlots::kFirstPurchaseDay];
  const int64_t last = member.ints[LifecycleSlots::kLastPurchaseDay];
  const int64_t latest = member.ints[LifecycleSlots::kLatestSpend];
  const int64_t previous = member.ints[LifecycleSlots::kPreviousSpend];
  const bool has_change = member.has_real(LifecycleSlots::kSpendChange);
  const double change = member.reals[LifecycleSlots::kSpendChange];
  const std::string period =
      absl::StrCat(" on the previous ", params.period_days, " days");
  switch (static_cast<LifecycleRuleKind>(member.ints[LifecycleSlots::kRule])) {
    case LifecycleRuleKind::kNoPurchase:
      return "no purchase yet";
    case LifecycleRuleKind::kInactiveTooLong:
      return absl::StrCat("no purchase for ", as_of_day - last,
                          " days (lost after ", params.lost_after_days, ")");
    case LifecycleRuleKind::kLowPAlive:
      return absl::StrFormat("P(alive) %.2f is below %.2f",
                             member.reals[LifecycleSlots::kPAlive],
                             params.lost_p_alive_below.value_or(0));
    case LifecycleRuleKind::kRecentFirstPurchase:
      return absl::StrCat("first purchase ", as_of_day - first,
                          " days ago (new for ", params.new_customer_days, ")");
    case LifecycleRuleKind::kPurchaseOverdue:
      return absl::StrCat(
          "no purchase for ", as_of_day - last, " days, over ",
          params.gap_multiplier, " times the typical interval of ",
          member.reals[LifecycleSlots::kTypicalIntervalDays], " days");
    case LifecycleRuleKind::kNoRecentSpend:
      return absl::StrCat("no spend in the latest ", params.period_days,
                          " days nor in the ", params.period_days,
                          " days before");
    case LifecycleRuleKind::kSpendDown:
      return absl::StrCat("spend down ", Percent(change), period);
    case LifecycleRuleKind::kSpendUp:
      if (!has_change || previous <= 0) {
        return absl::StrCat("spend in the latest ", params.period_days,
                            " days after none in the ", params.period_days,
                            " days before");
      }
      return absl::StrCat("spend up ", Percent(change), period);
    case LifecycleRuleKind::kStable:
      if (!has_change) return "spend steady";
      return absl::StrCat("spend steady (", change < 0 ? "down " : "up ",
                          Percent(change), period, ")");
  }
  return absl::StrCat("latest spend ", latest, ", previous ", previous);
}

// ---------------------------------------------------------------------------
// MAN
// ---------------------------------------------------------------------------

const std::vector<SegmentInfo>& ManSegments() {
  static const auto* const kSegments = new std::vector<SegmentInfo>{
      {"M+A+N+",
       "Budget, access to the decision maker and need: the ideal prospect. "
       "Prioritise; move straight to a proposal."},
      {"M+A+N-",
       "Budget and decision maker, weak need. Engage, and use the selling "
       "path (scene, problem, pain) to uncover and build the need."},
      {"M+A-N+",
       "Budget and need, no access to the decision maker. Engage, and find "
       "and reach the person who decides."},
      {"M-A+N+",
       "Decision maker and need, weak budget. Engage; check the account's "
       "business and credit and offer financing, instalments or a phased "
       "purchase."},
      {"M+A-N-",
       "Budget only. Keep in touch at low cost and cultivate the missing "
       "conditions over the long term."},
      {"M-A+N-",
       "Decision maker only. Keep in touch at low cost and cultivate the "
       "missing conditions over the long term."},
      {"M-A-N+",
       "Need only. Keep in touch at low cost and cultivate the missing "
       "conditions over the long term."},
      {"M-A-N-", "None of the three: not a prospect now; stop active selling."},
      {"unassessed",
       "At least one of money, authority and need is not assessed; complete "
       "the MAN assessment first."},
  };
  return *kSegments;
}

int ManApproachOf(int man_class) {
  switch (man_class) {
    case 1:  // M+A+N+: PURSUE
    case 2:  // M+A+N-: DEVELOP_NEED
    case 3:  // M+A-N+: REACH_DECISION_MAKER
    case 4:  // M-A+N+: ARRANGE_FINANCING
      return man_class;
    case 5:
    case 6:
    case 7:
      return 5;  // One dimension high: NURTURE.
    case 8:
      return 6;  // DISQUALIFY
    case 9:
      return 7;  // Unassessed: ASSESS
    default:
      return 0;
  }
}

std::vector<SegmentMember> RunMan(std::span<const ManInput> customers) {
  std::vector<SegmentMember> members;
  members.reserve(customers.size());
  for (const ManInput& c : customers) {
    SegmentMember member = NewMember(c.id, c.revenue, c.profit);
    member.segment = ManIndexOf(c.money, c.authority, c.need);
    member.ints[ManSlots::kMoney] = c.money;
    member.ints[ManSlots::kAuthority] = c.authority;
    member.ints[ManSlots::kNeed] = c.need;
    member.ints[ManSlots::kApproach] = ManApproachOf(member.segment + 1);
    members.push_back(std::move(member));
  }
  return members;
}

// ---------------------------------------------------------------------------
// Structure report
// ---------------------------------------------------------------------------

StructureSnapshotValue ComputeStructure(std::span<const StructureInput> rows,
                                        ValueMetric metric, int top_n,
                                        bool multi_key) {
  StructureSnapshotValue snapshot;
  snapshot.customer_count = static_cast<int64_t>(rows.size());
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  // The last row counted in each group, so a key repeated within a row
  // counts once.
  std::vector<size_t> last_row;
  auto add = [&](absl::string_view key, size_t row) {
    const auto [it, inserted] =
        group_of.try_emplace(key, snapshot.groups.size());
    if (inserted) {
      snapshot.groups.push_back({std::string(key), {}});
      last_row.push_back(row);
    } else if (last_row[it->second] == row) {
      return;
    }
    last_row[it->second] = row;
    SegmentTotals& t = snapshot.groups[it->second].totals;
    ++t.customer_count;
    t.revenue += rows[row].revenue;
    t.profit += rows[row].profit;
  };
  for (size_t row = 0; row < rows.size(); ++row) {
    snapshot.total_revenue += rows[row].revenue;
    snapshot.total_profit += rows[row].profit;
    if (rows[row].keys.empty()) {
      add("", row);
    } else {
      for (const std::string& key : rows[row].keys) add(key, row);
    }
  }
  for (StructureGroupValue& group : snapshot.groups) {
    SetShares(group.totals, snapshot.customer_count, snapshot.total_revenue,
              snapshot.total_profit);
  }
  std::sort(snapshot.groups.begin(), snapshot.groups.end(),
            [](const StructureGroupValue& a, const StructureGroupValue& b) {
              if (a.totals.revenue != b.totals.revenue) {
                return a.totals.revenue > b.totals.revenue;
              }
              return a.key < b.key;
            });

  auto metric_of = [metric](int64_t revenue, int64_t profit) {
    return static_cast<double>(std::max<int64_t>(
        metric == ValueMetric::kProfit ? profit : revenue, 0));
  };
  const size_t n = rows.size();
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = metric_of(rows[i].revenue, rows[i].profit);
  }
  std::sort(values.begin(), values.end());
  const double sum = std::accumulate(values.begin(), values.end(), 0.0);
  if (sum > 0) {
    const size_t top = std::min(n, static_cast<size_t>(std::max(top_n, 0)));
    snapshot.top_n_share =
        std::accumulate(values.end() - static_cast<ptrdiff_t>(top),
                        values.end(), 0.0) /
        sum;
    double hhi = 0;
    double weighted = 0;
    for (size_t i = 0; i < n; ++i) {
      const double share = values[i] / sum;
      hhi += share * share;
      weighted +=
          (2.0 * static_cast<double>(i + 1) - static_cast<double>(n) - 1) *
          values[i];
    }
    snapshot.customer_hhi = hhi;
    snapshot.gini = weighted / (static_cast<double>(n) * sum);
  }

  if (!multi_key) {
    double group_sum = 0;
    for (const StructureGroupValue& g : snapshot.groups) {
      group_sum += metric_of(g.totals.revenue, g.totals.profit);
    }
    if (group_sum > 0) {
      for (const StructureGroupValue& g : snapshot.groups) {
        const double share =
            metric_of(g.totals.revenue, g.totals.profit) / group_sum;
        snapshot.group_hhi += share * share;
      }
    }
  }
  return snapshot;
}

}  // namespace custra
