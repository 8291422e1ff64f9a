#ifndef CUSTRA_COMMON_CLV_MODELS_H_
#define CUSTRA_COMMON_CLV_MODELS_H_

// Customer-value ("buy 'til you die") models as pure functions over plain
// structs: the BG/NBD, MBG/NBD and Pareto/NBD purchase-count models and the
// Gamma-Gamma spend model, their log-likelihoods, maximum-likelihood fits,
// and the predictions KeyAccountService serves (expected purchases, P(alive),
// expected spend, CLV). protos/custra/v1/key_account.proto is the contract;
// the server layer converts between it and these types.
//
// Sources (formulas are cited again where they are implemented):
// - BG/NBD: Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy
//   Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2);
//   P(alive): Fader, Hardie & Lee (2008), "Computing P(alive) Using the
//   BG/NBD Model" (note).
// - MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and
//   comparison of models for customer base analysis", IJRM 24(3).
// - Pareto/NBD: Schmittlein, Morrison & Colombo (1987), "Counting Your
//   Customers: Who Are They and What Will They Do Next?", Management Science
//   33(1); Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and
//   Related Expressions".
// - Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value
//   Curves for Customer Base Analysis", JMR 42(4); Fader & Hardie (2013),
//   "The Gamma-Gamma Model of Monetary Value" (note).
//
// Conventions:
// - Parameters are passed as spans of natural (positive) values in the
//   papers' order: r, alpha, a, b (BG/NBD, MBG/NBD); r, alpha, s, beta
//   (Pareto/NBD); p, q, gamma (Gamma-Gamma). ParameterNames() gives them.
// - Time is counted in periods of a TimeUnit (see "Summary data" below);
//   alpha and beta are in that unit.
// - Every function that returns a number returns a finite one. Invalid
//   arguments (wrong parameter count, non-positive or non-finite parameters,
//   malformed data) are INVALID_ARGUMENT; data on which a model cannot be
//   fitted, or parameters at which a quantity does not exist, are
//   FAILED_PRECONDITION with reason MODEL_FAILED (common/errors.h).
// - Everything here is thread-compatible: no shared mutable state.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace custra::clv {

// ---------------------------------------------------------------------------
// Summary data
// ---------------------------------------------------------------------------
//
// A purchase occasion is a UTC day with at least one purchase: purchases on
// the same day are merged and their amounts summed (the classic CDNOW set-up
// of Fader, Hardie & Lee). Occasions are counted in DAYS whatever the time
// unit; only durations are expressed in the unit. For one customer, as of the
// end of the calibration day `calibration_end_day`:
// - x (frequency) = number of distinct purchase days after the first;
// - t_x (recency) = (last purchase day - first purchase day) / days per period;
// - T (age) = (calibration_end_day - first purchase day) / days per period;
// - mean repeat spend = mean spend of the purchase days after the first.
// With TimeUnit::kDay the day numbers are the period indices and t_x, T are
// integers. With TimeUnit::kWeek, t_x and T are fractional weeks (CDNOW:
// t_x = (last - first) / 7), and two purchases on different days of the same
// week are two occasions.

// The unit of t_x, T, alpha, beta and horizons. The value is the number of
// days in one period.
enum class TimeUnit : int { kDay = 1, kWeek = 7 };

// Days in one period: 1 or 7.
int DaysPerPeriod(TimeUnit unit);

// Periods in a year, for discounting: 365 (days) or 52 (weeks).
int PeriodsPerYear(TimeUnit unit);

// A duration or a UTC day number in periods: days / DaysPerPeriod(unit).
double DaysToPeriods(int64_t days, TimeUnit unit);

// One customer's calibration summary (see above).
struct CustomerSummary {
  double x = 0;
  double t_x = 0;
  double T = 0;
  // Unset when x == 0 (no repeat purchase day) or when no spend was given.
  std::optional<double> mean_repeat_spend;
};

// Summarises one customer. `purchase_days` are the customer's distinct
// purchase days (UTC day numbers, e.g. days since 1970-01-01), strictly
// increasing; days after `calibration_end_day` are ignored. `day_spend` is
// either empty or holds the (merged) spend of each purchase day, aligned with
// `purchase_days`.
// Errors: INVALID_ARGUMENT if the days are not strictly increasing or the
// spend is misaligned or non-finite; FAILED_PRECONDITION if no purchase day
// is on or before `calibration_end_day` (the customer is excluded from fits,
// VALUE_MODEL_EXCLUSION_REASON_NO_PURCHASE_IN_CALIBRATION).
absl::StatusOr<CustomerSummary> SummarizeCustomer(
    std::span<const int64_t> purchase_days, std::span<const double> day_spend,
    int64_t calibration_end_day, TimeUnit unit);

// Summaries of many customers as a struct of arrays, the input of the
// purchase-count likelihoods and fits. Row i is x[i], t_x[i], T[i] with
// weight[i] identical customers; an empty `weight` means every weight is 1.
// Valid data: equal lengths; x a non-negative integer (at most 1,000,000:
// the likelihoods keep per-frequency tables); 0 <= t_x <= T, all finite;
// t_x == 0 when x == 0; weights finite and >= 0.
struct SummaryData {
  std::vector<double> x;
  std::vector<double> t_x;
  std::vector<double> T;
  std::vector<double> weight;

  size_t size() const { return x.size(); }
  // Appends one row.
  void Add(double x_value, double t_x_value, double T_value,
           double weight_value = 1);
  // Weight of row i (1 when `weight` is empty).
  double WeightAt(size_t i) const { return weight.empty() ? 1 : weight[i]; }
  // The number of customers: the sum of the weights.
  double TotalWeight() const;
};

// Merges identical (x, t_x, T) rows, summing their weights, and drops rows of
// weight 0. Rows come out sorted by (x, T, t_x); `weight` is always filled.
// The log-likelihood of the result equals that of the input. With daily data
// over a year a million customers shrink to a few hundred thousand rows (and
// much fewer in weeks), which is what makes large fits fast. (The fits
// compress internally, so calling this first is optional.)
SummaryData Compress(const SummaryData& data);

// The repeat buyers' spend, the input of the Gamma-Gamma model: x > 0 and
// spend > 0 on every row; an empty `weight` means every weight is 1.
struct SpendData {
  std::vector<double> x;
  std::vector<double> spend;  // Mean spend of the repeat purchase days.
  std::vector<double> weight;

  size_t size() const { return x.size(); }
  double WeightAt(size_t i) const { return weight.empty() ? 1 : weight[i]; }
  double TotalWeight() const;
};

// The rows of a population usable by the Gamma-Gamma model, with the count
// of customers left out per reason (the proto's ValueModelExclusionReason).
struct SpendSelection {
  SpendData data;
  std::vector<size_t> rows;        // Input index of each row of `data`.
  int64_t one_time_buyers = 0;     // x == 0.
  int64_t non_positive_spend = 0;  // x > 0, mean spend <= 0 or non-finite.
};

// Selects the customers with x > 0 and mean repeat spend > 0. `x` and
// `mean_spend` are aligned (mean_spend[i] is ignored when x[i] == 0).
// INVALID_ARGUMENT if the lengths differ or an x is negative or not finite.
absl::StatusOr<SpendSelection> SelectRepeatSpenders(
    std::span<const double> x, std::span<const double> mean_spend);

// ---------------------------------------------------------------------------
// Log-likelihoods
// ---------------------------------------------------------------------------

enum class CountModel { kBgNbd, kMbgNbd, kParetoNbd };

// "r", "alpha", "a", "b" (BG/NBD, MBG/NBD) or "r", "alpha", "s", "beta".
std::vector<std::string> ParameterNames(CountModel model);
// "p", "q", "gamma".
std::vector<std::string> GammaGammaParameterNames();
// "nlopt:LD_LBFGS" or "nlopt:LN_BOBYQA": what FitCountModel uses.
std::string OptimizerName(CountModel model);

// A summed log-likelihood and its gradient with respect to the LOG
// parameters (d LL / d log theta_k = theta_k * d LL / d theta_k), in
// parameter order.
struct LogLikelihood {
  double value = 0;
  std::vector<double> gradient;
};

// One customer's log-likelihood, straight from the paper's formula.
absl::StatusOr<double> CustomerLogLikelihood(CountModel model,
                                             std::span<const double> params,
                                             double x, double t_x, double T);

// The weighted sum of the customers' log-likelihoods and its gradient.
// BG/NBD and MBG/NBD gradients are analytic; the Pareto/NBD gradient is by
// central differences in log space (step 1e-5), since its analytic form needs
// parameter derivatives of the Gauss hypergeometric function.
// Errors: INVALID_ARGUMENT for bad parameters or data; FAILED_PRECONDITION
// (MODEL_FAILED) if the value is not finite at these parameters.
absl::StatusOr<LogLikelihood> CountLogLikelihood(CountModel model,
                                                 std::span<const double> params,
                                                 const SummaryData& data);

// One repeat buyer's Gamma-Gamma log-likelihood (density of the mean spend
// `mean_spend` of x > 0 purchases).
absl::StatusOr<double> GammaGammaCustomerLogLikelihood(
    std::span<const double> params, double x, double mean_spend);

// The weighted Gamma-Gamma log-likelihood with its analytic gradient.
absl::StatusOr<LogLikelihood> GammaGammaLogLikelihood(
    std::span<const double> params, const SpendData& data);

// ---------------------------------------------------------------------------
// Fitting
// ---------------------------------------------------------------------------

struct FitOptions {
  // Number of optimiser starts, >= 1. Start 0 is a guess from the data's
  // moments; the others are deterministic jitters of it (the same data
  // always gives the same starts and the same fit).
  int starts = 5;
  // lambda >= 0: minimise -LL + lambda * sum of the squared natural
  // parameters (the proto's l2_penalty; added to the summed, not the mean,
  // negative log-likelihood).
  double l2_penalty = 0;
  // Objective evaluations allowed per start, >= 1.
  int max_evaluations = 2000;
  // Polled once per objective evaluation; returning true stops the fit,
  // which then answers CANCELLED. Optional.
  std::function<bool()> cancelled;
};

// The outcome of one start.
struct FitStart {
  std::vector<double> initial;  // Natural parameters.
  // Unpenalised log-likelihood reached; unset if the start failed
  // numerically.
  std::optional<double> log_likelihood;
  bool converged = false;
  int iterations = 0;  // Objective evaluations (NLopt counts no iterations).
  // "ftol reached", "xtol reached", "success", "roundoff limited",
  // "max evaluations", "non-finite likelihood" or "failure: ...".
  std::string termination;
};

struct FitResult {
  std::vector<double> params;  // Natural parameters, finite and positive.
  std::vector<std::string> names;
  bool converged = false;     // The winning start converged.
  int iterations = 0;         // The winning start's objective evaluations.
  double log_likelihood = 0;  // Unpenalised, summed over the customers.
  // Euclidean norm of the gradient of the penalised negative log-likelihood
  // (summed, not averaged) in log-parameter space at `params`.
  double gradient_norm = 0;
  std::vector<FitStart> starts;  // In the order tried.
  std::string optimizer;         // E.g. "nlopt:LD_LBFGS".
  double customers_used = 0;     // Sum of the weights.
  double repeat_buyers = 0;      // Sum of the weights with x > 0.
};

// Fits a purchase-count model by maximum likelihood in log-parameter space
// (each log parameter in [-10, 10]) from `options.starts` starts: NLopt
// LD_LBFGS with the analytic gradient for BG/NBD and MBG/NBD, LN_BOBYQA
// for Pareto/NBD. The best converged start wins (the best finished one if
// none converged, and then `converged` is false).
// Errors: INVALID_ARGUMENT for malformed data or options;
// FAILED_PRECONDITION with reason MODEL_FAILED when the data cannot identify
// the model (no customers, a single customer, all purchases on one day, no
// repeat buyers) or every start failed numerically; CANCELLED when
// `options.cancelled` returned true.
absl::StatusOr<FitResult> FitCountModel(CountModel model,
                                        const SummaryData& data,
                                        const FitOptions& options);

// Fits the Gamma-Gamma model (p, q, gamma) to repeat buyers' mean spend,
// like FitCountModel (LD_LBFGS, analytic gradient). Degenerate data (no
// rows, a single customer) is FAILED_PRECONDITION / MODEL_FAILED.
absl::StatusOr<FitResult> FitGammaGamma(const SpendData& data,
                                        const FitOptions& options);

// ---------------------------------------------------------------------------
// Predictions (natural parameters)
// ---------------------------------------------------------------------------

// P(alive | x, t_x, T): the probability that the customer is still active at
// T, in [0, 1].
absl::StatusOr<double> ProbabilityAlive(CountModel model,
                                        std::span<const double> params,
                                        double x, double t_x, double T);

// E[X(T, T + t) | x, t_x, T]: expected purchase occasions in the t periods
// after T, given the history; >= 0.
absl::StatusOr<double> ConditionalExpectedPurchases(
    CountModel model, std::span<const double> params, double x, double t_x,
    double T, double t);

// E[X(t)]: expected repeat purchase occasions in the first t periods after a
// new customer's first purchase; >= 0 and non-decreasing in t.
absl::StatusOr<double> ExpectedPurchases(CountModel model,
                                         std::span<const double> params,
                                         double t);

// The cohort's expected cumulative repeat purchases: the sum over customers
// of E[X(max(age_i, 0))], where age_i is the time from customer i's first
// purchase to the curve point (in periods). Equal ages are evaluated once.
absl::StatusOr<double> CohortExpectedPurchases(CountModel model,
                                               std::span<const double> params,
                                               std::span<const double> ages);

// Per-period discount rate d = (1 + annual_rate)^(1 / PeriodsPerYear) - 1.
// annual_rate must be in [0, 1) (checked by the caller; clamped here).
double PeriodDiscountRate(double annual_rate, TimeUnit unit);

// sum over k = 1..horizon of (E[X(k) | hist] - E[X(k - 1) | hist]) /
// (1 + d)^k with the conditional expectation above (E[X(0) | hist] = 0).
// horizon >= 1 periods, d >= 0.
absl::StatusOr<double> DiscountedExpectedPurchases(
    CountModel model, std::span<const double> params, double x, double t_x,
    double T, int horizon, double period_discount_rate);

// Gamma-Gamma E[Z | x, mean_spend] = p (gamma + x mean_spend) / (p x + q - 1)
// (Fader, Hardie & Lee 2005 "RFM and CLV"; Fader & Hardie 2013). x >= 0;
// with x == 0 this is the population mean. FAILED_PRECONDITION
// (MODEL_FAILED) when p x + q <= 1: the posterior mean does not exist.
absl::StatusOr<double> ConditionalExpectedSpend(std::span<const double> params,
                                                double x, double mean_spend);

// The population mean spend per purchase, p gamma / (q - 1). It exists only
// for q > 1: otherwise FAILED_PRECONDITION (MODEL_FAILED), and callers should
// leave the spend of one-time buyers unset.
absl::StatusOr<double> PopulationMeanSpend(std::span<const double> params);

struct ClvOptions {
  int horizon_periods = 52;         // >= 1.
  double annual_discount_rate = 0;  // [0, 1).
  double margin = 1;                // (0, 1].
  TimeUnit unit = TimeUnit::kWeek;  // Sets the periods per year.
};

// CLV as in PredictCustomerValueRequest: margin * expected_spend *
// DiscountedExpectedPurchases(..., horizon, PeriodDiscountRate(rate, unit)).
// `expected_spend` >= 0 (e.g. ConditionalExpectedSpend).
absl::StatusOr<double> CustomerLifetimeValue(CountModel model,
                                             std::span<const double> params,
                                             double x, double t_x, double T,
                                             double expected_spend,
                                             const ClvOptions& options);

// Pearson correlation of a and b (weighted when `weights` is not empty), in
// [-1, 1]; the Gamma-Gamma diagnostic between frequency and spend. Unset
// when there are fewer than two rows of positive weight, a variance is zero,
// the spans are misaligned, or a value is not finite.
std::optional<double> PearsonCorrelation(std::span<const double> a,
                                         std::span<const double> b,
                                         std::span<const double> weights = {});

}  // namespace custra::clv

#endif  // CUSTRA_COMMON_CLV_MODELS_H_
