#include "server/segmentation_service.h"

#include <algorithm>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/key_account_store.h"
#include "common/segmentation_store.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "server/paging.h"
#include "server/proto_convert.h"
#include "server/segmentation_convert.h"
#include "server/serialized_fields.h"
#include "server/value_model_runtime.h"

namespace custra::server {
namespace {

constexpr int kMaxRequestIdBytes = 128;
constexpr int kMaxDisplayNameBytes = 256;

std::string NewRunId(int64_t create_time_us) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return absl::StrFormat("run-%013x%08x", create_time_us,
                         static_cast<uint32_t>(random()));
}

SegmentationModelKind ModelOf(const v1::SegmentationParameters& p) {
  switch (p.model_case()) {
    case v1::SegmentationParameters::kRfm:
      return SegmentationModelKind::kRfm;
    case v1::SegmentationParameters::kValueMatrix:
      return SegmentationModelKind::kValueMatrix;
    case v1::SegmentationParameters::kLifecycle:
      return SegmentationModelKind::kLifecycle;
    case v1::SegmentationParameters::kMan:
      return SegmentationModelKind::kMan;
    default:
      return SegmentationModelKind::kAbc;
  }
}

absl::StatusOr<v1::SegmentationRun> ParseRun(const StoredRun& stored) {
  v1::SegmentationRun run;
  if (!run.ParseFromString(stored.record)) {
    return absl::InternalError(
        absl::StrCat("the record of run ", stored.id, " is unreadable"));
  }
  return run;
}

absl::StatusOr<RunWindow> WindowOf(const v1::Date* as_of, const v1::Date* start,
                                   absl::string_view as_of_field,
                                   absl::string_view start_field) {
  RunWindow window;
  if (as_of != nullptr) {
    CUSTRA_ASSIGN_OR_RETURN(window.as_of_day, DayOf(*as_of, as_of_field));
  } else {
    window.as_of_day = Today();
  }
  if (start != nullptr) {
    CUSTRA_ASSIGN_OR_RETURN(int64_t day, DayOf(*start, start_field));
    if (day > window.as_of_day) {
      return InvalidFieldError(start_field, "must not be after the as-of date");
    }
    window.start_day = day;
  }
  return window;
}

// Descriptions of the value-matrix quadrants, by position.
constexpr const char* kQuadrantDescriptions[4] = {
    "High on both axes: the most valuable customers; retain and reward them.",
    "Low on x, high on y: few but large purchases; encourage them to buy "
    "more often.",
    "High on x, low on y: frequent small purchases; raise the basket with "
    "cross-selling and bundles.",
    "Low on both axes: uncertain value; serve at low cost and watch for "
    "potential.",
};

const char* TierName(int i) {
  static constexpr const char* kNames[3] = {"high", "mid", "low"};
  return kNames[i];
}

// Per-customer values from the tenant's customer-value models as of a day:
// P(alive) and CLV (one year, undiscounted, margin 1), by customer id.
struct ModelValues {
  absl::flat_hash_map<std::string, double> p_alive;
  absl::flat_hash_map<std::string, double> clv_micros;
};

absl::StatusOr<ModelValues> ValuesFromModels(Connection& db,
                                             absl::string_view model_id,
                                             absl::string_view field,
                                             bool need_clv, int64_t as_of_day) {
  KeyAccountStore store(&db);
  CUSTRA_ASSIGN_OR_RETURN(std::optional<LoadedModel> purchase,
                          ChooseModel(store, model_id, true, field));
  if (!purchase) {
    return WithReason(absl::FailedPreconditionError(
                          "the tenant has no converged purchase-count model; "
                          "fit one first (KeyAccountService.FitValueModel, "
                          "custra clv fit)"),
                      reason::kFailedPrecondition);
  }
  std::optional<LoadedModel> spend;
  if (need_clv) {
    CUSTRA_ASSIGN_OR_RETURN(spend, ChooseModel(store, "", false, field));
    if (!spend) {
      return WithReason(
          absl::FailedPreconditionError(
              "predicted CLV needs a converged Gamma-Gamma spend model; fit "
              "one first (custra clv fit --model gamma-gamma)"),
          reason::kFailedPrecondition);
    }
  }
  CUSTRA_ASSIGN_OR_RETURN(CustomerHistory history,
                          store.LoadHistory(as_of_day, false, {}));
  ValueOptions options;
  options.horizon_periods =
      purchase->model.time_unit() == v1::TIME_UNIT_DAY ? 365 : 52;
  CUSTRA_ASSIGN_OR_RETURN(CustomerValues values,
                          PredictValues(history, as_of_day, *purchase,
                                        spend ? &*spend : nullptr, options));
  ModelValues out;
  for (size_t i = 0; i < history.customers.size(); ++i) {
    const std::string& id = history.customers[i].id;
    if (values.p_alive[i]) out.p_alive[id] = *values.p_alive[i];
    if (values.clv_micros[i]) {
      out.clv_micros[id] = static_cast<double>(*values.clv_micros[i]);
    }
  }
  return out;
}

// The latest key-account scores made with a profile, by customer id.
absl::StatusOr<absl::flat_hash_map<std::string, double>> LatestScores(
    Connection& db, absl::string_view profile_id) {
  KeyAccountStore store(&db);
  const std::string profile =
      profile_id.empty() ? "default" : std::string(profile_id);
  CUSTRA_ASSIGN_OR_RETURN(std::vector<StoredItem> runs,
                          store.ListScoringRuns(profile, 0, 1));
  if (runs.empty()) {
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "no accounts have been scored with profile ", profile,
            " yet; run KeyAccountService.ScoreAccounts (custra accounts "
            "score) first")),
        reason::kFailedPrecondition);
  }
  CUSTRA_ASSIGN_OR_RETURN(std::vector<StoredScore> scores,
                          store.RunScores(runs.front().id));
  absl::flat_hash_map<std::string, double> out;
  for (const StoredScore& s : scores) out[s.customer_id] = s.score;
  return out;
}

// Computes a run's members and model result into `run` from the tenant's
// data. `run.parameters()` has its defaults filled in.
absl::StatusOr<std::vector<SegmentMember>> ComputeRun(
    Connection& db, const CustomerFilter& filter, const RunWindow& window,
    const std::string& currency, v1::SegmentationRun& run) {
  SegmentationStore store(&db);
  v1::SegmentationParameters& params = *run.mutable_parameters();
  switch (ModelOf(params)) {
    case SegmentationModelKind::kAbc: {
      CUSTRA_ASSIGN_OR_RETURN(AbcParams p, AbcFromProto(*params.mutable_abc()));
      CUSTRA_ASSIGN_OR_RETURN(std::vector<CustomerWindowStats> stats,
                              store.LoadWindowStats(filter, window));
      AbcResult result = RunAbc(stats, p);
      AddSegmentSummaries(result.members, AbcSegments(), currency, &run);
      v1::AbcRunResult* out = run.mutable_abc();
      out->set_metric(params.abc().metric());
      ToMoney(result.positive_value_total, currency,
              out->mutable_positive_value_total());
      out->set_non_positive_customer_count(result.non_positive_customer_count);
      for (const AbcCurvePointValue& point : result.curve) {
        v1::AbcCurvePoint* p_out = out->add_curve();
        p_out->set_customer_share(point.customer_share);
        p_out->set_value_share(point.value_share);
      }
      return std::move(result.members);
    }
    case SegmentationModelKind::kRfm: {
      CUSTRA_ASSIGN_OR_RETURN(std::vector<RfmRule> rules,
                              RfmFromProto(*params.mutable_rfm()));
      CUSTRA_ASSIGN_OR_RETURN(std::vector<CustomerWindowStats> stats,
                              store.LoadWindowStats(filter, window));
      RfmResult result = RunRfm(stats, window.as_of_day, rules);
      std::vector<SegmentInfo> segments;
      for (const RfmRule& r : rules)
        segments.push_back({r.name, r.description});
      AddSegmentSummaries(result.members, segments, currency, &run);
      v1::RfmRunResult* out = run.mutable_rfm();
      for (const RfmBand& b : result.bands) {
        v1::RfmScoreBand* band = out->add_score_bands();
        band->set_score(b.score);
        band->set_recency_customer_count(b.recency_customer_count);
        band->set_recency_days_min(b.recency_days_min);
        band->set_recency_days_max(b.recency_days_max);
        band->set_frequency_min(b.frequency_min);
        band->set_frequency_max(b.frequency_max);
        ToMoney(b.monetary_min, currency, band->mutable_monetary_min());
        ToMoney(b.monetary_max, currency, band->mutable_monetary_max());
      }
      for (const RfmGridCellValue& c : result.grid) {
        v1::RfmGridCell* cell = out->add_grid();
        cell->set_recency_score(c.recency_score);
        cell->set_frequency_score(c.frequency_score);
        cell->set_customer_count(c.customer_count);
        ToMoney(c.revenue, currency, cell->mutable_revenue());
        cell->set_segment(c.segment >= 0 ? rules[c.segment].name : "(mixed)");
      }
      return std::move(result.members);
    }
    case SegmentationModelKind::kValueMatrix: {
      CUSTRA_ASSIGN_OR_RETURN(
          ValueMatrixParams p,
          ValueMatrixFromProto(*params.mutable_value_matrix()));
      std::vector<ValueAxis> measures = {p.x.axis, p.y.axis};
      for (const auto& [measure, weight] : p.weights) {
        measures.push_back(measure);
      }
      const bool needs_clv =
          std::find(measures.begin(), measures.end(),
                    ValueAxis::kPredictedClv) != measures.end();
      const bool needs_score =
          std::find(measures.begin(), measures.end(),
                    ValueAxis::kKeyAccountScore) != measures.end();
      ModelValues model_values;
      if (needs_clv) {
        CUSTRA_ASSIGN_OR_RETURN(
            model_values,
            ValuesFromModels(db,
                             params.value_matrix().customer_value_model_id(),
                             "parameters.value_matrix.customer_value_model_id",
                             true, window.as_of_day));
      }
      absl::flat_hash_map<std::string, double> scores;
      if (needs_score) {
        CUSTRA_ASSIGN_OR_RETURN(
            scores,
            LatestScores(db, params.value_matrix().scoring_profile_id()));
      }
      CUSTRA_ASSIGN_OR_RETURN(std::vector<CustomerWindowStats> stats,
                              store.LoadWindowStats(filter, window));
      std::vector<ValueMatrixInput> inputs(stats.size());
      for (size_t i = 0; i < stats.size(); ++i) {
        inputs[i].stats = &stats[i];
        if (needs_clv) {
          const auto it = model_values.clv_micros.find(stats[i].id);
          if (it != model_values.clv_micros.end()) {
            inputs[i].predicted_clv = it->second;
          }
        }
        if (needs_score) {
          const auto it = scores.find(stats[i].id);
          if (it != scores.end()) inputs[i].key_account_score = it->second;
        }
      }
      ValueMatrixResult result = RunValueMatrix(inputs, p);
      std::vector<SegmentInfo> segments;
      for (int i = 0; i < 4; ++i) {
        segments.push_back({p.quadrant_names[i], kQuadrantDescriptions[i]});
      }
      AddSegmentSummaries(result.members, segments, currency, &run);
      v1::ValueMatrixRunResult* out = run.mutable_value_matrix();
      out->set_x_axis(params.value_matrix().x_axis().axis());
      out->set_y_axis(params.value_matrix().y_axis().axis());
      auto set_split = [&](ValueAxis axis, double v,
                           v1::ValueMatrixAxisValue* value) {
        if (IsMoneyAxis(axis)) {
          ToMoney(static_cast<int64_t>(std::llround(v)), currency,
                  value->mutable_money());
        } else {
          value->set_number(v);
        }
      };
      set_split(p.x.axis, result.x_split, out->mutable_x_split());
      set_split(p.y.axis, result.y_split, out->mutable_y_split());
      for (int i = 0; i < 3; ++i) {
        ToProto(result.tiers[i], TierName(i), "", currency, out->add_tiers());
      }
      out->set_high_tier_min_score(result.high_tier_min_score);
      out->set_mid_tier_min_score(result.mid_tier_min_score);
      if (result.left_out > 0) {
        run.add_warnings(absl::StrCat(result.left_out,
                                      " customers without a value on every "
                                      "measure were left out"));
      }
      return std::move(result.members);
    }
    case SegmentationModelKind::kLifecycle: {
      CUSTRA_ASSIGN_OR_RETURN(LifecycleParams p,
                              LifecycleFromProto(*params.mutable_lifecycle()));
      CUSTRA_ASSIGN_OR_RETURN(
          LifecycleData data,
          store.LoadLifecycle(filter, window, p.period_days));
      if (p.lost_p_alive_below) {
        CUSTRA_ASSIGN_OR_RETURN(
            ModelValues model_values,
            ValuesFromModels(db, params.lifecycle().customer_value_model_id(),
                             "parameters.lifecycle.customer_value_model_id",
                             false, window.as_of_day));
        for (LifecycleInput& in : data.inputs) {
          const auto it = model_values.p_alive.find(in.id);
          if (it != model_values.p_alive.end()) in.p_alive = it->second;
        }
      }
      LifecycleResult result = RunLifecycle(data.inputs, window.as_of_day, p);
      AddSegmentSummaries(result.members, LifecycleSegments(), currency, &run);
      v1::LifecycleRunResult* out = run.mutable_lifecycle();
      for (int rule = 1; rule <= 9; ++rule) {
        v1::LifecycleRuleCount* count = out->add_rule_counts();
        count->set_rule(static_cast<v1::LifecycleRule>(rule));
        count->set_customer_count(result.rule_counts[rule - 1]);
      }
      if (window.start_day) {
        run.add_warnings(
            "the lifecycle model looks at all history up to the as-of date; "
            "the window only bounds the revenue and profit shown");
      }
      return std::move(result.members);
    }
    case SegmentationModelKind::kMan: {
      CUSTRA_ASSIGN_OR_RETURN(std::vector<int> kinds,
                              ManKindsFromProto(*params.mutable_man()));
      CUSTRA_ASSIGN_OR_RETURN(ManData data,
                              store.LoadMan(filter, kinds, window));
      std::vector<SegmentMember> members = RunMan(data.inputs);
      AddSegmentSummaries(members, ManSegments(), currency, &run);
      v1::ManRunResult* out = run.mutable_man();
      for (int i = 0; i < static_cast<int>(ManSegments().size()); ++i) {
        v1::ManClassApproach* a = out->add_approaches();
        a->set_man_class(static_cast<v1::ManClass>(i + 1));
        a->set_segment(ManSegments()[i].name);
        a->set_approach(static_cast<v1::ManApproach>(ManApproachOf(i + 1)));
      }
      const int64_t unassessed = run.segments(8).customer_count();
      if (unassessed > 0) {
        run.add_warnings(absl::StrCat(
            unassessed,
            " accounts lack a complete MAN assessment and are listed as "
            "unassessed"));
      }
      return members;
    }
  }
  return absl::InternalError("unknown model");
}

absl::Status CheckRunRequest(const v1::RunSegmentationRequest& request) {
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return InvalidFieldError("request_id", "must be at most 128 bytes");
  }
  if (request.display_name().size() > kMaxDisplayNameBytes) {
    return InvalidFieldError("display_name", "must be at most 256 bytes");
  }
  if (request.parameters().model_case() ==
      v1::SegmentationParameters::MODEL_NOT_SET) {
    return InvalidFieldError("parameters",
                             "is required: set one model (abc, rfm, "
                             "value_matrix, lifecycle or man)");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Member filters and ordering
// ---------------------------------------------------------------------------

struct MemberFilter {
  std::optional<std::string> segment;
  std::optional<std::string> customer_id;
  std::optional<int> tier;
};

absl::StatusOr<MemberFilter> ParseMemberFilter(absl::string_view filter,
                                               SegmentationModelKind model) {
  MemberFilter out;
  filter = absl::StripAsciiWhitespace(filter);
  if (filter.empty()) return out;
  for (absl::string_view term : absl::StrSplit(filter, " AND ")) {
    term = absl::StripAsciiWhitespace(term);
    const size_t eq = term.find('=');
    if (eq == absl::string_view::npos) {
      return InvalidFieldError("filter",
                               absl::StrCat("'", term, "' is not field=value"));
    }
    const std::string field =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(term.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(term.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (field == "segment") {
      out.segment = std::string(value);
    } else if (field == "customer_id") {
      out.customer_id = std::string(value);
    } else if (field == "tier" &&
               model == SegmentationModelKind::kValueMatrix) {
      std::string v = absl::AsciiStrToUpper(value);
      absl::string_view tier = v;
      absl::ConsumePrefix(&tier, "VALUE_MATRIX_TIER_");
      if (tier == "HIGH") {
        out.tier = 1;
      } else if (tier == "MID") {
        out.tier = 2;
      } else if (tier == "LOW") {
        out.tier = 3;
      } else {
        return InvalidFieldError(
            "filter",
            absl::StrCat("tier '", value, "' is not HIGH, MID or LOW"));
      }
    } else {
      return InvalidFieldError(
          "filter",
          absl::StrCat(
              "unknown field '", field, "'; use segment, customer_id",
              model == SegmentationModelKind::kValueMatrix ? " or tier" : ""));
    }
  }
  return out;
}

// A sort key of members: a number (or the id / segment as text).
struct SortKey {
  enum Kind { kNumber, kCustomerId, kSegmentName } kind = kNumber;
  double (*number)(const SegmentMember&) = nullptr;
  bool descending = false;
};

absl::StatusOr<std::vector<SortKey>> ParseOrderBy(absl::string_view order_by,
                                                  SegmentationModelKind model) {
  using M = SegmentationModelKind;
  struct Field {
    const char* name;
    std::optional<M> model;  // nullopt: every model.
    double (*number)(const SegmentMember&);
  };
  static const Field kFields[] = {
      {"revenue", std::nullopt,
       [](const SegmentMember& m) { return static_cast<double>(m.revenue); }},
      {"profit", std::nullopt,
       [](const SegmentMember& m) { return static_cast<double>(m.profit); }},
      {"rank", M::kAbc,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[AbcSlots::kRank]);
       }},
      {"value", M::kAbc,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[AbcSlots::kValue]);
       }},
      {"recency_days", M::kRfm,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[RfmSlots::kRecencyDays]);
       }},
      {"frequency", M::kRfm,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[RfmSlots::kFrequency]);
       }},
      {"monetary", M::kRfm,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[RfmSlots::kMonetary]);
       }},
      {"rfm_code", M::kRfm,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[RfmSlots::kRecencyScore] * 100 +
                                    m.ints[RfmSlots::kFrequencyScore] * 10 +
                                    m.ints[RfmSlots::kMonetaryScore]);
       }},
      {"x_value", M::kValueMatrix,
       [](const SegmentMember& m) {
         return m.reals[ValueMatrixSlots::kXValue];
       }},
      {"y_value", M::kValueMatrix,
       [](const SegmentMember& m) {
         return m.reals[ValueMatrixSlots::kYValue];
       }},
      {"composite_score", M::kValueMatrix,
       [](const SegmentMember& m) {
         return m.reals[ValueMatrixSlots::kCompositeScore];
       }},
      {"first_purchase_date", M::kLifecycle,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[LifecycleSlots::kFirstPurchaseDay]);
       }},
      {"last_purchase_date", M::kLifecycle,
       [](const SegmentMember& m) {
         return static_cast<double>(m.ints[LifecycleSlots::kLastPurchaseDay]);
       }},
      {"spend_change", M::kLifecycle,
       [](const SegmentMember& m) {
         return m.has_real(LifecycleSlots::kSpendChange)
                    ? m.reals[LifecycleSlots::kSpendChange]
                    : -1e300;
       }},
  };
  std::vector<SortKey> keys;
  order_by = absl::StripAsciiWhitespace(order_by);
  if (order_by.empty()) {
    switch (model) {
      case M::kAbc:
        keys.push_back({SortKey::kNumber, kFields[2].number, false});
        break;
      case M::kRfm:
        keys.push_back({SortKey::kNumber, kFields[7].number, true});
        break;
      case M::kValueMatrix:
        keys.push_back({SortKey::kNumber, kFields[10].number, true});
        break;
      case M::kLifecycle:
      case M::kMan:
        keys.push_back({SortKey::kNumber,
                        [](const SegmentMember& m) {
                          return static_cast<double>(m.segment);
                        },
                        false});
        break;
    }
    return keys;
  }
  for (absl::string_view part : absl::StrSplit(order_by, ',')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(part, ' ', absl::SkipWhitespace());
    if (words.empty() || words.size() > 2 ||
        (words.size() == 2 && !absl::EqualsIgnoreCase(words[1], "desc") &&
         !absl::EqualsIgnoreCase(words[1], "asc"))) {
      return InvalidFieldError(
          "order_by", absl::StrCat("'", absl::StripAsciiWhitespace(part),
                                   "' is not `field` or `field desc`"));
    }
    SortKey key;
    key.descending =
        words.size() == 2 && absl::EqualsIgnoreCase(words[1], "desc");
    const absl::string_view name = words[0];
    if (name == "customer_id") {
      key.kind = SortKey::kCustomerId;
    } else if (name == "segment") {
      key.kind = SortKey::kSegmentName;
    } else {
      const Field* found = nullptr;
      for (const Field& f : kFields) {
        if (name == f.name) found = &f;
      }
      if (found == nullptr || (found->model && *found->model != model)) {
        return InvalidFieldError(
            "order_by",
            absl::StrCat("'", name,
                         "' is not a sort field of this run's model"));
      }
      key.number = found->number;
    }
    keys.push_back(key);
  }
  return keys;
}

// The stored run `run_id` names (request field `field`).
absl::StatusOr<StoredRun> FindRun(SegmentationStore& store,
                                  absl::string_view run_id,
                                  absl::string_view field) {
  if (run_id.empty()) return InvalidFieldError(field, "is required");
  return store.GetRun(run_id);
}

absl::StatusOr<std::pair<StoredRun, v1::SegmentationRun>> LoadRun(
    SegmentationStore& store, absl::string_view run_id,
    absl::string_view field) {
  CUSTRA_ASSIGN_OR_RETURN(StoredRun stored, FindRun(store, run_id, field));
  CUSTRA_ASSIGN_OR_RETURN(v1::SegmentationRun run, ParseRun(stored));
  return std::make_pair(std::move(stored), std::move(run));
}

RunContext ContextOf(const v1::SegmentationRun& run, std::string currency) {
  RunContext context;
  context.model = static_cast<SegmentationModelKind>(run.model());
  context.currency = std::move(currency);
  context.as_of_day = DayOf(run.as_of_date(), "").value_or(0);
  context.run = &run;
  if (context.model == SegmentationModelKind::kLifecycle) {
    v1::LifecycleParameters params = run.parameters().lifecycle();
    if (auto converted = LifecycleFromProto(params); converted.ok()) {
      context.lifecycle = *converted;
    }
  }
  return context;
}

absl::StatusOr<std::string> Currency(Connection& db) {
  return IngestionStore(&db).TenantCurrency();
}

// Structure report of one period.
absl::Status FillSnapshot(SegmentationStore& store,
                          const v1::GetStructureReportRequest& request,
                          const CustomerFilter& filter,
                          v1::StructurePeriod period, const RunWindow& window,
                          const std::string& currency,
                          v1::StructureSnapshot* out) {
  const auto dimension =
      static_cast<StructureDimensionKind>(request.dimension());
  std::vector<std::pair<std::string, std::string>> run_members;
  if (dimension == StructureDimensionKind::kSegment) {
    CUSTRA_ASSIGN_OR_RETURN(auto loaded,
                            LoadRun(store, period.segmentation_run_id(),
                                    "period.segmentation_run_id"));
    CUSTRA_ASSIGN_OR_RETURN(std::vector<SegmentMember> members,
                            store.LoadMembers(loaded.first.id));
    const v1::SegmentationRun& run = loaded.second;
    for (const SegmentMember& m : members) {
      run_members.emplace_back(m.customer_id,
                               m.segment < run.segments_size()
                                   ? run.segments(m.segment).segment()
                                   : "");
    }
  }
  CUSTRA_ASSIGN_OR_RETURN(
      StructureData data,
      store.LoadStructure(filter, dimension, window,
                          request.include_inactive_customers(), &run_members));
  const int top_n = request.top_n() == 0 ? 10 : request.top_n();
  const auto metric =
      request.concentration_metric() == v1::SEGMENTATION_VALUE_METRIC_PROFIT
          ? ValueMetric::kProfit
          : ValueMetric::kRevenue;
  const StructureSnapshotValue snapshot = ComputeStructure(
      data.rows, metric, top_n, dimension == StructureDimensionKind::kTag);
  ToDate(window.as_of_day, period.mutable_as_of_date());
  if (window.start_day) {
    ToDate(*window.start_day, period.mutable_window_start_date());
  }
  *out->mutable_period() = period;
  out->set_customer_count(snapshot.customer_count);
  ToMoney(snapshot.total_revenue, currency, out->mutable_total_revenue());
  ToMoney(snapshot.total_profit, currency, out->mutable_total_profit());
  for (const StructureGroupValue& g : snapshot.groups) {
    v1::StructureGroup* group = out->add_groups();
    group->set_key(g.key);
    group->set_customer_count(g.totals.customer_count);
    group->set_customer_share(g.totals.customer_share);
    ToMoney(g.totals.revenue, currency, group->mutable_revenue());
    group->set_revenue_share(g.totals.revenue_share);
    ToMoney(g.totals.profit, currency, group->mutable_profit());
    group->set_profit_share(g.totals.profit_share);
  }
  v1::StructureConcentration* c = out->mutable_concentration();
  c->set_metric(metric == ValueMetric::kProfit
                    ? v1::SEGMENTATION_VALUE_METRIC_PROFIT
                    : v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  c->set_top_n(top_n);
  c->set_top_n_share(snapshot.top_n_share);
  c->set_customer_hhi(snapshot.customer_hhi);
  c->set_gini(snapshot.gini);
  c->set_group_hhi(snapshot.group_hhi);
  return absl::OkStatus();
}

void AddChanges(const v1::StructureSnapshot& current,
                const v1::StructureSnapshot& earlier,
                v1::StructureReport* out) {
  std::map<std::string, const v1::StructureGroup*> before;
  for (const v1::StructureGroup& g : earlier.groups()) before[g.key()] = &g;
  const v1::StructureGroup empty;
  auto add = [&](const v1::StructureGroup& now, const v1::StructureGroup& then,
                 const std::string& key) {
    v1::StructureGroupChange* c = out->add_changes();
    c->set_key(key);
    c->set_customer_count_change(now.customer_count() - then.customer_count());
    c->set_customer_share_change(now.customer_share() - then.customer_share());
    const std::string& currency = current.total_revenue().currency_code();
    ToMoney(now.revenue().amount_micros() - then.revenue().amount_micros(),
            currency, c->mutable_revenue_change());
    c->set_revenue_share_change(now.revenue_share() - then.revenue_share());
    ToMoney(now.profit().amount_micros() - then.profit().amount_micros(),
            currency, c->mutable_profit_change());
    c->set_profit_share_change(now.profit_share() - then.profit_share());
    if (then.revenue().amount_micros() > 0) {
      c->set_revenue_growth(
          static_cast<double>(now.revenue().amount_micros() -
                              then.revenue().amount_micros()) /
          static_cast<double>(then.revenue().amount_micros()));
    }
  };
  for (const v1::StructureGroup& g : current.groups()) {
    auto it = before.find(g.key());
    add(g, it == before.end() ? empty : *it->second, g.key());
    if (it != before.end()) before.erase(it);
  }
  for (const v1::StructureGroup& g : earlier.groups()) {
    if (before.count(g.key())) add(empty, g, g.key());
  }
}

}  // namespace

grpc::Status SegmentationServiceImpl::RunSegmentation(
    grpc::ServerContext* context, const v1::RunSegmentationRequest* request,
    v1::RunSegmentationResponse* response) {
  return gate_->ServeTenantCall(
      *context,
      [&](TenantCall& call) -> absl::Status {
        const absl::Time start = absl::Now();
        CUSTRA_RETURN_IF_ERROR(CheckRunRequest(*request));
        CUSTRA_ASSIGN_OR_RETURN(
            RunWindow window,
            WindowOf(
                request->has_as_of_date() ? &request->as_of_date() : nullptr,
                request->has_window_start_date() ? &request->window_start_date()
                                                 : nullptr,
                "as_of_date", "window_start_date"));
        CUSTRA_ASSIGN_OR_RETURN(
            CustomerFilter filter,
            ParseCustomerFilter(request->customer_filter(), "customer_filter"));
        v1::SegmentationRun& run = *response->mutable_run();
        *run.mutable_parameters() = request->parameters();
        run.set_model(
            static_cast<v1::SegmentationModel>(ModelOf(request->parameters())));
        run.set_display_name(request->display_name());
        ToDate(window.as_of_day, run.mutable_as_of_date());
        if (window.start_day) {
          ToDate(*window.start_day, run.mutable_window_start_date());
        }
        run.set_customer_filter(request->customer_filter());
        const std::string fingerprint =
            request->request_id().empty()
                ? ""
                : Digest({request->SerializeAsString()});

        TenantDatabase::Session session(call.database.get());
        SegmentationStore store(&session.db());
        if (!request->request_id().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::optional<std::string> existing,
              store.FindRequest(request->request_id(), fingerprint));
          if (existing) {
            CUSTRA_ASSIGN_OR_RETURN(auto loaded,
                                    LoadRun(store, *existing, "request_id"));
            run = std::move(loaded.second);
            return absl::OkStatus();
          }
        }
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<SegmentMember> members,
            ComputeRun(session.db(), filter, window, currency, run));
        if (context->IsCancelled()) {
          return absl::CancelledError("the call was cancelled; nothing stored");
        }
        const absl::Time now = absl::Now();
        StoredRun stored;
        stored.create_time_us = absl::ToUnixMicros(now);
        stored.id = NewRunId(stored.create_time_us);
        stored.model = run.model();
        run.set_id(stored.id);
        ToTimestamp(now, run.mutable_create_time());
        const int64_t took_ns = absl::ToInt64Nanoseconds(absl::Now() - start);
        run.mutable_compute_duration()->set_seconds(took_ns / 1'000'000'000);
        run.mutable_compute_duration()->set_nanos(
            static_cast<int32_t>(took_ns % 1'000'000'000));
        stored.record = run.SerializeAsString();
        return store.SaveRun(stored, members, request->request_id(),
                             fingerprint, now);
      },
      CallGate::Weight::kHeavy);
}

grpc::ServerUnaryReactor* SegmentationServiceImpl::GetRun(
    grpc::CallbackServerContext* context, const v1::GetRunRequest* request,
    v1::GetRunResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        TenantDatabase::ReadSession session(call.database.get());
        SegmentationStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(StoredRun stored,
                                FindRun(store, request->run_id(), "run_id"));
        // The stored record is the run as RunSegmentation returned it.
        AppendSerializedField(response, v1::GetRunResponse::kRunFieldNumber,
                              std::move(stored.record));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SegmentationServiceImpl::ListRuns(
    grpc::CallbackServerContext* context, const v1::ListRunsRequest* request,
    v1::ListRunsResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 500));
        std::optional<int> model;
        absl::string_view filter =
            absl::StripAsciiWhitespace(request->filter());
        if (!filter.empty()) {
          std::string text = absl::AsciiStrToUpper(filter);
          absl::string_view value = text;
          if (!absl::ConsumePrefix(&value, "MODEL")) {
            return InvalidFieldError("filter", "must be model=NAME");
          }
          value = absl::StripLeadingAsciiWhitespace(value);
          if (!absl::ConsumePrefix(&value, "=")) {
            return InvalidFieldError("filter", "must be model=NAME");
          }
          value = absl::StripAsciiWhitespace(value);
          absl::ConsumePrefix(&value, "SEGMENTATION_MODEL_");
          v1::SegmentationModel parsed;
          if (!v1::SegmentationModel_Parse(
                  absl::StrCat("SEGMENTATION_MODEL_", value), &parsed) ||
              parsed == v1::SEGMENTATION_MODEL_UNSPECIFIED) {
            return InvalidFieldError(
                "filter", absl::StrCat("'", value,
                                       "' is not ABC, RFM, VALUE_MATRIX, "
                                       "LIFECYCLE or MAN"));
          }
          model = parsed;
        }
        const std::string digest = Digest({request->filter()});
        std::optional<SegmentationStore::RunCursor> after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::string position,
              DecodePageToken("runs", digest, request->page_token()));
          std::pair<std::string, std::string> parts =
              absl::StrSplit(position, absl::MaxSplits(':', 1));
          SegmentationStore::RunCursor cursor;
          if (!absl::SimpleAtoi(parts.first, &cursor.create_time_us)) {
            return WithReason(InvalidFieldError("page_token", "is malformed"),
                              reason::kInvalidPageToken);
          }
          cursor.id = parts.second;
          after = cursor;
        }
        TenantDatabase::ReadSession session(call.database.get());
        SegmentationStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(std::vector<StoredRun> runs,
                                store.ListRuns(model, after, page_size + 1));
        const bool more = static_cast<int>(runs.size()) > page_size;
        if (more) runs.pop_back();
        for (StoredRun& stored : runs) {
          AppendSerializedField(response,
                                v1::ListRunsResponse::kRunsFieldNumber,
                                std::move(stored.record));
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "runs", digest,
              absl::StrCat(runs.back().create_time_us, ":", runs.back().id)));
        }
        return absl::OkStatus();
      });
}

grpc::Status SegmentationServiceImpl::ListSegmentMembers(
    grpc::ServerContext* context, const v1::ListSegmentMembersRequest* request,
    v1::ListSegmentMembersResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 100, 1000));
        const std::string digest =
            Digest({request->run_id(), request->filter(), request->order_by()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("members", digest, request->page_token()));
        std::pair<StoredRun, v1::SegmentationRun> loaded;
        std::vector<SegmentMember> members;
        std::string currency;
        {
          TenantDatabase::Session session(call.database.get());
          SegmentationStore store(&session.db());
          CUSTRA_ASSIGN_OR_RETURN(loaded,
                                  LoadRun(store, request->run_id(), "run_id"));
          CUSTRA_ASSIGN_OR_RETURN(members, store.LoadMembers(loaded.first.id));
          CUSTRA_ASSIGN_OR_RETURN(currency, Currency(session.db()));
        }
        const v1::SegmentationRun& run = loaded.second;
        const RunContext run_context = ContextOf(run, currency);
        CUSTRA_ASSIGN_OR_RETURN(
            MemberFilter filter,
            ParseMemberFilter(request->filter(), run_context.model));
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<SortKey> keys,
            ParseOrderBy(request->order_by(), run_context.model));
        auto segment_name = [&](const SegmentMember& m) -> absl::string_view {
          return m.segment < run.segments_size()
                     ? absl::string_view(run.segments(m.segment).segment())
                     : absl::string_view();
        };
        std::vector<const SegmentMember*> selected;
        selected.reserve(members.size());
        for (const SegmentMember& m : members) {
          if (filter.segment && segment_name(m) != *filter.segment) continue;
          if (filter.customer_id && m.customer_id != *filter.customer_id) {
            continue;
          }
          if (filter.tier && m.ints[ValueMatrixSlots::kTier] != *filter.tier) {
            continue;
          }
          selected.push_back(&m);
        }
        // Members are stored by customer id, so a stable sort breaks ties
        // by customer id.
        std::stable_sort(selected.begin(), selected.end(),
                         [&](const SegmentMember* a, const SegmentMember* b) {
                           for (const SortKey& key : keys) {
                             int c = 0;
                             if (key.kind == SortKey::kCustomerId) {
                               c = a->customer_id.compare(b->customer_id);
                             } else if (key.kind == SortKey::kSegmentName) {
                               c = segment_name(*a).compare(segment_name(*b));
                             } else {
                               const double x = key.number(*a),
                                            y = key.number(*b);
                               c = x < y ? -1 : (x > y ? 1 : 0);
                             }
                             if (c != 0) return key.descending ? c > 0 : c < 0;
                           }
                           return false;
                         });
        response->set_total_size(static_cast<int64_t>(selected.size()));
        const int64_t end = std::min<int64_t>(
            offset + page_size, static_cast<int64_t>(selected.size()));
        for (int64_t i = offset; i < end; ++i) {
          ToProto(*selected[i], run_context, response->add_members());
        }
        if (end < static_cast<int64_t>(selected.size())) {
          response->set_next_page_token(
              EncodePageToken("members", digest, absl::StrCat(end)));
        }
        return absl::OkStatus();
      });
}

grpc::Status SegmentationServiceImpl::GetCustomerSegments(
    grpc::ServerContext* context, const v1::GetCustomerSegmentsRequest* request,
    v1::GetCustomerSegmentsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->customer_id().empty()) {
          return InvalidFieldError("customer_id", "is required");
        }
        TenantDatabase::Session session(call.database.get());
        IngestionStore customers(&session.db());
        CUSTRA_RETURN_IF_ERROR(
            customers.GetCustomer(request->customer_id()).status());
        CUSTRA_ASSIGN_OR_RETURN(std::string currency,
                                customers.TenantCurrency());
        SegmentationStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            auto assignments, store.LatestAssignments(request->customer_id()));
        for (const auto& [stored, member] : assignments) {
          CUSTRA_ASSIGN_OR_RETURN(v1::SegmentationRun run, ParseRun(stored));
          v1::CustomerSegmentAssignment* a = response->add_assignments();
          a->set_model(run.model());
          a->set_run_id(run.id());
          *a->mutable_as_of_date() = run.as_of_date();
          *a->mutable_run_create_time() = run.create_time();
          ToProto(member, ContextOf(run, currency), a->mutable_member());
        }
        return absl::OkStatus();
      });
}

namespace {

// Both runs' members merged by customer id: (base, target), either null.
struct MergedRuns {
  std::pair<StoredRun, v1::SegmentationRun> base, target;
  std::vector<SegmentMember> base_members, target_members;
  std::vector<std::pair<const SegmentMember*, const SegmentMember*>> pairs;
  std::string currency;
};

absl::StatusOr<MergedRuns> MergeRuns(TenantCall& call,
                                     absl::string_view base_id,
                                     absl::string_view target_id) {
  if (!base_id.empty() && base_id == target_id) {
    return InvalidFieldError("target_run_id", "must differ from base_run_id");
  }
  MergedRuns merged;
  {
    TenantDatabase::Session session(call.database.get());
    SegmentationStore store(&session.db());
    CUSTRA_ASSIGN_OR_RETURN(merged.base,
                            LoadRun(store, base_id, "base_run_id"));
    CUSTRA_ASSIGN_OR_RETURN(merged.target,
                            LoadRun(store, target_id, "target_run_id"));
    CUSTRA_ASSIGN_OR_RETURN(merged.base_members, store.LoadMembers(base_id));
    CUSTRA_ASSIGN_OR_RETURN(merged.target_members,
                            store.LoadMembers(target_id));
    CUSTRA_ASSIGN_OR_RETURN(merged.currency, Currency(session.db()));
  }
  const auto& a = merged.base_members;
  const auto& b = merged.target_members;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() ||
        (i < a.size() && a[i].customer_id < b[j].customer_id)) {
      merged.pairs.emplace_back(&a[i++], nullptr);
    } else if (i == a.size() || b[j].customer_id < a[i].customer_id) {
      merged.pairs.emplace_back(nullptr, &b[j++]);
    } else {
      merged.pairs.emplace_back(&a[i++], &b[j++]);
    }
  }
  return merged;
}

}  // namespace

grpc::Status SegmentationServiceImpl::CompareRuns(
    grpc::ServerContext* context, const v1::CompareRunsRequest* request,
    v1::CompareRunsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            MergedRuns merged,
            MergeRuns(call, request->base_run_id(), request->target_run_id()));
        const v1::SegmentationRun& base = merged.base.second;
        const v1::SegmentationRun& target = merged.target.second;
        response->set_base_model(base.model());
        response->set_target_model(target.model());
        for (const auto& s : base.segments()) {
          response->add_from_segments(s.segment());
        }
        for (const auto& s : target.segments()) {
          response->add_to_segments(s.segment());
        }
        // Cells keyed by (from, to) segment index; the last index of each
        // side stands for "not in that run", so they sort last.
        const int rows = base.segments_size(), cols = target.segments_size();
        std::map<std::pair<int, int>, int64_t> cells;
        for (const auto& [from, to] : merged.pairs) {
          const int r = from ? from->segment : rows;
          const int c = to ? to->segment : cols;
          ++cells[{r, c}];
          if (from && to) {
            response->set_common_customer_count(
                response->common_customer_count() + 1);
            if (base.segments(r).segment() == target.segments(c).segment()) {
              response->set_unchanged_customer_count(
                  response->unchanged_customer_count() + 1);
            }
          } else if (from) {
            response->set_left_customer_count(response->left_customer_count() +
                                              1);
          } else {
            response->set_entered_customer_count(
                response->entered_customer_count() + 1);
          }
        }
        auto add = [&](int r, int c, int64_t count) {
          v1::SegmentTransition* t = response->add_transitions();
          t->set_from_segment(r < rows ? base.segments(r).segment() : "");
          t->set_to_segment(c < cols ? target.segments(c).segment() : "");
          t->set_customer_count(count);
          t->set_from_share(
              r < rows ? ShareOf(static_cast<double>(count),
                                 static_cast<double>(
                                     base.segments(r).customer_count()))
                       : 0.0);
        };
        for (const auto& [key, count] : cells) {
          if (key.first < rows && key.second < cols) {
            add(key.first, key.second, count);
          }
        }
        for (const auto& [key, count] : cells) {
          if (key.first == rows || key.second == cols) {
            add(key.first, key.second, count);
          }
        }
        return absl::OkStatus();
      });
}

grpc::Status SegmentationServiceImpl::ListSegmentTransitionMembers(
    grpc::ServerContext* context,
    const v1::ListSegmentTransitionMembersRequest* request,
    v1::ListSegmentTransitionMembersResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->from_segment().empty() && request->to_segment().empty()) {
          return InvalidFieldError(
              "to_segment",
              "from_segment and to_segment must not both be empty");
        }
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 100, 1000));
        const std::string digest =
            Digest({request->base_run_id(), request->target_run_id(),
                    request->from_segment(), request->to_segment()});
        std::string after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              after,
              DecodePageToken("transition", digest, request->page_token()));
        }
        CUSTRA_ASSIGN_OR_RETURN(
            MergedRuns merged,
            MergeRuns(call, request->base_run_id(), request->target_run_id()));
        const v1::SegmentationRun& base = merged.base.second;
        const v1::SegmentationRun& target = merged.target.second;
        const RunContext base_context = ContextOf(base, merged.currency);
        const RunContext target_context = ContextOf(target, merged.currency);
        auto name = [](const v1::SegmentationRun& run,
                       const SegmentMember* m) -> std::string {
          return m && m->segment < run.segments_size()
                     ? run.segments(m->segment).segment()
                     : "";
        };
        int64_t total = 0;
        for (const auto& [from, to] : merged.pairs) {
          if (name(base, from) != request->from_segment() ||
              name(target, to) != request->to_segment()) {
            continue;
          }
          ++total;
          const std::string& id = from ? from->customer_id : to->customer_id;
          if (!after.empty() && id <= after) continue;
          if (response->members_size() == page_size) {
            response->set_next_page_token(EncodePageToken(
                "transition", digest,
                response->members(page_size - 1).customer_id()));
            continue;
          }
          v1::SegmentTransitionMember* out = response->add_members();
          out->set_customer_id(id);
          if (from) ToProto(*from, base_context, out->mutable_base());
          if (to) ToProto(*to, target_context, out->mutable_target());
        }
        response->set_total_size(total);
        return absl::OkStatus();
      });
}

grpc::Status SegmentationServiceImpl::DeleteRun(
    grpc::ServerContext* context, const v1::DeleteRunRequest* request,
    v1::DeleteRunResponse* /*response*/) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->run_id().empty()) {
          return InvalidFieldError("run_id", "is required");
        }
        TenantDatabase::Session session(call.database.get());
        return SegmentationStore(&session.db()).DeleteRun(request->run_id());
      });
}

grpc::Status SegmentationServiceImpl::GetStructureReport(
    grpc::ServerContext* context, const v1::GetStructureReportRequest* request,
    v1::GetStructureReportResponse* response) {
  return gate_->ServeTenantCall(
      *context,
      [&](TenantCall& call) -> absl::Status {
        if (request->dimension() == v1::STRUCTURE_DIMENSION_UNSPECIFIED ||
            !v1::StructureDimension_IsValid(request->dimension())) {
          return InvalidFieldError("dimension",
                                   "is required: KIND, INDUSTRY, REGION, "
                                   "CHANNEL, TAG or SEGMENT");
        }
        if (request->top_n() < 0 || request->top_n() > 10000) {
          return InvalidFieldError("top_n", "must be between 1 and 10,000");
        }
        const bool by_segment =
            request->dimension() == v1::STRUCTURE_DIMENSION_SEGMENT;
        const v1::StructurePeriod& period = request->period();
        if (by_segment && period.segmentation_run_id().empty()) {
          return InvalidFieldError("period.segmentation_run_id",
                                   "is required when grouping by segment");
        }
        CUSTRA_ASSIGN_OR_RETURN(
            RunWindow window,
            WindowOf(period.has_as_of_date() ? &period.as_of_date() : nullptr,
                     period.has_window_start_date()
                         ? &period.window_start_date()
                         : nullptr,
                     "period.as_of_date", "period.window_start_date"));
        CUSTRA_ASSIGN_OR_RETURN(
            CustomerFilter filter,
            ParseCustomerFilter(request->customer_filter(), "customer_filter"));
        std::optional<RunWindow> earlier;
        v1::StructurePeriod comparison = request->comparison_period();
        if (request->has_comparison_period()) {
          CUSTRA_ASSIGN_OR_RETURN(
              RunWindow w,
              WindowOf(comparison.has_as_of_date() ? &comparison.as_of_date()
                                                   : nullptr,
                       comparison.has_window_start_date()
                           ? &comparison.window_start_date()
                           : nullptr,
                       "comparison_period.as_of_date",
                       "comparison_period.window_start_date"));
          if (!comparison.has_window_start_date() && window.start_day) {
            w.start_day = w.as_of_day - (window.as_of_day - *window.start_day);
          }
          if (by_segment && comparison.segmentation_run_id().empty()) {
            comparison.set_segmentation_run_id(period.segmentation_run_id());
          }
          earlier = w;
        }
        TenantDatabase::Session session(call.database.get());
        SegmentationStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, Currency(session.db()));
        v1::StructureReport* report = response->mutable_report();
        report->set_dimension(request->dimension());
        CUSTRA_RETURN_IF_ERROR(FillSnapshot(store, *request, filter, period,
                                            window, currency,
                                            report->mutable_current()));
        if (earlier) {
          CUSTRA_RETURN_IF_ERROR(FillSnapshot(store, *request, filter,
                                              comparison, *earlier, currency,
                                              report->mutable_comparison()));
          AddChanges(report->current(), report->comparison(), report);
        }
        return absl::OkStatus();
      },
      CallGate::Weight::kHeavy);
}

}  // namespace custra::server
