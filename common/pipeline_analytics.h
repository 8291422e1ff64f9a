#ifndef CUSTRA_COMMON_PIPELINE_ANALYTICS_H_
#define CUSTRA_COMMON_PIPELINE_ANALYTICS_H_

// The pipeline rules and reports of OpportunityService as pure functions
// over plain structs: pipeline validation, stage-move checks, effective
// probabilities, the pipeline summary (stage totals, win rates, stage
// conversion, time in stage, cycle times), the forecast by close month, stale
// deals, decision-maker coverage and calibrated stage probabilities. The
// proto comments in protos/custra/v1/opportunity.proto are the
// specification; this file names only what the code adds to them (marked
// "Decision:" where the proto is silent).
//
// Conventions:
// - Money is integer micros; a dated fact is a UTC day number (days since
//   1970-01-01, `int64_t ..._day`); a moment is an absl::Time (the proto's
//   Timestamps), because time in stage and cycle times are fractional days
//   and inactivity is whole days between two moments.
// - The caller decodes the tenant's rows, applies the request's `filter`
//   (every filterable field is a field of OpportunityFacts) and resolves
//   the request defaults that depend on the clock or the tenant ("today",
//   the tenant's currency). Request fields whose 0 means a fixed default
//   (`months`, `engagement_days`, `min_samples`, ...) are resolved here.
// - Periods are inclusive ranges of UTC days: a moment is in
//   [start_day, end_day] when UtcDay(moment) is.
// - Weighted amounts are sum(amount x probability) over the opportunities
//   of one reported figure, computed in long double (exact for every int64
//   amount) and rounded once to the nearest micro, halves away from zero.
//   Decision: a total over reported figures (a summary's `open_total`, the
//   forecast's totals) is the sum of those rounded figures, so a report
//   always adds up.
// - Money sums saturate at the int64 range instead of overflowing.
// - Validation returns INVALID_ARGUMENT with a field violation whose field
//   is the proto path, e.g. "pipeline.stages[2].default_probability"; other
//   failures name the request field at the start of their message.
// - Reports return every matching entry in the proto's order; the server
//   pages them.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace custra {

// ---------------------------------------------------------------------------
// Days
// ---------------------------------------------------------------------------

// The UTC day of a moment (floor, so moments before 1970 work too).
int64_t UtcDay(absl::Time t);

// 00:00:00 UTC of a day.
absl::Time StartOfUtcDay(int64_t day);

// The day number of a calendar date; the date must be valid.
int64_t DayOfDate(int year, int month, int day);

// The default start of a summary period: the same calendar date one year
// before `end_day` (GetPipelineSummaryRequest.start_date). Decision: 29
// February goes back to 28 February.
int64_t OneYearBefore(int64_t end_day);

// ---------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------

// Numbers of custra.v1.PipelineStageKind.
enum class StageKind : int { kUnspecified = 0, kOpen = 1, kWon = 2, kLost = 3 };

// One custra.v1.PipelineStage.
struct PipelineStageDef {
  std::string id;
  std::string display_name;
  double default_probability = 0;
  StageKind kind = StageKind::kUnspecified;
  // 0: the pipeline's default_stale_after_days. Ignored for won and lost
  // stages.
  int stale_after_days = 0;
};

// A tenant's custra.v1.Pipeline, plus what storage keeps of earlier ones.
struct PipelineDef {
  std::vector<PipelineStageDef> stages;
  // 0 means 30 (the proto's input default).
  int default_stale_after_days = 30;
  // Stages removed by earlier UpdatePipeline calls: removed stage id -> the
  // id its opportunities were moved to (`stage_remap`). Not part of the
  // wire Pipeline; reports that walk history read it to count time in a
  // removed stage towards its target ("reports that walk history count time
  // in a removed stage towards its target"). Chains (a -> b, later b -> c)
  // are followed; an id of the current pipeline always means its current
  // stage. Decision: history in a removed stage without a target (it held
  // no opportunity when it was removed) counts towards no stage.
  absl::flat_hash_map<std::string, std::string> removed_stage_targets;
};

// The default pipeline exactly as the proto states it: scene 0.05, problem
// 0.10, pain 0.20, guided_solution 0.35, proposal 0.50, negotiation 0.75,
// won 1.00, lost 0.00; default_stale_after_days 30, no per-stage thresholds,
// no removed stages.
PipelineDef DefaultPipeline();

// Checks a pipeline as UpdatePipeline stores it (the `Pipeline` comment):
// - 3 to 30 stages ("pipeline.stages");
// - per stage i, fields under "pipeline.stages[i].": `id` matches
//   ^[a-z][a-z0-9_]{0,31}$ and is unique (the later duplicate is reported),
//   `display_name` has 1 to 100 characters (Unicode code points of the
//   UTF-8 text), `kind` is set, `default_probability` is finite and in
//   [0, 1], exactly 1 for the won stage and 0 for the lost stage, and an open
//   stage's `stale_after_days` is 0 or 1 to 3650;
// - order: open stages first, then exactly one won stage, then exactly one
//   lost stage. An open stage after a terminal one, a second won or lost
//   stage, or a won stage after the lost one is reported on that stage's
//   `kind`; a missing open, won or lost stage on "pipeline.stages";
// - `default_stale_after_days` is 0 (meaning 30) or 1 to 3650
//   ("pipeline.default_stale_after_days").
// Returns the first violation in that order. `removed_stage_targets` is not
// checked.
absl::Status ValidatePipeline(const PipelineDef& pipeline);

// Checks ChangeOpportunityStage's move of an opportunity now in
// `from_stage_id` to `to_stage_id`, in this order:
// - INVALID_ARGUMENT on "to_stage_id" when it is empty or names no stage of
//   the pipeline;
// - INVALID_ARGUMENT on "reopen" when `reopen` is set for an open deal;
// - FAILED_PRECONDITION ("to_stage_id: ...") when the deal is already in
//   that stage;
// - FAILED_PRECONDITION ("reopen: ...") when the deal is won or lost and
//   `reopen` is not set.
// Any other move is OK: open stages in any order, forwards or backwards, and
// with `reopen` a won or lost deal to any other stage (lost to won
// included). INTERNAL when `from_stage_id` is not in the pipeline (storage
// keeps every opportunity in a stage of its tenant's pipeline).
absl::Status CheckStageMove(const PipelineDef& pipeline,
                            absl::string_view from_stage_id,
                            absl::string_view to_stage_id, bool reopen);

// Checks ChangeOpportunityStageRequest.change_time: not after `now` and not
// before the opportunity's latest stage change (equal is fine);
// INVALID_ARGUMENT on "change_time" otherwise.
absl::Status CheckStageChangeTime(absl::Time change_time,
                                  absl::Time latest_change_time,
                                  absl::Time now);

// The stale threshold of an open stage in days: its `stale_after_days`, or
// the pipeline's default (0 meaning 30). `stage_index` indexes
// pipeline.stages.
int StageStaleAfterDays(const PipelineDef& pipeline, int stage_index);

// ---------------------------------------------------------------------------
// Opportunities, contacts, activities
// ---------------------------------------------------------------------------

// Numbers of custra.v1.OpportunityStatus.
enum class DealStatus : int { kOpen = 1, kWon = 2, kLost = 3 };

// Numbers of custra.v1.ContactBuyingRole.
enum class BuyingRole : int {
  kUnspecified = 0,
  kDecisionMaker = 1,
  kEconomicBuyer = 2,
  kTechnicalEvaluator = 3,
  kUser = 4,
  kInfluencer = 5,
  kGatekeeper = 6,
  kCoach = 7,
};

// Numbers of custra.v1.ContactAttitude.
enum class ContactStance : int {
  kUnspecified = 0,
  kChampion = 1,
  kSupporter = 2,
  kNeutral = 3,
  kBlocker = 4,
};

// One custra.v1.OpportunityStageChange, as far as reports read it.
struct StageChangeFact {
  absl::Time time = absl::UnixEpoch();  // change_time
  // Empty for the first entry. Reports read only `to_stage_id` and `time`;
  // `from_stage_id` is the previous entry's `to_stage_id` by construction.
  std::string from_stage_id;
  std::string to_stage_id;
};

// A contact on a deal (custra.v1.OpportunityContactLink) with the role it
// plays on that deal, as stored (resolved at link time).
struct ContactLinkFact {
  std::string contact_id;
  BuyingRole role = BuyingRole::kUnspecified;
};

// What reports read of one custra.v1.Opportunity.
struct OpportunityFacts {
  std::string id;
  std::string customer_id;
  std::string owner;
  std::string stage_id;  // The current stage.
  int64_t amount_micros = 0;
  std::string currency_code;  // Empty: the tenant's default currency.
  std::optional<double> probability_override;
  int64_t expected_close_day = 0;
  absl::Time open_time = absl::UnixEpoch();
  std::optional<absl::Time> close_time;  // Set while won or lost.
  std::optional<absl::Time> last_activity_time;
  // The stage history, oldest first (times non-decreasing), starting with
  // the stage the deal was created in at `open_time`. Decision: an empty
  // history is read as that single creation entry in the current stage.
  std::vector<StageChangeFact> history;
  std::vector<ContactLinkFact> contacts;
};

// What coverage reads of one custra.v1.AccountContact.
struct ContactFacts {
  std::string id;
  std::string customer_id;
  ContactStance attitude = ContactStance::kUnspecified;
};

// What coverage reads of one custra.v1.SalesActivity.
struct ActivityFacts {
  std::string customer_id;
  absl::Time occur_time = absl::UnixEpoch();
  std::vector<std::string> contact_ids;
};

// The status of a deal: the kind of its current stage, which is resolved
// like history (removed_stage_targets); nullopt when it names no stage.
// Decision: every report leaves such an opportunity out entirely (storage
// never produces one).
std::optional<DealStatus> StatusOf(const PipelineDef& pipeline,
                                   const OpportunityFacts& opportunity);

// Opportunity.probability: 1 when won, 0 when lost, else the override when
// set, else the current stage's default (the stage resolved as in
// StatusOf; unknown: the override or 0).
double EffectiveProbability(const PipelineDef& pipeline,
                            const OpportunityFacts& opportunity);

// ---------------------------------------------------------------------------
// Calibrated probabilities (GetCalibratedProbabilities)
// ---------------------------------------------------------------------------

// Numbers of custra.v1.CalibrationSource.
enum class ProbabilityOrigin : int { kObserved = 1, kConfigured = 2 };

// One custra.v1.CalibratedStageProbability.
struct CalibratedStage {
  std::string stage_id;
  std::string display_name;
  double configured_probability = 0;
  double observed_probability = 0;
  int64_t sample_count = 0;
  int64_t won_count = 0;
  double calibrated_probability = 0;
  ProbabilityOrigin origin = ProbabilityOrigin::kConfigured;
};

struct CalibrationOptions {
  int min_samples = 20;  // 0 means 20; else 1 to 100,000.
  // Closed deals with UtcDay(close_time) in [start_day, end_day]; unset
  // start: from the earliest. The caller resolves end_day (default today).
  std::optional<int64_t> start_day;
  int64_t end_day = 0;
};

struct CalibrationResult {
  std::vector<CalibratedStage> stages;  // One per open stage, in order.
  int64_t closed_count = 0;
  int min_samples = 0;  // As applied.
};

// Learns each open stage's win probability from the closed deals (won or
// lost now, close_time in the period): sample_count = those whose history
// (resolved through removed_stage_targets, reopened stretches included)
// enters the stage at least once; won_count = those of them won;
// observed = won / samples (0 without samples); calibrated = observed when
// samples >= min_samples, else the configured default. By count, as the
// proto defines it; currency plays no part. INVALID_ARGUMENT on
// "min_samples" (outside 1..100,000 after the default) or "start_date"
// (after end_date).
absl::StatusOr<CalibrationResult> CalibrateStageProbabilities(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const CalibrationOptions& options);

// ---------------------------------------------------------------------------
// Weighting and currency, shared by the summary and the forecast
// ---------------------------------------------------------------------------

// Numbers of custra.v1.ForecastProbabilitySource (unspecified resolved to
// kOpportunity).
enum class WeightingSource : int { kOpportunity = 1, kCalibrated = 2 };

struct Weighting {
  WeightingSource source = WeightingSource::kOpportunity;
  // Read with kCalibrated: the stages of CalibrateStageProbabilities run
  // with the request defaults (min_samples 20, all history up to today, no
  // filter). An open deal then weighs its stage's calibrated_probability,
  // overrides ignored (a stage missing here weighs its configured default);
  // won deals still weigh 1 and lost ones 0.
  std::span<const CalibratedStage> calibrated;
};

struct ReportCurrency {
  std::string code;  // The report's currency (request or tenant default).
  std::string tenant_default;  // What an empty currency_code means.
};

// ---------------------------------------------------------------------------
// Pipeline summary (GetPipelineSummary)
// ---------------------------------------------------------------------------

// One custra.v1.PipelineStageTotals; open_total has an empty id and name.
struct StageTotals {
  std::string stage_id;
  std::string display_name;
  StageKind kind = StageKind::kOpen;
  int64_t count = 0;
  int64_t amount_micros = 0;
  int64_t weighted_amount_micros = 0;
};

// One custra.v1.PipelineStageConversion.
struct StageConversion {
  std::string stage_id;
  int64_t entered_count = 0;
  int64_t advanced_count = 0;
  int64_t lost_count = 0;
  double conversion_rate = 0;
  double average_days_in_stage = 0;
  int64_t completed_stay_count = 0;
};

// One custra.v1.PipelineSummaryGroup.
struct SummaryGroup {
  std::string owner;                // Empty for the whole pipeline.
  std::vector<StageTotals> stages;  // Every stage, in pipeline order.
  StageTotals open_total;
  int64_t won_count = 0;
  int64_t lost_count = 0;
  double win_rate_by_count = 0;
  int64_t won_amount_micros = 0;
  int64_t lost_amount_micros = 0;
  double win_rate_by_amount = 0;
  std::vector<StageConversion> conversions;  // Open stages, in order.
  double average_won_cycle_days = 0;
  double average_closed_cycle_days = 0;
};

struct SummaryOptions {
  int64_t start_day = 0;  // Resolved by the caller (see OneYearBefore).
  int64_t end_day = 0;    // Inclusive.
  bool group_by_owner = false;
  ReportCurrency currency;
  Weighting weighting;
};

struct PipelineSummary {
  SummaryGroup total;
  std::vector<SummaryGroup> by_owner;  // By owner (byte-wise) when grouped.
  int64_t other_currency_count = 0;
};

// Summarises `deals` (the filtered opportunities) over the period
// [start_day, end_day]:
// - stage totals: an open stage counts the deals in it now, weighted by
//   their probability; the won and lost stages count the deals in them now
//   whose close_time falls in the period, weighted 1 and 0. Decision:
//   closes are read from the current state, so a deal closed in the period
//   and reopened since counts as open, not as closed;
// - win rates over those won and lost deals, by count and by amount;
// - conversion of each open stage S (Decision, reading the proto's
//   definition over the stage history): a deal entered S when an entry of
//   its history (the creation entry included) goes to S at a moment in the
//   period; counted once however often it entered. From its first such
//   entry on, it advanced if any later entry goes to a later open stage
//   (pipeline order) or to won, and is lost if any later entry goes to lost
//   (a deal may be both, or neither), whenever those later entries happened
//   ("have since"). Consecutive entries that resolve to the same stage
//   (a removed stage and its target) are one entry, at the earlier time;
// - time in stage: a stay in S runs from an entry to S to the next entry;
//   stays whose next entry is in the period are averaged in fractional days
//   (ongoing stays are not);
// - cycle times: close_time - open_time in fractional days (clamped at 0)
//   of the deals won, or won or lost, in the period.
// Every deal whose currency (empty: tenant_default) is not currency.code
// is left out of everything and counted in other_currency_count. With
// group_by_owner, `by_owner` repeats the group per owner present among the
// deals left in. INVALID_ARGUMENT on "start_date" when start_day > end_day.
absl::StatusOr<PipelineSummary> SummarizePipeline(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const SummaryOptions& options);

// ---------------------------------------------------------------------------
// Forecast (GetForecast)
// ---------------------------------------------------------------------------

// One custra.v1.ForecastMonth (year and month 0 for the overdue entry).
struct ForecastMonthValue {
  int year = 0;
  int month = 0;
  int64_t open_count = 0;
  int64_t best_case_amount_micros = 0;
  int64_t weighted_amount_micros = 0;
  int64_t won_count = 0;
  int64_t won_amount_micros = 0;
};

struct ForecastOptions {
  int months = 6;         // 0 means 6; else 1 to 36.
  int64_t start_day = 0;  // A day in the first month (caller: default today).
  ReportCurrency currency;
  Weighting weighting;
};

struct ForecastResult {
  std::vector<ForecastMonthValue> months;  // Every month, in order.
  ForecastMonthValue overdue;
  int64_t total_best_case_amount_micros = 0;  // Sum of the months'.
  int64_t total_weighted_amount_micros = 0;   // Sum of the months'.
  int64_t other_currency_count = 0;
};

// Buckets open deals by the calendar month of expected_close_day (before
// the first month: overdue; after the last: left out) and won deals by the
// UTC month of close_time (outside the months: left out). Deals in another
// currency are left out and counted, as in SummarizePipeline (every such
// input deal, whatever its status and dates). INVALID_ARGUMENT on "months".
absl::StatusOr<ForecastResult> ForecastByCloseMonth(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const ForecastOptions& options);

// ---------------------------------------------------------------------------
// Stale deals (ListStaleOpportunities)
// ---------------------------------------------------------------------------

struct StaleOptions {
  // Overrides every stage's threshold when > 0; 0 means the pipeline's.
  // 0 to 3650.
  int inactive_days = 0;
  // Per-stage thresholds (open stage id -> 1 to 3650), overriding both.
  absl::flat_hash_map<std::string, int> stage_inactive_days;
  absl::Time as_of = absl::UnixEpoch();  // Caller: default now.
};

// One custra.v1.StaleOpportunity without the opportunity itself.
struct StaleDeal {
  size_t index = 0;  // Into the `deals` argument.
  std::string opportunity_id;
  int64_t inactive_days = 0;
  int threshold_days = 0;
};

// The open deals with inactive_days > threshold: inactive_days is the whole
// days (truncated) from last_activity_time, or open_time when there was
// none, to as_of, clamped at 0 (Decision: a last activity after as_of
// counts as activity at as_of: the stored last_activity_time is all that
// is known). The threshold of a deal's stage is stage_inactive_days[stage],
// else inactive_days when > 0, else StageStaleAfterDays. Most inactive
// days first, then by id. Currency plays no part. INVALID_ARGUMENT on
// "inactive_days" (outside 0..3650) or "stage_inactive_days" (a key that is
// not an open stage, or a value outside 1..3650; the description names the
// key).
absl::StatusOr<std::vector<StaleDeal>> ListStaleDeals(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const StaleOptions& options);

// ---------------------------------------------------------------------------
// Decision-maker coverage (GetDecisionMakerCoverage)
// ---------------------------------------------------------------------------

// Numbers of custra.v1.DecisionMakerGapReason.
enum class CoverageGapReason : int {
  kNoDecisionMaker = 1,
  kNotEngaged = 2,
  kBlocker = 3,
};

// One custra.v1.DecisionMakerCoverageGap without the opportunity itself.
struct CoverageGap {
  size_t index = 0;  // Into the `deals` argument.
  std::string opportunity_id;
  CoverageGapReason reason = CoverageGapReason::kNoDecisionMaker;
  // The deal's decision makers by contact id, ascending, each once.
  std::vector<std::string> decision_maker_contact_ids;
};

struct CoverageOptions {
  int engagement_days = 90;              // 0 means 90; else 1 to 3650.
  absl::Time as_of = absl::UnixEpoch();  // Caller: default now.
};

// The counts of custra.v1.GetDecisionMakerCoverageResponse and every gap.
struct DecisionMakerCoverage {
  int64_t open_count = 0;
  int64_t covered_count = 0;
  int64_t no_decision_maker_count = 0;
  int64_t not_engaged_count = 0;
  int64_t blocker_count = 0;
  double coverage_rate = 0;
  std::vector<CoverageGap> gaps;  // Largest amount first, then by id.
};

// Coverage of the open deals among `deals`. A deal's decision makers are
// its contact links with role DECISION_MAKER. One is engaged when an
// activity on the deal's account (activity.customer_id ==
// deal.customer_id, whether or not it names the deal) lists them among its
// contacts at a moment in [as_of - engagement_days x 24 h, as_of]; a
// blocker when its contact's attitude is BLOCKER (a contact missing from
// `contacts` is neither engaged by attitude nor a blocker).
// Decision: the proto defines covered as "an engaged decision maker who is
// not a blocker" and a gap as a deal "without an engaged, non-blocking
// decision maker", so a deal is covered when at least one decision maker
// is engaged and not a blocker, even if another one is a blocker; every
// other deal is a gap, NO_DECISION_MAKER without decision makers, else
// BLOCKER when any of them is a blocker, else NOT_ENGAGED. The four counts
// therefore partition open_count. Gaps are ordered by amount_micros
// (whatever the currency) descending, then id. INVALID_ARGUMENT on
// "engagement_days".
absl::StatusOr<DecisionMakerCoverage> MeasureDecisionMakerCoverage(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    std::span<const ContactFacts> contacts,
    std::span<const ActivityFacts> activities, const CoverageOptions& options);

}  // namespace custra

#endif  // CUSTRA_COMMON_PIPELINE_ANALYTICS_H_
