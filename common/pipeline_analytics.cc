#include "common/pipeline_analytics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/errors.h"

namespace custra {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int kMinStages = 3;
constexpr int kMaxStages = 30;
constexpr int kMaxStageIdLength = 32;
constexpr int kMaxDisplayNameLength = 100;
constexpr int kMaxThresholdDays = 3650;
constexpr int kDefaultStaleAfterDays = 30;
constexpr int kDefaultForecastMonths = 6;
constexpr int kMaxForecastMonths = 36;
constexpr int kDefaultEngagementDays = 90;
constexpr int kDefaultMinSamples = 20;
constexpr int kMaxMinSamples = 100'000;

const absl::CivilDay kEpochDay(1970, 1, 1);

absl::CivilDay CivilDayOf(int64_t day) { return kEpochDay + day; }
int64_t DayOfCivil(absl::CivilDay civil) { return civil - kEpochDay; }

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

// Rounds a weighted sum to the nearest micro, halves away from zero,
// saturating.
int64_t RoundMicros(long double v) {
  constexpr long double kMax =
      static_cast<long double>(std::numeric_limits<int64_t>::max());
  if (v >= kMax) return std::numeric_limits<int64_t>::max();
  if (v <= -kMax) return std::numeric_limits<int64_t>::min();
  return std::llroundl(v);
}

double Ratio(double part, double whole) { return whole > 0 ? part / whole : 0; }

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

double Days(absl::Duration d) { return absl::FDivDuration(d, absl::Hours(24)); }

bool IsStageIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsValidStageId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxStageIdLength) return false;
  if (id[0] < 'a' || id[0] > 'z') return false;
  return std::all_of(id.begin(), id.end(), IsStageIdChar);
}

// Unicode code points of UTF-8 text: the bytes that are not continuation
// bytes (10xxxxxx).
int64_t CodePointCount(absl::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

absl::string_view KindName(StageKind kind) {
  switch (kind) {
    case StageKind::kOpen:
      return "open";
    case StageKind::kWon:
      return "won";
    case StageKind::kLost:
      return "lost";
    default:
      return "unspecified";
  }
}

// The index of a current stage by a linear scan (pipelines have at most 30
// stages), or -1.
int FindStage(const PipelineDef& pipeline, absl::string_view id) {
  for (size_t i = 0; i < pipeline.stages.size(); ++i) {
    if (pipeline.stages[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

// The index a historical stage id counts towards, or -1: the current stage
// of that id, else the target of a removed stage, followed along chains at
// most once around the map (so a cycle ends as unknown).
template <typename FindFn>
int ResolveStage(const PipelineDef& pipeline, absl::string_view id,
                 const FindFn& find) {
  absl::string_view current = id;
  for (size_t hops = 0; hops <= pipeline.removed_stage_targets.size(); ++hops) {
    if (int i = find(current); i >= 0) return i;
    auto it = pipeline.removed_stage_targets.find(current);
    if (it == pipeline.removed_stage_targets.end()) return -1;
    current = it->second;
  }
  return -1;
}

int ResolveStage(const PipelineDef& pipeline, absl::string_view id) {
  return ResolveStage(pipeline, id, [&](absl::string_view s) {
    return FindStage(pipeline, s);
  });
}

StageKind KindAt(const PipelineDef& pipeline, int index) {
  return index < 0 ? StageKind::kUnspecified : pipeline.stages[index].kind;
}

// Stage lookup by id through a hash map, for reports that resolve every
// history entry.
class StageIndex {
 public:
  explicit StageIndex(const PipelineDef& pipeline) : pipeline_(pipeline) {
    for (size_t i = 0; i < pipeline.stages.size(); ++i) {
      by_id_.emplace(pipeline.stages[i].id, static_cast<int>(i));
    }
  }

  int Find(absl::string_view id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? -1 : it->second;
  }

  int Resolve(absl::string_view id) const {
    return ResolveStage(pipeline_, id,
                        [this](absl::string_view s) { return Find(s); });
  }

  StageKind KindAt(int index) const { return custra::KindAt(pipeline_, index); }

 private:
  const PipelineDef& pipeline_;
  absl::flat_hash_map<std::string, int> by_id_;
};

std::optional<DealStatus> StatusOfKind(StageKind kind) {
  switch (kind) {
    case StageKind::kOpen:
      return DealStatus::kOpen;
    case StageKind::kWon:
      return DealStatus::kWon;
    case StageKind::kLost:
      return DealStatus::kLost;
    default:
      return std::nullopt;
  }
}

// One entry of a normalised history: a moment and the stage index it
// counts towards (-1: unknown).
struct Entry {
  absl::Time time;
  int stage = -1;
};

// The history resolved through the index, consecutive entries of the same
// stage merged (keeping the earlier time).
std::vector<Entry> NormalizedHistory(const StageIndex& index,
                                     const OpportunityFacts& deal) {
  std::vector<Entry> out;
  if (deal.history.empty()) {
    out.push_back({deal.open_time, index.Resolve(deal.stage_id)});
    return out;
  }
  out.reserve(deal.history.size());
  for (const StageChangeFact& change : deal.history) {
    const int stage = index.Resolve(change.to_stage_id);
    if (!out.empty() && out.back().stage == stage) continue;
    out.push_back({change.time, stage});
  }
  return out;
}

// A deal that a report keeps, with its resolved current stage.
struct Kept {
  size_t index = 0;
  const OpportunityFacts* deal = nullptr;
  int stage = -1;
  StageKind kind = StageKind::kUnspecified;
};

bool InCurrency(const OpportunityFacts& deal, const ReportCurrency& currency) {
  const std::string& code =
      deal.currency_code.empty() ? currency.tenant_default : deal.currency_code;
  return code == currency.code;
}

// The probability a report weighs a deal with.
class Weigher {
 public:
  Weigher(const PipelineDef& pipeline, const Weighting& weighting)
      : pipeline_(pipeline), source_(weighting.source) {
    for (const CalibratedStage& s : weighting.calibrated) {
      calibrated_.emplace(s.stage_id, s.calibrated_probability);
    }
  }

  double Of(const Kept& kept) const {
    switch (kept.kind) {
      case StageKind::kWon:
        return 1;
      case StageKind::kLost:
        return 0;
      default:
        break;
    }
    const PipelineStageDef& stage = pipeline_.stages[kept.stage];
    if (source_ == WeightingSource::kCalibrated) {
      auto it = calibrated_.find(stage.id);
      return it == calibrated_.end() ? stage.default_probability : it->second;
    }
    return kept.deal->probability_override.value_or(stage.default_probability);
  }

 private:
  const PipelineDef& pipeline_;
  WeightingSource source_;
  absl::flat_hash_map<std::string, double> calibrated_;
};

// Count, amount and unrounded weighted amount of a set of deals.
struct Tally {
  int64_t count = 0;
  int64_t amount = 0;
  long double weighted = 0;

  void Add(int64_t amount_micros, double probability) {
    ++count;
    amount = SaturatingAdd(amount, amount_micros);
    weighted += static_cast<long double>(amount_micros) *
                static_cast<long double>(probability);
  }
};

absl::Status CheckThreshold(absl::string_view field, int value, int min) {
  if (value < min || value > kMaxThresholdDays) {
    return InvalidFieldError(
        field, absl::StrCat("is ", value, "; must be ", min, " to ",
                            kMaxThresholdDays));
  }
  return absl::OkStatus();
}

absl::Status CheckPeriod(std::optional<int64_t> start_day, int64_t end_day) {
  if (start_day.has_value() && *start_day > end_day) {
    return InvalidFieldError(
        "start_date",
        absl::StrCat("is ", absl::FormatCivilTime(CivilDayOf(*start_day)),
                     "; must not be after end_date (",
                     absl::FormatCivilTime(CivilDayOf(end_day)), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// Days
// ---------------------------------------------------------------------------

int64_t UtcDay(absl::Time t) {
  const int64_t seconds = absl::ToUnixSeconds(t);  // Rounds down.
  int64_t day = seconds / kSecondsPerDay;
  if (seconds % kSecondsPerDay < 0) --day;
  return day;
}

absl::Time StartOfUtcDay(int64_t day) {
  return absl::FromUnixSeconds(day * kSecondsPerDay);
}

int64_t DayOfDate(int year, int month, int day) {
  return DayOfCivil(absl::CivilDay(year, month, day));
}

int64_t OneYearBefore(int64_t end_day) {
  const absl::CivilDay end = CivilDayOf(end_day);
  int day = end.day();
  if (end.month() == 2 && day == 29) day = 28;
  return DayOfCivil(absl::CivilDay(end.year() - 1, end.month(), day));
}

// ---------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------

PipelineDef DefaultPipeline() {
  PipelineDef p;
  p.stages = {
      {"scene", "Scene (场景)", 0.05, StageKind::kOpen, 0},
      {"problem", "Problem (问题)", 0.10, StageKind::kOpen, 0},
      {"pain", "Pain (痛点)", 0.20, StageKind::kOpen, 0},
      {"guided_solution", "Guided solution (引导)", 0.35, StageKind::kOpen, 0},
      {"proposal", "Presentation / proposal (呈现 FABE)", 0.50,
       StageKind::kOpen, 0},
      {"negotiation", "Negotiation (谈判)", 0.75, StageKind::kOpen, 0},
      {"won", "Won (成交)", 1.00, StageKind::kWon, 0},
      {"lost", "Lost (丢单)", 0.00, StageKind::kLost, 0},
  };
  p.default_stale_after_days = kDefaultStaleAfterDays;
  return p;
}

absl::Status ValidatePipeline(const PipelineDef& pipeline) {
  const int n = static_cast<int>(pipeline.stages.size());
  if (n < kMinStages || n > kMaxStages) {
    return InvalidFieldError("pipeline.stages",
                             absl::StrCat("has ", n, " stages; must have ",
                                          kMinStages, " to ", kMaxStages));
  }
  absl::flat_hash_map<absl::string_view, int> seen;
  int open_count = 0;
  int won_at = -1;
  int lost_at = -1;
  for (int i = 0; i < n; ++i) {
    const PipelineStageDef& s = pipeline.stages[i];
    const std::string prefix = absl::StrCat("pipeline.stages[", i, "].");
    if (!IsValidStageId(s.id)) {
      return InvalidFieldError(
          absl::StrCat(prefix, "id"),
          absl::StrCat("\"", s.id, "\" must match ^[a-z][a-z0-9_]{0,31}$"));
    }
    if (auto [it, inserted] = seen.emplace(s.id, i); !inserted) {
      return InvalidFieldError(
          absl::StrCat(prefix, "id"),
          absl::StrCat("\"", s.id, "\" repeats the id of pipeline.stages[",
                       it->second, "]"));
    }
    const int64_t name_length = CodePointCount(s.display_name);
    if (name_length < 1 || name_length > kMaxDisplayNameLength) {
      return InvalidFieldError(
          absl::StrCat(prefix, "display_name"),
          absl::StrCat("has ", name_length, " characters; must have 1 to ",
                       kMaxDisplayNameLength));
    }
    const std::string kind_field = absl::StrCat(prefix, "kind");
    switch (s.kind) {
      case StageKind::kOpen:
        if (won_at >= 0 || lost_at >= 0) {
          return InvalidFieldError(
              kind_field,
              "an open stage after the won or lost stage; open stages come "
              "first");
        }
        ++open_count;
        break;
      case StageKind::kWon:
        if (won_at >= 0) {
          return InvalidFieldError(
              kind_field, absl::StrCat("a second won stage (the first is "
                                       "pipeline.stages[",
                                       won_at, "])"));
        }
        if (lost_at >= 0) {
          return InvalidFieldError(
              kind_field, "the won stage must come before the lost stage");
        }
        won_at = i;
        break;
      case StageKind::kLost:
        if (lost_at >= 0) {
          return InvalidFieldError(
              kind_field, absl::StrCat("a second lost stage (the first is "
                                       "pipeline.stages[",
                                       lost_at, "])"));
        }
        lost_at = i;
        break;
      default:
        return InvalidFieldError(kind_field,
                                 absl::StrCat("is ", static_cast<int>(s.kind),
                                              "; must be OPEN, WON or LOST"));
    }
    const double p = s.default_probability;
    const std::string probability_field =
        absl::StrCat(prefix, "default_probability");
    if (!(p >= 0 && p <= 1)) {  // Also rejects NaN.
      return InvalidFieldError(probability_field,
                               absl::StrCat("is ", p, "; must be in [0, 1]"));
    }
    if (s.kind == StageKind::kWon && p != 1) {
      return InvalidFieldError(
          probability_field,
          absl::StrCat("is ", p, "; must be 1 for the won stage"));
    }
    if (s.kind == StageKind::kLost && p != 0) {
      return InvalidFieldError(
          probability_field,
          absl::StrCat("is ", p, "; must be 0 for the lost stage"));
    }
    if (s.kind == StageKind::kOpen && s.stale_after_days != 0) {
      if (absl::Status st = CheckThreshold(
              absl::StrCat(prefix, "stale_after_days"), s.stale_after_days, 1);
          !st.ok()) {
        return st;
      }
    }
  }
  if (open_count == 0) {
    return InvalidFieldError("pipeline.stages", "has no open stage");
  }
  if (won_at < 0) {
    return InvalidFieldError("pipeline.stages", "has no won stage");
  }
  if (lost_at < 0) {
    return InvalidFieldError("pipeline.stages", "has no lost stage");
  }
  if (pipeline.default_stale_after_days != 0) {
    return CheckThreshold("pipeline.default_stale_after_days",
                          pipeline.default_stale_after_days, 1);
  }
  return absl::OkStatus();
}

absl::Status CheckStageMove(const PipelineDef& pipeline,
                            absl::string_view from_stage_id,
                            absl::string_view to_stage_id, bool reopen) {
  if (to_stage_id.empty()) {
    return InvalidFieldError("to_stage_id", "is required");
  }
  const int to = FindStage(pipeline, to_stage_id);
  if (to < 0) {
    return InvalidFieldError(
        "to_stage_id",
        absl::StrCat("\"", to_stage_id, "\" is not a stage of the pipeline"));
  }
  const int from = FindStage(pipeline, from_stage_id);
  if (from < 0) {
    return absl::InternalError(
        absl::StrCat("the opportunity's stage \"", from_stage_id,
                     "\" is not a stage of the pipeline"));
  }
  const StageKind from_kind = KindAt(pipeline, from);
  if (from_kind == StageKind::kOpen && reopen) {
    return InvalidFieldError(
        "reopen", absl::StrCat("must be false: the opportunity is open (in \"",
                               from_stage_id, "\")"));
  }
  if (from == to) {
    return absl::FailedPreconditionError(
        absl::StrCat("to_stage_id: the opportunity is already in stage \"",
                     to_stage_id, "\""));
  }
  if (from_kind != StageKind::kOpen && !reopen) {
    return absl::FailedPreconditionError(
        absl::StrCat("reopen: the opportunity is ", KindName(from_kind),
                     " (in \"", from_stage_id, "\"); moving it to \"",
                     to_stage_id, "\" requires reopen"));
  }
  return absl::OkStatus();
}

absl::Status CheckStageChangeTime(absl::Time change_time,
                                  absl::Time latest_change_time,
                                  absl::Time now) {
  if (change_time > now) {
    return InvalidFieldError("change_time",
                             absl::StrCat("is ", FormatUtc(change_time),
                                          "; must not be in the future"));
  }
  if (change_time < latest_change_time) {
    return InvalidFieldError(
        "change_time",
        absl::StrCat("is ", FormatUtc(change_time),
                     "; must not be before the latest stage change (",
                     FormatUtc(latest_change_time), ")"));
  }
  return absl::OkStatus();
}

int StageStaleAfterDays(const PipelineDef& pipeline, int stage_index) {
  const int own = pipeline.stages[stage_index].stale_after_days;
  if (own > 0) return own;
  return pipeline.default_stale_after_days > 0
             ? pipeline.default_stale_after_days
             : kDefaultStaleAfterDays;
}

// ---------------------------------------------------------------------------
// Opportunities
// ---------------------------------------------------------------------------

std::optional<DealStatus> StatusOf(const PipelineDef& pipeline,
                                   const OpportunityFacts& opportunity) {
  return StatusOfKind(
      KindAt(pipeline, ResolveStage(pipeline, opportunity.stage_id)));
}

double EffectiveProbability(const PipelineDef& pipeline,
                            const OpportunityFacts& opportunity) {
  const int stage = ResolveStage(pipeline, opportunity.stage_id);
  switch (KindAt(pipeline, stage)) {
    case StageKind::kWon:
      return 1;
    case StageKind::kLost:
      return 0;
    case StageKind::kOpen:
      return opportunity.probability_override.value_or(
          pipeline.stages[stage].default_probability);
    default:
      return opportunity.probability_override.value_or(0);
  }
}

namespace {

// The deals a report keeps: those in a known stage and, when `currency` is
// given, in that currency (the others are counted in *other_currency).
std::vector<Kept> KeepDeals(const StageIndex& index,
                            std::span<const OpportunityFacts> deals,
                            const ReportCurrency* currency,
                            int64_t* other_currency) {
  std::vector<Kept> kept;
  kept.reserve(deals.size());
  for (size_t i = 0; i < deals.size(); ++i) {
    const OpportunityFacts& deal = deals[i];
    const int stage = index.Resolve(deal.stage_id);
    if (stage < 0) continue;
    if (currency != nullptr && !InCurrency(deal, *currency)) {
      ++*other_currency;
      continue;
    }
    kept.push_back({i, &deal, stage, index.KindAt(stage)});
  }
  return kept;
}

bool ClosedIn(const Kept& kept, std::optional<int64_t> start_day,
              int64_t end_day) {
  if (kept.kind != StageKind::kWon && kept.kind != StageKind::kLost) {
    return false;
  }
  if (!kept.deal->close_time.has_value()) return false;
  const int64_t day = UtcDay(*kept.deal->close_time);
  return (!start_day.has_value() || day >= *start_day) && day <= end_day;
}

// Per open stage accumulators of the conversion report.
struct ConversionTally {
  int64_t entered = 0;
  int64_t advanced = 0;
  int64_t lost = 0;
  double stay_days = 0;
  int64_t stays = 0;
};

SummaryGroup SummarizeGroup(const PipelineDef& pipeline,
                            const StageIndex& index, const Weigher& weigher,
                            std::span<const Kept* const> deals,
                            const SummaryOptions& options) {
  const int n = static_cast<int>(pipeline.stages.size());
  std::vector<Tally> stage_tallies(n);
  std::vector<ConversionTally> conversions(n);
  int64_t won_count = 0, lost_count = 0;
  int64_t won_amount = 0, lost_amount = 0;
  double won_cycle_days = 0, closed_cycle_days = 0;
  const auto in_period = [&](absl::Time t) {
    const int64_t day = UtcDay(t);
    return day >= options.start_day && day <= options.end_day;
  };

  for (const Kept* kept : deals) {
    const OpportunityFacts& deal = *kept->deal;
    // Stage totals, win rates and cycle times.
    if (kept->kind == StageKind::kOpen) {
      stage_tallies[kept->stage].Add(deal.amount_micros, weigher.Of(*kept));
    } else if (ClosedIn(*kept, options.start_day, options.end_day)) {
      stage_tallies[kept->stage].Add(deal.amount_micros, weigher.Of(*kept));
      const double cycle =
          std::max(0.0, Days(*deal.close_time - deal.open_time));
      closed_cycle_days += cycle;
      if (kept->kind == StageKind::kWon) {
        ++won_count;
        won_amount = SaturatingAdd(won_amount, deal.amount_micros);
        won_cycle_days += cycle;
      } else {
        ++lost_count;
        lost_amount = SaturatingAdd(lost_amount, deal.amount_micros);
      }
    }

    // Conversion and time in stage, from the history.
    const std::vector<Entry> history = NormalizedHistory(index, deal);
    const size_t h = history.size();
    // After entry k: the latest open stage index, and whether won or lost
    // follow.
    std::vector<int> later_open(h, -1);
    std::vector<bool> later_won(h, false), later_lost(h, false);
    for (size_t k = h - 1; k > 0; --k) {
      const int stage = history[k].stage;
      const StageKind kind = index.KindAt(stage);
      later_open[k - 1] = later_open[k];
      later_won[k - 1] = later_won[k] || kind == StageKind::kWon;
      later_lost[k - 1] = later_lost[k] || kind == StageKind::kLost;
      if (kind == StageKind::kOpen) {
        later_open[k - 1] = std::max(later_open[k - 1], stage);
      }
    }
    std::vector<bool> entered(n, false);
    for (size_t k = 0; k < h; ++k) {
      const int stage = history[k].stage;
      if (index.KindAt(stage) != StageKind::kOpen) continue;
      ConversionTally& c = conversions[stage];
      if (!entered[stage] && in_period(history[k].time)) {
        entered[stage] = true;
        ++c.entered;
        if (later_won[k] || later_open[k] > stage) ++c.advanced;
        if (later_lost[k]) ++c.lost;
      }
      if (k + 1 < h && in_period(history[k + 1].time)) {
        c.stay_days += Days(history[k + 1].time - history[k].time);
        ++c.stays;
      }
    }
  }

  SummaryGroup group;
  group.stages.reserve(n);
  group.open_total.kind = StageKind::kOpen;
  for (int i = 0; i < n; ++i) {
    const PipelineStageDef& stage = pipeline.stages[i];
    const Tally& t = stage_tallies[i];
    StageTotals totals{stage.id, stage.display_name, stage.kind,
                       t.count,  t.amount,           RoundMicros(t.weighted)};
    if (stage.kind == StageKind::kOpen) {
      group.open_total.count += totals.count;
      group.open_total.amount_micros =
          SaturatingAdd(group.open_total.amount_micros, totals.amount_micros);
      group.open_total.weighted_amount_micros =
          SaturatingAdd(group.open_total.weighted_amount_micros,
                        totals.weighted_amount_micros);
      const ConversionTally& c = conversions[i];
      group.conversions.push_back(
          {stage.id, c.entered, c.advanced, c.lost,
           Ratio(static_cast<double>(c.advanced),
                 static_cast<double>(c.entered)),
           c.stays > 0 ? c.stay_days / static_cast<double>(c.stays) : 0,
           c.stays});
    }
    group.stages.push_back(std::move(totals));
  }
  group.won_count = won_count;
  group.lost_count = lost_count;
  group.win_rate_by_count = Ratio(static_cast<double>(won_count),
                                  static_cast<double>(won_count + lost_count));
  group.won_amount_micros = won_amount;
  group.lost_amount_micros = lost_amount;
  group.win_rate_by_amount =
      Ratio(static_cast<double>(won_amount),
            static_cast<double>(won_amount) + static_cast<double>(lost_amount));
  group.average_won_cycle_days =
      won_count > 0 ? won_cycle_days / static_cast<double>(won_count) : 0;
  const int64_t closed = won_count + lost_count;
  group.average_closed_cycle_days =
      closed > 0 ? closed_cycle_days / static_cast<double>(closed) : 0;
  return group;
}

}  // namespace

// ---------------------------------------------------------------------------
// Calibrated probabilities
// ---------------------------------------------------------------------------

absl::StatusOr<CalibrationResult> CalibrateStageProbabilities(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const CalibrationOptions& options) {
  const int min_samples =
      options.min_samples == 0 ? kDefaultMinSamples : options.min_samples;
  if (min_samples < 1 || min_samples > kMaxMinSamples) {
    return InvalidFieldError("min_samples",
                             absl::StrCat("is ", options.min_samples,
                                          "; must be 1 to 100000 (0: 20)"));
  }
  if (absl::Status s = CheckPeriod(options.start_day, options.end_day);
      !s.ok()) {
    return s;
  }
  const StageIndex index(pipeline);
  const int n = static_cast<int>(pipeline.stages.size());
  std::vector<int64_t> samples(n, 0), won(n, 0);
  CalibrationResult result;
  result.min_samples = min_samples;
  for (const Kept& kept : KeepDeals(index, deals, nullptr, nullptr)) {
    if (!ClosedIn(kept, options.start_day, options.end_day)) continue;
    ++result.closed_count;
    std::vector<bool> visited(n, false);
    for (const Entry& e : NormalizedHistory(index, *kept.deal)) {
      if (index.KindAt(e.stage) != StageKind::kOpen || visited[e.stage]) {
        continue;
      }
      visited[e.stage] = true;
      ++samples[e.stage];
      if (kept.kind == StageKind::kWon) ++won[e.stage];
    }
  }
  for (int i = 0; i < n; ++i) {
    const PipelineStageDef& stage = pipeline.stages[i];
    if (stage.kind != StageKind::kOpen) continue;
    CalibratedStage c;
    c.stage_id = stage.id;
    c.display_name = stage.display_name;
    c.configured_probability = stage.default_probability;
    c.sample_count = samples[i];
    c.won_count = won[i];
    c.observed_probability =
        Ratio(static_cast<double>(won[i]), static_cast<double>(samples[i]));
    if (samples[i] >= min_samples) {
      c.calibrated_probability = c.observed_probability;
      c.origin = ProbabilityOrigin::kObserved;
    } else {
      c.calibrated_probability = c.configured_probability;
      c.origin = ProbabilityOrigin::kConfigured;
    }
    result.stages.push_back(std::move(c));
  }
  return result;
}

// ---------------------------------------------------------------------------
// Pipeline summary
// ---------------------------------------------------------------------------

absl::StatusOr<PipelineSummary> SummarizePipeline(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const SummaryOptions& options) {
  if (absl::Status s = CheckPeriod(options.start_day, options.end_day);
      !s.ok()) {
    return s;
  }
  const StageIndex index(pipeline);
  const Weigher weigher(pipeline, options.weighting);
  PipelineSummary summary;
  const std::vector<Kept> kept =
      KeepDeals(index, deals, &options.currency, &summary.other_currency_count);
  std::vector<const Kept*> all;
  all.reserve(kept.size());
  std::map<std::string, std::vector<const Kept*>> by_owner;
  for (const Kept& k : kept) {
    all.push_back(&k);
    if (options.group_by_owner) by_owner[k.deal->owner].push_back(&k);
  }
  summary.total = SummarizeGroup(pipeline, index, weigher, all, options);
  for (const auto& [owner, owned] : by_owner) {
    SummaryGroup group =
        SummarizeGroup(pipeline, index, weigher, owned, options);
    group.owner = owner;
    summary.by_owner.push_back(std::move(group));
  }
  return summary;
}

// ---------------------------------------------------------------------------
// Forecast
// ---------------------------------------------------------------------------

absl::StatusOr<ForecastResult> ForecastByCloseMonth(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const ForecastOptions& options) {
  const int months =
      options.months == 0 ? kDefaultForecastMonths : options.months;
  if (months < 1 || months > kMaxForecastMonths) {
    return InvalidFieldError(
        "months",
        absl::StrCat("is ", options.months, "; must be 1 to 36 (0: 6)"));
  }
  const StageIndex index(pipeline);
  const Weigher weigher(pipeline, options.weighting);
  ForecastResult result;
  const std::vector<Kept> kept =
      KeepDeals(index, deals, &options.currency, &result.other_currency_count);

  const absl::CivilMonth first(CivilDayOf(options.start_day));
  // The month offset of a day from the first month (negative: before it).
  const auto offset_of = [&](int64_t day) -> int64_t {
    return absl::CivilMonth(CivilDayOf(day)) - first;
  };
  std::vector<Tally> open(months);
  Tally overdue;
  std::vector<int64_t> won_count(months, 0), won_amount(months, 0);
  for (const Kept& k : kept) {
    const OpportunityFacts& deal = *k.deal;
    if (k.kind == StageKind::kOpen) {
      const int64_t offset = offset_of(deal.expected_close_day);
      if (offset < 0) {
        overdue.Add(deal.amount_micros, weigher.Of(k));
      } else if (offset < months) {
        open[offset].Add(deal.amount_micros, weigher.Of(k));
      }
    } else if (k.kind == StageKind::kWon && deal.close_time.has_value()) {
      const int64_t offset = offset_of(UtcDay(*deal.close_time));
      if (offset >= 0 && offset < months) {
        ++won_count[offset];
        won_amount[offset] =
            SaturatingAdd(won_amount[offset], deal.amount_micros);
      }
    }
  }
  result.months.reserve(months);
  for (int i = 0; i < months; ++i) {
    const absl::CivilMonth month = first + i;
    ForecastMonthValue m;
    m.year = static_cast<int>(month.year());
    m.month = month.month();
    m.open_count = open[i].count;
    m.best_case_amount_micros = open[i].amount;
    m.weighted_amount_micros = RoundMicros(open[i].weighted);
    m.won_count = won_count[i];
    m.won_amount_micros = won_amount[i];
    result.total_best_case_amount_micros = SaturatingAdd(
        result.total_best_case_amount_micros, m.best_case_amount_micros);
    result.total_weighted_amount_micros = SaturatingAdd(
        result.total_weighted_amount_micros, m.weighted_amount_micros);
    result.months.push_back(m);
  }
  result.overdue.open_count = overdue.count;
  result.overdue.best_case_amount_micros = overdue.amount;
  result.overdue.weighted_amount_micros = RoundMicros(overdue.weighted);
  return result;
}

// ---------------------------------------------------------------------------
// Stale deals
// ---------------------------------------------------------------------------

absl::StatusOr<std::vector<StaleDeal>> ListStaleDeals(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    const StaleOptions& options) {
  if (absl::Status s =
          CheckThreshold("inactive_days", options.inactive_days, 0);
      !s.ok()) {
    return s;
  }
  const StageIndex index(pipeline);
  const int n = static_cast<int>(pipeline.stages.size());
  std::vector<int> thresholds(n, 0);
  for (int i = 0; i < n; ++i) {
    if (pipeline.stages[i].kind != StageKind::kOpen) continue;
    thresholds[i] = options.inactive_days > 0
                        ? options.inactive_days
                        : StageStaleAfterDays(pipeline, i);
  }
  // Keys in a fixed order, so the first bad one reported does not depend
  // on hashing.
  std::vector<std::pair<std::string, int>> per_stage(
      options.stage_inactive_days.begin(), options.stage_inactive_days.end());
  std::sort(per_stage.begin(), per_stage.end());
  for (const auto& [stage_id, days] : per_stage) {
    const int stage = index.Find(stage_id);
    if (index.KindAt(stage) != StageKind::kOpen) {
      return InvalidFieldError(
          "stage_inactive_days",
          absl::StrCat("key \"", stage_id,
                       "\" is not an open stage of the pipeline"));
    }
    if (days < 1 || days > kMaxThresholdDays) {
      return InvalidFieldError(
          "stage_inactive_days",
          absl::StrCat("the value for \"", stage_id, "\" is ", days,
                       "; must be 1 to ", kMaxThresholdDays));
    }
    thresholds[stage] = days;
  }

  std::vector<StaleDeal> stale;
  for (const Kept& k : KeepDeals(index, deals, nullptr, nullptr)) {
    if (k.kind != StageKind::kOpen) continue;
    const OpportunityFacts& deal = *k.deal;
    const absl::Time since = deal.last_activity_time.value_or(deal.open_time);
    // Duration / Duration truncates: whole days.
    const int64_t inactive =
        since >= options.as_of ? 0 : (options.as_of - since) / absl::Hours(24);
    if (inactive > thresholds[k.stage]) {
      stale.push_back({k.index, deal.id, inactive, thresholds[k.stage]});
    }
  }
  std::sort(stale.begin(), stale.end(),
            [](const StaleDeal& a, const StaleDeal& b) {
              if (a.inactive_days != b.inactive_days) {
                return a.inactive_days > b.inactive_days;
              }
              return a.opportunity_id < b.opportunity_id;
            });
  return stale;
}

// ---------------------------------------------------------------------------
// Decision-maker coverage
// ---------------------------------------------------------------------------

absl::StatusOr<DecisionMakerCoverage> MeasureDecisionMakerCoverage(
    const PipelineDef& pipeline, std::span<const OpportunityFacts> deals,
    std::span<const ContactFacts> contacts,
    std::span<const ActivityFacts> activities, const CoverageOptions& options) {
  const int engagement_days = options.engagement_days == 0
                                  ? kDefaultEngagementDays
                                  : options.engagement_days;
  if (engagement_days < 1 || engagement_days > kMaxThresholdDays) {
    return InvalidFieldError("engagement_days",
                             absl::StrCat("is ", options.engagement_days,
                                          "; must be 1 to 3650 (0: 90)"));
  }
  const absl::Time window_start =
      options.as_of - absl::Hours(24) * engagement_days;

  absl::flat_hash_map<absl::string_view, ContactStance> attitude;
  for (const ContactFacts& c : contacts) attitude[c.id] = c.attitude;
  // Engaged (account, contact) pairs, keyed "account\0contact".
  absl::flat_hash_set<std::string> engaged;
  for (const ActivityFacts& a : activities) {
    if (a.occur_time < window_start || a.occur_time > options.as_of) continue;
    for (const std::string& contact_id : a.contact_ids) {
      engaged.insert(
          absl::StrCat(a.customer_id, std::string(1, '\0'), contact_id));
    }
  }

  const StageIndex index(pipeline);
  DecisionMakerCoverage result;
  for (const Kept& k : KeepDeals(index, deals, nullptr, nullptr)) {
    if (k.kind != StageKind::kOpen) continue;
    const OpportunityFacts& deal = *k.deal;
    ++result.open_count;
    std::vector<std::string> decision_makers;
    for (const ContactLinkFact& link : deal.contacts) {
      if (link.role == BuyingRole::kDecisionMaker) {
        decision_makers.push_back(link.contact_id);
      }
    }
    std::sort(decision_makers.begin(), decision_makers.end());
    decision_makers.erase(
        std::unique(decision_makers.begin(), decision_makers.end()),
        decision_makers.end());
    bool covered = false;
    bool any_blocker = false;
    for (const std::string& id : decision_makers) {
      auto it = attitude.find(id);
      const bool blocker =
          it != attitude.end() && it->second == ContactStance::kBlocker;
      any_blocker = any_blocker || blocker;
      if (!blocker && engaged.contains(absl::StrCat(
                          deal.customer_id, std::string(1, '\0'), id))) {
        covered = true;
      }
    }
    if (covered) {
      ++result.covered_count;
      continue;
    }
    CoverageGapReason reason;
    if (decision_makers.empty()) {
      reason = CoverageGapReason::kNoDecisionMaker;
      ++result.no_decision_maker_count;
    } else if (any_blocker) {
      reason = CoverageGapReason::kBlocker;
      ++result.blocker_count;
    } else {
      reason = CoverageGapReason::kNotEngaged;
      ++result.not_engaged_count;
    }
    result.gaps.push_back(
        {k.index, deal.id, reason, std::move(decision_makers)});
  }
  result.coverage_rate = Ratio(static_cast<double>(result.covered_count),
                               static_cast<double>(result.open_count));
  std::sort(result.gaps.begin(), result.gaps.end(),
            [&](const CoverageGap& a, const CoverageGap& b) {
              const int64_t amount_a = deals[a.index].amount_micros;
              const int64_t amount_b = deals[b.index].amount_micros;
              if (amount_a != amount_b) return amount_a > amount_b;
              return a.opportunity_id < b.opportunity_id;
            });
  return result;
}

}  // namespace custra
