#ifndef CUSTRA_COMMON_SEGMENTATION_MODELS_H_
#define CUSTRA_COMMON_SEGMENTATION_MODELS_H_

// The segmentation models of SegmentationService (DESIGN.md §3.2) as pure
// functions over plain structs: ABC / Pareto, RFM, value matrix, lifecycle,
// MAN, and the structure report's composition and concentration figures.
// The proto comments in protos/custra/v1/segmentation.proto are the
// specification; this file names only what the code adds to them.
//
// Conventions:
// - Money is integer micros of the tenant currency; dates are UTC days since
//   1970-01-01 (`int64_t day`).
// - Every model takes its population sorted by customer id (ascending,
//   byte-wise) and returns one SegmentMember per customer in that same
//   order, so runs merge-join by id. Ties are broken by customer id.
// - Validation functions return INVALID_ARGUMENT with a field violation
//   whose field is the proto path, e.g. "parameters.abc.b_cutoff".
// - Nothing here allocates per customer beyond the output vector.

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

// Numbers of custra.v1.SegmentationModel.
enum class SegmentationModelKind : int {
  kAbc = 1,
  kRfm = 2,
  kValueMatrix = 3,
  kLifecycle = 4,
  kMan = 5,
};

// Numbers of custra.v1.SegmentationValueMetric (unspecified resolved).
enum class ValueMetric : int { kRevenue = 1, kProfit = 2 };

// One customer's purchases in a run's window [window_start, as_of], from the
// per-customer rollups. `orders` counts purchases (orders with a positive
// line) attributed to a day in the window.
struct CustomerWindowStats {
  std::string id;
  int64_t revenue = 0;  // Net, micros.
  int64_t profit = 0;   // Micros, over lines with a known cost.
  int64_t orders = 0;
  int64_t purchase_days = 0;
  int64_t last_purchase_day = 0;  // Meaningful when orders > 0.
};

// A segment of a run: its name and what it means (English).
struct SegmentInfo {
  std::string name;
  std::string description;
};

// One customer's assignment with the values that produced it. The
// model-specific values live in numbered slots, named per model by the
// constants below, so storage, sorting and paging are model-agnostic.
struct SegmentMember {
  static constexpr int kIntSlots = 7;
  static constexpr int kRealSlots = 4;

  std::string customer_id;
  int segment = 0;  // Index into the run's segments.
  int64_t revenue = 0;
  int64_t profit = 0;
  std::array<int64_t, kIntSlots> ints{};
  std::array<double, kRealSlots> reals{};
  // Bit i set: reals[i] holds a value (else the value does not exist).
  uint32_t reals_present = 0;

  bool has_real(int i) const { return (reals_present >> i) & 1u; }
  void set_real(int i, double v) {
    reals[i] = v;
    reals_present |= 1u << i;
  }
};

// Slots of an ABC member.
struct AbcSlots {
  static constexpr int kRank = 0;        // ints: 1 = highest value.
  static constexpr int kValue = 1;       // ints: micros under the run's metric.
  static constexpr int kValueShare = 0;  // reals
  static constexpr int kCumulativeValueShare = 1;     // reals
  static constexpr int kCumulativeCustomerShare = 2;  // reals
};

// Slots of an RFM member.
struct RfmSlots {
  static constexpr int kRecencyDays = 0;  // ints
  static constexpr int kFrequency = 1;    // ints
  static constexpr int kMonetary = 2;     // ints: micros
  static constexpr int kRecencyScore = 3;
  static constexpr int kFrequencyScore = 4;
  static constexpr int kMonetaryScore = 5;
  static constexpr int kLastPurchaseDay = 6;
};

// Slots of a value-matrix member. Money axes hold micros as doubles (exact
// below 2^53 micros, i.e. 9e9 currency units).
struct ValueMatrixSlots {
  static constexpr int kHighX = 0;           // ints: 0 / 1
  static constexpr int kHighY = 1;           // ints: 0 / 1
  static constexpr int kTier = 2;            // ints: ValueMatrixTier number
  static constexpr int kXValue = 0;          // reals
  static constexpr int kYValue = 1;          // reals
  static constexpr int kCompositeScore = 2;  // reals: 0 to 100
};

// Slots of a lifecycle member. Days are absent (kNoDay) for prospects.
struct LifecycleSlots {
  static constexpr int64_t kNoDay = INT64_MIN;
  static constexpr int kRule = 0;                 // ints: LifecycleRule number
  static constexpr int kFirstPurchaseDay = 1;     // ints
  static constexpr int kLastPurchaseDay = 2;      // ints
  static constexpr int kLatestSpend = 3;          // ints: micros
  static constexpr int kPreviousSpend = 4;        // ints: micros
  static constexpr int kSpendChange = 0;          // reals, optional
  static constexpr int kTypicalIntervalDays = 1;  // reals, optional
  static constexpr int kPAlive = 2;               // reals, optional
};

// Slots of a MAN member: the assessment, ManLevel numbers (0 = unassessed).
struct ManSlots {
  static constexpr int kMoney = 0;
  static constexpr int kAuthority = 1;
  static constexpr int kNeed = 2;
  static constexpr int kApproach = 3;  // ints: ManApproach number
};

// Count and value of one segment; shares as in SegmentSummary.
struct SegmentTotals {
  int64_t customer_count = 0;
  double customer_share = 0;
  int64_t revenue = 0;
  double revenue_share = 0;
  int64_t profit = 0;
  double profit_share = 0;
};

// Totals of `members` per segment (index < segment_count), with shares of the
// members' total count, revenue and profit (0 when that total is <= 0).
std::vector<SegmentTotals> SummarizeSegments(
    std::span<const SegmentMember> members, int segment_count);

// `part / total`, or 0 when total <= 0.
double ShareOf(double part, double total);

// ---------------------------------------------------------------------------
// ABC / Pareto
// ---------------------------------------------------------------------------

struct AbcParams {
  ValueMetric metric = ValueMetric::kRevenue;
  bool customer_share_mode = false;
  double a_cutoff = 0.80;
  double b_cutoff = 0.95;
  int curve_points = 101;
};

// Checks ranges; the caller fills the defaults that depend on the mode (unset
// cut-offs) first. Field paths under "parameters.abc.".
absl::Status ValidateAbcParams(const AbcParams& params);

struct AbcCurvePointValue {
  double customer_share = 0;
  double value_share = 0;
};

struct AbcResult {
  std::vector<SegmentMember> members;  // Segments 0 "A", 1 "B", 2 "C".
  int64_t positive_value_total = 0;
  int64_t non_positive_customer_count = 0;
  std::vector<AbcCurvePointValue> curve;
};

const std::vector<SegmentInfo>& AbcSegments();

// Population: every entry of `customers` (the caller passes those with a
// purchase in the window). `params` must be valid.
AbcResult RunAbc(std::span<const CustomerWindowStats> customers,
                 const AbcParams& params);

// ---------------------------------------------------------------------------
// RFM
// ---------------------------------------------------------------------------

// Bit s-1 set: score s (1..5) matches. 0b11111 = any.
struct RfmPattern {
  uint8_t recency = 0b11111;
  uint8_t frequency = 0b11111;
  uint8_t monetary = 0b11111;
};

struct RfmRule {
  std::string name;
  std::string description;
  std::vector<RfmPattern> patterns;
};

// The default R x F map of DESIGN.md §3.2 with descriptions.
const std::vector<RfmRule>& DefaultRfmMap();

// Checks names (1..64 bytes, unique, not starting with "("), at least one
// pattern per rule, and that each of the 125 cells is covered exactly once.
// Field paths under "parameters.rfm.segment_map".
absl::Status ValidateRfmMap(std::span<const RfmRule> rules);

// The rule index of a score cell (scores 1..5); the map must be valid.
int RfmRuleOf(std::span<const RfmRule> rules, int r, int f, int m);

struct RfmBand {
  int score = 0;
  int64_t recency_customer_count = 0;
  int64_t recency_days_min = 0, recency_days_max = 0;
  int64_t frequency_min = 0, frequency_max = 0;
  int64_t monetary_min = 0, monetary_max = 0;
};

struct RfmGridCellValue {
  int recency_score = 0;
  int frequency_score = 0;
  int64_t customer_count = 0;
  int64_t revenue = 0;
  int segment = -1;  // Rule index, or -1 when the map splits the cell by M.
};

struct RfmResult {
  std::vector<SegmentMember> members;  // Segments: the rules, in order.
  std::array<RfmBand, 5> bands{};
  std::vector<RfmGridCellValue> grid;  // 25 cells, by R then F.
};

// Population: every entry (orders > 0). Scores per the proto: ascending sort
// by value (recency descending), ties by id, score ceil(5 i / n).
RfmResult RunRfm(std::span<const CustomerWindowStats> customers,
                 int64_t as_of_day, std::span<const RfmRule> rules);

// ---------------------------------------------------------------------------
// Value matrix
// ---------------------------------------------------------------------------

// Numbers of custra.v1.ValueMatrixAxis.
enum class ValueAxis : int {
  kFrequency = 1,
  kAverageOrderValue = 2,
  kRevenue = 3,
  kProfit = 4,
  kPredictedClv = 5,
  kKeyAccountScore = 6,
};

// Whether the axis is money (micros) rather than a number.
bool IsMoneyAxis(ValueAxis axis);

enum class SplitMethod : int { kMedian = 1, kQuantile = 2, kThreshold = 3 };

struct AxisSpec {
  ValueAxis axis = ValueAxis::kFrequency;
  SplitMethod split = SplitMethod::kMedian;
  double quantile = 0.5;
  double threshold = 0;  // Micros for money axes.
};

struct ValueMatrixParams {
  AxisSpec x{ValueAxis::kFrequency};
  AxisSpec y{ValueAxis::kAverageOrderValue};
  // high/high, low x/high y, high x/low y, low/low.
  std::array<std::string, 4> quadrant_names = {"best", "spender", "frequent",
                                               "uncertain"};
  // (measure, weight); empty: both axes, equal weight.
  std::vector<std::pair<ValueAxis, double>> weights;
  double high_tier_share = 0.20;
  double mid_tier_share = 0.30;
};

// Field paths under "parameters.value_matrix.".
absl::Status ValidateValueMatrixParams(const ValueMatrixParams& params);

// One customer's measures. Optional ones are absent when not computed.
struct ValueMatrixInput {
  const CustomerWindowStats* stats = nullptr;
  std::optional<double> predicted_clv;      // Micros.
  std::optional<double> key_account_score;  // 0..100.
};

// The measure of `axis` for a customer; nullopt when it has none. Average
// order value is revenue / orders (micros, not rounded).
std::optional<double> AxisValue(const ValueMatrixInput& input, ValueAxis axis);

struct TierTotals {
  SegmentTotals totals;
  double min_score = 0;
};

struct ValueMatrixResult {
  // Segments: the four quadrant names in the parameters' order.
  std::vector<SegmentMember> members;
  double x_split = 0;
  double y_split = 0;
  std::array<SegmentTotals, 3> tiers{};  // high, mid, low
  double high_tier_min_score = 0;
  double mid_tier_min_score = 0;
  // Customers left out for lacking a measure.
  int64_t left_out = 0;
};

// Quantile with linear interpolation between order statistics (the default
// of numpy and pandas): h = (n - 1) q. `sorted` ascending, non-empty.
double InterpolatedQuantile(std::span<const double> sorted, double q);

ValueMatrixResult RunValueMatrix(std::span<const ValueMatrixInput> customers,
                                 const ValueMatrixParams& params);

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

// Numbers of custra.v1.LifecycleRule.
enum class LifecycleRuleKind : int {
  kNoPurchase = 1,
  kInactiveTooLong = 2,
  kLowPAlive = 3,
  kRecentFirstPurchase = 4,
  kPurchaseOverdue = 5,
  kNoRecentSpend = 6,
  kSpendDown = 7,
  kSpendUp = 8,
  kStable = 9,
};

struct LifecycleParams {
  int new_customer_days = 90;
  int period_days = 90;
  double growth_threshold = 0.20;
  double decline_threshold = 0.20;
  double gap_multiplier = 2.0;
  int gap_min_purchase_days = 3;
  int lost_after_days = 365;
  std::optional<double> lost_p_alive_below;
};

// Field paths under "parameters.lifecycle.".
absl::Status ValidateLifecycleParams(const LifecycleParams& params);

// One customer's history up to the as-of date.
struct LifecycleInput {
  absl::string_view id;
  // Distinct days with a purchase line, ascending, all <= as_of. Empty: a
  // prospect.
  std::span<const int64_t> purchase_days;
  int64_t latest_period_spend = 0;    // (as_of - period, as_of]
  int64_t previous_period_spend = 0;  // (as_of - 2 period, as_of - period]
  int64_t revenue = 0;                // In the run's window, for summaries.
  int64_t profit = 0;
  std::optional<double> p_alive;
};

const std::vector<SegmentInfo>& LifecycleSegments();

struct LifecycleResult {
  // Segments: prospect, new, growth, maturity, decline, lost.
  std::vector<SegmentMember> members;
  std::array<int64_t, 9> rule_counts{};  // Index: rule number - 1.
};

LifecycleResult RunLifecycle(std::span<const LifecycleInput> customers,
                             int64_t as_of_day, const LifecycleParams& params);

// The one-line English explanation of a lifecycle member.
std::string ExplainLifecycle(const SegmentMember& member, int64_t as_of_day,
                             const LifecycleParams& params);

// ---------------------------------------------------------------------------
// MAN
// ---------------------------------------------------------------------------

struct ManInput {
  absl::string_view id;
  int money = 0;  // ManLevel: 0 unassessed, 1 high, 2 low.
  int authority = 0;
  int need = 0;
  int64_t revenue = 0;
  int64_t profit = 0;
};

// Segments "M+A+N+" ... "M-A-N-", "unassessed" (ManClass numbers 1..9 are
// index + 1) with the approach of each.
const std::vector<SegmentInfo>& ManSegments();
int ManApproachOf(int man_class);  // ManApproach number.

std::vector<SegmentMember> RunMan(std::span<const ManInput> customers);

// ---------------------------------------------------------------------------
// Structure report
// ---------------------------------------------------------------------------

struct StructureInput {
  // The customer's group keys (one for most dimensions; any number of tags,
  // none meaning the "" group).
  std::span<const std::string> keys;
  int64_t revenue = 0;
  int64_t profit = 0;
};

struct StructureGroupValue {
  std::string key;
  SegmentTotals totals;
};

struct StructureSnapshotValue {
  int64_t customer_count = 0;
  int64_t total_revenue = 0;
  int64_t total_profit = 0;
  std::vector<StructureGroupValue> groups;  // Revenue desc, ties by key.
  double top_n_share = 0;
  double customer_hhi = 0;
  double gini = 0;
  double group_hhi = 0;
};

// Groups and concentration. Concentration is over max(value, 0) of
// `metric`; Gini = sum_i (2i - n - 1) x_(i) / (n sum x), x ascending (0 when
// the sum is 0). `multi_key` (tags): group_hhi is 0.
StructureSnapshotValue ComputeStructure(std::span<const StructureInput> rows,
                                        ValueMetric metric, int top_n,
                                        bool multi_key);

}  // namespace custra

#endif  // CUSTRA_COMMON_SEGMENTATION_MODELS_H_
