// KeyAccountService: the customer-value model RPCs (fit, get, list,
// predict, cumulative purchases, holdout evaluation).

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/clv_models.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/key_account_store.h"
#include "common/segmentation_store.h"
#include "common/status_macros.h"
#include "server/key_account_service.h"
#include "server/observability.h"
#include "server/paging.h"
#include "server/proto_convert.h"
#include "server/segmentation_convert.h"
#include "server/value_model_runtime.h"

namespace custra::server {
namespace {

bool IsPurchaseType(v1::ValueModelType type) {
  return type == v1::VALUE_MODEL_TYPE_BG_NBD ||
         type == v1::VALUE_MODEL_TYPE_MBG_NBD ||
         type == v1::VALUE_MODEL_TYPE_PARETO_NBD;
}

void SetParams(
    const std::vector<std::string>& names, std::span<const double> values,
    google::protobuf::RepeatedPtrField<v1::ValueModelParameter>* out) {
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    v1::ValueModelParameter* p = out->Add();
    p->set_name(names[i]);
    p->set_value(values[i]);
  }
}

void ToDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  out->set_seconds(ns / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
}

// The diagnostics of a fit.
void FillDiagnostics(const clv::FitResult& fit, absl::Duration took,
                     v1::ValueModelFitDiagnostics* d) {
  d->set_converged(fit.converged);
  d->set_iterations(fit.iterations);
  d->set_log_likelihood(fit.log_likelihood);
  d->set_gradient_norm(fit.gradient_norm);
  d->set_starts_tried(static_cast<int32_t>(fit.starts.size()));
  for (const clv::FitStart& start : fit.starts) {
    v1::ValueModelFitStart* s = d->add_starts();
    SetParams(fit.names, start.initial, s->mutable_initial_parameters());
    if (start.log_likelihood) s->set_log_likelihood(*start.log_likelihood);
    s->set_converged(start.converged);
    s->set_iterations(start.iterations);
    s->set_termination(start.termination);
  }
  d->set_optimizer(fit.optimizer);
  d->set_customers_used(static_cast<int64_t>(std::llround(fit.customers_used)));
  d->set_repeat_buyers(static_cast<int64_t>(std::llround(fit.repeat_buyers)));
  ToDuration(took, d->mutable_fit_duration());
}

void AddExclusion(v1::ValueModelExclusionReason reason, int64_t count,
                  v1::ValueModelFitDiagnostics* d) {
  if (count <= 0) return;
  v1::ValueModelExclusionCount* e = d->add_exclusions();
  e->set_reason(reason);
  e->set_customer_count(count);
  d->set_customers_excluded(d->customers_excluded() + count);
}

// The purchase days (and their spend) of one customer up to `until_day`.
void PurchaseDays(const CustomerHistory& history,
                  const CustomerHistory::Customer& c, int64_t until_day,
                  std::vector<int64_t>* days, std::vector<double>* spend) {
  days->clear();
  spend->clear();
  for (size_t d = c.begin; d < c.end; ++d) {
    const CustomerHistory::Day& day = history.days[d];
    if (!day.purchase || day.day > until_day) continue;
    days->push_back(day.day);
    spend->push_back(static_cast<double>(day.amount) / 1e6);
  }
}

absl::StatusOr<std::pair<std::optional<std::string>, std::optional<bool>>>
ParseModelFilter(absl::string_view filter) {
  std::optional<std::string> type;
  std::optional<bool> converged;
  filter = absl::StripAsciiWhitespace(filter);
  if (filter.empty()) return std::make_pair(type, converged);
  for (absl::string_view term : absl::StrSplit(filter, " AND ")) {
    term = absl::StripAsciiWhitespace(term);
    std::pair<std::string, std::string> kv =
        absl::StrSplit(term, absl::MaxSplits('=', 1));
    const std::string key(absl::StripAsciiWhitespace(kv.first));
    const std::string value(absl::StripAsciiWhitespace(kv.second));
    if (key == "model_type") {
      v1::ValueModelType parsed;
      if (!v1::ValueModelType_Parse(
              absl::StrCat("VALUE_MODEL_TYPE_", absl::AsciiStrToUpper(value)),
              &parsed) ||
          parsed == v1::VALUE_MODEL_TYPE_UNSPECIFIED) {
        return InvalidFieldError(
            "filter", absl::StrCat("model_type '", value,
                                   "' is not BG_NBD, MBG_NBD, PARETO_NBD or "
                                   "GAMMA_GAMMA"));
      }
      type = absl::StrCat(static_cast<int>(parsed));
    } else if (key == "converged" && (value == "true" || value == "false")) {
      converged = value == "true";
    } else {
      return InvalidFieldError("filter",
                               absl::StrCat("'", term,
                                            "' is not model_type=NAME or "
                                            "converged=true|false"));
    }
  }
  return std::make_pair(type, converged);
}

absl::StatusOr<LoadedModel> RequirePurchaseModel(KeyAccountStore& store,
                                                 absl::string_view id,
                                                 absl::string_view field) {
  CUSTRA_ASSIGN_OR_RETURN(std::optional<LoadedModel> model,
                          ChooseModel(store, id, true, field));
  if (!model) {
    return WithReason(absl::FailedPreconditionError(
                          "the tenant has no converged purchase-count model; "
                          "fit one first (custra clv fit)"),
                      reason::kFailedPrecondition);
  }
  return *std::move(model);
}

}  // namespace

grpc::Status KeyAccountServiceImpl::FitValueModel(
    grpc::ServerContext* context, const v1::FitValueModelRequest* request,
    v1::FitValueModelResponse* response) {
  return gate_->ServeTenantCall(
      *context,
      [&](TenantCall& call) -> absl::Status {
        const absl::Time start = absl::Now();
        const v1::ValueModelType type = request->model_type();
        if (type == v1::VALUE_MODEL_TYPE_UNSPECIFIED ||
            !v1::ValueModelType_IsValid(type)) {
          return InvalidFieldError("model_type",
                                   "is required: BG_NBD, MBG_NBD, PARETO_NBD "
                                   "or GAMMA_GAMMA");
        }
        v1::TimeUnit time_unit = request->time_unit();
        if (time_unit == v1::TIME_UNIT_UNSPECIFIED) {
          time_unit = v1::TIME_UNIT_WEEK;
        }
        if (time_unit != v1::TIME_UNIT_DAY && time_unit != v1::TIME_UNIT_WEEK) {
          return InvalidFieldError("time_unit", "must be DAY or WEEK");
        }
        const clv::TimeUnit unit = time_unit == v1::TIME_UNIT_DAY
                                       ? clv::TimeUnit::kDay
                                       : clv::TimeUnit::kWeek;
        const double l2 = request->has_l2_penalty() ? request->l2_penalty() : 0;
        if (!std::isfinite(l2) || l2 < 0) {
          return InvalidFieldError("l2_penalty", "must be finite and >= 0");
        }
        if (request->starts() < 0 || request->starts() > 50) {
          return InvalidFieldError("starts", "must be 1 to 50 (0: 5)");
        }
        if (request->request_id().size() > 128) {
          return InvalidFieldError("request_id", "must be at most 128 bytes");
        }
        std::optional<int64_t> calibration_end, holdout_end;
        if (request->has_calibration_end_date()) {
          CUSTRA_ASSIGN_OR_RETURN(
              calibration_end,
              DayOf(request->calibration_end_date(), "calibration_end_date"));
        }
        if (request->has_holdout_end_date()) {
          if (!calibration_end) {
            return InvalidFieldError(
                "holdout_end_date",
                "needs calibration_end_date: the holdout follows it");
          }
          CUSTRA_ASSIGN_OR_RETURN(
              holdout_end,
              DayOf(request->holdout_end_date(), "holdout_end_date"));
          if (*holdout_end <= *calibration_end) {
            return InvalidFieldError("holdout_end_date",
                                     "must be after calibration_end_date");
          }
        }
        const std::string fingerprint = Digest({request->SerializeAsString()});

        CustomerHistory history;
        std::optional<int64_t> written_us;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          if (!request->request_id().empty()) {
            CUSTRA_ASSIGN_OR_RETURN(
                std::optional<std::string> existing,
                store.FindRequest("value_model", request->request_id(),
                                  fingerprint));
            if (existing) {
              CUSTRA_ASSIGN_OR_RETURN(StoredItem item,
                                      store.GetValueModel(*existing));
              CUSTRA_ASSIGN_OR_RETURN(LoadedModel loaded,
                                      ParseModel(std::move(item)));
              *response->mutable_value_model() = std::move(loaded.model);
              return absl::OkStatus();
            }
          }
          if (!calibration_end) {
            CUSTRA_ASSIGN_OR_RETURN(
                auto data_days, SegmentationStore(&session.db()).DataDays());
            if (!data_days) {
              return WithReason(absl::FailedPreconditionError(
                                    "the tenant has no transactions to fit"),
                                reason::kModelFailed);
            }
            calibration_end = data_days->second;
          }
          CUSTRA_ASSIGN_OR_RETURN(
              history, store.LoadHistory(*calibration_end,
                                         /*all_customers=*/true, {}));
          CUSTRA_ASSIGN_OR_RETURN(written_us,
                                  store.TransactionsWrittenMicros());
        }

        clv::FitOptions options;
        options.starts = request->starts() == 0 ? 5 : request->starts();
        options.l2_penalty = l2;
        options.cancelled = [context] { return context->IsCancelled(); };
        v1::ValueModel& model = *response->mutable_value_model();
        v1::ValueModelFitDiagnostics* d = model.mutable_diagnostics();
        std::vector<int64_t> days;
        std::vector<double> spend;
        int64_t no_purchase = 0;
        clv::SummaryData summaries;
        std::vector<double> mean_spend;
        for (const CustomerHistory::Customer& c : history.customers) {
          PurchaseDays(history, c, *calibration_end, &days, &spend);
          auto summary =
              clv::SummarizeCustomer(days, spend, *calibration_end, unit);
          if (!summary.ok()) {
            ++no_purchase;
            continue;
          }
          summaries.Add(summary->x, summary->t_x, summary->T);
          mean_spend.push_back(summary->mean_repeat_spend.value_or(0));
        }
        AddExclusion(
            v1::VALUE_MODEL_EXCLUSION_REASON_NO_PURCHASE_IN_CALIBRATION,
            no_purchase, d);
        absl::StatusOr<clv::FitResult> fit;
        if (IsPurchaseType(type)) {
          const clv::CountModel count_model =
              type == v1::VALUE_MODEL_TYPE_MBG_NBD ? clv::CountModel::kMbgNbd
              : type == v1::VALUE_MODEL_TYPE_PARETO_NBD
                  ? clv::CountModel::kParetoNbd
                  : clv::CountModel::kBgNbd;
          fit = clv::FitCountModel(count_model, summaries, options);
        } else {
          CUSTRA_ASSIGN_OR_RETURN(
              clv::SpendSelection selection,
              clv::SelectRepeatSpenders(summaries.x, mean_spend));
          AddExclusion(v1::VALUE_MODEL_EXCLUSION_REASON_ONE_TIME_BUYER,
                       selection.one_time_buyers, d);
          AddExclusion(v1::VALUE_MODEL_EXCLUSION_REASON_NON_POSITIVE_SPEND,
                       selection.non_positive_spend, d);
          fit = clv::FitGammaGamma(selection.data, options);
          if (fit.ok()) {
            if (auto r = clv::PearsonCorrelation(selection.data.x,
                                                 selection.data.spend)) {
              d->set_frequency_spend_correlation(*r);
            }
          }
        }
        if (!fit.ok()) return fit.status();
        const absl::Time now = absl::Now();
        model.set_model_type(type);
        ToDate(*calibration_end, model.mutable_calibration_end_date());
        if (holdout_end) ToDate(*holdout_end, model.mutable_holdout_end_date());
        model.set_time_unit(time_unit);
        model.set_l2_penalty(l2);
        SetParams(fit->names, fit->params, model.mutable_parameters());
        FillDiagnostics(*fit, now - start, d);
        ToTimestamp(now, model.mutable_fit_time());
        if (written_us) {
          ToTimestamp(absl::FromUnixMicros(*written_us),
                      model.mutable_data_as_of());
        }
        StoredItem item;
        item.type = type;
        item.converged = fit->converged;
        item.time_us = absl::ToUnixMicros(now);
        item.record = model.SerializeAsString();
        TenantDatabase::Session session(call.database.get());
        CUSTRA_RETURN_IF_ERROR(
            KeyAccountStore(&session.db())
                .SaveValueModel(item, request->request_id(), fingerprint, now));
        model.set_id(item.id);
        if (gate_->observability() != nullptr) {
          gate_->observability()->ObserveFit(
              absl::AsciiStrToLower(absl::StripPrefix(
                  v1::ValueModelType_Name(type), "VALUE_MODEL_TYPE_")),
              absl::ToDoubleSeconds(absl::Now() - start));
        }
        return absl::OkStatus();
      },
      CallGate::Weight::kHeavy);
}

grpc::Status KeyAccountServiceImpl::GetValueModel(
    grpc::ServerContext* context, const v1::GetValueModelRequest* request,
    v1::GetValueModelResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->id().empty()) {
          return InvalidFieldError("id", "is required");
        }
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            StoredItem item,
            KeyAccountStore(&session.db()).GetValueModel(request->id()));
        CUSTRA_ASSIGN_OR_RETURN(LoadedModel loaded,
                                ParseModel(std::move(item)));
        *response->mutable_value_model() = std::move(loaded.model);
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::ListValueModels(
    grpc::ServerContext* context, const v1::ListValueModelsRequest* request,
    v1::ListValueModelsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 50, 1000, true));
        CUSTRA_ASSIGN_OR_RETURN(auto filter,
                                ParseModelFilter(request->filter()));
        std::optional<int> type;
        if (filter.first) type = std::stoi(*filter.first);
        const std::string digest = Digest({request->filter()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t before,
            DecodePageNumber("models", digest, request->page_token()));
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<StoredItem> items,
            KeyAccountStore(&session.db())
                .ListValueModels(type, filter.second, before, page_size + 1));
        const bool more = static_cast<int>(items.size()) > page_size;
        if (more) items.pop_back();
        for (StoredItem& item : items) {
          CUSTRA_ASSIGN_OR_RETURN(LoadedModel loaded, ParseModel(item));
          *response->add_value_models() = std::move(loaded.model);
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "models", digest, absl::StrCat(items.back().seq)));
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::PredictCustomerValue(
    grpc::ServerContext* context,
    const v1::PredictCustomerValueRequest* request,
    v1::PredictCustomerValueResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->customer_ids_size() > 1000) {
          return InvalidFieldError("customer_ids", "must hold at most 1,000");
        }
        if (!(request->annual_discount_rate() >= 0 &&
              request->annual_discount_rate() < 1)) {
          return InvalidFieldError("annual_discount_rate", "must be in [0, 1)");
        }
        const double margin = request->has_margin() ? request->margin() : 1.0;
        if (!(margin > 0 && margin <= 1)) {
          return InvalidFieldError("margin", "must be in (0, 1]");
        }
        static const std::set<std::string> kOrders = {"",
                                                      "customer_id",
                                                      "clv desc",
                                                      "expected_purchases desc",
                                                      "p_alive asc",
                                                      "p_alive desc"};
        if (!kOrders.count(request->order_by())) {
          return InvalidFieldError(
              "order_by",
              "must be customer_id, clv desc, expected_purchases desc, "
              "p_alive asc or p_alive desc");
        }
        CUSTRA_ASSIGN_OR_RETURN(
            int page_size, PageSize(request->page_size(), 100, 1000, true));
        const std::string digest =
            Digest({request->purchase_model_id(), request->spend_model_id(),
                    request->as_of_date().SerializeAsString(),
                    absl::StrCat(request->horizon_periods()),
                    absl::StrCat(request->annual_discount_rate()),
                    absl::StrCat(margin), request->order_by()});
        CUSTRA_ASSIGN_OR_RETURN(
            int64_t offset,
            DecodePageNumber("predictions", digest, request->page_token()));
        LoadedModel purchase;
        std::optional<LoadedModel> spend;
        CustomerHistory history;
        int64_t as_of_day = 0;
        std::string currency;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          CUSTRA_ASSIGN_OR_RETURN(
              purchase,
              RequirePurchaseModel(store, request->purchase_model_id(),
                                   "purchase_model_id"));
          CUSTRA_ASSIGN_OR_RETURN(
              spend, ChooseModel(store, request->spend_model_id(), false,
                                 "spend_model_id"));
          if (request->has_as_of_date()) {
            CUSTRA_ASSIGN_OR_RETURN(as_of_day,
                                    DayOf(request->as_of_date(), "as_of_date"));
          } else {
            CUSTRA_ASSIGN_OR_RETURN(
                as_of_day,
                DayOf(purchase.model.calibration_end_date(), "as_of_date"));
          }
          for (int i = 0; i < request->customer_ids_size(); ++i) {
            CUSTRA_RETURN_IF_ERROR(IngestionStore(&session.db())
                                       .GetCustomer(request->customer_ids(i))
                                       .status());
          }
          CUSTRA_ASSIGN_OR_RETURN(
              history,
              store.LoadHistory(as_of_day, /*all_customers=*/false, {}));
          CUSTRA_ASSIGN_OR_RETURN(
              currency, IngestionStore(&session.db()).TenantCurrency());
        }
        const bool weeks = purchase.model.time_unit() != v1::TIME_UNIT_DAY;
        const int max_horizon = weeks ? 520 : 3650;
        int horizon = request->horizon_periods();
        if (horizon == 0) horizon = weeks ? 52 : 365;
        if (horizon < 1 || horizon > max_horizon) {
          return InvalidFieldError(
              "horizon_periods", absl::StrCat("must be 1 to ", max_horizon, " ",
                                              weeks ? "weeks" : "days"));
        }
        // Restrict the history to the named customers (in request order).
        std::vector<size_t> rows;
        if (request->customer_ids_size() > 0) {
          for (const std::string& id : request->customer_ids()) {
            auto it = std::lower_bound(
                history.customers.begin(), history.customers.end(), id,
                [](const CustomerHistory::Customer& c, const std::string& v) {
                  return c.id < v;
                });
            if (it == history.customers.end() || it->id != id) {
              response->add_skipped_customer_ids(id);
              continue;
            }
            rows.push_back(static_cast<size_t>(it - history.customers.begin()));
          }
        }
        ValueOptions options;
        options.horizon_periods = horizon;
        options.annual_discount_rate = request->annual_discount_rate();
        options.margin = margin;
        CUSTRA_ASSIGN_OR_RETURN(
            CustomerValues values,
            PredictValues(history, as_of_day, purchase,
                          spend ? &*spend : nullptr, options));
        const bool named = request->customer_ids_size() > 0;
        if (!named) {
          for (size_t i = 0; i < history.customers.size(); ++i) {
            if (values.p_alive[i]) rows.push_back(i);
          }
          const std::string& order = request->order_by();
          auto key = [&](size_t i) -> double {
            if (order == "clv desc") {
              return -static_cast<double>(values.clv_micros[i].value_or(0));
            }
            if (order == "expected_purchases desc") {
              return -values.expected_purchases[i].value_or(0);
            }
            if (order == "p_alive asc") return values.p_alive[i].value_or(0);
            if (order == "p_alive desc") return -values.p_alive[i].value_or(0);
            return 0;
          };
          std::stable_sort(rows.begin(), rows.end(),
                           [&](size_t a, size_t b) { return key(a) < key(b); });
        }
        const size_t begin = named ? 0 : static_cast<size_t>(offset);
        const size_t end =
            named
                ? rows.size()
                : std::min(rows.size(), begin + static_cast<size_t>(page_size));
        for (size_t k = begin; k < end; ++k) {
          const size_t i = rows[k];
          v1::CustomerValuePrediction* p = response->add_predictions();
          p->set_customer_id(history.customers[i].id);
          p->set_frequency(static_cast<int32_t>(values.frequency[i]));
          p->set_recency(values.recency[i]);
          p->set_t(values.age[i]);
          if (values.monetary[i] && values.frequency[i] > 0) {
            ToMoney(std::llround(*values.monetary[i] * 1e6), currency,
                    p->mutable_monetary_value());
          }
          p->set_expected_purchases(values.expected_purchases[i].value_or(0));
          p->set_p_alive(values.p_alive[i].value_or(0));
          if (values.expected_spend[i]) {
            ToMoney(std::llround(*values.expected_spend[i] * 1e6), currency,
                    p->mutable_expected_average_spend());
            p->set_spend_is_population_mean(values.spend_is_population_mean[i]);
          }
          if (values.clv_micros[i]) {
            ToMoney(*values.clv_micros[i], currency, p->mutable_clv());
          }
        }
        if (!named && end < rows.size()) {
          response->set_next_page_token(
              EncodePageToken("predictions", digest, absl::StrCat(end)));
        }
        response->set_purchase_model_id(purchase.item.id);
        if (spend) response->set_spend_model_id(spend->item.id);
        ToDate(as_of_day, response->mutable_as_of_date());
        response->set_time_unit(purchase.model.time_unit());
        response->set_horizon_periods(horizon);
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::PredictCumulativePurchases(
    grpc::ServerContext* context,
    const v1::PredictCumulativePurchasesRequest* request,
    v1::PredictCumulativePurchasesResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        LoadedModel purchase;
        CustomerHistory history;
        std::optional<std::pair<int64_t, int64_t>> data_days;
        int64_t calibration_end = 0, end_day = 0;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          CUSTRA_ASSIGN_OR_RETURN(
              purchase,
              RequirePurchaseModel(store, request->purchase_model_id(),
                                   "purchase_model_id"));
          CUSTRA_ASSIGN_OR_RETURN(
              calibration_end,
              DayOf(purchase.model.calibration_end_date(), "model"));
          if (request->has_end_date()) {
            CUSTRA_ASSIGN_OR_RETURN(end_day,
                                    DayOf(request->end_date(), "end_date"));
          } else if (purchase.model.has_holdout_end_date()) {
            CUSTRA_ASSIGN_OR_RETURN(
                end_day, DayOf(purchase.model.holdout_end_date(), "model"));
          } else {
            end_day = calibration_end + 52 * 7;
          }
          CUSTRA_ASSIGN_OR_RETURN(data_days,
                                  SegmentationStore(&session.db()).DataDays());
          CUSTRA_ASSIGN_OR_RETURN(
              history, store.LoadHistory(end_day, /*all_customers=*/false, {}));
        }
        const clv::CountModel model = CountModelOf(purchase.model);
        const clv::TimeUnit unit = TimeUnitOf(purchase.model);
        const int dpp = clv::DaysPerPeriod(unit);
        const std::vector<double> params = ParamsOf(purchase.model);
        // The cohort: first purchase on or before the calibration end.
        std::vector<int64_t> first_days;
        std::vector<std::vector<int64_t>> repeat_days;
        for (const CustomerHistory::Customer& c : history.customers) {
          std::vector<int64_t> days;
          for (size_t d = c.begin; d < c.end; ++d) {
            if (history.days[d].purchase) days.push_back(history.days[d].day);
          }
          if (days.empty() || days.front() > calibration_end) continue;
          first_days.push_back(days.front());
          repeat_days.emplace_back(days.begin() + 1, days.end());
        }
        response->set_purchase_model_id(purchase.item.id);
        response->set_time_unit(purchase.model.time_unit());
        response->set_cohort_size(static_cast<int64_t>(first_days.size()));
        if (first_days.empty()) return absl::OkStatus();
        const int64_t origin =
            *std::min_element(first_days.begin(), first_days.end());
        if (end_day < origin) {
          return InvalidFieldError("end_date",
                                   "is before the cohort's first purchase");
        }
        const int64_t points = (end_day - origin) / dpp + 1;
        if (points > 10000) {
          return InvalidFieldError("end_date", "gives more than 10,000 points");
        }
        // Actual repeat purchases per day, cumulated per period.
        std::vector<int64_t> all_repeats;
        for (const auto& days : repeat_days) {
          all_repeats.insert(all_repeats.end(), days.begin(), days.end());
        }
        std::sort(all_repeats.begin(), all_repeats.end());
        std::vector<double> ages(first_days.size());
        size_t counted = 0;
        for (int64_t k = 1; k <= points; ++k) {
          const int64_t period_end = origin + k * dpp - 1;
          for (size_t i = 0; i < first_days.size(); ++i) {
            ages[i] = clv::DaysToPeriods(period_end + 1 - first_days[i], unit);
          }
          CUSTRA_ASSIGN_OR_RETURN(double expected, clv::CohortExpectedPurchases(
                                                       model, params, ages));
          v1::CumulativePurchasesPoint* p = response->add_points();
          p->set_period(static_cast<int32_t>(k));
          ToDate(std::min(period_end, end_day), p->mutable_period_end_date());
          p->set_expected_cumulative(expected);
          while (counted < all_repeats.size() &&
                 all_repeats[counted] <= period_end) {
            ++counted;
          }
          if (data_days && period_end <= data_days->second) {
            p->set_actual_cumulative(static_cast<double>(counted));
          }
          p->set_in_calibration(period_end <= calibration_end);
        }
        return absl::OkStatus();
      });
}

grpc::Status KeyAccountServiceImpl::EvaluateValueModel(
    grpc::ServerContext* context, const v1::EvaluateValueModelRequest* request,
    v1::EvaluateValueModelResponse* response) {
  return gate_->ServeTenantCall(
      *context,
      [&](TenantCall& call) -> absl::Status {
        if (request->value_model_id().empty()) {
          return InvalidFieldError("value_model_id", "is required");
        }
        if (request->max_frequency_bucket() < 0 ||
            request->max_frequency_bucket() > 100) {
          return InvalidFieldError("max_frequency_bucket",
                                   "must be 1 to 100 (0: 7)");
        }
        const int buckets = request->max_frequency_bucket() == 0
                                ? 7
                                : request->max_frequency_bucket();
        LoadedModel purchase;
        CustomerHistory history;
        int64_t calibration_end = 0, holdout_end = 0;
        {
          TenantDatabase::Session session(call.database.get());
          KeyAccountStore store(&session.db());
          CUSTRA_ASSIGN_OR_RETURN(std::optional<LoadedModel> model,
                                  ChooseModel(store, request->value_model_id(),
                                              true, "value_model_id"));
          purchase = *std::move(model);
          if (!purchase.model.has_holdout_end_date()) {
            return WithReason(
                absl::FailedPreconditionError(absl::StrCat(
                    "model ", purchase.item.id,
                    " was fitted without a holdout end date; refit it with "
                    "one to evaluate")),
                reason::kFailedPrecondition);
          }
          CUSTRA_ASSIGN_OR_RETURN(
              calibration_end,
              DayOf(purchase.model.calibration_end_date(), "model"));
          CUSTRA_ASSIGN_OR_RETURN(
              holdout_end, DayOf(purchase.model.holdout_end_date(), "model"));
          CUSTRA_ASSIGN_OR_RETURN(
              history,
              store.LoadHistory(holdout_end, /*all_customers=*/false, {}));
        }
        const clv::CountModel model = CountModelOf(purchase.model);
        const clv::TimeUnit unit = TimeUnitOf(purchase.model);
        const std::vector<double> params = ParamsOf(purchase.model);
        const double holdout_periods =
            clv::DaysToPeriods(holdout_end - calibration_end, unit);
        struct Bucket {
          int64_t count = 0;
          double predicted = 0, actual = 0;
        };
        std::vector<Bucket> by_frequency(buckets);
        double total_predicted = 0, total_actual = 0, abs_error = 0,
               sq_error = 0;
        int64_t customers = 0;
        std::vector<int64_t> days;
        std::vector<double> spend;
        for (const CustomerHistory::Customer& c : history.customers) {
          PurchaseDays(history, c, holdout_end, &days, &spend);
          auto summary =
              clv::SummarizeCustomer(days, {}, calibration_end, unit);
          if (!summary.ok()) continue;
          const double actual = static_cast<double>(
              std::count_if(days.begin(), days.end(),
                            [&](int64_t d) { return d > calibration_end; }));
          CUSTRA_ASSIGN_OR_RETURN(double predicted,
                                  clv::ConditionalExpectedPurchases(
                                      model, params, summary->x, summary->t_x,
                                      summary->T, holdout_periods));
          Bucket& b = by_frequency[std::min<int64_t>(
              static_cast<int64_t>(summary->x), buckets - 1)];
          ++b.count;
          b.predicted += predicted;
          b.actual += actual;
          ++customers;
          total_predicted += predicted;
          total_actual += actual;
          abs_error += std::abs(predicted - actual);
          sq_error += (predicted - actual) * (predicted - actual);
        }
        response->set_value_model_id(purchase.item.id);
        ToDate(calibration_end + 1, response->mutable_holdout_start_date());
        ToDate(holdout_end, response->mutable_holdout_end_date());
        response->set_holdout_periods(holdout_periods);
        response->set_customer_count(customers);
        for (int k = 0; k < buckets; ++k) {
          v1::ValueModelEvaluationBucket* b = response->add_buckets();
          b->set_calibration_frequency(k);
          b->set_open_ended(k == buckets - 1);
          b->set_customer_count(by_frequency[k].count);
          if (by_frequency[k].count > 0) {
            const double n = static_cast<double>(by_frequency[k].count);
            b->set_mean_predicted_purchases(by_frequency[k].predicted / n);
            b->set_mean_actual_purchases(by_frequency[k].actual / n);
          }
        }
        response->set_total_predicted_purchases(total_predicted);
        response->set_total_actual_purchases(total_actual);
        if (total_actual > 0) {
          response->set_total_relative_error((total_predicted - total_actual) /
                                             total_actual);
        }
        if (customers > 0) {
          response->set_mean_absolute_error(abs_error / customers);
          response->set_root_mean_squared_error(
              std::sqrt(sq_error / customers));
        }
        return absl::OkStatus();
      },
      CallGate::Weight::kHeavy);
}

}  // namespace custra::server
