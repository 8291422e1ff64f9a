#include "server/segmentation_convert.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace custra::server {
namespace {

constexpr absl::CivilDay kEpoch(1970, 1, 1);

// Scores 1..5 as a bit mask (empty: any); INVALID_ARGUMENT on others.
absl::StatusOr<uint8_t> ScoreMask(
    const google::protobuf::RepeatedField<int32_t>& scores,
    const std::string& field) {
  if (scores.empty()) return uint8_t{0b11111};
  uint8_t mask = 0;
  for (int score : scores) {
    if (score < 1 || score > 5) {
      return InvalidFieldError(
          field, absl::StrCat("score ", score, " is not between 1 and 5"));
    }
    mask |= static_cast<uint8_t>(1u << (score - 1));
  }
  return mask;
}

void MaskToScores(uint8_t mask, google::protobuf::RepeatedField<int32_t>* out) {
  if (mask == 0b11111) return;
  for (int s = 1; s <= 5; ++s) {
    if (mask & (1u << (s - 1))) out->Add(s);
  }
}

absl::StatusOr<AxisSpec> AxisFromProto(v1::ValueMatrixAxisSpec& spec,
                                       v1::ValueMatrixAxis fallback,
                                       const std::string& field) {
  if (spec.axis() == v1::VALUE_MATRIX_AXIS_UNSPECIFIED) spec.set_axis(fallback);
  if (!v1::ValueMatrixAxis_IsValid(spec.axis())) {
    return InvalidFieldError(field + ".axis", "is not a ValueMatrixAxis");
  }
  AxisSpec out;
  out.axis = static_cast<ValueAxis>(spec.axis());
  if (spec.split_method() == v1::VALUE_MATRIX_SPLIT_METHOD_UNSPECIFIED) {
    spec.set_split_method(v1::VALUE_MATRIX_SPLIT_METHOD_MEDIAN);
  }
  switch (spec.split_method()) {
    case v1::VALUE_MATRIX_SPLIT_METHOD_MEDIAN:
      out.split = SplitMethod::kMedian;
      break;
    case v1::VALUE_MATRIX_SPLIT_METHOD_QUANTILE:
      out.split = SplitMethod::kQuantile;
      if (!spec.has_quantile()) spec.set_quantile(0.5);
      out.quantile = spec.quantile();
      break;
    case v1::VALUE_MATRIX_SPLIT_METHOD_THRESHOLD: {
      out.split = SplitMethod::kThreshold;
      const bool money = IsMoneyAxis(out.axis);
      const auto& t = spec.threshold();
      if (money && t.has_money()) {
        out.threshold = static_cast<double>(t.money().amount_micros());
      } else if (!money && t.has_number()) {
        out.threshold = t.number();
      } else {
        return InvalidFieldError(field + ".threshold",
                                 money
                                     ? "is required as money for this axis"
                                     : "is required as a number for this axis");
      }
      break;
    }
    default:
      return InvalidFieldError(field + ".split_method",
                               "is not a ValueMatrixSplitMethod");
  }
  return out;
}

void SetAxisValue(ValueAxis axis, double value, absl::string_view currency,
                  v1::ValueMatrixAxisValue* out) {
  if (IsMoneyAxis(axis)) {
    ToMoney(static_cast<int64_t>(std::llround(value)), currency,
            out->mutable_money());
  } else {
    out->set_number(value);
  }
}

}  // namespace

absl::StatusOr<int64_t> DayOf(const v1::Date& date, absl::string_view field) {
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (date.year() < 1 || date.year() > 9999 || day.year() != date.year() ||
      day.month() != date.month() || day.day() != date.day()) {
    return InvalidFieldError(
        field, absl::StrCat(date.year(), "-", date.month(), "-", date.day(),
                            " is not a calendar date"));
  }
  return day - kEpoch;
}

void ToDate(int64_t day, v1::Date* out) {
  const absl::CivilDay d = kEpoch + day;
  out->set_year(static_cast<int32_t>(d.year()));
  out->set_month(d.month());
  out->set_day(d.day());
}

int64_t Today() {
  return absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()) - kEpoch;
}

void ToMoney(int64_t micros, absl::string_view currency, v1::Money* out) {
  out->set_currency_code(std::string(currency));
  out->set_amount_micros(micros);
}

absl::StatusOr<AbcParams> AbcFromProto(v1::AbcParameters& params) {
  AbcParams out;
  if (params.metric() == v1::SEGMENTATION_VALUE_METRIC_UNSPECIFIED) {
    params.set_metric(v1::SEGMENTATION_VALUE_METRIC_REVENUE);
  }
  if (!v1::SegmentationValueMetric_IsValid(params.metric())) {
    return InvalidFieldError("parameters.abc.metric",
                             "is not a SegmentationValueMetric");
  }
  out.metric = static_cast<ValueMetric>(params.metric());
  if (params.mode() == v1::ABC_CUTOFF_MODE_UNSPECIFIED) {
    params.set_mode(v1::ABC_CUTOFF_MODE_VALUE_SHARE);
  }
  if (!v1::AbcCutoffMode_IsValid(params.mode())) {
    return InvalidFieldError("parameters.abc.mode", "is not an AbcCutoffMode");
  }
  out.customer_share_mode = params.mode() == v1::ABC_CUTOFF_MODE_CUSTOMER_SHARE;
  if (!params.has_a_cutoff()) {
    params.set_a_cutoff(out.customer_share_mode ? 0.20 : 0.80);
  }
  if (!params.has_b_cutoff()) {
    params.set_b_cutoff(out.customer_share_mode ? 0.50 : 0.95);
  }
  if (!params.has_curve_points()) params.set_curve_points(101);
  out.a_cutoff = params.a_cutoff();
  out.b_cutoff = params.b_cutoff();
  out.curve_points = params.curve_points();
  CUSTRA_RETURN_IF_ERROR(ValidateAbcParams(out));
  return out;
}

absl::StatusOr<std::vector<RfmRule>> RfmFromProto(v1::RfmParameters& params) {
  if (params.segment_map().empty()) {
    for (const RfmRule& rule : DefaultRfmMap()) {
      v1::RfmSegmentRule* r = params.add_segment_map();
      r->set_name(rule.name);
      r->set_description(rule.description);
      for (const RfmPattern& p : rule.patterns) {
        v1::RfmScorePattern* pattern = r->add_patterns();
        MaskToScores(p.recency, pattern->mutable_recency_scores());
        MaskToScores(p.frequency, pattern->mutable_frequency_scores());
        MaskToScores(p.monetary, pattern->mutable_monetary_scores());
      }
    }
    return DefaultRfmMap();
  }
  std::vector<RfmRule> rules;
  for (int i = 0; i < params.segment_map_size(); ++i) {
    const v1::RfmSegmentRule& in = params.segment_map(i);
    const std::string field =
        absl::StrCat("parameters.rfm.segment_map[", i, "]");
    if (in.description().size() > 1024) {
      return InvalidFieldError(field + ".description",
                               "must be at most 1,024 bytes");
    }
    RfmRule& rule = rules.emplace_back();
    rule.name = in.name();
    rule.description = in.description();
    for (int j = 0; j < in.patterns_size(); ++j) {
      const v1::RfmScorePattern& p = in.patterns(j);
      const std::string pfield = absl::StrCat(field, ".patterns[", j, "]");
      RfmPattern& pattern = rule.patterns.emplace_back();
      CUSTRA_ASSIGN_OR_RETURN(
          pattern.recency,
          ScoreMask(p.recency_scores(), pfield + ".recency_scores"));
      CUSTRA_ASSIGN_OR_RETURN(
          pattern.frequency,
          ScoreMask(p.frequency_scores(), pfield + ".frequency_scores"));
      CUSTRA_ASSIGN_OR_RETURN(
          pattern.monetary,
          ScoreMask(p.monetary_scores(), pfield + ".monetary_scores"));
    }
  }
  CUSTRA_RETURN_IF_ERROR(ValidateRfmMap(rules));
  return rules;
}

absl::StatusOr<ValueMatrixParams> ValueMatrixFromProto(
    v1::ValueMatrixParameters& params) {
  ValueMatrixParams out;
  CUSTRA_ASSIGN_OR_RETURN(
      out.x,
      AxisFromProto(*params.mutable_x_axis(), v1::VALUE_MATRIX_AXIS_FREQUENCY,
                    "parameters.value_matrix.x_axis"));
  CUSTRA_ASSIGN_OR_RETURN(
      out.y, AxisFromProto(*params.mutable_y_axis(),
                           v1::VALUE_MATRIX_AXIS_AVERAGE_ORDER_VALUE,
                           "parameters.value_matrix.y_axis"));
  v1::ValueMatrixQuadrantNames& names = *params.mutable_quadrant_names();
  if (!names.has_high_x_high_y()) names.set_high_x_high_y("best");
  if (!names.has_low_x_high_y()) names.set_low_x_high_y("spender");
  if (!names.has_high_x_low_y()) names.set_high_x_low_y("frequent");
  if (!names.has_low_x_low_y()) names.set_low_x_low_y("uncertain");
  out.quadrant_names = {names.high_x_high_y(), names.low_x_high_y(),
                        names.high_x_low_y(), names.low_x_low_y()};
  if (params.score_weights().empty()) {
    for (const v1::ValueMatrixAxisSpec* axis :
         {&params.x_axis(), &params.y_axis()}) {
      v1::ValueScoreWeight* w = params.add_score_weights();
      w->set_measure(axis->axis());
      w->set_weight(0.5);
    }
  }
  for (int i = 0; i < params.score_weights_size(); ++i) {
    const v1::ValueScoreWeight& w = params.score_weights(i);
    if (w.measure() == v1::VALUE_MATRIX_AXIS_UNSPECIFIED ||
        !v1::ValueMatrixAxis_IsValid(w.measure())) {
      return InvalidFieldError(
          absl::StrCat("parameters.value_matrix.score_weights[", i,
                       "].measure"),
          "is required and must be a ValueMatrixAxis");
    }
    out.weights.emplace_back(static_cast<ValueAxis>(w.measure()), w.weight());
  }
  if (!params.has_high_tier_share()) params.set_high_tier_share(0.20);
  if (!params.has_mid_tier_share()) params.set_mid_tier_share(0.30);
  out.high_tier_share = params.high_tier_share();
  out.mid_tier_share = params.mid_tier_share();
  CUSTRA_RETURN_IF_ERROR(ValidateValueMatrixParams(out));
  return out;
}

absl::StatusOr<LifecycleParams> LifecycleFromProto(
    v1::LifecycleParameters& params) {
  if (!params.has_new_customer_days()) params.set_new_customer_days(90);
  if (!params.has_period_days()) params.set_period_days(90);
  if (!params.has_growth_threshold()) params.set_growth_threshold(0.20);
  if (!params.has_decline_threshold()) params.set_decline_threshold(0.20);
  if (!params.has_gap_multiplier()) params.set_gap_multiplier(2.0);
  if (!params.has_gap_min_purchase_days()) params.set_gap_min_purchase_days(3);
  if (!params.has_lost_after_days()) params.set_lost_after_days(365);
  LifecycleParams out;
  out.new_customer_days = params.new_customer_days();
  out.period_days = params.period_days();
  out.growth_threshold = params.growth_threshold();
  out.decline_threshold = params.decline_threshold();
  out.gap_multiplier = params.gap_multiplier();
  out.gap_min_purchase_days = params.gap_min_purchase_days();
  out.lost_after_days = params.lost_after_days();
  if (params.has_lost_p_alive_below()) {
    out.lost_p_alive_below = params.lost_p_alive_below();
  }
  CUSTRA_RETURN_IF_ERROR(ValidateLifecycleParams(out));
  return out;
}

absl::StatusOr<std::vector<int>> ManKindsFromProto(v1::ManParameters& params) {
  if (params.customer_kinds().empty()) {
    params.add_customer_kinds(v1::CUSTOMER_KIND_ENTERPRISE);
    params.add_customer_kinds(v1::CUSTOMER_KIND_GOVERNMENT);
  }
  std::vector<int> kinds;
  for (int i = 0; i < params.customer_kinds_size(); ++i) {
    const int kind = params.customer_kinds(i);
    if (kind < v1::CUSTOMER_KIND_INDIVIDUAL ||
        kind > v1::CUSTOMER_KIND_GOVERNMENT) {
      return InvalidFieldError(
          absl::StrCat("parameters.man.customer_kinds[", i, "]"),
          "must be INDIVIDUAL, ENTERPRISE or GOVERNMENT");
    }
    kinds.push_back(kind);
  }
  return kinds;
}

void ToProto(const SegmentTotals& totals, absl::string_view name,
             absl::string_view description, absl::string_view currency,
             v1::SegmentSummary* out) {
  out->set_segment(std::string(name));
  out->set_description(std::string(description));
  out->set_customer_count(totals.customer_count);
  out->set_customer_share(totals.customer_share);
  ToMoney(totals.revenue, currency, out->mutable_revenue());
  out->set_revenue_share(totals.revenue_share);
  ToMoney(totals.profit, currency, out->mutable_profit());
  out->set_profit_share(totals.profit_share);
}

void AddSegmentSummaries(std::span<const SegmentMember> members,
                         std::span<const SegmentInfo> segments,
                         absl::string_view currency, v1::SegmentationRun* out) {
  const std::vector<SegmentTotals> totals =
      SummarizeSegments(members, static_cast<int>(segments.size()));
  int64_t revenue = 0, profit = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    ToProto(totals[i], segments[i].name, segments[i].description, currency,
            out->add_segments());
    revenue += totals[i].revenue;
    profit += totals[i].profit;
  }
  out->set_customer_count(static_cast<int64_t>(members.size()));
  ToMoney(revenue, currency, out->mutable_total_revenue());
  ToMoney(profit, currency, out->mutable_total_profit());
}

void ToProto(const SegmentMember& m, const RunContext& context,
             v1::SegmentMember* out) {
  const v1::SegmentationRun& run = *context.run;
  const absl::string_view currency = context.currency;
  out->set_customer_id(m.customer_id);
  if (m.segment >= 0 && m.segment < run.segments_size()) {
    out->set_segment(run.segments(m.segment).segment());
  }
  ToMoney(m.revenue, currency, out->mutable_revenue());
  ToMoney(m.profit, currency, out->mutable_profit());
  switch (context.model) {
    case SegmentationModelKind::kAbc: {
      using S = AbcSlots;
      v1::AbcMemberDetails* d = out->mutable_abc();
      d->set_rank(m.ints[S::kRank]);
      ToMoney(m.ints[S::kValue], currency, d->mutable_value());
      d->set_value_share(m.reals[S::kValueShare]);
      d->set_cumulative_value_share(m.reals[S::kCumulativeValueShare]);
      d->set_cumulative_customer_share(m.reals[S::kCumulativeCustomerShare]);
      break;
    }
    case SegmentationModelKind::kRfm: {
      using S = RfmSlots;
      v1::RfmMemberDetails* d = out->mutable_rfm();
      d->set_recency_days(m.ints[S::kRecencyDays]);
      d->set_frequency(m.ints[S::kFrequency]);
      ToMoney(m.ints[S::kMonetary], currency, d->mutable_monetary());
      d->set_recency_score(static_cast<int32_t>(m.ints[S::kRecencyScore]));
      d->set_frequency_score(static_cast<int32_t>(m.ints[S::kFrequencyScore]));
      d->set_monetary_score(static_cast<int32_t>(m.ints[S::kMonetaryScore]));
      d->set_rfm_code(absl::StrCat(m.ints[S::kRecencyScore],
                                   m.ints[S::kFrequencyScore],
                                   m.ints[S::kMonetaryScore]));
      ToDate(m.ints[S::kLastPurchaseDay], d->mutable_last_purchase_date());
      break;
    }
    case SegmentationModelKind::kValueMatrix: {
      using S = ValueMatrixSlots;
      v1::ValueMatrixMemberDetails* d = out->mutable_value_matrix();
      const auto x = static_cast<ValueAxis>(run.value_matrix().x_axis());
      const auto y = static_cast<ValueAxis>(run.value_matrix().y_axis());
      SetAxisValue(x, m.reals[S::kXValue], currency, d->mutable_x_value());
      SetAxisValue(y, m.reals[S::kYValue], currency, d->mutable_y_value());
      d->set_high_x(m.ints[S::kHighX] != 0);
      d->set_high_y(m.ints[S::kHighY] != 0);
      d->set_composite_score(m.reals[S::kCompositeScore]);
      d->set_tier(static_cast<v1::ValueMatrixTier>(m.ints[S::kTier]));
      break;
    }
    case SegmentationModelKind::kLifecycle: {
      using S = LifecycleSlots;
      v1::LifecycleMemberDetails* d = out->mutable_lifecycle();
      d->set_stage(static_cast<v1::LifecycleStage>(m.segment + 1));
      d->set_rule(static_cast<v1::LifecycleRule>(m.ints[S::kRule]));
      if (context.lifecycle) {
        d->set_explanation(
            ExplainLifecycle(m, context.as_of_day, *context.lifecycle));
      }
      if (m.ints[S::kFirstPurchaseDay] != S::kNoDay) {
        ToDate(m.ints[S::kFirstPurchaseDay], d->mutable_first_purchase_date());
      }
      if (m.ints[S::kLastPurchaseDay] != S::kNoDay) {
        ToDate(m.ints[S::kLastPurchaseDay], d->mutable_last_purchase_date());
      }
      ToMoney(m.ints[S::kLatestSpend], currency,
              d->mutable_latest_period_spend());
      ToMoney(m.ints[S::kPreviousSpend], currency,
              d->mutable_previous_period_spend());
      if (m.has_real(S::kSpendChange)) {
        d->set_spend_change(m.reals[S::kSpendChange]);
      }
      if (m.has_real(S::kTypicalIntervalDays)) {
        d->set_typical_interval_days(m.reals[S::kTypicalIntervalDays]);
      }
      if (m.has_real(S::kPAlive)) d->set_p_alive(m.reals[S::kPAlive]);
      break;
    }
    case SegmentationModelKind::kMan: {
      using S = ManSlots;
      v1::ManMemberDetails* d = out->mutable_man();
      v1::ManAssessment* a = d->mutable_assessment();
      a->set_money(static_cast<v1::ManLevel>(m.ints[S::kMoney]));
      a->set_authority(static_cast<v1::ManLevel>(m.ints[S::kAuthority]));
      a->set_need(static_cast<v1::ManLevel>(m.ints[S::kNeed]));
      d->set_man_class(static_cast<v1::ManClass>(m.segment + 1));
      d->set_approach(static_cast<v1::ManApproach>(m.ints[S::kApproach]));
      break;
    }
  }
}

}  // namespace custra::server
