#include "client/cli/segment_commands.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/format.h"
#include "common/status_macros.h"

namespace custra::cli {
namespace {

// Flags of the segmentation commands. One instance is shared by the
// callbacks that read it, so the references CLI11 binds stay valid as long
// as the commands. Only one subcommand runs, so fields may be shared by
// several of them.
struct SegmentFlags {
  // Positional: a run or customer id.
  std::string id;
  // Common.
  std::string filter;
  int64_t limit = 0;
  // Run request (segment): a label for the run.
  std::string name;
  // Period and run request (segment, structure).
  std::string as_of;
  std::string window_start;
  std::string request_id;
  // ABC (and the concentration metric of structure).
  std::string metric;
  std::string mode;
  std::optional<double> a_cutoff;
  std::optional<double> b_cutoff;
  std::optional<int32_t> curve_points;
  // RFM.
  std::string map_file;
  // Value matrix.
  std::string x_axis;
  std::string y_axis;
  std::string x_split;
  std::string y_split;
  std::optional<double> high_share;
  std::optional<double> mid_share;
  // Lifecycle.
  std::optional<int32_t> new_days;
  std::optional<int32_t> period_days;
  std::optional<double> growth;
  std::optional<double> decline;
  std::optional<double> gap_multiplier;
  std::optional<int32_t> lost_days;
  std::optional<double> lost_p_alive;
  // MAN.
  std::vector<std::string> kinds;
  // Structure.
  std::string by;
  std::string run_id;
  std::string compare_to;
  std::string compare_from;
  std::string compare_run;
  bool include_inactive = false;
  int32_t top_n = 0;
  // Runs.
  std::string model;
  std::string segment;
  std::string order_by;
  std::string base_run_id;
  std::string target_run_id;
  std::string from_segment;
  std::string to_segment;
};

// How CompareRuns' empty segment names (not in that run) are shown.
constexpr absl::string_view kEntered = "(entered)";
constexpr absl::string_view kLeft = "(left)";

// How an unset date is shown: the server took today (UTC).
constexpr absl::string_view kToday = "today";

// --- Parsing ---------------------------------------------------------------

v1::ValueMatrixAxis AxisOf(const std::string& name) {
  if (name == "frequency") return v1::VALUE_MATRIX_AXIS_FREQUENCY;
  if (name == "aov") return v1::VALUE_MATRIX_AXIS_AVERAGE_ORDER_VALUE;
  if (name == "revenue") return v1::VALUE_MATRIX_AXIS_REVENUE;
  if (name == "profit") return v1::VALUE_MATRIX_AXIS_PROFIT;
  if (name == "clv") return v1::VALUE_MATRIX_AXIS_PREDICTED_CLV;
  if (name == "score") return v1::VALUE_MATRIX_AXIS_KEY_ACCOUNT_SCORE;
  return v1::VALUE_MATRIX_AXIS_UNSPECIFIED;
}

bool IsMoneyAxis(v1::ValueMatrixAxis axis) {
  return axis != v1::VALUE_MATRIX_AXIS_FREQUENCY &&
         axis != v1::VALUE_MATRIX_AXIS_KEY_ACCOUNT_SCORE;
}

// Fills an axis spec from --x/--y and --x-split/--y-split. `default_axis`
// is the server's default when the axis is not given: it decides whether a
// threshold is money or a number.
absl::Status ParseAxisSpec(absl::string_view split_flag,
                           const std::string& axis_name,
                           const std::string& split,
                           v1::ValueMatrixAxis default_axis,
                           v1::ValueMatrixAxisSpec* spec) {
  if (!axis_name.empty()) spec->set_axis(AxisOf(axis_name));
  if (split.empty()) return absl::OkStatus();
  const v1::ValueMatrixAxis axis =
      axis_name.empty() ? default_axis : spec->axis();
  const std::vector<std::string> parts =
      absl::StrSplit(split, absl::MaxSplits(':', 1));
  const std::string method = absl::AsciiStrToLower(parts[0]);
  if (method == "median" && parts.size() == 1) {
    spec->set_split_method(v1::VALUE_MATRIX_SPLIT_METHOD_MEDIAN);
  } else if (method == "quantile") {
    spec->set_split_method(v1::VALUE_MATRIX_SPLIT_METHOD_QUANTILE);
    if (parts.size() == 2) {
      CUSTRA_ASSIGN_OR_RETURN(const double q,
                              ParseNumber(split_flag, parts[1]));
      spec->set_quantile(q);
    }
  } else if (method == "threshold" && parts.size() == 2) {
    spec->set_split_method(v1::VALUE_MATRIX_SPLIT_METHOD_THRESHOLD);
    if (IsMoneyAxis(axis)) {
      CUSTRA_ASSIGN_OR_RETURN(*spec->mutable_threshold()->mutable_money(),
                              ParseMoney(split_flag, parts[1]));
    } else {
      CUSTRA_ASSIGN_OR_RETURN(const double v,
                              ParseNumber(split_flag, parts[1]));
      spec->mutable_threshold()->set_number(v);
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        split_flag, ": expected median, quantile:Q or threshold:V, got '",
        split, "'"));
  }
  return absl::OkStatus();
}

// Reads --map: a JSON list of RfmSegmentRule objects (proto JSON), or an
// RfmParameters object holding one as "segmentMap".
absl::Status ReadRfmMap(const std::string& path, v1::RfmParameters* rfm) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  if (!in) return absl::NotFoundError("cannot read --map " + path);
  const std::string text(absl::StripAsciiWhitespace(content.str()));
  const std::string json = absl::StartsWith(text, "[")
                               ? absl::StrCat(R"({"segmentMap":)", text, "}")
                               : text;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, rfm);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--map ", path, ": ", std::string(parsed.message())));
  }
  if (rfm->segment_map().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--map ", path, ": no segment rules"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::RunSegmentationRequest> BuildRunRequest(
    v1::SegmentationModel model, const SegmentFlags& f) {
  v1::RunSegmentationRequest request;
  request.set_request_id(f.request_id);
  request.set_display_name(f.name);
  request.set_customer_filter(f.filter);
  if (!f.as_of.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--as-of", f.as_of, request.mutable_as_of_date()));
  }
  if (!f.window_start.empty()) {
    CUSTRA_RETURN_IF_ERROR(ParseDate("--from", f.window_start,
                                     request.mutable_window_start_date()));
  }
  v1::SegmentationParameters& parameters = *request.mutable_parameters();
  switch (model) {
    case v1::SEGMENTATION_MODEL_ABC: {
      v1::AbcParameters& abc = *parameters.mutable_abc();
      if (f.metric == "revenue") {
        abc.set_metric(v1::SEGMENTATION_VALUE_METRIC_REVENUE);
      } else if (f.metric == "profit") {
        abc.set_metric(v1::SEGMENTATION_VALUE_METRIC_PROFIT);
      }
      if (f.mode == "value") {
        abc.set_mode(v1::ABC_CUTOFF_MODE_VALUE_SHARE);
      } else if (f.mode == "customers") {
        abc.set_mode(v1::ABC_CUTOFF_MODE_CUSTOMER_SHARE);
      }
      if (f.a_cutoff) abc.set_a_cutoff(*f.a_cutoff);
      if (f.b_cutoff) abc.set_b_cutoff(*f.b_cutoff);
      if (f.curve_points) abc.set_curve_points(*f.curve_points);
      break;
    }
    case v1::SEGMENTATION_MODEL_RFM: {
      v1::RfmParameters& rfm = *parameters.mutable_rfm();
      if (!f.map_file.empty()) {
        CUSTRA_RETURN_IF_ERROR(ReadRfmMap(f.map_file, &rfm));
      }
      break;
    }
    case v1::SEGMENTATION_MODEL_VALUE_MATRIX: {
      v1::ValueMatrixParameters& matrix = *parameters.mutable_value_matrix();
      if (!f.x_axis.empty() || !f.x_split.empty()) {
        CUSTRA_RETURN_IF_ERROR(ParseAxisSpec("--x-split", f.x_axis, f.x_split,
                                             v1::VALUE_MATRIX_AXIS_FREQUENCY,
                                             matrix.mutable_x_axis()));
      }
      if (!f.y_axis.empty() || !f.y_split.empty()) {
        CUSTRA_RETURN_IF_ERROR(
            ParseAxisSpec("--y-split", f.y_axis, f.y_split,
                          v1::VALUE_MATRIX_AXIS_AVERAGE_ORDER_VALUE,
                          matrix.mutable_y_axis()));
      }
      if (f.high_share) matrix.set_high_tier_share(*f.high_share);
      if (f.mid_share) matrix.set_mid_tier_share(*f.mid_share);
      break;
    }
    case v1::SEGMENTATION_MODEL_LIFECYCLE: {
      v1::LifecycleParameters& lifecycle = *parameters.mutable_lifecycle();
      if (f.new_days) lifecycle.set_new_customer_days(*f.new_days);
      if (f.period_days) lifecycle.set_period_days(*f.period_days);
      if (f.growth) lifecycle.set_growth_threshold(*f.growth);
      if (f.decline) lifecycle.set_decline_threshold(*f.decline);
      if (f.gap_multiplier) lifecycle.set_gap_multiplier(*f.gap_multiplier);
      if (f.lost_days) lifecycle.set_lost_after_days(*f.lost_days);
      if (f.lost_p_alive) lifecycle.set_lost_p_alive_below(*f.lost_p_alive);
      break;
    }
    case v1::SEGMENTATION_MODEL_MAN: {
      v1::ManParameters& man = *parameters.mutable_man();
      for (const std::string& kind : f.kinds) {
        const std::string k = absl::AsciiStrToLower(kind);
        if (k == "enterprise") {
          man.add_customer_kinds(v1::CUSTOMER_KIND_ENTERPRISE);
        } else if (k == "government") {
          man.add_customer_kinds(v1::CUSTOMER_KIND_GOVERNMENT);
        } else if (k == "individual") {
          man.add_customer_kinds(v1::CUSTOMER_KIND_INDIVIDUAL);
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              "--kinds: expected enterprise, government or individual, got '",
              kind, "'"));
        }
      }
      break;
    }
    default:
      return absl::InternalError("unknown segmentation model");
  }
  return request;
}

absl::StatusOr<v1::GetStructureReportRequest> BuildStructureRequest(
    const SegmentFlags& f) {
  static const auto* const kDimensions =
      new std::map<std::string, v1::StructureDimension>{
          {"kind", v1::STRUCTURE_DIMENSION_KIND},
          {"industry", v1::STRUCTURE_DIMENSION_INDUSTRY},
          {"region", v1::STRUCTURE_DIMENSION_REGION},
          {"channel", v1::STRUCTURE_DIMENSION_CHANNEL},
          {"tag", v1::STRUCTURE_DIMENSION_TAG},
          {"segment", v1::STRUCTURE_DIMENSION_SEGMENT}};
  v1::GetStructureReportRequest request;
  const auto dimension = kDimensions->find(absl::AsciiStrToLower(f.by));
  if (dimension == kDimensions->end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--by: expected kind, industry, region, channel, tag or segment, "
        "got '",
        f.by, "'"));
  }
  request.set_dimension(dimension->second);
  const bool by_segment = dimension->second == v1::STRUCTURE_DIMENSION_SEGMENT;
  if (by_segment && f.run_id.empty()) {
    return absl::InvalidArgumentError("--by segment needs --run RUN_ID");
  }
  if (!by_segment && (!f.run_id.empty() || !f.compare_run.empty())) {
    return absl::InvalidArgumentError(
        "--run and --compare-run apply only to --by segment");
  }
  if (!f.as_of.empty()) {
    CUSTRA_RETURN_IF_ERROR(ParseDate(
        "--as-of", f.as_of, request.mutable_period()->mutable_as_of_date()));
  }
  if (!f.window_start.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--from", f.window_start,
                  request.mutable_period()->mutable_window_start_date()));
  }
  if (!f.run_id.empty()) {
    request.mutable_period()->set_segmentation_run_id(f.run_id);
  }
  if (!f.compare_to.empty()) {
    CUSTRA_RETURN_IF_ERROR(
        ParseDate("--compare-to", f.compare_to,
                  request.mutable_comparison_period()->mutable_as_of_date()));
  }
  if (!f.compare_from.empty()) {
    CUSTRA_RETURN_IF_ERROR(ParseDate(
        "--compare-from", f.compare_from,
        request.mutable_comparison_period()->mutable_window_start_date()));
  }
  if (!f.compare_run.empty()) {
    request.mutable_comparison_period()->set_segmentation_run_id(f.compare_run);
  }
  request.set_customer_filter(f.filter);
  request.set_include_inactive_customers(f.include_inactive);
  if (f.metric == "revenue") {
    request.set_concentration_metric(v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  } else if (f.metric == "profit") {
    request.set_concentration_metric(v1::SEGMENTATION_VALUE_METRIC_PROFIT);
  }
  request.set_top_n(f.top_n);
  return request;
}

// --- Formatting ------------------------------------------------------------

std::string ModelName(v1::SegmentationModel model) {
  return ShortEnum(v1::SegmentationModel_Name(model), "SEGMENTATION_MODEL_");
}

// Units with an explicit sign, for changes.
std::string SignedUnits(const v1::Money& money) {
  const std::string units = Units(money);
  return absl::StartsWith(units, "-") ? units : absl::StrCat("+", units);
}

// A change of share as signed percentage points.
std::string Points(double change) {
  return absl::StrFormat("%+.1f", change * 100);
}

std::string WindowText(bool has_start, const v1::Date& start,
                       const v1::Date& as_of) {
  return absl::StrCat(has_start ? DateText(start, kToday) : "all history",
                      " to ", DateText(as_of, kToday));
}

// Shows the empty group key or segment name readably.
std::string KeyText(const std::string& key, absl::string_view empty) {
  return key.empty() ? std::string(empty) : key;
}

// Segments (or value tiers) with their counts and shares.
Table SummaryTable(
    const google::protobuf::RepeatedPtrField<v1::SegmentSummary>& summaries,
    absl::string_view first_column, const v1::Money& sample) {
  Table table = {{std::string(first_column), "CUSTOMERS", "CUSTOMERS %",
                  MoneyHeader("REVENUE", sample), "REVENUE %", "PROFIT %"}};
  for (const v1::SegmentSummary& s : summaries) {
    table.push_back({s.segment(), absl::StrCat(s.customer_count()),
                     Percent(s.customer_share()), Units(s.revenue()),
                     Percent(s.revenue_share()), Percent(s.profit_share())});
  }
  return table;
}

const v1::SegmentSummary* FindSegment(const v1::SegmentationRun& run,
                                      absl::string_view name) {
  for (const v1::SegmentSummary& s : run.segments()) {
    if (s.segment() == name) return &s;
  }
  return nullptr;
}

std::string AxisWords(v1::ValueMatrixAxis axis) {
  switch (axis) {
    case v1::VALUE_MATRIX_AXIS_FREQUENCY:
      return "frequency";
    case v1::VALUE_MATRIX_AXIS_AVERAGE_ORDER_VALUE:
      return "average order value";
    case v1::VALUE_MATRIX_AXIS_REVENUE:
      return "revenue";
    case v1::VALUE_MATRIX_AXIS_PROFIT:
      return "profit";
    case v1::VALUE_MATRIX_AXIS_PREDICTED_CLV:
      return "predicted CLV";
    case v1::VALUE_MATRIX_AXIS_KEY_ACCOUNT_SCORE:
      return "key-account score";
    default:
      return "?";
  }
}

std::string AxisValueText(const v1::ValueMatrixAxisValue& value) {
  if (value.has_money()) return Units(value.money());
  return absl::StrFormat("%g", value.number());
}

// The stage a lifecycle rule decides.
std::string StageOfRule(v1::LifecycleRule rule) {
  switch (rule) {
    case v1::LIFECYCLE_RULE_NO_PURCHASE:
      return "prospect";
    case v1::LIFECYCLE_RULE_INACTIVE_TOO_LONG:
    case v1::LIFECYCLE_RULE_LOW_P_ALIVE:
      return "lost";
    case v1::LIFECYCLE_RULE_RECENT_FIRST_PURCHASE:
      return "new";
    case v1::LIFECYCLE_RULE_PURCHASE_OVERDUE:
    case v1::LIFECYCLE_RULE_NO_RECENT_SPEND:
    case v1::LIFECYCLE_RULE_SPEND_DOWN:
      return "decline";
    case v1::LIFECYCLE_RULE_SPEND_UP:
      return "growth";
    case v1::LIFECYCLE_RULE_STABLE:
      return "maturity";
    default:
      return "";
  }
}

void PrintModelExtras(const v1::SegmentationRun& run, std::ostream& out) {
  switch (run.result_case()) {
    case v1::SegmentationRun::kAbc: {
      const v1::AbcRunResult& abc = run.abc();
      const std::string metric =
          abc.metric() == v1::SEGMENTATION_VALUE_METRIC_PROFIT ? "profit"
                                                               : "revenue";
      out << "\nRanked by " << metric << "; positive " << metric << " total "
          << MoneyText(abc.positive_value_total()) << "; "
          << abc.non_positive_customer_count() << " customers with zero or "
          << "negative " << metric << " (all class C).\n";
      break;
    }
    case v1::SegmentationRun::kRfm: {
      out << "\nScore bands (the values behind each score):\n";
      Table table = {
          {"SCORE", "R CUSTOMERS", "RECENCY DAYS", "FREQUENCY", "MONETARY"}};
      for (const v1::RfmScoreBand& b : run.rfm().score_bands()) {
        table.push_back(
            {absl::StrCat(b.score()), absl::StrCat(b.recency_customer_count()),
             absl::StrCat(b.recency_days_min(), " .. ", b.recency_days_max()),
             absl::StrCat(b.frequency_min(), " .. ", b.frequency_max()),
             absl::StrCat(Units(b.monetary_min()), " .. ",
                          Units(b.monetary_max()))});
      }
      PrintTable(table, out, /*trailing_markers=*/false);
      break;
    }
    case v1::SegmentationRun::kValueMatrix: {
      const v1::ValueMatrixRunResult& matrix = run.value_matrix();
      out << "\nAxes: x = " << AxisWords(matrix.x_axis()) << ", split at "
          << AxisValueText(matrix.x_split())
          << "; y = " << AxisWords(matrix.y_axis()) << ", split at "
          << AxisValueText(matrix.y_split())
          << " (a value >= the split is high).\n";
      out << absl::StrFormat(
          "Value tiers by composite score (high: score >= %.1f, mid: score "
          ">= %.1f):\n",
          matrix.high_tier_min_score(), matrix.mid_tier_min_score());
      PrintTable(SummaryTable(matrix.tiers(), "TIER", run.total_revenue()), out,
                 /*trailing_markers=*/false);
      break;
    }
    case v1::SegmentationRun::kLifecycle: {
      out << "\nRules that decided the stages (tried in this order):\n";
      Table table = {{"RULE", "STAGE", "CUSTOMERS"}};
      for (const v1::LifecycleRuleCount& r : run.lifecycle().rule_counts()) {
        table.push_back(
            {EnumWords(v1::LifecycleRule_Name(r.rule()), "LIFECYCLE_RULE_"),
             StageOfRule(r.rule()), absl::StrCat(r.customer_count())});
      }
      PrintTable(table, out, /*trailing_markers=*/false);
      break;
    }
    case v1::SegmentationRun::kMan: {
      out << "\nRecommended approach per class:\n";
      Table table = {{"CLASS", "CUSTOMERS", "APPROACH"}};
      for (const v1::ManClassApproach& a : run.man().approaches()) {
        const v1::SegmentSummary* s = FindSegment(run, a.segment());
        table.push_back(
            {a.segment(), absl::StrCat(s ? s->customer_count() : 0),
             EnumWords(v1::ManApproach_Name(a.approach()), "MAN_APPROACH_")});
      }
      PrintTable(table, out, /*trailing_markers=*/false);
      break;
    }
    default:
      break;
  }
}

// One sentence on what the run says, computed from its summary.
std::string Interpretation(const v1::SegmentationRun& run) {
  if (run.customer_count() == 0) return "The run has no customers.";
  switch (run.model()) {
    case v1::SEGMENTATION_MODEL_ABC: {
      const bool profit =
          run.abc().metric() == v1::SEGMENTATION_VALUE_METRIC_PROFIT;
      const v1::SegmentSummary* a = FindSegment(run, "A");
      if (a == nullptr || a->customer_count() == 0) {
        return "No customer is in class A.";
      }
      return absl::StrFormat(
          "%s%% of customers (class A) bring %s%% of %s.",
          Percent(a->customer_share()),
          Percent(profit ? a->profit_share() : a->revenue_share()),
          profit ? "profit" : "revenue");
    }
    case v1::SEGMENTATION_MODEL_RFM: {
      std::vector<const v1::SegmentSummary*> segments;
      for (const v1::SegmentSummary& s : run.segments()) {
        if (s.customer_count() > 0) segments.push_back(&s);
      }
      std::stable_sort(
          segments.begin(), segments.end(), [](const auto* a, const auto* b) {
            return a->revenue().amount_micros() > b->revenue().amount_micros();
          });
      std::vector<std::string> parts;
      for (size_t i = 0; i < segments.size() && i < 2; ++i) {
        parts.push_back(absl::StrFormat(
            "%s: %s%% of customers, %s%% of revenue", segments[i]->segment(),
            Percent(segments[i]->customer_share()),
            Percent(segments[i]->revenue_share())));
      }
      return absl::StrCat(absl::StrJoin(parts, "; "), ".");
    }
    case v1::SEGMENTATION_MODEL_VALUE_MATRIX: {
      if (run.segments().empty()) return "The run has no segments.";
      const v1::SegmentSummary& best = run.segments(0);
      const v1::ValueMatrixAxis x = run.value_matrix().x_axis();
      const v1::ValueMatrixAxis y = run.value_matrix().y_axis();
      return absl::StrFormat(
          "%s%% of customers are \"%s\" (high on both %s and %s) and bring "
          "%s%% of revenue.",
          Percent(best.customer_share()), best.segment(),
          AxisWords(x == v1::VALUE_MATRIX_AXIS_UNSPECIFIED
                        ? v1::VALUE_MATRIX_AXIS_FREQUENCY
                        : x),
          AxisWords(y == v1::VALUE_MATRIX_AXIS_UNSPECIFIED
                        ? v1::VALUE_MATRIX_AXIS_AVERAGE_ORDER_VALUE
                        : y),
          Percent(best.revenue_share()));
    }
    case v1::SEGMENTATION_MODEL_LIFECYCLE: {
      const v1::SegmentSummary* largest = nullptr;
      for (const v1::SegmentSummary& s : run.segments()) {
        if (largest == nullptr ||
            s.customer_count() > largest->customer_count()) {
          largest = &s;
        }
      }
      if (largest == nullptr) return "The run has no segments.";
      return absl::StrFormat(
          "The largest stage is \"%s\": %s%% of customers (%d), %s%% of "
          "revenue.",
          largest->segment(), Percent(largest->customer_share()),
          largest->customer_count(), Percent(largest->revenue_share()));
    }
    case v1::SEGMENTATION_MODEL_MAN: {
      const v1::SegmentSummary* unassessed = FindSegment(run, "unassessed");
      const int64_t count = unassessed ? unassessed->customer_count() : 0;
      if (count == 0) return "Every account has a complete MAN assessment.";
      return absl::StrFormat(
          "%d of %d accounts (%s%%) are unassessed: complete their MAN "
          "assessment first.",
          count, run.customer_count(), Percent(unassessed->customer_share()));
    }
    default:
      return "";
  }
}

// A run for people (header, segments, model extras, warnings, one line of
// interpretation) or, for json/csv, as the message itself.
void PrintRun(const v1::SegmentationRun& run, OutputFormat format,
              std::ostream& out) {
  if (format != OutputFormat::kTable) {
    PrintOne(run, format, out);
    return;
  }
  out << "Run " << run.id();
  if (!run.display_name().empty()) out << " \"" << run.display_name() << "\"";
  out << ": " << ModelName(run.model()) << " as of "
      << DateText(run.as_of_date(), kToday) << ", window "
      << WindowText(run.has_window_start_date(), run.window_start_date(),
                    run.as_of_date())
      << ", " << run.customer_count() << " customers, revenue "
      << MoneyText(run.total_revenue()) << ", profit "
      << MoneyText(run.total_profit()) << "\n";
  if (!run.customer_filter().empty()) {
    out << "Filter: " << run.customer_filter() << "\n";
  }
  out << "\n";
  PrintTable(SummaryTable(run.segments(), "SEGMENT", run.total_revenue()), out,
             /*trailing_markers=*/false);
  PrintModelExtras(run, out);
  if (!run.warnings().empty()) out << "\n";
  for (const std::string& warning : run.warnings()) {
    out << "warning: " << warning << "\n";
  }
  out << "\n" << Interpretation(run) << "\n";
}

std::string PeriodText(const v1::StructurePeriod& period) {
  return absl::StrCat(
      "as of ", DateText(period.as_of_date(), kToday), ", window ",
      WindowText(period.has_window_start_date(), period.window_start_date(),
                 period.as_of_date()));
}

std::string SnapshotLine(const v1::StructureSnapshot& snapshot) {
  return absl::StrCat(PeriodText(snapshot.period()), ": ",
                      snapshot.customer_count(), " customers, revenue ",
                      MoneyText(snapshot.total_revenue()), ", profit ",
                      MoneyText(snapshot.total_profit()));
}

std::string StructureInterpretation(const v1::StructureReport& report) {
  const v1::StructureSnapshot& current = report.current();
  if (current.groups().empty()) return "No customers in the period.";
  const v1::StructureGroup& largest = current.groups(0);
  std::string line = absl::StrFormat(
      "The largest group by revenue is \"%s\" with %s%% of revenue (%s%% of "
      "customers)",
      KeyText(largest.key(), "(none)"), Percent(largest.revenue_share()),
      Percent(largest.customer_share()));
  if (report.has_comparison()) {
    const v1::StructureGroupChange* rose = nullptr;
    for (const v1::StructureGroupChange& c : report.changes()) {
      if (c.revenue_share_change() > 0 &&
          (rose == nullptr ||
           c.revenue_share_change() > rose->revenue_share_change())) {
        rose = &c;
      }
    }
    if (rose == nullptr) {
      absl::StrAppend(&line, "; no group's revenue share rose");
    } else {
      absl::StrAppendFormat(&line,
                            "; \"%s\" gained the most revenue share (%s "
                            "percentage points)",
                            KeyText(rose->key(), "(none)"),
                            Points(rose->revenue_share_change()));
    }
  }
  return line + ".";
}

void PrintStructure(const v1::StructureReport& report, OutputFormat format,
                    std::ostream& out) {
  if (format != OutputFormat::kTable) {
    PrintOne(report, format, out);
    return;
  }
  const v1::StructureSnapshot& current = report.current();
  const std::string dimension = EnumWords(
      v1::StructureDimension_Name(report.dimension()), "STRUCTURE_DIMENSION_");
  out << "Customers by " << dimension;
  if (!current.period().segmentation_run_id().empty()) {
    out << " of run " << current.period().segmentation_run_id();
  }
  out << " " << SnapshotLine(current) << "\n\n";
  const v1::Money& sample = current.total_revenue();
  Table groups = {{"GROUP", "CUSTOMERS", "CUSTOMERS %",
                   MoneyHeader("REVENUE", sample), "REVENUE %",
                   MoneyHeader("PROFIT", sample), "PROFIT %"}};
  for (const v1::StructureGroup& g : current.groups()) {
    groups.push_back({KeyText(g.key(), "(none)"),
                      absl::StrCat(g.customer_count()),
                      Percent(g.customer_share()), Units(g.revenue()),
                      Percent(g.revenue_share()), Units(g.profit()),
                      Percent(g.profit_share())});
  }
  PrintTable(groups, out, /*trailing_markers=*/false);
  const v1::StructureConcentration& c = current.concentration();
  out << "\nConcentration of "
      << (c.metric() == v1::SEGMENTATION_VALUE_METRIC_PROFIT ? "profit"
                                                             : "revenue")
      << absl::StrFormat(
             ": top %d customers hold %s%%; customer HHI %.4f; Gini %.3f; "
             "group HHI %s\n",
             c.top_n(), Percent(c.top_n_share()), c.customer_hhi(), c.gini(),
             report.dimension() == v1::STRUCTURE_DIMENSION_TAG
                 ? std::string("n/a (tags overlap)")
                 : absl::StrFormat("%.4f", c.group_hhi()));
  if (report.has_comparison()) {
    out << "\nCompared with " << SnapshotLine(report.comparison()) << "\n";
    out << "Changes (current minus comparison; shares in percentage "
           "points):\n";
    Table changes = {{"GROUP", "CUSTOMERS", "CUSTOMERS PP",
                      MoneyHeader("REVENUE", sample), "REVENUE PP",
                      MoneyHeader("PROFIT", sample), "PROFIT PP",
                      "REVENUE GROWTH %"}};
    for (const v1::StructureGroupChange& g : report.changes()) {
      changes.push_back(
          {KeyText(g.key(), "(none)"),
           absl::StrFormat("%+d", g.customer_count_change()),
           Points(g.customer_share_change()), SignedUnits(g.revenue_change()),
           Points(g.revenue_share_change()), SignedUnits(g.profit_change()),
           Points(g.profit_share_change()),
           g.has_revenue_growth() ? Points(g.revenue_growth()) : ""});
    }
    PrintTable(changes, out, /*trailing_markers=*/false);
  }
  out << "\n" << StructureInterpretation(report) << "\n";
}

void PrintComparison(const v1::CompareRunsResponse& comparison,
                     const std::string& base_run_id,
                     const std::string& target_run_id, OutputFormat format,
                     std::ostream& out) {
  if (format != OutputFormat::kTable) {
    PrintOne(comparison, format, out);
    return;
  }
  out << "Base run " << base_run_id << " ("
      << ModelName(comparison.base_model()) << ") -> target run "
      << target_run_id << " (" << ModelName(comparison.target_model())
      << "): customers by base segment (rows) and target segment "
         "(columns)\n\n";
  std::vector<std::string> rows(comparison.from_segments().begin(),
                                comparison.from_segments().end());
  std::vector<std::string> columns(comparison.to_segments().begin(),
                                   comparison.to_segments().end());
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  for (const v1::SegmentTransition& t : comparison.transitions()) {
    counts[{t.from_segment(), t.to_segment()}] += t.customer_count();
    if (!t.from_segment().empty() &&
        std::find(rows.begin(), rows.end(), t.from_segment()) == rows.end()) {
      rows.push_back(t.from_segment());
    }
    if (!t.to_segment().empty() && std::find(columns.begin(), columns.end(),
                                             t.to_segment()) == columns.end()) {
      columns.push_back(t.to_segment());
    }
  }
  rows.push_back("");
  columns.push_back("");
  Table table = {{"FROM \\ TO"}};
  for (const std::string& to : columns) {
    table[0].push_back(KeyText(to, kLeft));
  }
  for (const std::string& from : rows) {
    std::vector<std::string> line = {KeyText(from, kEntered)};
    for (const std::string& to : columns) {
      if (from.empty() && to.empty()) {
        line.push_back("");
        continue;
      }
      const auto it = counts.find({from, to});
      line.push_back(absl::StrCat(it == counts.end() ? 0 : it->second));
    }
    table.push_back(std::move(line));
  }
  PrintTable(table, out, /*trailing_markers=*/false);
  const int64_t common = comparison.common_customer_count();
  out << "\n"
      << absl::StrFormat(
             "Common customers: %d; unchanged: %d (%s%% of common); left: "
             "%d; entered: %d.\n",
             common, comparison.unchanged_customer_count(),
             Percent(common > 0 ? static_cast<double>(
                                      comparison.unchanged_customer_count()) /
                                      static_cast<double>(common)
                                : 0.0),
             comparison.left_customer_count(),
             comparison.entered_customer_count());
}

absl::Status RunSegmentationCommand(Client& client,
                                    const v1::RunSegmentationRequest& request,
                                    OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto run, client.RunSegmentation(request));
  PrintRun(run, format, std::cout);
  return absl::OkStatus();
}

absl::Status StructureCommand(Client& client,
                              const v1::GetStructureReportRequest& request,
                              OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto report, client.GetStructureReport(request));
  PrintStructure(report, format, std::cout);
  return absl::OkStatus();
}

// Tells (on stderr) how many of `total` a listing cut at `limit` shows.
void NoteShown(size_t shown, int64_t total, int64_t limit,
               absl::string_view what) {
  if (limit > 0 && static_cast<int64_t>(shown) < total) {
    std::cerr << "(showing " << shown << " of " << total << " " << what
              << "; raise --limit for more)\n";
  }
}

// Every member of a paged members call, up to `limit` (0: all), appended
// to `members`: `call(request)` returns a page. Returns the total_size the
// server reported.
template <typename Member, typename Request, typename Call>
absl::StatusOr<int64_t> FetchMembers(int64_t limit, const Request& request,
                                     Call call, std::vector<Member>* members) {
  int64_t total = 0;
  auto items = [&](auto& page) {
    total = page.total_size();
    return page.mutable_members();
  };
  CUSTRA_RETURN_IF_ERROR(
      FetchAll(limit, request, call, items, members).status());
  return total;
}

absl::Status ListRunsCommand(Client& client, const SegmentFlags& f,
                             OutputFormat format) {
  v1::ListRunsRequest request;
  if (!f.model.empty()) {
    std::string name = absl::AsciiStrToUpper(f.model);
    if (name == "MATRIX") name = "VALUE_MATRIX";
    request.set_filter(absl::StrCat("model=", name));
  }
  std::vector<v1::SegmentationRun> runs;
  CUSTRA_RETURN_IF_ERROR(
      FetchAll(
          f.limit, request, [&](const auto& r) { return client.ListRuns(r); },
          [](auto& page) { return page.mutable_runs(); }, &runs,
          /*max_page_size=*/500)
          .status());
  PrintRows(RowsOf(runs), v1::SegmentationRun::descriptor(), format, std::cout,
            format == OutputFormat::kTable
                ? std::vector<std::string>{"id", "model", "display_name",
                                           "as_of_date", "window_start_date",
                                           "customer_filter", "customer_count",
                                           "total_revenue", "create_time"}
                : std::vector<std::string>{});
  return absl::OkStatus();
}

absl::Status ShowRunCommand(Client& client, const SegmentFlags& f,
                            OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto run, client.GetRun(f.id));
  PrintRun(run, format, std::cout);
  return absl::OkStatus();
}

absl::Status ListMembersCommand(Client& client, const SegmentFlags& f,
                                OutputFormat format) {
  v1::ListSegmentMembersRequest request;
  request.set_run_id(f.id);
  std::string full_filter = f.filter;
  if (!f.segment.empty()) {
    if (f.segment.find('"') != std::string::npos) {
      return absl::InvalidArgumentError(
          "--segment: a segment name with '\"' cannot be filtered on");
    }
    const std::string term = absl::StrCat("segment=\"", f.segment, "\"");
    full_filter =
        f.filter.empty() ? term : absl::StrCat(term, " AND ", full_filter);
  }
  request.set_filter(full_filter);
  request.set_order_by(f.order_by);
  std::vector<v1::SegmentMember> members;
  CUSTRA_ASSIGN_OR_RETURN(
      const int64_t total,
      FetchMembers(
          f.limit, request,
          [&](const auto& r) { return client.ListSegmentMembers(r); },
          &members));
  std::vector<std::string> columns;
  if (format == OutputFormat::kTable) {
    columns = {"customer_id", "segment", "revenue", "profit"};
    // The model's details, from the oneof the members carry.
    if (!members.empty()) {
      const v1::SegmentMember& first = members.front();
      const auto* details = first.GetReflection()->GetOneofFieldDescriptor(
          first, v1::SegmentMember::descriptor()->FindOneofByName("details"));
      if (details != nullptr) columns.push_back(details->name());
    }
  }
  PrintRows(RowsOf(members), v1::SegmentMember::descriptor(), format, std::cout,
            columns);
  NoteShown(members.size(), total, f.limit, "members");
  return absl::OkStatus();
}

absl::Status CompareRunsCommand(Client& client, const SegmentFlags& f,
                                OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto comparison,
                          client.CompareRuns(f.base_run_id, f.target_run_id));
  PrintComparison(comparison, f.base_run_id, f.target_run_id, format,
                  std::cout);
  return absl::OkStatus();
}

absl::Status ListTransitionCommand(Client& client, const SegmentFlags& f,
                                   OutputFormat format) {
  v1::ListSegmentTransitionMembersRequest request;
  request.set_base_run_id(f.base_run_id);
  request.set_target_run_id(f.target_run_id);
  request.set_from_segment(f.from_segment == kEntered ? "" : f.from_segment);
  request.set_to_segment(f.to_segment == kLeft ? "" : f.to_segment);
  if (request.from_segment().empty() && request.to_segment().empty()) {
    return absl::InvalidArgumentError(
        "give --from SEG or --to SEG: a cell has a segment in at least one "
        "run (omit --from for customers who entered, --to for those who "
        "left)");
  }
  std::vector<v1::SegmentTransitionMember> members;
  CUSTRA_ASSIGN_OR_RETURN(
      const int64_t total,
      FetchMembers(
          f.limit, request,
          [&](const auto& r) { return client.ListSegmentTransitionMembers(r); },
          &members));
  if (PrintRowsUnlessTable(members, format, std::cout)) {
    return absl::OkStatus();
  }
  Table table = {
      {"CUSTOMER_ID", "FROM", "TO", "BASE REVENUE", "TARGET REVENUE"}};
  for (const v1::SegmentTransitionMember& m : members) {
    table.push_back({m.customer_id(),
                     m.has_base() ? m.base().segment() : std::string(kEntered),
                     m.has_target() ? m.target().segment() : std::string(kLeft),
                     m.has_base() ? Units(m.base().revenue()) : "",
                     m.has_target() ? Units(m.target().revenue()) : ""});
  }
  PrintTable(table, std::cout, /*trailing_markers=*/false);
  NoteShown(members.size(), total, f.limit, "customers");
  return absl::OkStatus();
}

absl::Status DeleteRunCommand(Client& client, const SegmentFlags& f,
                              OutputFormat) {
  return NoteDeleted(client.DeleteRun(f.id), "run", f.id);
}

absl::Status CustomerSegmentsCommand(Client& client, const SegmentFlags& f,
                                     OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto response, client.GetCustomerSegments(f.id));
  if (PrintRowsUnlessTable(response.assignments(), format, std::cout)) {
    return absl::OkStatus();
  }
  Table table = {{"MODEL", "RUN", "AS OF", "SEGMENT"}};
  for (const v1::CustomerSegmentAssignment& a : response.assignments()) {
    table.push_back({ModelName(a.model()), a.run_id(),
                     DateText(a.as_of_date(), kToday), a.member().segment()});
  }
  PrintTable(table, std::cout, /*trailing_markers=*/false);
  return absl::OkStatus();
}

}  // namespace

void AddSegmentCommands(CLI::App& app, Cli& cli, CommandArgs& /*args*/,
                        int& exit_code) {
  // Every flag of these commands lives in SegmentFlags, none in CommandArgs.
  const TenantCommands<SegmentFlags> commands(cli, exit_code);
  SegmentFlags* const flags = commands.flags();
  auto add_filter = [flags](CLI::App* cmd, const std::string& help) {
    cmd->add_option("--filter", flags->filter, help);
  };
  auto add_limit = [flags](CLI::App* cmd) {
    cmd->add_option("--limit", flags->limit, "At most this many (0: all)");
  };

  // --- custra segment ... ---
  CLI::App* segment = app.add_subcommand(
      "segment",
      "Classify the tenant's customers with a model, store the result as a "
      "run and print its summary (tenant API key)");
  segment->require_subcommand(1);
  auto add_model = [&](const std::string& name, const std::string& help,
                       v1::SegmentationModel model) {
    CLI::App* cmd = segment->add_subcommand(name, help);
    cmd->add_option("--as-of", flags->as_of,
                    "As-of date YYYY-MM-DD: the end of the window (default: "
                    "today, UTC)");
    cmd->add_option("--from", flags->window_start,
                    "First date of the window YYYY-MM-DD (default: all "
                    "history)");
    add_filter(cmd,
               "Only customers matching, e.g. 'kind=ENTERPRISE AND "
               "region=\"east\"' (fields: kind, size, industry, region, "
               "channel, tag)");
    cmd->add_option("--name", flags->name, "A label for the run");
    AddRequestId(cmd, &flags->request_id, "returns the run already stored");
    cmd->callback(commands.RunRequest(
        [model](const SegmentFlags& f) { return BuildRunRequest(model, f); },
        &RunSegmentationCommand));
    return cmd;
  };

  CLI::App* abc = add_model(
      "abc",
      "ABC / Pareto: rank customers by value; class A holds the top ones "
      "making up 80% of it, B the next up to 95%, C the rest",
      v1::SEGMENTATION_MODEL_ABC);
  abc->add_option("--metric", flags->metric,
                  "Rank by revenue (default) or profit")
      ->check(CLI::IsMember({"revenue", "profit"}));
  abc->add_option("--mode", flags->mode,
                  "Cut-offs are cumulative shares of value (default) or of "
                  "customers")
      ->check(CLI::IsMember({"value", "customers"}));
  abc->add_option("--a-cutoff", flags->a_cutoff,
                  "Upper bound of class A, in (0, 1) (default 0.80 by value, "
                  "0.20 by customers)");
  abc->add_option("--b-cutoff", flags->b_cutoff,
                  "Upper bound of class B, in (a-cutoff, 1] (default 0.95 by "
                  "value, 0.50 by customers)");
  abc->add_option("--curve-points", flags->curve_points,
                  "Points of the Pareto curve in the result, 2 to 1001 "
                  "(default 101)");

  CLI::App* rfm = add_model(
      "rfm",
      "RFM: recency, frequency and monetary quintile scores (1-5) mapped to "
      "named segments such as Champions, Loyal Customers, At Risk",
      v1::SEGMENTATION_MODEL_RFM);
  rfm->add_option("--map", flags->map_file,
                  "JSON file with a custom segment map: a list of "
                  "{\"name\", \"patterns\": [{\"recencyScores\", "
                  "\"frequencyScores\", \"monetaryScores\"}], "
                  "\"description\"} rules covering all 125 score cells "
                  "(default: the standard map)")
      ->check(CLI::ExistingFile);

  CLI::App* matrix = add_model(
      "matrix",
      "Customer value matrix: four quadrants of two measures (default "
      "frequency x average order value, split at the median) plus high / "
      "mid / low value tiers",
      v1::SEGMENTATION_MODEL_VALUE_MATRIX);
  const std::vector<std::string> axes = {"frequency", "aov", "revenue",
                                         "profit",    "clv", "score"};
  matrix
      ->add_option("--x", flags->x_axis,
                   "Horizontal measure (default frequency): frequency, aov "
                   "(average order value), revenue, profit, clv (predicted "
                   "CLV), score (key-account score)")
      ->check(CLI::IsMember(axes));
  matrix
      ->add_option("--y", flags->y_axis,
                   "Vertical measure (default aov); same choices as --x")
      ->check(CLI::IsMember(axes));
  matrix->add_option("--x-split", flags->x_split,
                     "Where x splits low/high: median (default), quantile:Q "
                     "or threshold:V (money in currency units)");
  matrix->add_option("--y-split", flags->y_split,
                     "Where y splits low/high; as --x-split");
  matrix->add_option("--high-share", flags->high_share,
                     "Share of customers in the high value tier, in (0, 1) "
                     "(default 0.20)");
  matrix->add_option("--mid-share", flags->mid_share,
                     "Share of customers in the mid value tier (default "
                     "0.30)");

  CLI::App* lifecycle = add_model(
      "lifecycle",
      "Lifecycle stage of every customer: prospect, new, growth, maturity, "
      "decline, lost (uses the whole history up to --as-of)",
      v1::SEGMENTATION_MODEL_LIFECYCLE);
  lifecycle->add_option("--new-days", flags->new_days,
                        "New: first purchase at most this many days ago "
                        "(default 90)");
  lifecycle->add_option("--period-days", flags->period_days,
                        "Length of the latest and the previous spend period "
                        "in days (default 90)");
  lifecycle->add_option("--growth", flags->growth,
                        "Growth: spend up by at least this fraction, e.g. "
                        "0.2 (default 0.20)");
  lifecycle->add_option("--decline", flags->decline,
                        "Decline: spend down by at least this fraction "
                        "(default 0.20)");
  lifecycle->add_option("--gap-multiplier", flags->gap_multiplier,
                        "Decline: no purchase for this many typical "
                        "intervals (default 2.0)");
  lifecycle->add_option("--lost-days", flags->lost_days,
                        "Lost: no purchase for more than this many days "
                        "(default 365)");
  lifecycle->add_option("--lost-p-alive", flags->lost_p_alive,
                        "Lost: P(alive) from the customer-value model below "
                        "this (default: rule off)");

  CLI::App* man = add_model(
      "man",
      "MAN (Money, Authority, Need) classes of B2B / B2G accounts from "
      "their assessments, with the recommended sales approach",
      v1::SEGMENTATION_MODEL_MAN);
  man->add_option("--kinds", flags->kinds,
                  "Customer kinds classified, comma-separated (default "
                  "enterprise,government)")
      ->delimiter(',')
      ->check(CLI::IsMember({"enterprise", "government", "individual"},
                            CLI::ignore_case));

  // --- custra structure ---
  CLI::App* structure = app.add_subcommand(
      "structure",
      "Composition of the customer base by one dimension: counts, revenue, "
      "profit and their shares, value concentration, and the change since "
      "an earlier period (tenant API key)");
  structure
      ->add_option("--by", flags->by,
                   "Group by kind, industry, region, channel, tag or segment "
                   "(of --run)")
      ->required()
      ->check(CLI::IsMember(
          {"kind", "industry", "region", "channel", "tag", "segment"}));
  structure->add_option("--run", flags->run_id,
                        "With --by segment: the run whose segments group "
                        "the customers");
  structure->add_option("--as-of", flags->as_of,
                        "As-of date YYYY-MM-DD (default: today, UTC)");
  structure->add_option("--from", flags->window_start,
                        "First date of the window YYYY-MM-DD (default: all "
                        "history)");
  structure->add_option("--compare-to", flags->compare_to,
                        "Compare with the structure as of this date "
                        "YYYY-MM-DD");
  structure->add_option("--compare-from", flags->compare_from,
                        "First date of the comparison window (default: as "
                        "long as the current window)");
  structure->add_option("--compare-run", flags->compare_run,
                        "With --by segment: the run of the comparison "
                        "period (default: --run)");
  add_filter(structure, "Only customers matching, e.g. 'kind=ENTERPRISE'");
  structure->add_flag("--include-inactive", flags->include_inactive,
                      "Also count customers without a purchase in the "
                      "window");
  structure
      ->add_option("--metric", flags->metric,
                   "Value the concentration is measured on: revenue "
                   "(default) or profit")
      ->check(CLI::IsMember({"revenue", "profit"}));
  structure
      ->add_option("--top-n", flags->top_n,
                   "N of the top-N customers' share (default 10)")
      ->check(CLI::Range(1, 10000));
  structure->callback(
      commands.RunRequest(&BuildStructureRequest, &StructureCommand));

  // --- custra runs ... ---
  CLI::App* runs = app.add_subcommand(
      "runs",
      "List, show, page through, compare and delete stored segmentation "
      "runs (tenant API key)");
  runs->require_subcommand(1);

  CLI::App* list = runs->add_subcommand("list", "List runs, newest first");
  list->add_option("--model", flags->model,
                   "Only runs of this model: abc, rfm, matrix, lifecycle, man")
      ->check(CLI::IsMember(
          {"abc", "rfm", "matrix", "value_matrix", "lifecycle", "man"},
          CLI::ignore_case));
  add_limit(list);
  list->callback(commands.Run(&ListRunsCommand));

  CLI::App* show = runs->add_subcommand(
      "show", "Show a run's summary, as `custra segment` prints it");
  show->add_option("run-id", flags->id, "Run id")->required();
  show->callback(commands.Run(&ShowRunCommand));

  CLI::App* members = runs->add_subcommand(
      "members",
      "List a run's customers with their segment and the values behind it");
  members->add_option("run-id", flags->id, "Run id")->required();
  members->add_option("--segment", flags->segment,
                      "Only this segment, e.g. \"At Risk\"");
  add_filter(members,
             "More terms: customer_id=ID, for a value matrix "
             "tier=HIGH|MID|LOW (joined with AND)");
  members->add_option("--order-by", flags->order_by,
                      "Sort fields, e.g. 'monetary desc, recency_days' "
                      "(default: the model's natural order)");
  add_limit(members);
  members->callback(commands.Run(&ListMembersCommand));

  CLI::App* compare = runs->add_subcommand(
      "compare",
      "Transition matrix between two runs: how many customers moved from "
      "each base segment to each target segment");
  AddRunPair(compare, &flags->base_run_id, &flags->target_run_id);
  compare->callback(commands.Run(&CompareRunsCommand));

  CLI::App* transition = runs->add_subcommand(
      "transition",
      "List the customers of one cell of `runs compare`: those that moved "
      "from one segment to another");
  AddRunPair(transition, &flags->base_run_id, &flags->target_run_id);
  transition->add_option("--from", flags->from_segment,
                         "Segment in the base run (omit or \"(entered)\" "
                         "for customers not in it)");
  transition->add_option("--to", flags->to_segment,
                         "Segment in the target run (omit or \"(left)\" for "
                         "customers not in it)");
  add_limit(transition);
  transition->callback(commands.Run(&ListTransitionCommand));

  CLI::App* remove = runs->add_subcommand(
      "delete", "Delete a run and its assignments (customer data stays)");
  remove->add_option("run-id", flags->id, "Run id")->required();
  remove->callback(commands.Run(&DeleteRunCommand));

  // --- custra customers segments ---
  CLI::App* customers = app.get_subcommand("customers");
  CLI::App* segments = customers->add_subcommand(
      "segments",
      "Show a customer's latest segment under each model, with the run it "
      "comes from");
  segments->add_option("id", flags->id, "Customer id")->required();
  segments->callback(commands.Run(&CustomerSegmentsCommand));
}

}  // namespace custra::cli
