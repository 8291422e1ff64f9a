#include "server/value_model_runtime.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/clv_models.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace custra::server {
namespace {

bool IsPurchaseModel(int type) {
  return type == v1::VALUE_MODEL_TYPE_BG_NBD ||
         type == v1::VALUE_MODEL_TYPE_MBG_NBD ||
         type == v1::VALUE_MODEL_TYPE_PARETO_NBD;
}

}  // namespace

absl::StatusOr<LoadedModel> ParseModel(StoredItem item) {
  LoadedModel loaded;
  if (!loaded.model.ParseFromString(item.record)) {
    return absl::InternalError(
        absl::StrCat("value model ", item.id, " is unreadable"));
  }
  loaded.model.set_id(item.id);
  loaded.item = std::move(item);
  return loaded;
}

clv::CountModel CountModelOf(const v1::ValueModel& model) {
  switch (model.model_type()) {
    case v1::VALUE_MODEL_TYPE_MBG_NBD:
      return clv::CountModel::kMbgNbd;
    case v1::VALUE_MODEL_TYPE_PARETO_NBD:
      return clv::CountModel::kParetoNbd;
    default:
      return clv::CountModel::kBgNbd;
  }
}

clv::TimeUnit TimeUnitOf(const v1::ValueModel& model) {
  return model.time_unit() == v1::TIME_UNIT_DAY ? clv::TimeUnit::kDay
                                                : clv::TimeUnit::kWeek;
}

std::vector<double> ParamsOf(const v1::ValueModel& model) {
  std::vector<double> params;
  for (const v1::ValueModelParameter& p : model.parameters()) {
    params.push_back(p.value());
  }
  return params;
}

absl::StatusOr<std::optional<LoadedModel>> ChooseModel(
    KeyAccountStore& store, absl::string_view id, bool purchase_family,
    absl::string_view field) {
  if (!id.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(StoredItem item, store.GetValueModel(id));
    if (IsPurchaseModel(item.type) != purchase_family) {
      return InvalidFieldError(
          field, absl::StrCat("model ", id, " is not a ",
                              purchase_family ? "purchase-count (BG/NBD, "
                                                "MBG/NBD or Pareto/NBD)"
                                              : "Gamma-Gamma spend",
                              " model"));
    }
    CUSTRA_ASSIGN_OR_RETURN(LoadedModel loaded, ParseModel(std::move(item)));
    return std::make_optional(std::move(loaded));
  }
  const std::vector<int> types =
      purchase_family ? std::vector<int>{v1::VALUE_MODEL_TYPE_BG_NBD,
                                         v1::VALUE_MODEL_TYPE_MBG_NBD,
                                         v1::VALUE_MODEL_TYPE_PARETO_NBD}
                      : std::vector<int>{v1::VALUE_MODEL_TYPE_GAMMA_GAMMA};
  CUSTRA_ASSIGN_OR_RETURN(std::optional<StoredItem> newest,
                          store.NewestConvergedModel(types));
  if (!newest) return std::optional<LoadedModel>();
  CUSTRA_ASSIGN_OR_RETURN(LoadedModel loaded, ParseModel(*std::move(newest)));
  return std::make_optional(std::move(loaded));
}

absl::StatusOr<CustomerValues> PredictValues(const CustomerHistory& history,
                                             int64_t as_of_day,
                                             const LoadedModel& purchase_model,
                                             const LoadedModel* spend_model,
                                             const ValueOptions& options) {
  const clv::CountModel model = CountModelOf(purchase_model.model);
  const clv::TimeUnit unit = TimeUnitOf(purchase_model.model);
  const std::vector<double> params = ParamsOf(purchase_model.model);
  std::vector<double> spend_params;
  std::optional<double> population_spend;
  if (spend_model != nullptr) {
    spend_params = ParamsOf(spend_model->model);
    auto mean = clv::PopulationMeanSpend(spend_params);
    if (mean.ok()) population_spend = *mean;
  }
  clv::ClvOptions clv_options;
  clv_options.horizon_periods = options.horizon_periods;
  clv_options.annual_discount_rate = options.annual_discount_rate;
  clv_options.margin = options.margin;
  clv_options.unit = unit;

  const size_t n = history.customers.size();
  CustomerValues values;
  values.p_alive.resize(n);
  values.expected_purchases.resize(n);
  values.expected_spend.resize(n);
  values.spend_is_population_mean.resize(n);
  values.clv_micros.resize(n);
  values.frequency.resize(n);
  values.recency.resize(n);
  values.age.resize(n);
  values.monetary.resize(n);
  std::vector<int64_t> days;
  std::vector<double> spend;
  for (size_t i = 0; i < n; ++i) {
    const CustomerHistory::Customer& c = history.customers[i];
    days.clear();
    spend.clear();
    for (size_t d = c.begin; d < c.end; ++d) {
      const CustomerHistory::Day& day = history.days[d];
      if (!day.purchase || day.day > as_of_day) continue;
      days.push_back(day.day);
      spend.push_back(static_cast<double>(day.amount) / 1e6);
    }
    auto summary = clv::SummarizeCustomer(days, spend, as_of_day, unit);
    if (!summary.ok()) continue;  // No purchase yet: nothing to predict.
    values.frequency[i] = summary->x;
    values.recency[i] = summary->t_x;
    values.age[i] = summary->T;
    values.monetary[i] = summary->mean_repeat_spend;
    CUSTRA_ASSIGN_OR_RETURN(values.p_alive[i],
                            clv::ProbabilityAlive(model, params, summary->x,
                                                  summary->t_x, summary->T));
    CUSTRA_ASSIGN_OR_RETURN(values.expected_purchases[i],
                            clv::ConditionalExpectedPurchases(
                                model, params, summary->x, summary->t_x,
                                summary->T, options.horizon_periods));
    if (spend_model == nullptr) continue;
    std::optional<double> expected;
    if (summary->x > 0 && summary->mean_repeat_spend &&
        *summary->mean_repeat_spend > 0) {
      auto conditional = clv::ConditionalExpectedSpend(
          spend_params, summary->x, *summary->mean_repeat_spend);
      if (conditional.ok()) expected = *conditional;
    }
    if (!expected && population_spend) {
      expected = population_spend;
      values.spend_is_population_mean[i] = true;
    }
    if (!expected) continue;
    values.expected_spend[i] = expected;
    CUSTRA_ASSIGN_OR_RETURN(
        double clv,
        clv::CustomerLifetimeValue(model, params, summary->x, summary->t_x,
                                   summary->T, *expected, clv_options));
    values.clv_micros[i] = std::llround(clv * 1e6);
  }
  return values;
}

}  // namespace custra::server
