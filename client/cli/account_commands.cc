#include "client/cli/account_commands.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli/format.h"
#include "common/status_macros.h"

namespace custra::cli {
namespace {

// Flags of the clv and accounts commands. One instance is shared by the
// callbacks that read it, so the references CLI11 binds stay valid as long
// as the commands. Only one subcommand runs, so fields may be shared by
// several of them.
struct AccountFlags {
  // Positional ids: a model, profile, customer or run id.
  std::string id;
  std::string base_run_id;
  std::string target_run_id;
  // Common.
  std::optional<int64_t> limit;
  std::string request_id;
  std::string as_of;
  std::string filter;
  // clv fit.
  std::string fit_model = "bgnbd";
  std::string unit;
  std::string calibration_end;
  std::string holdout_end;
  std::optional<double> l2;
  int32_t starts = 0;
  // clv list.
  std::string model_filter;
  // clv predict, curve; accounts score.
  std::string purchase_model;
  std::string spend_model;
  int32_t horizon = 0;
  double discount = 0;
  std::optional<double> margin;
  std::vector<std::string> customers;
  std::string order_by;
  // clv evaluate, curve.
  int32_t buckets = 0;
  std::string end;
  // accounts profile set. String flags are "given" when their option was
  // seen (an empty value clears the field), hence the option pointers.
  std::vector<std::string> weights;
  std::optional<double> tier_a;
  std::optional<double> tier_b;
  std::string normalization;
  std::optional<int32_t> window_months;
  std::vector<std::string> kinds;
  std::optional<int32_t> clv_horizon_days;
  std::optional<double> clv_discount;
  std::optional<double> clv_margin;
  std::string name;
  std::string description;
  CLI::Option* name_option = nullptr;
  CLI::Option* description_option = nullptr;
  // accounts set.
  std::optional<int32_t> strategic;
  std::optional<int32_t> cooperation;
  std::string wallet;
  std::string note;
  std::string assessed_by;
  CLI::Option* wallet_option = nullptr;
  CLI::Option* note_option = nullptr;
  CLI::Option* by_option = nullptr;
  // accounts score, runs, history.
  std::string profile;
  // accounts top, explain.
  int32_t top_n = 20;
  std::vector<std::string> tiers;
  std::string run;
  bool explain = false;
};

// --- Parsing ---------------------------------------------------------------

// Parses an optional date flag into `date` (left alone when `text` is
// empty).
absl::Status ParseOptionalDate(absl::string_view flag, const std::string& text,
                               v1::Date* date) {
  if (text.empty()) return absl::OkStatus();
  return ParseDate(flag, text, date);
}

// The model types by their CLI name.
struct ModelName {
  const char* flag;
  v1::ValueModelType type;
  const char* filter;  // The ListValueModels filter value.
  const char* title;   // As the papers write it.
};
constexpr ModelName kModelNames[] = {
    {"bgnbd", v1::VALUE_MODEL_TYPE_BG_NBD, "BG_NBD", "BG/NBD"},
    {"mbgnbd", v1::VALUE_MODEL_TYPE_MBG_NBD, "MBG_NBD", "MBG/NBD"},
    {"pnbd", v1::VALUE_MODEL_TYPE_PARETO_NBD, "PARETO_NBD", "Pareto/NBD"},
    {"gamma-gamma", v1::VALUE_MODEL_TYPE_GAMMA_GAMMA, "GAMMA_GAMMA",
     "Gamma-Gamma"},
};

const ModelName* FindModel(const std::string& flag) {
  const std::string lower = absl::AsciiStrToLower(flag);
  for (const ModelName& m : kModelNames) {
    if (lower == m.flag) return &m;
  }
  return nullptr;
}

std::string ModelTitle(v1::ValueModelType type) {
  for (const ModelName& m : kModelNames) {
    if (m.type == type) return m.title;
  }
  return "unknown model";
}

// The criteria by their CLI name (also how they are shown).
struct CriterionName {
  const char* flag;
  v1::AccountScoringCriterion criterion;
};
constexpr CriterionName kCriterionNames[] = {
    {"revenue", v1::ACCOUNT_SCORING_CRITERION_REVENUE_CONTRIBUTION},
    {"profit", v1::ACCOUNT_SCORING_CRITERION_PROFIT_CONTRIBUTION},
    {"growth", v1::ACCOUNT_SCORING_CRITERION_GROWTH},
    {"potential", v1::ACCOUNT_SCORING_CRITERION_POTENTIAL},
    {"tenure", v1::ACCOUNT_SCORING_CRITERION_LOYALTY_TENURE},
    {"regularity", v1::ACCOUNT_SCORING_CRITERION_LOYALTY_REGULARITY},
    {"p-alive", v1::ACCOUNT_SCORING_CRITERION_LOYALTY_P_ALIVE},
    {"strategic", v1::ACCOUNT_SCORING_CRITERION_STRATEGIC_VALUE},
    {"cooperation", v1::ACCOUNT_SCORING_CRITERION_COOPERATION},
    {"referrals", v1::ACCOUNT_SCORING_CRITERION_REFERRALS},
    {"wallet", v1::ACCOUNT_SCORING_CRITERION_SHARE_OF_WALLET},
};

std::string CriterionText(v1::AccountScoringCriterion criterion) {
  for (const CriterionName& c : kCriterionNames) {
    if (c.criterion == criterion) return c.flag;
  }
  return absl::StrCat("criterion ", static_cast<int>(criterion));
}

std::string CriterionList() {
  std::vector<std::string> names;
  for (const CriterionName& c : kCriterionNames) names.push_back(c.flag);
  return absl::StrJoin(names, ", ");
}

// Parses --weight values "criterion=W" (each may hold several, comma
// separated, which CLI11 has already split).
absl::Status ParseWeights(const std::vector<std::string>& items,
                          v1::ScoringProfile* profile) {
  std::map<v1::AccountScoringCriterion, double> seen;
  for (const std::string& item : items) {
    const std::vector<std::string> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("--weight: expected criterion=W, got '", item, "'"));
    }
    const std::string name =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv[0]));
    const CriterionName* found = nullptr;
    for (const CriterionName& c : kCriterionNames) {
      if (name == c.flag) found = &c;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--weight: unknown criterion '", kv[0],
                       "'; expected one of ", CriterionList()));
    }
    CUSTRA_ASSIGN_OR_RETURN(
        const double weight,
        ParseNumber("--weight", absl::StripAsciiWhitespace(kv[1])));
    if (weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--weight: ", name, " must be >= 0, got ", kv[1]));
    }
    if (!seen.emplace(found->criterion, weight).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--weight: ", name, " is given twice"));
    }
    v1::AccountCriterionWeight* w = profile->add_weights();
    w->set_criterion(found->criterion);
    w->set_weight(weight);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CustomerKind> ParseKind(const std::string& text) {
  const std::string k = absl::AsciiStrToLower(text);
  if (k == "enterprise") return v1::CUSTOMER_KIND_ENTERPRISE;
  if (k == "government") return v1::CUSTOMER_KIND_GOVERNMENT;
  if (k == "individual") return v1::CUSTOMER_KIND_INDIVIDUAL;
  return absl::InvalidArgumentError(absl::StrCat(
      "--kinds: expected enterprise, government, individual or all, got '",
      text, "'"));
}

absl::StatusOr<v1::AccountTier> ParseTier(const std::string& text) {
  const std::string t = absl::AsciiStrToUpper(text);
  if (t == "A") return v1::ACCOUNT_TIER_A;
  if (t == "B") return v1::ACCOUNT_TIER_B;
  if (t == "C") return v1::ACCOUNT_TIER_C;
  return absl::InvalidArgumentError(
      absl::StrCat("--tier: expected A, B or C, got '", text, "'"));
}

// --- Formatting ------------------------------------------------------------

std::string KindText(v1::CustomerKind kind) {
  if (kind == v1::CUSTOMER_KIND_UNSPECIFIED) return "";
  return EnumWords(v1::CustomerKind_Name(kind), "CUSTOMER_KIND_");
}

std::string TierText(v1::AccountTier tier) {
  switch (tier) {
    case v1::ACCOUNT_TIER_A:
      return "A";
    case v1::ACCOUNT_TIER_B:
      return "B";
    case v1::ACCOUNT_TIER_C:
      return "C";
    case v1::ACCOUNT_TIER_NOT_SCORED:
      return "not scored";
    default:
      return "?";
  }
}

std::string UnitWord(v1::TimeUnit unit) {
  switch (unit) {
    case v1::TIME_UNIT_DAY:
      return "day";
    case v1::TIME_UNIT_WEEK:
      return "week";
    case v1::TIME_UNIT_MONTH:
      return "month";
    default:
      return "period";
  }
}

double Seconds(const google::protobuf::Duration& duration) {
  return static_cast<double>(duration.seconds()) +
         static_cast<double>(duration.nanos()) / 1e9;
}

// A number with up to 4 significant digits: "0.2429", "4.414", "1.2e-05".
std::string Number(double value) { return absl::StrFormat("%.4g", value); }

// --- Value models ----------------------------------------------------------

std::optional<double> Parameter(const v1::ValueModel& model,
                                absl::string_view name) {
  for (const v1::ValueModelParameter& p : model.parameters()) {
    if (p.name() == name) return p.value();
  }
  return std::nullopt;
}

std::string ParametersText(const v1::ValueModel& model) {
  std::vector<std::string> parts;
  for (const v1::ValueModelParameter& p : model.parameters()) {
    parts.push_back(absl::StrCat(p.name(), "=", Number(p.value())));
  }
  return absl::StrJoin(parts, " ");
}

std::string ExclusionText(v1::ValueModelExclusionReason reason) {
  switch (reason) {
    case v1::VALUE_MODEL_EXCLUSION_REASON_NO_PURCHASE_IN_CALIBRATION:
      return "no purchase in calibration";
    case v1::VALUE_MODEL_EXCLUSION_REASON_ONE_TIME_BUYER:
      return "one-time buyer";
    case v1::VALUE_MODEL_EXCLUSION_REASON_NON_POSITIVE_SPEND:
      return "non-positive spend";
    default:
      return "other";
  }
}

// One sentence on what the fitted parameters mean.
std::string ModelInterpretation(const v1::ValueModel& model) {
  const std::string unit =
      UnitWord(model.time_unit() == v1::TIME_UNIT_DAY ? v1::TIME_UNIT_DAY
                                                      : v1::TIME_UNIT_WEEK);
  const auto r = Parameter(model, "r");
  const auto alpha = Parameter(model, "alpha");
  std::string rate;
  if (r && alpha && *alpha > 0) {
    rate = absl::StrFormat(
        "A typical customer buys r/alpha = %s times per %s while active",
        Number(*r / *alpha), unit);
  }
  switch (model.model_type()) {
    case v1::VALUE_MODEL_TYPE_BG_NBD:
    case v1::VALUE_MODEL_TYPE_MBG_NBD: {
      const auto a = Parameter(model, "a");
      const auto b = Parameter(model, "b");
      if (rate.empty() || !a || !b) return "";
      return absl::StrFormat(
          "%s; the chance of dropping out after a purchase%s averages "
          "a/(a+b) = %.3f.",
          rate,
          model.model_type() == v1::VALUE_MODEL_TYPE_MBG_NBD
              ? " (the first included)"
              : "",
          *a / (*a + *b));
    }
    case v1::VALUE_MODEL_TYPE_PARETO_NBD: {
      const auto s = Parameter(model, "s");
      const auto beta = Parameter(model, "beta");
      if (rate.empty() || !s || !beta || *beta <= 0) return "";
      std::string line = absl::StrFormat(
          "%s and drops out at an average rate of s/beta = %s per %s", rate,
          Number(*s / *beta), unit);
      if (*s > 1) {
        absl::StrAppendFormat(&line, " (mean lifetime beta/(s-1) = %s %ss)",
                              Number(*beta / (*s - 1)), unit);
      }
      return line + ".";
    }
    case v1::VALUE_MODEL_TYPE_GAMMA_GAMMA: {
      const auto p = Parameter(model, "p");
      const auto q = Parameter(model, "q");
      const auto gamma = Parameter(model, "gamma");
      if (!p || !q || !gamma) return "";
      std::string line =
          *q > 1 ? absl::StrFormat(
                       "The mean spend per purchase is p*gamma/(q-1) = %.2f "
                       "(tenant currency).",
                       *p * *gamma / (*q - 1))
                 : "q <= 1: the mean spend per purchase is not finite under "
                   "this fit, so its CLV figures cannot be trusted.";
      const v1::ValueModelFitDiagnostics& d = model.diagnostics();
      if (d.has_frequency_spend_correlation() &&
          std::fabs(d.frequency_spend_correlation()) > 0.3) {
        absl::StrAppendFormat(
            &line,
            " Frequency and spend are correlated (%.2f), but the model "
            "assumes they are independent: treat its spend predictions "
            "with care.",
            d.frequency_spend_correlation());
      }
      return line;
    }
    default:
      return "";
  }
}

void PrintValueModel(const v1::ValueModel& model, std::ostream& out) {
  const v1::ValueModelFitDiagnostics& d = model.diagnostics();
  out << "Value model " << model.id() << ": " << ModelTitle(model.model_type())
      << ", time unit " << UnitWord(model.time_unit()) << ", calibration to "
      << DateText(model.calibration_end_date());
  if (model.has_holdout_end_date()) {
    out << ", holdout to " << DateText(model.holdout_end_date());
  }
  out << "\n\nParameters:\n";
  size_t width = 0;
  for (const auto& p : model.parameters()) {
    width = std::max(width, p.name().size());
  }
  for (const auto& p : model.parameters()) {
    out << "  " << p.name() << std::string(width - p.name().size(), ' ')
        << " = " << absl::StrFormat("%.6g", p.value()) << "\n";
  }
  out << "\n";
  Pairs pairs;
  pairs.emplace_back("Converged", d.converged() ? "yes" : "NO");
  pairs.emplace_back(
      "Iterations",
      absl::StrCat(d.iterations(), " (the best of ", d.starts_tried(),
                   " starts", d.optimizer().empty() ? "" : "; ", d.optimizer(),
                   ")"));
  pairs.emplace_back("Log-likelihood",
                     absl::StrFormat("%.3f", d.log_likelihood()));
  pairs.emplace_back("Gradient norm",
                     absl::StrFormat("%.3g", d.gradient_norm()));
  pairs.emplace_back("Customers used", absl::StrCat(d.customers_used()));
  std::vector<std::string> reasons;
  for (const v1::ValueModelExclusionCount& e : d.exclusions()) {
    reasons.push_back(
        absl::StrCat(ExclusionText(e.reason()), ": ", e.customer_count()));
  }
  pairs.emplace_back(
      "Customers excluded",
      absl::StrCat(
          d.customers_excluded(),
          reasons.empty()
              ? ""
              : absl::StrCat(" (", absl::StrJoin(reasons, "; "), ")")));
  pairs.emplace_back("Repeat buyers", absl::StrCat(d.repeat_buyers()));
  if (d.has_frequency_spend_correlation()) {
    pairs.emplace_back(
        "Frequency-spend correlation",
        absl::StrFormat("%.3f", d.frequency_spend_correlation()));
  }
  if (model.l2_penalty() > 0) {
    pairs.emplace_back("L2 penalty", Number(model.l2_penalty()));
  }
  pairs.emplace_back("Fit duration",
                     absl::StrFormat("%.2f s", Seconds(d.fit_duration())));
  const std::string data_as_of = TimeText(model.data_as_of());
  pairs.emplace_back(
      "Fitted",
      absl::StrCat(TimeText(model.fit_time()),
                   data_as_of.empty()
                       ? ""
                       : absl::StrCat(" on data written up to ", data_as_of)));
  PrintPairs(pairs, out);
  if (!d.converged()) {
    out << "\nwarning: the fit did not converge, so this model is never "
           "chosen by default; try more --starts or an --l2 penalty.\n";
  }
  const std::string interpretation = ModelInterpretation(model);
  if (!interpretation.empty()) out << "\n" << interpretation << "\n";
}

absl::Status FitCommand(Client& client, const AccountFlags& f,
                        OutputFormat format) {
  std::vector<const ModelName*> models;
  if (absl::AsciiStrToLower(f.fit_model) == "all") {
    models = {FindModel("bgnbd"), FindModel("gamma-gamma")};
  } else if (const ModelName* m = FindModel(f.fit_model)) {
    models = {m};
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--model: expected bgnbd, mbgnbd, pnbd, gamma-gamma or all, got '",
        f.fit_model, "'"));
  }
  v1::FitValueModelRequest request;
  CUSTRA_RETURN_IF_ERROR(
      ParseOptionalDate("--calibration-end", f.calibration_end,
                        request.mutable_calibration_end_date()));
  CUSTRA_RETURN_IF_ERROR(ParseOptionalDate("--holdout-end", f.holdout_end,
                                           request.mutable_holdout_end_date()));
  if (f.calibration_end.empty()) request.clear_calibration_end_date();
  if (f.holdout_end.empty()) request.clear_holdout_end_date();
  if (f.unit == "day") request.set_time_unit(v1::TIME_UNIT_DAY);
  if (f.unit == "week") request.set_time_unit(v1::TIME_UNIT_WEEK);
  if (f.l2) request.set_l2_penalty(*f.l2);
  request.set_starts(f.starts);
  std::vector<v1::ValueModel> fitted;
  absl::Status status;
  for (const ModelName* m : models) {
    request.set_model_type(m->type);
    // Each fit of `--model all` needs its own idempotency key.
    request.set_request_id(f.request_id.empty() || models.size() == 1
                               ? f.request_id
                               : absl::StrCat(f.request_id, "-", m->flag));
    auto model = client.FitValueModel(request);
    if (!model.ok()) {
      status = model.status();
      break;
    }
    if (format == OutputFormat::kTable) {
      if (!fitted.empty()) std::cout << "\n";
      PrintValueModel(*model, std::cout);
    }
    fitted.push_back(*std::move(model));
  }
  if (format != OutputFormat::kTable) {
    if (models.size() == 1 && fitted.size() == 1) {
      PrintOne(fitted[0], format, std::cout);
    } else if (!fitted.empty()) {
      PrintRows(RowsOf(fitted), v1::ValueModel::descriptor(), format,
                std::cout);
    }
  }
  return status;
}

absl::Status ListModelsCommand(Client& client, const AccountFlags& f,
                               OutputFormat format) {
  v1::ListValueModelsRequest request;
  if (!f.model_filter.empty()) {
    const ModelName* m = FindModel(f.model_filter);
    if (m == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--model: expected bgnbd, mbgnbd, pnbd or gamma-gamma, got '",
          f.model_filter, "'"));
    }
    request.set_filter(absl::StrCat("model_type=", m->filter));
  }
  std::vector<v1::ValueModel> models;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListValueModels(r); },
          [](auto& page) { return page.mutable_value_models(); }, &models));
  if (PrintRowsUnlessTable(models, format, std::cout)) return absl::OkStatus();
  Table table = {{"ID", "TYPE", "UNIT", "CALIBRATION END", "HOLDOUT END",
                  "CONVERGED", "LOG-LIKELIHOOD", "CUSTOMERS", "FITTED",
                  "PARAMETERS"}};
  for (const v1::ValueModel& m : models) {
    table.push_back(
        {m.id(), ModelTitle(m.model_type()), UnitWord(m.time_unit()),
         DateText(m.calibration_end_date()), DateText(m.holdout_end_date()),
         m.diagnostics().converged() ? "yes" : "no",
         absl::StrFormat("%.2f", m.diagnostics().log_likelihood()),
         absl::StrCat(m.diagnostics().customers_used()), TimeText(m.fit_time()),
         ParametersText(m)});
  }
  PrintTable(table, std::cout);
  NoteMore(more, models.size(), "models");
  return absl::OkStatus();
}

// One model with its diagnostics, or without an id the list of models.
absl::Status ShowModelCommand(Client& client, const AccountFlags& f,
                              OutputFormat format) {
  if (f.id.empty()) return ListModelsCommand(client, f, format);
  CUSTRA_ASSIGN_OR_RETURN(auto model, client.GetValueModel(f.id));
  PrintMessage(model, format, PrintValueModel, std::cout);
  return absl::OkStatus();
}

absl::Status PredictCommand(Client& client, const AccountFlags& f,
                            OutputFormat format) {
  v1::PredictCustomerValueRequest request;
  request.set_purchase_model_id(f.purchase_model);
  request.set_spend_model_id(f.spend_model);
  CUSTRA_RETURN_IF_ERROR(
      ParseOptionalDate("--as-of", f.as_of, request.mutable_as_of_date()));
  if (f.as_of.empty()) request.clear_as_of_date();
  request.set_horizon_periods(f.horizon);
  request.set_annual_discount_rate(f.discount);
  if (f.margin) request.set_margin(*f.margin);

  // Everything but the predictions comes from the first response; the
  // skipped ids come from all.
  v1::PredictCustomerValueResponse merged;
  bool have_first = false;
  auto predict = [&](const v1::PredictCustomerValueRequest& r)
      -> absl::StatusOr<v1::PredictCustomerValueResponse> {
    CUSTRA_ASSIGN_OR_RETURN(auto page, client.PredictCustomerValue(r));
    if (!have_first) {
      merged = page;
      merged.clear_predictions();
      merged.clear_skipped_customer_ids();
      merged.clear_next_page_token();
      have_first = true;
    }
    for (const std::string& id : page.skipped_customer_ids()) {
      merged.add_skipped_customer_ids(id);
    }
    return page;
  };
  auto items = [](auto& page) { return page.mutable_predictions(); };
  std::vector<v1::CustomerValuePrediction> predictions;
  bool more = false;
  if (!f.customers.empty()) {
    if (f.limit || !f.order_by.empty()) {
      return absl::InvalidArgumentError(
          "--limit and --order-by page over all customers; they do not "
          "apply with --customer");
    }
    // Named customers: in batches of the server's maximum, all of them.
    constexpr size_t kBatch = 1000;
    for (size_t i = 0; i < f.customers.size(); i += kBatch) {
      request.clear_customer_ids();
      for (size_t j = i; j < std::min(f.customers.size(), i + kBatch); ++j) {
        request.add_customer_ids(f.customers[j]);
      }
      CUSTRA_ASSIGN_OR_RETURN(auto page, predict(request));
      for (auto& p : *items(page)) predictions.push_back(std::move(p));
    }
  } else {
    request.set_order_by(f.order_by);
    const int64_t limit =
        f.limit.value_or(format == OutputFormat::kTable ? 20 : 0);
    CUSTRA_ASSIGN_OR_RETURN(
        more, FetchAll(limit, request, predict, items, &predictions));
  }
  if (!merged.skipped_customer_ids().empty()) {
    std::cerr << "skipped (no purchase on or before the prediction date): "
              << absl::StrJoin(merged.skipped_customer_ids(), ", ") << "\n";
  }
  for (auto& p : predictions) *merged.add_predictions() = std::move(p);
  if (PrintReportUnlessTable(merged, merged.predictions(), format, std::cout)) {
    return absl::OkStatus();
  }
  const std::string unit = UnitWord(merged.time_unit());
  std::cout << "Predictions as of " << DateText(merged.as_of_date()) << " over "
            << merged.horizon_periods() << " " << unit
            << "s with purchase model " << merged.purchase_model_id();
  if (merged.spend_model_id().empty()) {
    std::cout << " (no spend model: fit one with `custra clv fit --model "
                 "gamma-gamma` for spend and CLV)";
  } else {
    std::cout << " and spend model " << merged.spend_model_id()
              << absl::StrFormat("; CLV discounted at %s%% a year, margin %s",
                                 Percent(f.discount),
                                 f.margin ? Number(*f.margin) : "1");
  }
  std::cout << "\n(frequency = repeat purchase " << unit
            << "s; recency and T in " << unit << "s)\n\n";
  v1::Money sample;
  for (const auto& p : merged.predictions()) {
    if (p.has_clv()) sample = p.clv();
  }
  Table table = {{"CUSTOMER", "FREQUENCY", "RECENCY", "T", "P(ALIVE)",
                  "EXPECTED PURCHASES", MoneyHeader("EXPECTED SPEND", sample),
                  MoneyHeader("CLV", sample)}};
  bool population_mean = false;
  for (const v1::CustomerValuePrediction& p : merged.predictions()) {
    std::string spend;
    if (p.has_expected_average_spend()) {
      spend = Units(p.expected_average_spend());
      if (p.spend_is_population_mean()) {
        spend += "*";
        population_mean = true;
      }
    }
    table.push_back({p.customer_id(), absl::StrCat(p.frequency()),
                     absl::StrFormat("%.1f", p.recency()),
                     absl::StrFormat("%.1f", p.t()),
                     absl::StrFormat("%.3f", p.p_alive()),
                     absl::StrFormat("%.2f", p.expected_purchases()), spend,
                     p.has_clv() ? Units(p.clv()) : ""});
  }
  PrintTable(table, std::cout);
  if (population_mean) {
    std::cout << "* the population mean spend (the customer is not in the "
                 "spend fit: one-time buyer or non-positive spend)\n";
  }
  NoteMore(more, static_cast<size_t>(merged.predictions_size()), "customers");
  return absl::OkStatus();
}

absl::Status EvaluateCommand(Client& client, const AccountFlags& f,
                             OutputFormat format) {
  v1::EvaluateValueModelRequest request;
  request.set_value_model_id(f.id);
  request.set_max_frequency_bucket(f.buckets);
  CUSTRA_ASSIGN_OR_RETURN(auto evaluation, client.EvaluateValueModel(request));
  if (PrintReportUnlessTable(evaluation, evaluation.buckets(), format,
                             std::cout)) {
    return absl::OkStatus();
  }
  std::cout << "Model " << evaluation.value_model_id() << ": holdout "
            << DateText(evaluation.holdout_start_date()) << " to "
            << DateText(evaluation.holdout_end_date())
            << absl::StrFormat(" (%.1f periods), ",
                               evaluation.holdout_periods())
            << evaluation.customer_count() << " customers\n\n";
  std::cout << "Mean holdout purchases per customer by calibration "
               "frequency:\n";
  Table table = {{"CALIBRATION FREQUENCY", "CUSTOMERS", "PREDICTED", "ACTUAL",
                  "DIFFERENCE"}};
  for (const v1::ValueModelEvaluationBucket& b : evaluation.buckets()) {
    table.push_back(
        {absl::StrCat(b.calibration_frequency(), b.open_ended() ? "+" : ""),
         absl::StrCat(b.customer_count()),
         absl::StrFormat("%.3f", b.mean_predicted_purchases()),
         absl::StrFormat("%.3f", b.mean_actual_purchases()),
         absl::StrFormat("%+.3f", b.mean_predicted_purchases() -
                                      b.mean_actual_purchases())});
  }
  PrintTable(table, std::cout);
  std::cout << "\n"
            << absl::StrFormat("Total: predicted %.1f, actual %.1f purchases",
                               evaluation.total_predicted_purchases(),
                               evaluation.total_actual_purchases());
  if (evaluation.has_total_relative_error()) {
    std::cout << absl::StrFormat(" (relative error %+.1f%%)",
                                 evaluation.total_relative_error() * 100);
  }
  std::cout << absl::StrFormat(
      ".\nPer customer: mean absolute error %.3f, root mean squared error "
      "%.3f purchases.\n",
      evaluation.mean_absolute_error(), evaluation.root_mean_squared_error());
  if (evaluation.has_total_relative_error()) {
    const double e = evaluation.total_relative_error();
    std::cout << "\n"
              << (std::fabs(e) <= 0.05
                      ? absl::StrFormat(
                            "The model's total holdout purchases are within "
                            "%.1f%% of the actual ones.",
                            std::fabs(e) * 100)
                      : absl::StrFormat(
                            "The model %s holdout purchases by %.1f%% in "
                            "total.",
                            e > 0 ? "over-predicts" : "under-predicts",
                            std::fabs(e) * 100))
              << "\n";
  } else {
    std::cout << "\nThere were no purchases in the holdout period.\n";
  }
  return absl::OkStatus();
}

absl::Status CurveCommand(Client& client, const AccountFlags& f,
                          OutputFormat format) {
  v1::PredictCumulativePurchasesRequest request;
  request.set_purchase_model_id(f.purchase_model);
  CUSTRA_RETURN_IF_ERROR(
      ParseOptionalDate("--end", f.end, request.mutable_end_date()));
  if (f.end.empty()) request.clear_end_date();
  CUSTRA_ASSIGN_OR_RETURN(auto curve,
                          client.PredictCumulativePurchases(request));
  if (PrintReportUnlessTable(curve, curve.points(), format, std::cout)) {
    return absl::OkStatus();
  }
  const std::string unit = UnitWord(curve.time_unit());
  std::cout << "Cumulative repeat purchases of the " << curve.cohort_size()
            << " customers of model " << curve.purchase_model_id() << ", by "
            << unit << "\n";
  int32_t last_calibration = 0;
  for (const auto& p : curve.points()) {
    if (p.in_calibration()) last_calibration = p.period();
  }
  if (last_calibration > 0) {
    std::cout << "(calibration: " << unit << "s 1 to " << last_calibration
              << "; later " << unit << "s are predictions)\n";
  }
  std::cout << "\n";
  Table table = {{"PERIOD", "DATE", "EXPECTED", "ACTUAL"}};
  for (const v1::CumulativePurchasesPoint& p : curve.points()) {
    table.push_back({absl::StrCat(p.period()), DateText(p.period_end_date()),
                     absl::StrFormat("%.1f", p.expected_cumulative()),
                     p.has_actual_cumulative()
                         ? absl::StrFormat("%.0f", p.actual_cumulative())
                         : ""});
  }
  PrintTable(table, std::cout);
  return absl::OkStatus();
}

// --- Scoring profiles ------------------------------------------------------

std::string NormalizationText(v1::AccountScoreNormalization n) {
  return n == v1::ACCOUNT_SCORE_NORMALIZATION_MIN_MAX ? "min-max"
                                                      : "percentile rank";
}

std::string KindsText(const v1::ScoringProfile& profile) {
  if (profile.customer_kinds().empty()) return "all";
  std::vector<std::string> kinds;
  for (int kind : profile.customer_kinds()) {
    kinds.push_back(KindText(static_cast<v1::CustomerKind>(kind)));
  }
  return absl::StrJoin(kinds, ", ");
}

std::string WeightsText(const v1::ScoringProfile& profile) {
  std::vector<std::string> parts;
  for (const v1::AccountCriterionWeight& w : profile.weights()) {
    parts.push_back(
        absl::StrCat(CriterionText(w.criterion()), "=", Number(w.weight())));
  }
  return absl::StrJoin(parts, ",");
}

void PrintProfile(const v1::ScoringProfile& profile, std::ostream& out) {
  out << "Scoring profile " << profile.id();
  if (!profile.display_name().empty()) {
    out << " \"" << profile.display_name() << "\"";
  }
  out << "\n";
  if (!profile.description().empty()) out << profile.description() << "\n";
  out << "\n";
  const Pairs pairs = {
      {"Tiers", absl::StrFormat("A: score >= %s, B: score >= %s, C: below",
                                Number(profile.tier_a_min_score()),
                                Number(profile.tier_b_min_score()))},
      {"Normalisation", NormalizationText(profile.normalization())},
      {"Window", absl::StrCat(profile.window_months(), " months")},
      {"Customer kinds", KindsText(profile)},
      {"Potential (CLV)",
       absl::StrFormat("over %d days, discount %s%% a year, margin %s",
                       profile.clv_horizon_days(),
                       Percent(profile.clv_annual_discount_rate()),
                       Number(profile.clv_margin()))},
      {"Created", TimeText(profile.create_time())},
      {"Updated", TimeText(profile.update_time())},
  };
  PrintPairs(pairs, out);
  out << "\n";
  double total = 0;
  for (const auto& w : profile.weights()) total += w.weight();
  Table table = {{"CRITERION", "WEIGHT", "SHARE %"}};
  for (const v1::AccountCriterionWeight& w : profile.weights()) {
    table.push_back({CriterionText(w.criterion()), Number(w.weight()),
                     total > 0 ? Percent(w.weight() / total) : ""});
  }
  PrintTable(table, out);
}

absl::Status ShowProfileCommand(Client& client, const AccountFlags& f,
                                OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(
      auto profile, client.GetScoringProfile(f.id.empty() ? "default" : f.id));
  PrintMessage(profile, format, PrintProfile, std::cout);
  return absl::OkStatus();
}

absl::Status ListProfilesCommand(Client& client, const AccountFlags& f,
                                 OutputFormat format) {
  v1::ListScoringProfilesRequest request;
  std::vector<v1::ScoringProfile> profiles;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListScoringProfiles(r); },
          [](auto& page) { return page.mutable_scoring_profiles(); },
          &profiles));
  if (PrintRowsUnlessTable(profiles, format, std::cout)) {
    return absl::OkStatus();
  }
  Table table = {{"ID", "NAME", "TIER A", "TIER B", "NORMALISATION",
                  "WINDOW MONTHS", "KINDS", "UPDATED", "WEIGHTS"}};
  for (const v1::ScoringProfile& p : profiles) {
    table.push_back({p.id(), p.display_name(), Number(p.tier_a_min_score()),
                     Number(p.tier_b_min_score()),
                     NormalizationText(p.normalization()),
                     absl::StrCat(p.window_months()), KindsText(p),
                     TimeText(p.update_time()), WeightsText(p)});
  }
  PrintTable(table, std::cout);
  NoteMore(more, profiles.size(), "profiles");
  return absl::OkStatus();
}

// The profile fields `profile set` was given, and their update mask.
absl::StatusOr<v1::UpdateScoringProfileRequest> BuildProfileUpdate(
    const AccountFlags& f) {
  v1::UpdateScoringProfileRequest request;
  v1::ScoringProfile& p = *request.mutable_scoring_profile();
  p.set_id(f.id.empty() ? "default" : f.id);
  auto mask = [&](const char* path) {
    request.mutable_update_mask()->add_paths(path);
  };
  if (f.name_option != nullptr && f.name_option->count() > 0) {
    p.set_display_name(f.name);
    mask("display_name");
  }
  if (f.description_option != nullptr && f.description_option->count() > 0) {
    p.set_description(f.description);
    mask("description");
  }
  if (!f.weights.empty()) {
    CUSTRA_RETURN_IF_ERROR(ParseWeights(f.weights, &p));
    mask("weights");
  }
  if (f.tier_a) {
    p.set_tier_a_min_score(*f.tier_a);
    mask("tier_a_min_score");
  }
  if (f.tier_b) {
    p.set_tier_b_min_score(*f.tier_b);
    mask("tier_b_min_score");
  }
  if (!f.normalization.empty()) {
    p.set_normalization(f.normalization == "minmax"
                            ? v1::ACCOUNT_SCORE_NORMALIZATION_MIN_MAX
                            : v1::ACCOUNT_SCORE_NORMALIZATION_PERCENTILE_RANK);
    mask("normalization");
  }
  if (f.window_months) {
    p.set_window_months(*f.window_months);
    mask("window_months");
  }
  if (!f.kinds.empty()) {
    // "all" is the empty list.
    for (const std::string& kind : f.kinds) {
      if (absl::AsciiStrToLower(kind) == "all") {
        if (f.kinds.size() > 1) {
          return absl::InvalidArgumentError(
              "--kinds: all cannot be combined with other kinds");
        }
        continue;
      }
      CUSTRA_ASSIGN_OR_RETURN(const v1::CustomerKind k, ParseKind(kind));
      p.add_customer_kinds(k);
    }
    mask("customer_kinds");
  }
  if (f.clv_horizon_days) {
    p.set_clv_horizon_days(*f.clv_horizon_days);
    mask("clv_horizon_days");
  }
  if (f.clv_discount) {
    p.set_clv_annual_discount_rate(*f.clv_discount);
    mask("clv_annual_discount_rate");
  }
  if (f.clv_margin) {
    p.set_clv_margin(*f.clv_margin);
    mask("clv_margin");
  }
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to set: give at least one of --weight, --tier-a, --tier-b, "
        "--normalization, --window-months, --kinds, --clv-horizon-days, "
        "--clv-discount, --clv-margin, --name, --description");
  }
  return request;
}

absl::Status SetProfileCommand(Client& client, const AccountFlags& f,
                               OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(v1::UpdateScoringProfileRequest update,
                          BuildProfileUpdate(f));
  const std::string& id = update.scoring_profile().id();
  auto profile = client.UpdateScoringProfile(update);
  if (profile.ok()) {
    std::cerr << "updated profile " << id << "\n";
  } else if (profile.status().code() == absl::StatusCode::kNotFound) {
    // A new profile: create it from the flags given.
    if (update.scoring_profile().weights().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "profile ", id,
          " does not exist; to create it, give its weights with --weight "
          "criterion=W (criteria: ",
          CriterionList(), ")"));
    }
    v1::CreateScoringProfileRequest create;
    *create.mutable_scoring_profile() = update.scoring_profile();
    profile = client.CreateScoringProfile(create);
    if (profile.ok()) std::cerr << "created profile " << id << "\n";
  }
  if (!profile.ok()) return profile.status();
  PrintMessage(*profile, format, PrintProfile, std::cout);
  return absl::OkStatus();
}

absl::Status DeleteProfileCommand(Client& client, const AccountFlags& f,
                                  OutputFormat) {
  return NoteDeleted(client.DeleteScoringProfile(f.id), "profile", f.id);
}

// --- Assessments -----------------------------------------------------------

std::string RatingText(int32_t rating) {
  return rating == 0 ? "" : absl::StrCat(rating, "/5");
}

void PrintAssessments(const std::vector<v1::KeyAccountAssessment>& assessments,
                      OutputFormat format, std::ostream& out) {
  if (PrintRowsUnlessTable(assessments, format, out)) return;
  v1::Money sample;
  for (const auto& a : assessments) {
    if (a.has_estimated_total_wallet()) sample = a.estimated_total_wallet();
  }
  Table table = {{"CUSTOMER", "STRATEGIC", "COOPERATION",
                  MoneyHeader("WALLET", sample), "ASSESSED BY", "UPDATED",
                  "NOTE"}};
  for (const v1::KeyAccountAssessment& a : assessments) {
    table.push_back({a.customer_id(), RatingText(a.strategic_value()),
                     RatingText(a.cooperation()),
                     a.has_estimated_total_wallet()
                         ? Units(a.estimated_total_wallet())
                         : "",
                     a.assessed_by(), TimeText(a.update_time()),
                     absl::StrReplaceAll(a.note(), {{"\n", " "}})});
  }
  PrintTable(table, out);
}

absl::Status SetAssessmentCommand(Client& client, const AccountFlags& f,
                                  OutputFormat format) {
  v1::SetAccountAssessmentsRequest request;
  request.set_request_id(f.request_id);
  v1::KeyAccountAssessment& a = *request.add_assessments();
  a.set_customer_id(f.id);
  auto mask = [&](const char* path) {
    request.mutable_update_mask()->add_paths(path);
  };
  if (f.strategic) {
    a.set_strategic_value(*f.strategic);
    mask("strategic_value");
  }
  if (f.cooperation) {
    a.set_cooperation(*f.cooperation);
    mask("cooperation");
  }
  if (f.wallet_option != nullptr && f.wallet_option->count() > 0) {
    const std::string wallet = absl::AsciiStrToLower(f.wallet);
    if (wallet != "none" && !wallet.empty()) {
      CUSTRA_ASSIGN_OR_RETURN(*a.mutable_estimated_total_wallet(),
                              ParseMoney("--wallet", f.wallet));
    }
    mask("estimated_total_wallet");
  }
  if (f.note_option != nullptr && f.note_option->count() > 0) {
    a.set_note(f.note);
    mask("note");
  }
  if (f.by_option != nullptr && f.by_option->count() > 0) {
    a.set_assessed_by(f.assessed_by);
    mask("assessed_by");
  }
  if (request.update_mask().paths().empty()) {
    return absl::InvalidArgumentError(
        "nothing to set: give at least one of --strategic, --cooperation, "
        "--wallet, --note, --by");
  }
  CUSTRA_ASSIGN_OR_RETURN(auto response, client.SetAccountAssessments(request));
  std::vector<v1::KeyAccountAssessment> stored(response.assessments().begin(),
                                               response.assessments().end());
  PrintAssessments(stored, format, std::cout);
  return absl::OkStatus();
}

absl::Status ListAssessmentsCommand(Client& client, const AccountFlags& f,
                                    OutputFormat format) {
  v1::ListAccountAssessmentsRequest request;
  request.set_filter(f.filter);
  std::vector<v1::KeyAccountAssessment> assessments;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListAccountAssessments(r); },
          [](auto& page) { return page.mutable_assessments(); }, &assessments));
  PrintAssessments(assessments, format, std::cout);
  NoteMore(more, assessments.size(), "assessments");
  return absl::OkStatus();
}

// --- Scoring runs ----------------------------------------------------------

std::string CriteriaList(const google::protobuf::RepeatedField<int>& criteria) {
  std::vector<std::string> names;
  for (int c : criteria) {
    names.push_back(CriterionText(static_cast<v1::AccountScoringCriterion>(c)));
  }
  return absl::StrJoin(names, ", ");
}

double ShareOf(int64_t part, int64_t whole) {
  return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole)
                   : 0.0;
}

void PrintScoringRun(const v1::AccountScoringRun& run, std::ostream& out) {
  const v1::ScoringProfile& profile = run.profile();
  out << "Scoring run " << run.id() << ": profile " << profile.id() << " as of "
      << DateText(run.as_of_date()) << ", " << run.account_count()
      << " accounts scored";
  const std::string made = TimeText(run.create_time());
  if (!made.empty()) out << " (made " << made << ")";
  out << "\n";
  std::vector<std::string> models;
  if (!run.purchase_model_id().empty()) {
    models.push_back(absl::StrCat("purchase model ", run.purchase_model_id()));
  }
  if (!run.spend_model_id().empty()) {
    models.push_back(absl::StrCat("spend model ", run.spend_model_id()));
  }
  if (!models.empty()) {
    out << "Value models used: " << absl::StrJoin(models, ", ") << "\n";
  }
  out << "\n";
  const int64_t n = run.account_count();
  Table table = {{"TIER", "MIN SCORE", "ACCOUNTS", "SHARE %"},
                 {"A", Number(profile.tier_a_min_score()),
                  absl::StrCat(run.tier_a_count()),
                  Percent(ShareOf(run.tier_a_count(), n))},
                 {"B", Number(profile.tier_b_min_score()),
                  absl::StrCat(run.tier_b_count()),
                  Percent(ShareOf(run.tier_b_count(), n))},
                 {"C", "0", absl::StrCat(run.tier_c_count()),
                  Percent(ShareOf(run.tier_c_count(), n))}};
  PrintTable(table, out);
  out << "\n"
      << absl::StrFormat("Mean score %.1f, median %.1f (0-100).\n",
                         run.mean_score(), run.median_score());
  if (!run.unavailable_criteria().empty()) {
    out << "Unavailable criteria (no account had their data; their weight "
           "went to the others): "
        << CriteriaList(run.unavailable_criteria()) << "\n";
  }
  out << "\n";
  if (n == 0) {
    out << "No account was scored: no customer of the profile's kinds has a "
           "purchase up to the as-of date or an assessment.\n";
    return;
  }
  out << absl::StrFormat(
      "%d key accounts (tier A, score >= %s) make up %s%% of the %d accounts "
      "scored; %d more are important (tier B). List them with `custra "
      "accounts top --run %s --tier A`.\n",
      run.tier_a_count(), Number(profile.tier_a_min_score()),
      Percent(ShareOf(run.tier_a_count(), n)), n, run.tier_b_count(), run.id());
}

absl::Status ScoreCommand(Client& client, const AccountFlags& f,
                          OutputFormat format) {
  v1::ScoreAccountsRequest request;
  request.set_profile_id(f.profile);
  CUSTRA_RETURN_IF_ERROR(
      ParseOptionalDate("--as-of", f.as_of, request.mutable_as_of_date()));
  if (f.as_of.empty()) request.clear_as_of_date();
  request.set_purchase_model_id(f.purchase_model);
  request.set_spend_model_id(f.spend_model);
  request.set_request_id(f.request_id);
  CUSTRA_ASSIGN_OR_RETURN(auto run, client.ScoreAccounts(request));
  PrintMessage(run, format, PrintScoringRun, std::cout);
  return absl::OkStatus();
}

absl::Status RunsCommand(Client& client, const AccountFlags& f,
                         OutputFormat format) {
  if (!f.id.empty()) {
    CUSTRA_ASSIGN_OR_RETURN(auto run, client.GetAccountScoringRun(f.id));
    PrintMessage(run, format, PrintScoringRun, std::cout);
    return absl::OkStatus();
  }
  v1::ListAccountScoringRunsRequest request;
  if (!f.profile.empty()) {
    if (f.profile.find('"') != std::string::npos) {
      return absl::InvalidArgumentError("--profile: not a profile id");
    }
    request.set_filter(absl::StrCat("profile_id=\"", f.profile, "\""));
  }
  std::vector<v1::AccountScoringRun> runs;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListAccountScoringRuns(r); },
          [](auto& page) { return page.mutable_scoring_runs(); }, &runs));
  if (PrintRowsUnlessTable(runs, format, std::cout)) return absl::OkStatus();
  Table table = {{"ID", "PROFILE", "AS OF", "ACCOUNTS", "A", "B", "C", "MEAN",
                  "MEDIAN", "CREATED"}};
  for (const v1::AccountScoringRun& r : runs) {
    table.push_back(
        {r.id(), r.profile().id(), DateText(r.as_of_date()),
         absl::StrCat(r.account_count()), absl::StrCat(r.tier_a_count()),
         absl::StrCat(r.tier_b_count()), absl::StrCat(r.tier_c_count()),
         absl::StrFormat("%.1f", r.mean_score()),
         absl::StrFormat("%.1f", r.median_score()), TimeText(r.create_time())});
  }
  PrintTable(table, std::cout);
  NoteMore(more, runs.size(), "runs");
  return absl::OkStatus();
}

// --- Scores ----------------------------------------------------------------

// The criteria of a score by contribution, largest first.
std::vector<const v1::AccountScoreCriterion*> ByContribution(
    const v1::AccountScore& score) {
  std::vector<const v1::AccountScoreCriterion*> criteria;
  for (const auto& c : score.criteria()) {
    if (c.available()) criteria.push_back(&c);
  }
  std::stable_sort(criteria.begin(), criteria.end(),
                   [](const auto* a, const auto* b) {
                     return a->contribution() > b->contribution();
                   });
  return criteria;
}

std::string TopCriteriaText(const v1::AccountScore& score) {
  std::vector<std::string> parts;
  for (const auto* c : ByContribution(score)) {
    if (parts.size() == 3) break;
    parts.push_back(absl::StrFormat("%s %.1f", CriterionText(c->criterion()),
                                    c->contribution()));
  }
  return absl::StrJoin(parts, ", ");
}

std::string ScoreText(double score) { return absl::StrFormat("%.1f", score); }

absl::Status TopCommand(Client& client, const AccountFlags& f,
                        OutputFormat format) {
  v1::ListTopAccountsRequest request;
  request.set_scoring_run_id(f.run);
  request.set_include_explanation(f.explain);
  for (const std::string& tier : f.tiers) {
    CUSTRA_ASSIGN_OR_RETURN(const v1::AccountTier t, ParseTier(tier));
    request.add_tiers(t);
  }
  std::vector<v1::AccountScore> scores;
  std::string run_id;
  int64_t total = 0;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.top_n, request,
          [&](v1::ListTopAccountsRequest& r)
              -> absl::StatusOr<v1::ListTopAccountsResponse> {
            CUSTRA_ASSIGN_OR_RETURN(auto page, client.ListTopAccounts(r));
            run_id = page.scoring_run_id();
            total = page.total_size();
            // Later pages must come from the same run as the first.
            r.set_scoring_run_id(run_id);
            return page;
          },
          [](auto& page) { return page.mutable_account_scores(); }, &scores));
  if (PrintRowsUnlessTable(scores, format, std::cout)) return absl::OkStatus();
  std::vector<std::string> tiers;
  for (const std::string& t : f.tiers)
    tiers.push_back(absl::AsciiStrToUpper(t));
  std::cout << "Scoring run " << run_id;
  if (!scores.empty()) {
    std::cout << " as of " << DateText(scores.front().as_of_date());
  }
  std::cout << ": top " << scores.size() << " of " << total << " accounts";
  if (!tiers.empty()) std::cout << " in tier " << absl::StrJoin(tiers, ", ");
  std::cout << "\n\n";
  Table table = {{"RANK", "CUSTOMER", "NAME", "KIND", "SCORE", "TIER"}};
  if (f.explain) table[0].push_back("TOP CRITERIA (POINTS)");
  for (const v1::AccountScore& s : scores) {
    table.push_back({absl::StrCat(s.rank()), s.customer_id(),
                     s.customer_display_name(), KindText(s.customer_kind()),
                     ScoreText(s.score()), TierText(s.tier())});
    if (f.explain) table.back().push_back(TopCriteriaText(s));
  }
  PrintTable(table, std::cout);
  NoteMore(more, scores.size(), "accounts", "-n");
  return absl::OkStatus();
}

// A criterion's raw value in its own unit.
std::string RawText(const v1::AccountScoreCriterion& c) {
  if (!c.available()) return "";
  const double v = c.raw_value();
  switch (c.criterion()) {
    case v1::ACCOUNT_SCORING_CRITERION_REVENUE_CONTRIBUTION:
    case v1::ACCOUNT_SCORING_CRITERION_PROFIT_CONTRIBUTION:
      // The amount, then the share of the tenant's total it stands for.
      if (c.has_raw_money()) {
        return absl::StrCat(MoneyText(c.raw_money()), " (", Percent(v),
                            "% of all)");
      }
      return absl::StrCat(Percent(v), "% of all");
    case v1::ACCOUNT_SCORING_CRITERION_POTENTIAL:
      return c.has_raw_money() ? MoneyText(c.raw_money()) : Number(v);
    case v1::ACCOUNT_SCORING_CRITERION_GROWTH:
      return absl::StrFormat("%+.2f", v);
    case v1::ACCOUNT_SCORING_CRITERION_LOYALTY_TENURE:
      return absl::StrFormat("%.0f days", v);
    case v1::ACCOUNT_SCORING_CRITERION_LOYALTY_REGULARITY:
    case v1::ACCOUNT_SCORING_CRITERION_LOYALTY_P_ALIVE:
      return absl::StrFormat("%.3f", v);
    case v1::ACCOUNT_SCORING_CRITERION_STRATEGIC_VALUE:
    case v1::ACCOUNT_SCORING_CRITERION_COOPERATION:
      return absl::StrFormat("%.0f/5", v);
    case v1::ACCOUNT_SCORING_CRITERION_REFERRALS:
      return absl::StrFormat("%.0f", v);
    case v1::ACCOUNT_SCORING_CRITERION_SHARE_OF_WALLET:
      return absl::StrCat(Percent(v), "%");
    default:
      return Number(v);
  }
}

void PrintExplanation(const v1::AccountScore& score, std::ostream& out) {
  out << "Account " << score.customer_id();
  std::vector<std::string> about;
  if (!score.customer_display_name().empty()) {
    about.push_back(score.customer_display_name());
  }
  if (score.customer_kind() != v1::CUSTOMER_KIND_UNSPECIFIED) {
    about.push_back(KindText(score.customer_kind()));
  }
  if (!about.empty()) out << " (" << absl::StrJoin(about, ", ") << ")";
  out << absl::StrFormat(
      ": score %.1f, tier %s, rank %d of %d (run %s as of %s)\n\n",
      score.score(), TierText(score.tier()), score.rank(),
      score.account_count(), score.scoring_run_id(),
      DateText(score.as_of_date()));
  Table table = {{"CRITERION", "AVAILABLE", "RAW VALUE", "NORMALISED",
                  "WEIGHT %", "POINTS"}};
  std::vector<std::string> unavailable;
  for (const v1::AccountScoreCriterion& c : score.criteria()) {
    if (!c.available()) unavailable.push_back(CriterionText(c.criterion()));
    table.push_back(
        {CriterionText(c.criterion()), c.available() ? "yes" : "no", RawText(c),
         c.available() ? absl::StrFormat("%.3f", c.normalized_value()) : "",
         c.available() ? Percent(c.weight()) : "",
         c.available() ? absl::StrFormat("%.1f", c.contribution()) : ""});
  }
  table.push_back({"total", "", "", "", "100.0", ScoreText(score.score())});
  PrintTable(table, out);
  out << "\n";
  const auto ranked = ByContribution(score);
  std::string line;
  if (ranked.empty()) {
    line = "No criterion was available for this account.";
  } else if (ranked.size() == 1 || ranked[1]->contribution() <= 0) {
    line = absl::StrFormat("The score comes from %s (%.1f points).",
                           CriterionText(ranked[0]->criterion()),
                           ranked[0]->contribution());
  } else {
    line = absl::StrFormat(
        "The biggest contributors are %s (%.1f points) and %s (%.1f "
        "points).",
        CriterionText(ranked[0]->criterion()), ranked[0]->contribution(),
        CriterionText(ranked[1]->criterion()), ranked[1]->contribution());
  }
  if (!unavailable.empty()) {
    absl::StrAppend(&line, " Not available for this account: ",
                    absl::StrJoin(unavailable, ", "),
                    " (their weight went to the other criteria).");
  }
  out << line << "\n";
}

absl::Status ExplainCommand(Client& client, const AccountFlags& f,
                            OutputFormat format) {
  CUSTRA_ASSIGN_OR_RETURN(auto score, client.GetAccountScore(f.id, f.run));
  if (!PrintReportUnlessTable(score, score.criteria(), format, std::cout)) {
    PrintExplanation(score, std::cout);
  }
  return absl::OkStatus();
}

absl::Status HistoryCommand(Client& client, const AccountFlags& f,
                            OutputFormat format) {
  v1::ListAccountScoreHistoryRequest request;
  request.set_customer_id(f.id);
  request.set_profile_id(f.profile);
  std::vector<v1::AccountScore> scores;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchAll(
          f.limit.value_or(0), request,
          [&](const auto& r) { return client.ListAccountScoreHistory(r); },
          [](auto& page) { return page.mutable_account_scores(); }, &scores));
  if (PrintRowsUnlessTable(scores, format, std::cout)) return absl::OkStatus();
  std::cout << "Scores of account " << f.id;
  if (!f.profile.empty()) std::cout << " with profile " << f.profile;
  std::cout << ", newest first\n\n";
  Table table = {{"RUN", "AS OF", "SCORE", "CHANGE", "TIER", "RANK"}};
  for (size_t i = 0; i < scores.size(); ++i) {
    const v1::AccountScore& s = scores[i];
    table.push_back(
        {s.scoring_run_id(), DateText(s.as_of_date()), ScoreText(s.score()),
         i + 1 < scores.size()
             ? absl::StrFormat("%+.1f", s.score() - scores[i + 1].score())
             : "",
         TierText(s.tier()),
         absl::StrCat(s.rank(), " of ", s.account_count())});
  }
  PrintTable(table, std::cout);
  NoteMore(more, scores.size(), "scores");
  if (scores.size() >= 2) {
    const v1::AccountScore& newest = scores.front();
    const v1::AccountScore& oldest = scores.back();
    const double change = newest.score() - oldest.score();
    std::cout << "\n"
              << absl::StrFormat(
                     "Since %s the score went %s by %.1f points (%.1f to "
                     "%.1f); tier %s then, %s now.",
                     DateText(oldest.as_of_date()), change >= 0 ? "up" : "down",
                     std::fabs(change), oldest.score(), newest.score(),
                     TierText(oldest.tier()), TierText(newest.tier()))
              << "\n";
  }
  return absl::OkStatus();
}

// --- Comparison ------------------------------------------------------------

// A, B, C better to worse; "not scored" is outside the order.
bool IsScoredTier(v1::AccountTier tier) {
  return tier == v1::ACCOUNT_TIER_A || tier == v1::ACCOUNT_TIER_B ||
         tier == v1::ACCOUNT_TIER_C;
}

void PrintScoringComparison(const v1::CompareScoringsResponse& comparison,
                            const std::string& base, const std::string& target,
                            bool more, std::ostream& out) {
  out << "Accounts by tier in base run " << base << " (rows) and target run "
      << target << " (columns)\n\n";
  const v1::AccountTier tiers[] = {v1::ACCOUNT_TIER_A, v1::ACCOUNT_TIER_B,
                                   v1::ACCOUNT_TIER_C,
                                   v1::ACCOUNT_TIER_NOT_SCORED};
  std::map<std::pair<int, int>, int64_t> counts;
  int64_t stayed = 0;
  int64_t up = 0;
  int64_t down = 0;
  int64_t entered = 0;
  int64_t left = 0;
  for (const v1::AccountTierMigration& m : comparison.migrations()) {
    counts[{m.from_tier(), m.to_tier()}] += m.account_count();
    const bool from = IsScoredTier(m.from_tier());
    const bool to = IsScoredTier(m.to_tier());
    if (from && to) {
      if (m.from_tier() == m.to_tier()) {
        stayed += m.account_count();
      } else if (m.to_tier() < m.from_tier()) {
        up += m.account_count();
      } else {
        down += m.account_count();
      }
    } else if (to) {
      entered += m.account_count();
    } else if (from) {
      left += m.account_count();
    }
  }
  Table table = {{"FROM \\ TO"}};
  for (v1::AccountTier to : tiers) table[0].push_back(TierText(to));
  table[0].push_back("TOTAL");
  for (v1::AccountTier from : tiers) {
    std::vector<std::string> line = {TierText(from)};
    int64_t row_total = 0;
    for (v1::AccountTier to : tiers) {
      if (!IsScoredTier(from) && !IsScoredTier(to)) {
        line.push_back("");
        continue;
      }
      const auto it = counts.find({from, to});
      const int64_t count = it == counts.end() ? 0 : it->second;
      row_total += count;
      line.push_back(absl::StrCat(count));
    }
    line.push_back(absl::StrCat(row_total));
    table.push_back(std::move(line));
  }
  PrintTable(table, out);
  out << "\n"
      << absl::StrFormat(
             "%d accounts kept their tier; %d moved up, %d moved down, %d "
             "entered and %d left (%d changed tier in all).\n",
             stayed, up, down, entered, left, comparison.total_moves());
  if (comparison.moves().empty()) return;
  out << "\nLargest moves:\n";
  Table moves = {
      {"CUSTOMER", "FROM", "TO", "BASE SCORE", "TARGET SCORE", "CHANGE"}};
  for (const v1::AccountTierMove& m : comparison.moves()) {
    moves.push_back(
        {m.customer_id(), TierText(m.from_tier()), TierText(m.to_tier()),
         m.has_from_score() ? ScoreText(m.from_score()) : "",
         m.has_to_score() ? ScoreText(m.to_score()) : "",
         m.has_from_score() && m.has_to_score()
             ? absl::StrFormat("%+.1f", m.to_score() - m.from_score())
             : ""});
  }
  PrintTable(moves, out);
  NoteMore(more, static_cast<size_t>(comparison.moves_size()), "moves");
}

absl::Status CompareCommand(Client& client, const AccountFlags& f,
                            OutputFormat format) {
  v1::CompareScoringsRequest request;
  request.set_base_scoring_run_id(f.base_run_id);
  request.set_target_scoring_run_id(f.target_run_id);
  v1::CompareScoringsResponse merged;
  CUSTRA_ASSIGN_OR_RETURN(
      const bool more,
      FetchMerged(
          f.limit.value_or(format == OutputFormat::kTable ? 20 : 0), request,
          [&](const auto& r) { return client.CompareScorings(r); },
          [](auto& page) { return page.mutable_moves(); }, &merged));
  if (!PrintReportUnlessTable(merged, merged.moves(), format, std::cout)) {
    PrintScoringComparison(merged, f.base_run_id, f.target_run_id, more,
                           std::cout);
  }
  return absl::OkStatus();
}

}  // namespace

void AddAccountCommands(CLI::App& app, Cli& cli, CommandArgs& /*args*/,
                        int& exit_code) {
  // Every flag of these commands lives in AccountFlags, none in CommandArgs.
  const TenantCommands<AccountFlags> commands(cli, exit_code);
  AccountFlags* const flags = commands.flags();
  auto add_model_filter = [flags](CLI::App* cmd, const std::string& help) {
    cmd->add_option("--model", flags->model_filter, help)
        ->check(CLI::IsMember({"bgnbd", "mbgnbd", "pnbd", "gamma-gamma"},
                              CLI::ignore_case));
  };

  // --- custra clv ... ---
  CLI::App* clv = app.add_subcommand(
      "clv",
      "Customer-value models (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma): fit "
      "them, predict P(alive), purchases and CLV per customer, and check "
      "them against a holdout period (tenant API key)");
  clv->require_subcommand(1);

  CLI::App* fit = clv->add_subcommand(
      "fit",
      "Fit a customer-value model to the tenant's transactions by maximum "
      "likelihood, store it and print its parameters, diagnostics and what "
      "they mean");
  fit->add_option("--model", flags->fit_model,
                  "bgnbd (default), mbgnbd, pnbd (Pareto/NBD) or gamma-gamma "
                  "(spend per purchase); all = bgnbd and gamma-gamma")
      ->check(CLI::IsMember({"bgnbd", "mbgnbd", "pnbd", "gamma-gamma", "all"},
                            CLI::ignore_case));
  fit->add_option("--unit", flags->unit,
                  "Time unit of frequency, recency and horizons: day or week "
                  "(default week)")
      ->check(CLI::IsMember({"day", "week"}));
  fit->add_option("--calibration-end", flags->calibration_end,
                  "Last day YYYY-MM-DD of the data fitted (default: the day "
                  "of the latest transaction)");
  fit->add_option("--holdout-end", flags->holdout_end,
                  "Last day YYYY-MM-DD of a holdout period after "
                  "--calibration-end, for `custra clv evaluate`");
  fit->add_option("--l2", flags->l2,
                  "L2 penalty on the parameters, >= 0 (default 0); helps on "
                  "small or awkward data")
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--starts", flags->starts,
                  "Optimiser starting points, 1 to 50 (default 5)")
      ->check(CLI::Range(1, 50));
  AddRequestId(fit, &flags->request_id, "returns the model already stored");
  fit->callback(commands.Run(&FitCommand));

  CLI::App* show = clv->add_subcommand(
      "show",
      "Show one value model with its diagnostics, or without MODEL_ID list "
      "the stored models, newest first");
  show->add_option("model-id", flags->id, "Value model id, e.g. vm-000042");
  add_model_filter(show,
                   "When listing: only bgnbd, mbgnbd, pnbd or gamma-gamma "
                   "models");
  commands.AddLimit(show, "When listing: at most this many (default: all)");
  show->callback(commands.Run(&ShowModelCommand));

  CLI::App* list =
      clv->add_subcommand("list", "List the stored value models, newest first");
  add_model_filter(list, "Only bgnbd, mbgnbd, pnbd or gamma-gamma models");
  commands.AddLimit(list, "At most this many (default: all)");
  list->callback(commands.Run(&ListModelsCommand));

  CLI::App* predict = clv->add_subcommand(
      "predict",
      "Predict per customer P(alive), expected purchases and spend over a "
      "horizon, and the discounted CLV (the newest converged models unless "
      "named)");
  predict
      ->add_option("--horizon", flags->horizon,
                   "Horizon in periods of the model's time unit (default "
                   "one year: 52 weeks or 365 days)")
      ->check(CLI::Range(1, 3650));
  predict
      ->add_option("--discount", flags->discount,
                   "Annual discount rate for CLV in [0, 1), e.g. 0.1 for "
                   "10% (default 0)")
      ->check(CLI::Range(0.0, 1.0));
  predict
      ->add_option("--margin", flags->margin,
                   "Profit margin applied to spend for CLV, in (0, 1] "
                   "(default 1: CLV in revenue)")
      ->check(CLI::Range(0.0, 1.0));
  predict
      ->add_option("--customer", flags->customers,
                   "Predict this customer (repeatable); default: page over "
                   "all customers")
      ->allow_extra_args(false);
  predict->add_option("--as-of", flags->as_of,
                      "Predict from the end of this day YYYY-MM-DD (default: "
                      "the purchase model's calibration end)");
  commands.AddLimit(predict,
                    "Over all customers: at most this many (default 20 for the "
                    "table, all for json/csv; 0: all)");
  predict->add_option("--order-by", flags->order_by,
                      "Over all customers: customer_id (default), \"clv "
                      "desc\", \"expected_purchases desc\", \"p_alive asc\" "
                      "or \"p_alive desc\"");
  predict->add_option("--purchase-model", flags->purchase_model,
                      "Purchase-count model id (default: the newest "
                      "converged one)");
  predict->add_option("--spend-model", flags->spend_model,
                      "Gamma-Gamma model id (default: the newest converged "
                      "one; without one, spend and CLV are left out)");
  predict->callback(commands.Run(&PredictCommand));

  CLI::App* evaluate = clv->add_subcommand(
      "evaluate",
      "Check a purchase-count model fitted with --holdout-end: predicted vs "
      "actual holdout purchases per calibration-frequency bucket, with "
      "error figures");
  evaluate->add_option("model-id", flags->id, "Value model id")->required();
  evaluate
      ->add_option("--buckets", flags->buckets,
                   "Frequencies 0 .. N-1 get a bucket each, higher ones "
                   "share the last (1 to 100, default 7)")
      ->check(CLI::Range(1, 100));
  evaluate->callback(commands.Run(&EvaluateCommand));

  CLI::App* curve = clv->add_subcommand(
      "curve",
      "Expected vs actual cumulative repeat purchases of the model's cohort, "
      "period by period (the tracking plot)");
  curve->add_option("--end", flags->end,
                    "Last day of the curve YYYY-MM-DD (default: the model's "
                    "holdout end, else a year after its calibration end)");
  curve->add_option("--purchase-model", flags->purchase_model,
                    "Purchase-count model id (default: the newest converged "
                    "one)");
  curve->callback(commands.Run(&CurveCommand));

  // --- custra accounts ... ---
  CLI::App* accounts = app.add_subcommand(
      "accounts",
      "Key-account scoring: scoring profiles, manual assessments, scoring "
      "runs, the top accounts and why they score as they do (tenant API "
      "key)");
  accounts->require_subcommand(1);

  CLI::App* profile = accounts->add_subcommand(
      "profile",
      "Show, list, create or change and delete scoring profiles (criteria "
      "weights, tier thresholds, normalisation)");
  profile->require_subcommand(1);

  CLI::App* profile_show = profile->add_subcommand(
      "show", "Show a scoring profile with its weights");
  profile_show->add_option("id", flags->id, "Profile id (default \"default\")");
  profile_show->callback(commands.Run(&ShowProfileCommand));

  CLI::App* profile_list = profile->add_subcommand(
      "list", "List the scoring profiles, \"default\" first");
  commands.AddLimit(profile_list, "At most this many (default: all)");
  profile_list->callback(commands.Run(&ListProfilesCommand));

  CLI::App* profile_set = profile->add_subcommand(
      "set",
      "Change the given fields of a scoring profile (the others keep their "
      "values), or create the profile if it does not exist");
  profile_set->add_option("id", flags->id,
                          "Profile id, ^[a-z][a-z0-9-]{2,62}$ (default "
                          "\"default\")");
  profile_set
      ->add_option("--weight", flags->weights,
                   "criterion=W, repeatable or comma-separated; replaces all "
                   "weights (criteria not given get 0). Criteria: " +
                       CriterionList())
      ->delimiter(',')
      ->allow_extra_args(false);
  profile_set
      ->add_option("--tier-a", flags->tier_a, "Minimum score (0-100) of tier A")
      ->check(CLI::Range(0.0, 100.0));
  profile_set
      ->add_option("--tier-b", flags->tier_b,
                   "Minimum score (0-100) of tier B, below --tier-a")
      ->check(CLI::Range(0.0, 100.0));
  profile_set
      ->add_option("--normalization", flags->normalization,
                   "How data criteria are mapped to 0-1: percentile "
                   "(rank, robust to outliers) or minmax")
      ->check(CLI::IsMember({"percentile", "minmax"}));
  profile_set
      ->add_option("--window-months", flags->window_months,
                   "Scoring window in months, 1 to 60")
      ->check(CLI::Range(1, 60));
  profile_set
      ->add_option("--kinds", flags->kinds,
                   "Customer kinds scored, comma-separated: enterprise, "
                   "government, individual, or all")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"enterprise", "government", "individual", "all"},
                            CLI::ignore_case));
  profile_set
      ->add_option("--clv-horizon-days", flags->clv_horizon_days,
                   "CLV horizon of the potential criterion in days, 1 "
                   "to 3650")
      ->check(CLI::Range(1, 3650));
  profile_set
      ->add_option("--clv-discount", flags->clv_discount,
                   "Annual discount rate of the potential criterion, "
                   "in [0, 1)")
      ->check(CLI::Range(0.0, 1.0));
  profile_set
      ->add_option("--clv-margin", flags->clv_margin,
                   "Margin of the potential criterion, in (0, 1]")
      ->check(CLI::Range(0.0, 1.0));
  flags->name_option =
      profile_set->add_option("--name", flags->name, "Display name");
  flags->description_option = profile_set->add_option(
      "--description", flags->description, "Free-text description");
  profile_set->callback(commands.Run(&SetProfileCommand));

  CLI::App* profile_delete = profile->add_subcommand(
      "delete",
      "Delete a scoring profile (not \"default\"); stored runs keep their "
      "copy of it");
  profile_delete->add_option("id", flags->id, "Profile id")->required();
  profile_delete->callback(commands.Run(&DeleteProfileCommand));

  CLI::App* set = accounts->add_subcommand(
      "set",
      "Record the manual criteria of an account (only the fields given "
      "change): strategic value, cooperation willingness, estimated total "
      "wallet");
  set->add_option("id", flags->id, "Customer (account) id")->required();
  set->add_option("--strategic", flags->strategic,
                  "Strategic value to us, 1 (low) to 5 (high); 0 clears")
      ->check(CLI::Range(0, 5));
  set->add_option("--cooperation", flags->cooperation,
                  "The account's willingness to cooperate, 1 (low) to 5 "
                  "(high); 0 clears")
      ->check(CLI::Range(0, 5));
  flags->wallet_option = set->add_option(
      "--wallet", flags->wallet,
      "The account's estimated total annual spend on what we sell, with "
      "every supplier, in currency units; none clears");
  flags->note_option = set->add_option("--note", flags->note, "Free-text note");
  flags->by_option = set->add_option("--by", flags->assessed_by,
                                     "Who assessed, e.g. a sales rep");
  AddRequestId(set, &flags->request_id, "is not applied twice");
  set->callback(commands.Run(&SetAssessmentCommand));

  CLI::App* assessments = accounts->add_subcommand(
      "assessments", "List the recorded manual assessments, by customer id");
  commands.AddLimit(assessments, "At most this many (default: all)");
  assessments->add_option("--filter", flags->filter,
                          "e.g. 'customer_id=\"C1\"' or 'has_wallet AND "
                          "has_strategic_value'");
  assessments->callback(commands.Run(&ListAssessmentsCommand));

  CLI::App* score = accounts->add_subcommand(
      "score",
      "Score every account 0-100 with a profile, assign tiers A/B/C and "
      "ranks, store the result as a run and print its summary");
  score->add_option("--profile", flags->profile,
                    "Scoring profile id (default \"default\")");
  score->add_option("--as-of", flags->as_of,
                    "Score as of the end of this day YYYY-MM-DD (default: "
                    "today, UTC)");
  score->add_option("--purchase-model", flags->purchase_model,
                    "Purchase-count model for P(alive) and potential "
                    "(default: the newest converged one)");
  score->add_option("--spend-model", flags->spend_model,
                    "Gamma-Gamma model for potential (default: the newest "
                    "converged one)");
  AddRequestId(score, &flags->request_id, "returns the run already stored");
  score->callback(commands.Run(&ScoreCommand));

  CLI::App* runs = accounts->add_subcommand(
      "runs",
      "List the stored scoring runs, newest first, or show one run's "
      "summary");
  runs->add_option("run-id", flags->id, "Show this run");
  runs->add_option("--profile", flags->profile,
                   "Only runs made with this profile");
  commands.AddLimit(runs, "At most this many (default: all)");
  runs->callback(commands.Run(&RunsCommand));

  CLI::App* top = accounts->add_subcommand(
      "top", "The best-scoring accounts of a run, by rank");
  top->add_option("-n,--limit", flags->top_n, "How many accounts (default 20)")
      ->check(CLI::Range(1, 1000000));
  top->add_option("--tier", flags->tiers,
                  "Only this tier: A, B or C (repeatable or comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"A", "B", "C"}, CLI::ignore_case));
  top->add_option("--run", flags->run, "Scoring run id (default: the newest)");
  top->add_flag("--explain", flags->explain,
                "Also show each account's three biggest contributing "
                "criteria");
  top->callback(commands.Run(&TopCommand));

  CLI::App* explain = accounts->add_subcommand(
      "explain",
      "Why an account scores as it does: each criterion's raw value, "
      "normalised value, weight and contribution in points");
  explain->add_option("id", flags->id, "Customer (account) id")->required();
  explain->add_option("--run", flags->run,
                      "Scoring run id (default: the newest)");
  explain->callback(commands.Run(&ExplainCommand));

  CLI::App* history = accounts->add_subcommand(
      "history", "An account's score, tier and rank across scoring runs");
  history->add_option("id", flags->id, "Customer (account) id")->required();
  history->add_option("--profile", flags->profile,
                      "Only runs made with this profile");
  commands.AddLimit(history, "At most this many runs (default: all)");
  history->callback(commands.Run(&HistoryCommand));

  CLI::App* compare = accounts->add_subcommand(
      "compare",
      "Tier migration between two scoring runs: how many accounts moved "
      "from which tier to which, and the largest moves");
  AddRunPair(compare, &flags->base_run_id, &flags->target_run_id);
  commands.AddLimit(
      compare,
      "At most this many moved accounts (default 20 for the table, "
      "all for json/csv; 0: all)");
  compare->callback(commands.Run(&CompareCommand));
}

}  // namespace custra::cli
