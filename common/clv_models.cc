#include "common/clv_models.h"

#include <math.h>  // lgamma_r: std::lgamma may write the global signgam.

#include <algorithm>
#include <bit>
#include <boost/math/policies/policy.hpp>
#include <boost/math/quadrature/exp_sinh.hpp>
#include <boost/math/quadrature/tanh_sinh.hpp>
#include <boost/math/special_functions/digamma.hpp>
#include <cmath>
#include <exception>
#include <limits>
#include <nlopt.hpp>
#include <numeric>
#include <random>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/errors.h"

namespace custra::clv {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Log parameters are optimised within [-kLogBound, kLogBound].
constexpr double kLogBound = 10;

// Largest frequency accepted: the likelihoods keep per-frequency tables.
constexpr double kMaxFrequency = 1e6;

// Each frequency group of PreparedCounts is padded to a multiple of this
// many rows: a whole AVX2 vector. The AVX-512 clone finishes a group's last
// half vector in its shorter epilogue; padding to 8 rows measured slower
// (more padding rows on CDNOW's many small groups).
constexpr int32_t kGroupPadding = 4;

// Series of the Gauss hypergeometric function are summed up to this many
// terms before falling back to numerical integration.
constexpr int kMaxSeriesTerms = 20000;

// Beyond this argument the Pareto/NBD series converges too slowly (its ratio
// tends to z) and the integral it stands for is computed by quadrature.
constexpr double kParetoSeriesMaxZ = 0.97;

// Same for the BG/NBD expectation's series, whose terms may first grow.
constexpr double kBgSeriesMaxZ = 0.99;

// The roundoff-limited exit of LD_LBFGS counts as converged when the
// largest projected gradient component of the per-customer objective is
// below this.
constexpr double kConvergedGradient = 1e-5;

// Step of the central differences in log space (Pareto/NBD gradient).
constexpr double kDifferenceStep = 1e-5;

using NoThrowPolicy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::errno_on_error>,
    boost::math::policies::pole_error<boost::math::policies::errno_on_error>,
    boost::math::policies::overflow_error<
        boost::math::policies::errno_on_error>,
    boost::math::policies::evaluation_error<
        boost::math::policies::errno_on_error>>;

absl::Status ModelFailed(absl::string_view message) {
  return WithReason(absl::FailedPreconditionError(message),
                    reason::kModelFailed);
}

double LogGamma(double v) {
  int sign;
  return lgamma_r(v, &sign);
}

double Digamma(double v) { return boost::math::digamma(v, NoThrowPolicy()); }

double LogBeta(double a, double b) {
  return LogGamma(a) + LogGamma(b) - LogGamma(a + b);
}

double LogAddExp(double u, double v) {
  if (u == -kInf) return v;
  if (v == -kInf) return u;
  return u > v ? u + std::log1p(std::exp(v - u))
               : v + std::log1p(std::exp(u - v));
}

// 1 / (1 + exp(l)) without overflow.
double Logistic(double l) {
  if (l > 0) {
    const double e = std::exp(-l);
    return e / (1 + e);
  }
  return 1 / (1 + std::exp(l));
}

// (1 - exp(-c L)) / c, continuous at c = 0 (where it is L).
double ExpIntegralFactor(double c, double log_ratio) {
  if (std::abs(c * log_ratio) < 1e-12) return log_ratio;
  return -std::expm1(-c * log_ratio) / c;
}

bool AllFinite(std::span<const double> values) {
  return std::all_of(values.begin(), values.end(),
                     [](double v) { return std::isfinite(v); });
}

absl::Status CheckParams(std::span<const double> params, size_t count,
                         absl::string_view model) {
  if (params.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        model, " takes ", count, " parameters, got ", params.size()));
  }
  for (double v : params) {
    if (!std::isfinite(v) || v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(model, " parameters must be finite and positive"));
    }
  }
  return absl::OkStatus();
}

absl::string_view ModelName(CountModel model) {
  switch (model) {
    case CountModel::kBgNbd:
      return "BG/NBD";
    case CountModel::kMbgNbd:
      return "MBG/NBD";
    case CountModel::kParetoNbd:
      return "Pareto/NBD";
  }
  return "unknown model";
}

absl::Status CheckModel(CountModel model, std::span<const double> params) {
  if (model != CountModel::kBgNbd && model != CountModel::kMbgNbd &&
      model != CountModel::kParetoNbd) {
    return absl::InvalidArgumentError("unknown purchase-count model");
  }
  return CheckParams(params, 4, ModelName(model));
}

absl::Status CheckCustomer(double x, double t_x, double T) {
  // x is tested for an integer once it is known to be in range, where the
  // conversion is exact (and cheaper than a call to floor).
  if (!std::isfinite(x) || !std::isfinite(t_x) || !std::isfinite(T) || x < 0 ||
      x > kMaxFrequency || x != static_cast<double>(static_cast<int32_t>(x)) ||
      t_x < 0 || t_x > T || (x == 0 && t_x != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid summary (x=", x, ", t_x=", t_x, ", T=", T,
        "): x must be a non-negative integer, 0 <= t_x <= T, t_x = 0 when "
        "x = 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> Finite(double v, absl::string_view what) {
  if (!std::isfinite(v)) {
    return ModelFailed(
        absl::StrCat(what, " is not finite at these parameters"));
  }
  return v;
}

// ---------------------------------------------------------------------------
// Special functions
// ---------------------------------------------------------------------------

// log 2F1(a, b; c; z) by its Gauss series sum_n (a)_n (b)_n / ((c)_n n!) z^n
// for a, b, c > 0 and 0 <= z < 1, where every term is positive. The sum is
// rescaled as it grows, so huge values (large a, b and z near 1) do not
// overflow. The tail after a term t_n is below t_n rho / (1 - rho) with rho
// the larger of the current term ratio and z (the ratios tend to z
// monotonically), and summation stops once that is below 1e-17 of the sum.
// Unset if the series needs more than kMaxSeriesTerms terms.
std::optional<double> LogHyp2F1Series(double a, double b, double c, double z) {
  double term = 1, sum = 1, log_scale = 0;
  for (int n = 0; n < kMaxSeriesTerms; ++n) {
    const double ratio = (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
    term *= ratio;
    sum += term;
    if (sum > 1e250) {
      sum *= 1e-250;
      term *= 1e-250;
      log_scale += 250 * std::log(10.0);
    }
    if (ratio < 1) {
      const double rho = std::max(ratio, z);
      if (term * rho <= 1e-17 * sum * (1 - rho)) {
        return log_scale + std::log(sum);
      }
    }
  }
  return std::nullopt;
}

// U(t) = E[X(t)] of a BG/NBD customer with purchase rate ~ Gamma(r, alpha)
// and drop-out probability ~ Beta(a, b), counted from a purchase (Fader,
// Hardie & Lee 2005, eq. 9):
//   U(t) = (a + b - 1) / (a - 1)
//          * [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; t/(alpha + t))].
// The same function with updated parameters gives the conditional
// expectations of BG/NBD (eq. 10) and MBG/NBD (Batislam et al. 2007).
// Where the series is unsuitable (a + b <= 1, a ~ 1 where the formula is
// 0/0, z near 1) it integrates the definition over the drop-out probability
// instead: given lambda and p, E[X(t)] = (1 - exp(-lambda p t)) / p, whose
// gamma mixture is (1 - (alpha / (alpha + p t))^r) / p, so
//   U(t) = integral_0^1 Beta(p; a, b) (1 - (1 + p t / alpha)^-r) / p dp,
// by tanh-sinh quadrature (it copes with the endpoint singularities of the
// beta density).
double BgFreshExpectation(double t, double r, double alpha, double a,
                          double b) {
  if (t <= 0) return 0;
  const double c = a + b - 1;
  const double z = t / (alpha + t);
  if (c > 1e-8 && std::abs(a - 1) > 1e-5 && z <= kBgSeriesMaxZ) {
    const std::optional<double> log_f = LogHyp2F1Series(r, b, c, z);
    if (log_f.has_value()) {
      const double lead = -r * std::log1p(t / alpha);
      const double u = c / (a - 1) * -std::expm1(lead + *log_f);
      if (std::isfinite(u) && u >= 0) return u;
    }
  }
  // One integrator per thread: Boost 1.74's integrate() is not const, and
  // the integrator grows its abscissa tables lazily.
  thread_local boost::math::quadrature::tanh_sinh<double, NoThrowPolicy>
      integrator;
  const double log_norm = LogBeta(a, b);
  const double w = t / alpha;
  // Boost passes the distance to the nearer endpoint as well (a - p <= 0
  // on the left half, b - p >= 0 on the right), so log(1 - p) stays exact
  // next to p = 1.
  auto integrand = [&](double p, double distance) {
    const double log_q = distance > 0 ? std::log(distance) : std::log1p(-p);
    const double density =
        std::exp((a - 1) * std::log(p) + (b - 1) * log_q - log_norm);
    return density * -std::expm1(-r * std::log1p(p * w)) / p;
  };
  try {
    return integrator.integrate(integrand, 0.0, 1.0, 1e-10);
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

// k(t) = K(t) / g(t) for the Pareto/NBD likelihood, where
//   g(t) = (alpha + t)^-(r + x) (beta + t)^-s,
//   K(t) = integral_t^inf (alpha + u)^-(r + x) (beta + u)^-(s + 1) du.
// K is the integral over the death time that the Fader & Hardie (2005) note
// evaluates with Gauss hypergeometric functions (its A_0 term is
// (r + s + x) / s times K(t_x) - K(T) scaled by (alpha or beta + .)^...).
// With m the exponent of the larger of alpha, beta, a = r + s + x and
// z = |alpha - beta| / (max(alpha, beta) + t):
//   alpha >= beta: k(t) = 2F1(1, r + x; a + 1; z) / a,
//   alpha <  beta: k(t) = (alpha + t) / (beta + t) 2F1(1, s + 1; a + 1; z) / a.
// These are the note's 2F1(a, s + 1; a + 1; z) / (alpha + t)^a (and the
// beta-branch twin) after Euler's transformation 2F1(a, b; c; z) =
// (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), which makes every series term
// positive with ratio below z. For z > kParetoSeriesMaxZ the integral is
// computed directly by exp-sinh quadrature.
double ParetoK(double t, double r, double alpha, double s, double beta,
               double x) {
  const double p = r + x;
  const double a = r + s + x;
  const bool alpha_larger = alpha >= beta;
  const double z =
      alpha_larger ? (alpha - beta) / (alpha + t) : (beta - alpha) / (beta + t);
  if (z <= kParetoSeriesMaxZ) {
    const std::optional<double> log_h =
        LogHyp2F1Series(1, alpha_larger ? p : s + 1, a + 1, z);
    if (log_h.has_value()) {
      const double h = std::exp(*log_h) / a;
      return alpha_larger ? h : h * (alpha + t) / (beta + t);
    }
  }
  thread_local boost::math::quadrature::exp_sinh<double, NoThrowPolicy>
      integrator;
  const double alpha_t = alpha + t, beta_t = beta + t;
  auto integrand = [&](double u) {
    return std::exp(-p * std::log1p(u / alpha_t) -
                    (s + 1) * std::log1p(u / beta_t));
  };
  try {
    return integrator.integrate(integrand, 1e-10) / beta_t;
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

// The Pareto/NBD log-likelihood of one customer and log P(alive), with
// lgamma(r + x) - lgamma(r) given. From the Fader & Hardie (2005) note:
//   L = Gamma(r + x) alpha^r beta^s / Gamma(r)
//       * [ g(T) + s (K(t_x) - K(T)) ]
// (alive throughout (0, T], or dead at some time in (t_x, T]), and
// P(alive | x, t_x, T) = Gamma(r + x) alpha^r beta^s g(T) / (Gamma(r) L)
// (Schmittlein, Morrison & Colombo 1987). With K = k g the bracket is
// g(T) (1 - s k(T)) + s k(t_x) g(t_x), two positive terms added in log space
// (1 - s k(T) = integral_T^inf (r + x) g / (alpha + u) du / g(T) > 0).
struct ParetoTerms {
  double log_likelihood;
  double log_p_alive;
};

ParetoTerms ParetoCustomerTerms(double r, double alpha, double s, double beta,
                                double x, double t_x, double T,
                                double log_gamma_ratio) {
  const double p = r + x;
  const double log_g_T = -p * std::log(alpha + T) - s * std::log(beta + T);
  const double log_g_tx = -p * std::log(alpha + t_x) - s * std::log(beta + t_x);
  const double one_minus = 1 - s * ParetoK(T, r, alpha, s, beta, x);
  const double alive_term =
      one_minus > 0 ? log_g_T + std::log(one_minus) : -kInf;
  const double dead_term =
      std::log(s * ParetoK(t_x, r, alpha, s, beta, x)) + log_g_tx;
  const double mixture = LogAddExp(alive_term, dead_term);
  return {log_gamma_ratio + r * std::log(alpha) + s * std::log(beta) + mixture,
          log_g_T - mixture};
}

// ---------------------------------------------------------------------------
// Per-customer formulas
// ---------------------------------------------------------------------------

// BG/NBD (Fader, Hardie & Lee 2005, eq. 6): L = A1 A2 (A3 + d(x>0) A4) with
//   A1 = Gamma(r + x) alpha^r / Gamma(r),
//   A2 = Gamma(a + b) Gamma(b + x) / (Gamma(b) Gamma(a + b + x)),
//   A3 = (alpha + T)^-(r + x),
//   A4 = a / (b + x - 1) (alpha + t_x)^-(r + x).
// MBG/NBD (Batislam, Denizel & Filiztekin 2007): a customer may also drop
// out right after the first purchase, so
//   L = A1 B(a, b + x + 1) / B(a, b)
//       * [(alpha + T)^-(r + x) + a / (b + x) (alpha + t_x)^-(r + x)].
double BgFamilyCustomerLogLikelihood(bool modified, double r, double alpha,
                                     double a, double b, double x, double t_x,
                                     double T) {
  const double a1 = LogGamma(r + x) - LogGamma(r) + r * std::log(alpha);
  const double shift = modified ? 1 : 0;
  const double a2 = LogBeta(a, b + x + shift) - LogBeta(a, b);
  const double a3 = -(r + x) * std::log(alpha + T);
  const double a4 = x + shift > 0 ? std::log(a) - std::log(b + x + shift - 1) -
                                        (r + x) * std::log(alpha + t_x)
                                  : -kInf;
  return a1 + a2 + LogAddExp(a3, a4);
}

// BG/NBD P(alive) (Fader, Hardie & Lee 2008 note, eq. 2):
//   1 / (1 + d(x>0) a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x));
// MBG/NBD (Batislam et al. 2007): the same with a / (b + x) for every x.
double BgFamilyProbabilityAlive(bool modified, double r, double alpha, double a,
                                double b, double x, double t_x, double T) {
  if (!modified && x == 0) return 1;
  const double shift = modified ? 1 : 0;
  const double l = std::log(a) - std::log(b + x + shift - 1) +
                   (r + x) * (std::log(alpha + T) - std::log(alpha + t_x));
  return Logistic(l);
}

// ---------------------------------------------------------------------------
// Prepared data and fast likelihoods for the fits
// ---------------------------------------------------------------------------

// Compressed, validated summary data in the form the likelihood loops want:
// integer frequencies and indices into the distinct time values, so that
// per evaluation the logs of (alpha + t) are taken once per distinct time
// and lgamma differences once per distinct frequency.
struct PreparedCounts {
  std::vector<int32_t> x;
  std::vector<int32_t> t_index;
  std::vector<int32_t> T_index;
  std::vector<double> weight;
  std::vector<double> times;     // Distinct t_x and T values.
  std::vector<double> x_weight;  // [n]: weight of the rows with x == n.
  // Rows are sorted by x; those with x == n are [x_begin[n], x_begin[n+1]).
  std::vector<int32_t> x_begin;
  // The rows again, each frequency group padded with rows of weight 0 to a
  // multiple of kGroupPadding rows, so that the vectorised loops over a
  // group need no scalar remainder: group n is [padded_begin[n],
  // padded_begin[n + 1]).
  std::vector<int32_t> padded_t_index;
  std::vector<int32_t> padded_T_index;
  std::vector<double> padded_weight;
  std::vector<int32_t> padded_begin;
  int32_t max_x = 0;
  double total_weight = 0;
  double repeat_weight = 0;
  double sum_wx = 0;
  double sum_wT = 0;
};

absl::Status ValidateSummaryData(const SummaryData& data) {
  const size_t n = data.x.size();
  if (data.t_x.size() != n || data.T.size() != n ||
      (!data.weight.empty() && data.weight.size() != n)) {
    return absl::InvalidArgumentError(
        "summary data: x, t_x, T (and weight if given) must have equal "
        "lengths");
  }
  for (size_t i = 0; i < n; ++i) {
    absl::Status status = CheckCustomer(data.x[i], data.t_x[i], data.T[i]);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("summary row ", i, ": ", status.message()));
    }
    const double w = data.WeightAt(i);
    if (!std::isfinite(w) || w < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("summary row ", i, ": weight must be finite and >= 0"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PreparedCounts> PrepareCounts(const SummaryData& raw) {
  if (absl::Status status = ValidateSummaryData(raw); !status.ok()) {
    return status;
  }
  // Data that is already compressed (strictly sorted by (x, T, t_x), every
  // weight given and positive) is used as it is, without a copy.
  bool compressed = raw.weight.size() == raw.size();
  for (size_t i = 0; compressed && i < raw.size(); ++i) {
    compressed =
        raw.weight[i] > 0 &&
        (i == 0 || std::tie(raw.x[i - 1], raw.T[i - 1], raw.t_x[i - 1]) <
                       std::tie(raw.x[i], raw.T[i], raw.t_x[i]));
  }
  SummaryData compressed_copy;
  if (!compressed) compressed_copy = Compress(raw);
  const SummaryData& data = compressed ? raw : compressed_copy;
  PreparedCounts d;
  // Distinct times, numbered in order of first appearance (a hash lookup per
  // value; there are few distinct times, e.g. at most 366 over a year of
  // days, so their tables stay in L1).
  absl::flat_hash_map<double, int32_t> time_index;
  time_index.reserve(std::min<size_t>(2 * data.size(), 1 << 16));
  auto index_of = [&](double t) {
    const auto [it, inserted] = time_index.try_emplace(
        t + 0.0, static_cast<int32_t>(d.times.size()));  // -0 -> +0.
    if (inserted) d.times.push_back(t + 0.0);
    return it->second;
  };
  d.x.resize(data.size());
  d.t_index.resize(data.size());
  d.T_index.resize(data.size());
  d.weight = data.weight;
  for (size_t i = 0; i < data.size(); ++i) {
    d.x[i] = static_cast<int32_t>(data.x[i]);
    d.t_index[i] = index_of(data.t_x[i]);
    // Rows are sorted by (x, T, t_x), so T often repeats.
    d.T_index[i] = i > 0 && data.T[i] == data.T[i - 1] ? d.T_index[i - 1]
                                                       : index_of(data.T[i]);
    d.max_x = std::max(d.max_x, d.x[i]);
    const double w = data.weight[i];
    d.total_weight += w;
    if (d.x[i] > 0) d.repeat_weight += w;
    d.sum_wx += w * data.x[i];
    d.sum_wT += w * data.T[i];
  }
  d.x_weight.assign(d.max_x + 1, 0.0);
  d.x_begin.assign(d.max_x + 2, 0);
  for (size_t i = 0; i < data.size(); ++i) {
    d.x_weight[d.x[i]] += d.weight[i];
    ++d.x_begin[d.x[i] + 1];
  }
  for (int32_t n = 0; n <= d.max_x; ++n) d.x_begin[n + 1] += d.x_begin[n];
  d.padded_begin.assign(d.max_x + 2, 0);
  for (int32_t n = 0; n <= d.max_x; ++n) {
    const int32_t size = d.x_begin[n + 1] - d.x_begin[n];
    d.padded_begin[n + 1] = d.padded_begin[n] + (size + kGroupPadding - 1) /
                                                    kGroupPadding *
                                                    kGroupPadding;
  }
  const size_t padded_size = static_cast<size_t>(d.padded_begin.back());
  d.padded_t_index.resize(padded_size);
  d.padded_T_index.resize(padded_size);
  d.padded_weight.assign(padded_size, 0.0);
  for (int32_t n = 0; n <= d.max_x; ++n) {
    const int32_t begin = d.x_begin[n], end = d.x_begin[n + 1];
    int32_t k = d.padded_begin[n];
    for (int32_t i = begin; i < end; ++i, ++k) {
      d.padded_t_index[k] = d.t_index[i];
      d.padded_T_index[k] = d.T_index[i];
      d.padded_weight[k] = d.weight[i];
    }
    // Padding: any valid time indices (the group's first row's), weight 0.
    for (; k < d.padded_begin[n + 1]; ++k) {
      d.padded_t_index[k] = d.t_index[begin];
      d.padded_T_index[k] = d.T_index[begin];
    }
  }
  return d;
}

// A moment estimate of the shape r of the Gamma(r, alpha) purchase rate,
// ignoring drop-out: a customer observed for T periods makes x ~ NBD
// purchases with E[x] = m T and Var[x] = m T + m^2 T^2 / r, m = r / alpha.
// With m = sum(w x) / sum(w T), matching the summed squared deviations gives
//   r = m^2 sum(w T^2) / (sum(w (x - m T)^2) - m sum(w T)).
// 1 when that is not a positive finite number (no over-dispersion); kept
// within [1e-2, 1e2]. Only a starting point for the optimiser.
double NbdMomentShape(const PreparedCounts& d) {
  const double m = d.sum_wx / d.sum_wT;
  double sum_squares = 0, sum_wT2 = 0;
  for (size_t i = 0; i < d.x.size(); ++i) {
    const double T = d.times[d.T_index[i]];
    const double deviation = d.x[i] - m * T;
    sum_squares += d.weight[i] * deviation * deviation;
    sum_wT2 += d.weight[i] * T * T;
  }
  const double excess = sum_squares - m * d.sum_wT;
  const double r = m * m * sum_wT2 / excess;
  if (!(excess > 0) || !std::isfinite(r) || !(r > 0)) return 1;
  return std::clamp(r, 1e-2, 1e2);
}

absl::Status CheckIdentifiable(const PreparedCounts& d) {
  if (d.total_weight <= 0) return ModelFailed("no customers to fit");
  if (d.total_weight < 2) {
    return ModelFailed("a single customer cannot identify the model");
  }
  if (d.sum_wT <= 0) {
    return ModelFailed(
        "all purchases are on one day (every customer's age T is 0)");
  }
  if (d.repeat_weight <= 0) {
    return ModelFailed("no repeat buyers (every frequency is 0)");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Vectorised elementary functions for the likelihood loops
// ---------------------------------------------------------------------------
//
// The BG-family likelihood spends its time in one exp and one log per row.
// libm's scalar calls do not vectorise, so the loops below use these inline
// versions, written so that GCC and Clang vectorise them under
// `#pragma omp simd` (the file is compiled with -fopenmp-simd, which enables
// the pragma without the OpenMP runtime). Both are accurate to a few units in
// the last place; their truncation errors are below 1e-17 relative. On
// x86-64 Linux the loops are compiled three times, for x86-64-v4 (AVX-512:
// 8 doubles per vector and 32 vector registers, so the row loop does not
// spill), for AVX2 and for baseline x86-64, and the loader picks the best
// clone the CPU supports. No fused multiply-adds are used (the standard mode
// compiles with -ffp-contract=off), so the clones do the same arithmetic;
// only the order of the final sums differs.
#if defined(__x86_64__) && defined(__linux__) && \
    (defined(__GNUC__) || defined(__clang__))
#define CUSTRA_CLV_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CUSTRA_CLV_VECTOR_CLONES
#endif

// exp(z) for -708 <= z <= 0 (callers clamp; NaN stays NaN). z = n ln 2 + g
// with integer n and |g| <= ln(2) / 2, exp(g) by its Taylor polynomial of
// degree 13 (remainder below 1e-17 relative) in Estrin's scheme (shorter
// dependency chains than Horner's), times 2^n built from the exponent bits.
// Adding 1.5 * 2^52 rounds z / ln 2 to the integer n and leaves n in the
// low bits of the sum.
[[gnu::always_inline]] inline double ExpNonPositive(double z) {
  constexpr double kRoundShift = 0x1.8p52;
  constexpr double kLog2e = 0x1.71547652b82fep0;
  constexpr double kLn2High = 0x1.62e42fefa3800p-1;  // 32 significant bits.
  constexpr double kLn2Low = 0x1.ef35793c7673p-45;
  const double shifted = z * kLog2e + kRoundShift;
  const double n = shifted - kRoundShift;
  const double g = (z - n * kLn2High) - n * kLn2Low;
  const double g2 = g * g, g4 = g2 * g2, g8 = g4 * g4;
  const double c01 = 1 + g, c23 = 1.0 / 2 + g * (1.0 / 6),
               c45 = 1.0 / 24 + g * (1.0 / 120),
               c67 = 1.0 / 720 + g * (1.0 / 5040),
               c89 = 1.0 / 40320 + g * (1.0 / 362880),
               c1011 = 1.0 / 3628800 + g * (1.0 / 39916800),
               c1213 = 1.0 / 479001600 + g * (1.0 / 6227020800);
  const double c03 = c01 + g2 * c23, c47 = c45 + g2 * c67,
               c811 = c89 + g2 * c1011;
  const double c07 = c03 + g4 * c47, c813 = c811 + g4 * c1213;
  const double power = c07 + g8 * c813;
  // n >= -1021 here, so 2^n is a normal number.
  const uint64_t scale = (std::bit_cast<uint64_t>(shifted) -
                          std::bit_cast<uint64_t>(kRoundShift) + 1023)
                         << 52;
  return power * std::bit_cast<double>(scale);
}

// log(y) for finite, positive, normal y. y = 2^k m with m in [sqrt(1/2),
// sqrt(2)) from the bits of y, and log(m) = 2 atanh(u), u = (m - 1) /
// (m + 1), |u| <= 0.1716, by the series 2 (u + u^3 / 3 + ... + u^23 / 23)
// (remainder below 1e-18 relative) in Estrin's scheme.
[[gnu::always_inline]] inline double LogPositive(double y) {
  constexpr uint64_t kSqrtHalfBits = 0x3fe6a09e667f3bcdULL;
  constexpr uint64_t kExponentBias = 1023ULL << 52;
  constexpr double kTwo52 = 0x1p52;
  constexpr double kLn2High = 0x1.62e42fee00000p-1;  // k * kLn2High is exact.
  constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
  const uint64_t bits = std::bit_cast<uint64_t>(y);
  // k + 1023 (in [1, 2046]): the exponent, one higher when m >= sqrt(2).
  const uint64_t biased_k = (bits - kSqrtHalfBits + kExponentBias) >> 52;
  const double m =
      std::bit_cast<double>(bits - (biased_k << 52) + kExponentBias);
  const double k =
      std::bit_cast<double>(biased_k | std::bit_cast<uint64_t>(kTwo52)) -
      (kTwo52 + 1023);
  const double u = (m - 1) / (m + 1);
  const double u2 = u * u, u4 = u2 * u2, u8 = u4 * u4;
  // sum over j = 0..10 of 2 / (2 j + 3) u^(2 j).
  const double c01 = 2.0 / 3 + u2 * (2.0 / 5), c23 = 2.0 / 7 + u2 * (2.0 / 9),
               c45 = 2.0 / 11 + u2 * (2.0 / 13),
               c67 = 2.0 / 15 + u2 * (2.0 / 17),
               c89 = 2.0 / 19 + u2 * (2.0 / 21), c10 = 2.0 / 23;
  const double c03 = c01 + u4 * c23, c47 = c45 + u4 * c67,
               c810 = c89 + u4 * c10;
  const double series = (c03 + u8 * c47) + (u8 * u8) * c810;
  return k * kLn2High + (2 * u + (u * u2 * series + k * kLn2Low));
}

// logs[i] = log(offset + v_i) and inverses[i] = 1 / (offset + v_i) for
// 0 <= i < n, where v_i = values[i], or v_i = i when `values` is null. Every
// offset + v_i must be finite, positive and normal.
CUSTRA_CLV_VECTOR_CLONES
void ShiftedLogs(double offset, const double* values, int32_t n, double* logs,
                 double* inverses) {
  if (values != nullptr) {
#pragma omp simd
    for (int32_t i = 0; i < n; ++i) {
      const double v = offset + values[i];
      logs[i] = LogPositive(v);
      inverses[i] = 1 / v;
    }
  } else {
#pragma omp simd
    for (int32_t i = 0; i < n; ++i) {
      const double v = offset + static_cast<double>(i);
      logs[i] = LogPositive(v);
      inverses[i] = 1 / v;
    }
  }
}

// Scratch tables of one likelihood evaluation (reused across evaluations).
struct BgWorkspace {
  std::vector<double> log_r, inv_r;    // Cumulative over k < n of r + k.
  std::vector<double> log_b, inv_b;    // ... of b + k.
  std::vector<double> log_ab, inv_ab;  // ... of a + b + k.
  std::vector<double> log_time, inv_time;
  // [n]: log and inverse of b + n + shift - 1, for n + shift >= 1.
  std::vector<double> log_bx, inv_bx;
};

// Cumulative sums over k < n of log(v + k) and 1 / (v + k), n = 0..size-1:
// lgamma(v + n) - lgamma(v) and digamma(v + n) - digamma(v) for integer n.
void CumulativeLogs(double v, size_t size, std::vector<double>& logs,
                    std::vector<double>& inverses) {
  logs.resize(size);
  inverses.resize(size);
  logs[0] = 0;
  inverses[0] = 0;
  // logs[n] = log(v + n - 1) first, then the running sums.
  ShiftedLogs(v, nullptr, static_cast<int32_t>(size - 1), logs.data() + 1,
              inverses.data() + 1);
  for (size_t n = 1; n < size; ++n) {
    logs[n] += logs[n - 1];
    inverses[n] += inverses[n - 1];
  }
}

// The padded rows of PreparedCounts and the tables BgMixtureSums reads.
struct BgRows {
  const int32_t* t_index;
  const int32_t* T_index;
  const double* weight;
  const int32_t* group_begin;  // Frequency n: [group_begin[n], ...[n + 1]).
  int32_t groups;              // max_x + 1.
  int shift;                   // 0 (BG/NBD) or 1 (MBG/NBD).
  double r;
  const double* log_time;  // [j]: log(alpha + times[j]).
  const double* inv_time;  // [j]: 1 / (alpha + times[j]).
  const double* log_a_bx;  // [n]: log a - log(b + n + shift - 1).
  const double* inv_bx;    // [n]: 1 / (b + n + shift - 1).
};

// Weighted sums over rows of the log-likelihood terms that depend on t_x and
// T, and of what the gradient needs. See BgFamilyLogLikelihood.
struct BgRowSums {
  double ll = 0;
  double r = 0;         // Of w P3 log(alpha + T) + w P4 log(alpha + t_x).
  double alpha = 0;     // Of w (r + x) (P3 / (alpha + T) + P4 / (alpha + t_x)).
  double p4 = 0;        // Of w P4.
  double p4_inv_b = 0;  // Of w P4 / (b + x + shift - 1).
};

// One pass per frequency group, in which c = r + x and the coefficient of
// term A4 are constant. Rows with x + shift == 0 have only the term A3. In
// the others, with d = l4 - l3, log(e^l3 + e^l4) = max(l3, l4) +
// log(1 + e^-|d|), and the share of the larger term is 1 / (1 + e^-|d|).
CUSTRA_CLV_VECTOR_CLONES
BgRowSums BgMixtureSums(const BgRows& rows) {
  const int32_t* t_index = rows.t_index;
  const int32_t* T_index = rows.T_index;
  const double* weight = rows.weight;
  const double* log_time = rows.log_time;
  const double* inv_time = rows.inv_time;
  BgRowSums sums;
  for (int32_t n = 0; n < rows.groups; ++n) {
    const int32_t begin = rows.group_begin[n], end = rows.group_begin[n + 1];
    if (begin == end) continue;
    const double c = rows.r + static_cast<double>(n);
    if (n + rows.shift == 0) {
      double sum_log = 0, sum_inv = 0;
#pragma omp simd reduction(+ : sum_log, sum_inv)
      for (int32_t i = begin; i < end; ++i) {
        sum_log += weight[i] * log_time[T_index[i]];
        sum_inv += weight[i] * inv_time[T_index[i]];
      }
      sums.ll -= c * sum_log;
      sums.r += sum_log;
      sums.alpha += c * sum_inv;
      continue;
    }
    const double coef = rows.log_a_bx[n];
    double sum_ll = 0, sum_r = 0, sum_alpha = 0, sum_p4 = 0;
#pragma omp simd reduction(+ : sum_ll, sum_r, sum_alpha, sum_p4)
    for (int32_t i = begin; i < end; ++i) {
      const double w = weight[i];
      const double log_T = log_time[T_index[i]];
      const double log_t = log_time[t_index[i]];
      const double l3 = -c * log_T;
      const double l4 = coef - c * log_t;
      const double diff = l4 - l3;
      const double e = ExpNonPositive(std::max(-std::abs(diff), -708.0));
      const double share = 1 / (1 + e);  // Of the larger term.
      const double p4 = diff > 0 ? share : e * share;
      const double p3 = 1 - p4;
      sum_ll += w * (std::max(l3, l4) + LogPositive(1 + e));
      sum_r += w * (p3 * log_T + p4 * log_t);
      sum_alpha += w * (p3 * inv_time[T_index[i]] + p4 * inv_time[t_index[i]]);
      sum_p4 += w * p4;
    }
    sums.ll += sum_ll;
    sums.r += sum_r;
    sums.alpha += c * sum_alpha;
    sums.p4 += sum_p4;
    sums.p4_inv_b += sum_p4 * rows.inv_bx[n];
  }
  return sums;
}

// The summed BG/NBD (shift 0) or MBG/NBD (shift 1) log-likelihood of the
// formulas above and, if `gradient` is not null, its gradient in log
// parameters. The parts that depend on x only (A1, A2) are summed per
// distinct x; per row only the two-term mixture log(A3 + A4) is evaluated
// (BgMixtureSums: one exp and one log).
double BgFamilyLogLikelihood(const PreparedCounts& d, const double* theta,
                             int shift, double* gradient, BgWorkspace& ws) {
  const double r = theta[0], alpha = theta[1], a = theta[2], b = theta[3];
  const size_t nx = static_cast<size_t>(d.max_x) + 1;
  CumulativeLogs(r, nx, ws.log_r, ws.inv_r);
  CumulativeLogs(b, nx + shift, ws.log_b, ws.inv_b);
  CumulativeLogs(a + b, nx + shift, ws.log_ab, ws.inv_ab);
  ws.log_time.resize(d.times.size());
  ws.inv_time.resize(d.times.size());
  ShiftedLogs(alpha, d.times.data(), static_cast<int32_t>(d.times.size()),
              ws.log_time.data(), ws.inv_time.data());
  // log a - log(b + n + shift - 1) for n >= 1 - shift (entry 0 is unused
  // for BG/NBD).
  const size_t first_n = shift > 0 ? 0 : 1;
  ws.log_bx.assign(nx, 0.0);
  ws.inv_bx.assign(nx, 0.0);
  ShiftedLogs(b + shift - 1 + static_cast<double>(first_n), nullptr,
              static_cast<int32_t>(nx - first_n), ws.log_bx.data() + first_n,
              ws.inv_bx.data() + first_n);
  const double log_a = std::log(a), log_alpha = std::log(alpha);
  for (size_t n = first_n; n < nx; ++n) ws.log_bx[n] = log_a - ws.log_bx[n];

  double ll = 0, g_r = 0, g_alpha = 0, g_a = 0, g_b = 0;
  for (size_t n = 0; n < nx; ++n) {
    const double w = d.x_weight[n];
    if (w == 0) continue;
    const size_t m = n + shift;
    ll += w * (ws.log_r[n] + r * log_alpha + ws.log_b[m] - ws.log_ab[m]);
    g_r += w * (ws.inv_r[n] + log_alpha);
    g_alpha += w * r / alpha;
    g_a -= w * ws.inv_ab[m];
    g_b += w * (ws.inv_b[m] - ws.inv_ab[m]);
  }

  const BgRows rows{.t_index = d.padded_t_index.data(),
                    .T_index = d.padded_T_index.data(),
                    .weight = d.padded_weight.data(),
                    .group_begin = d.padded_begin.data(),
                    .groups = d.max_x + 1,
                    .shift = shift,
                    .r = r,
                    .log_time = ws.log_time.data(),
                    .inv_time = ws.inv_time.data(),
                    .log_a_bx = ws.log_bx.data(),
                    .inv_bx = ws.inv_bx.data()};
  const BgRowSums sums = BgMixtureSums(rows);
  ll += sums.ll;
  if (gradient != nullptr) {
    g_r -= sums.r;
    g_alpha -= sums.alpha;
    g_a += sums.p4 / a;
    g_b -= sums.p4_inv_b;
    gradient[0] = r * g_r;
    gradient[1] = alpha * g_alpha;
    gradient[2] = a * g_a;
    gradient[3] = b * g_b;
  }
  return ll;
}

double ParetoLogLikelihood(const PreparedCounts& d, const double* theta) {
  const double r = theta[0], alpha = theta[1], s = theta[2], beta = theta[3];
  std::vector<double> log_r, inv_r;
  CumulativeLogs(r, static_cast<size_t>(d.max_x) + 1, log_r, inv_r);
  double ll = 0;
  for (size_t i = 0; i < d.x.size(); ++i) {
    const int32_t n = d.x[i];
    ll += d.weight[i] * ParetoCustomerTerms(r, alpha, s, beta, n,
                                            d.times[d.t_index[i]],
                                            d.times[d.T_index[i]], log_r[n])
                            .log_likelihood;
  }
  return ll;
}

// Summed log-likelihood of a count model with its gradient in log space
// (central differences for Pareto/NBD).
double CountModelLogLikelihood(CountModel model, const PreparedCounts& d,
                               const double* theta, double* gradient,
                               BgWorkspace& ws) {
  if (model != CountModel::kParetoNbd) {
    return BgFamilyLogLikelihood(d, theta, model == CountModel::kMbgNbd ? 1 : 0,
                                 gradient, ws);
  }
  const double ll = ParetoLogLikelihood(d, theta);
  if (gradient != nullptr) {
    for (int k = 0; k < 4; ++k) {
      double shifted[4] = {theta[0], theta[1], theta[2], theta[3]};
      shifted[k] = theta[k] * std::exp(kDifferenceStep);
      const double up = ParetoLogLikelihood(d, shifted);
      shifted[k] = theta[k] * std::exp(-kDifferenceStep);
      const double down = ParetoLogLikelihood(d, shifted);
      gradient[k] = (up - down) / (2 * kDifferenceStep);
    }
  }
  return ll;
}

// Gamma-Gamma data grouped by distinct x, for per-x lgamma / digamma.
struct PreparedSpend {
  std::vector<double> xs;         // Distinct x, ascending.
  std::vector<double> xs_log;     // log x.
  std::vector<double> xs_weight;  // Weight per distinct x.
  std::vector<int32_t> x_index;   // Row -> distinct x.
  std::vector<double> x;
  std::vector<double> log_spend;
  std::vector<double> x_spend;  // x * mean spend.
  std::vector<double> weight;
  double total_weight = 0;
  double mean_spend = 0;  // Weighted.
};

absl::StatusOr<PreparedSpend> PrepareSpend(const SpendData& data) {
  const size_t n = data.x.size();
  if (data.spend.size() != n ||
      (!data.weight.empty() && data.weight.size() != n)) {
    return absl::InvalidArgumentError(
        "spend data: x, spend (and weight if given) must have equal lengths");
  }
  PreparedSpend d;
  double weighted_spend = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = data.x[i], z = data.spend[i], w = data.WeightAt(i);
    if (!std::isfinite(x) || x <= 0 || !std::isfinite(z) || z <= 0 ||
        !std::isfinite(w) || w < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "spend row ", i,
          ": x and spend must be finite and positive, weight finite and >= 0"));
    }
    if (w == 0) continue;
    d.x.push_back(x);
    d.log_spend.push_back(std::log(z));
    d.x_spend.push_back(x * z);
    d.weight.push_back(w);
    d.total_weight += w;
    weighted_spend += w * z;
    d.xs.push_back(x);
  }
  std::sort(d.xs.begin(), d.xs.end());
  d.xs.erase(std::unique(d.xs.begin(), d.xs.end()), d.xs.end());
  d.xs_log.resize(d.xs.size());
  for (size_t j = 0; j < d.xs.size(); ++j) d.xs_log[j] = std::log(d.xs[j]);
  d.xs_weight.assign(d.xs.size(), 0.0);
  d.x_index.resize(d.x.size());
  for (size_t i = 0; i < d.x.size(); ++i) {
    d.x_index[i] = static_cast<int32_t>(
        std::lower_bound(d.xs.begin(), d.xs.end(), d.x[i]) - d.xs.begin());
    d.xs_weight[d.x_index[i]] += d.weight[i];
  }
  if (d.total_weight > 0) d.mean_spend = weighted_spend / d.total_weight;
  return d;
}

// Gamma-Gamma (Fader, Hardie & Lee 2005 "RFM and CLV", appendix; Fader &
// Hardie 2013): the mean zbar of x purchases, each Gamma(p, nu), with
// nu ~ Gamma(q, gamma), has density
//   f(zbar) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
//             * gamma^q zbar^(p x - 1) x^(p x) / (gamma + x zbar)^(p x + q).
double GammaGammaRowLogLikelihood(double p, double q, double g, double x,
                                  double z) {
  return LogGamma(p * x + q) - LogGamma(p * x) - LogGamma(q) + q * std::log(g) +
         (p * x - 1) * std::log(z) + p * x * std::log(x) -
         (p * x + q) * std::log(g + x * z);
}

// The summed Gamma-Gamma log-likelihood and its analytic gradient in log
// parameters: lgamma and digamma once per distinct x, one log per row.
double GammaGammaSummedLogLikelihood(const PreparedSpend& d,
                                     const double* theta, double* gradient) {
  const double p = theta[0], q = theta[1], g = theta[2];
  const double log_g = std::log(g);
  const double lgamma_q = LogGamma(q), digamma_q = Digamma(q);
  double ll = 0, g_p = 0, g_q = 0, g_g = 0;
  for (size_t j = 0; j < d.xs.size(); ++j) {
    const double w = d.xs_weight[j], x = d.xs[j], px = p * x;
    ll += w * (LogGamma(px + q) - LogGamma(px) - lgamma_q + q * log_g +
               px * d.xs_log[j]);
    if (gradient != nullptr) {
      const double digamma_sum = Digamma(px + q);
      g_p += w * x * (digamma_sum - Digamma(px) + d.xs_log[j]);
      g_q += w * (digamma_sum - digamma_q + log_g);
      g_g += w * q / g;
    }
  }
  for (size_t i = 0; i < d.x.size(); ++i) {
    const double w = d.weight[i], x = d.x[i];
    const double log_total = std::log(g + d.x_spend[i]);
    ll += w * ((p * x - 1) * d.log_spend[i] - (p * x + q) * log_total);
    g_p += w * x * (d.log_spend[i] - log_total);
    g_q -= w * log_total;
    g_g -= w * (p * x + q) / (g + d.x_spend[i]);
  }
  if (gradient != nullptr) {
    gradient[0] = p * g_p;
    gradient[1] = q * g_q;
    gradient[2] = g * g_g;
  }
  return ll;
}

// ---------------------------------------------------------------------------
// The optimiser
// ---------------------------------------------------------------------------

// Log-likelihood at natural parameters theta; fills the gradient in log
// parameters when `gradient` is not null.
using LogLikelihoodFn =
    std::function<double(const double* theta, double* gradient)>;

// One evaluation of the objective. RunFit keeps the latest and the best of
// the current start so that points evaluated again are not recomputed:
// NLopt begins at the start point RunFit has just checked, and each start is
// judged at its end point, which NLopt has already evaluated.
struct Evaluation {
  std::vector<double> log_theta;  // Empty: nothing stored.
  double value = 0;               // Penalised objective.
  double log_likelihood = 0;      // Unpenalised.
  std::vector<double> gradient;   // Of `value`, if has_gradient.
  bool has_gradient = false;
  bool non_finite = false;

  bool Answers(const double* point, bool needs_gradient) const {
    return !log_theta.empty() && (has_gradient || !needs_gradient) &&
           std::equal(log_theta.begin(), log_theta.end(), point);
  }
};

struct OptimizerContext {
  const LogLikelihoodFn* log_likelihood;
  const FitOptions* options;
  nlopt::opt* opt;
  size_t n;
  double scale;  // 1 / customers: the objective is per customer.
  std::vector<double> theta;
  std::vector<double> gradient;
  bool cancelled = false;
  bool non_finite = false;
  double log_likelihood_value = 0;  // Of the last PenalisedObjective call.
  Evaluation latest;
  Evaluation best;  // Lowest finite value of the current start.
};

// Penalised negative log-likelihood per customer, in log parameters. Sets
// ctx.log_likelihood_value to the unpenalised log-likelihood.
double PenalisedObjective(OptimizerContext& ctx, const double* log_theta,
                          double* gradient) {
  for (const Evaluation* cached : {&ctx.latest, &ctx.best}) {
    if (!cached->Answers(log_theta, gradient != nullptr)) continue;
    if (gradient != nullptr) {
      std::copy(cached->gradient.begin(), cached->gradient.end(), gradient);
    }
    ctx.non_finite = ctx.non_finite || cached->non_finite;
    ctx.log_likelihood_value = cached->log_likelihood;
    return cached->value;
  }
  for (size_t k = 0; k < ctx.n; ++k) ctx.theta[k] = std::exp(log_theta[k]);
  const double ll = (*ctx.log_likelihood)(
      ctx.theta.data(), gradient != nullptr ? ctx.gradient.data() : nullptr);
  const double lambda = ctx.options->l2_penalty;
  double penalty = 0;
  for (size_t k = 0; k < ctx.n; ++k) {
    penalty += lambda * ctx.theta[k] * ctx.theta[k];
  }
  double value = (-ll + penalty) * ctx.scale;
  bool finite = std::isfinite(value) && std::isfinite(ll);
  if (gradient != nullptr) {
    for (size_t k = 0; k < ctx.n; ++k) {
      gradient[k] =
          (-ctx.gradient[k] + 2 * lambda * ctx.theta[k] * ctx.theta[k]) *
          ctx.scale;
      finite = finite && std::isfinite(gradient[k]);
    }
  }
  if (!finite) {
    // Steer the optimiser away; the start is judged at its end point.
    ctx.non_finite = true;
    if (gradient != nullptr) std::fill(gradient, gradient + ctx.n, 0.0);
    value = std::numeric_limits<double>::max();
  }
  Evaluation& latest = ctx.latest;
  latest.log_theta.assign(log_theta, log_theta + ctx.n);
  latest.value = value;
  latest.log_likelihood = ll;
  latest.has_gradient = gradient != nullptr;
  if (latest.has_gradient) latest.gradient.assign(gradient, gradient + ctx.n);
  latest.non_finite = !finite;
  if (finite && (ctx.best.log_theta.empty() || value < ctx.best.value ||
                 (value == ctx.best.value && latest.has_gradient))) {
    ctx.best = latest;
  }
  ctx.log_likelihood_value = ll;
  return value;
}

double NloptObjective(unsigned n, const double* x, double* gradient,
                      void* data) {
  auto& ctx = *static_cast<OptimizerContext*>(data);
  (void)n;
  if (ctx.options->cancelled && ctx.options->cancelled()) {
    ctx.cancelled = true;
    ctx.opt->force_stop();
    return std::numeric_limits<double>::max();
  }
  return PenalisedObjective(ctx, x, gradient);
}

std::string Termination(nlopt::result result) {
  switch (result) {
    case nlopt::SUCCESS:
      return "success";
    case nlopt::STOPVAL_REACHED:
      return "stopval reached";
    case nlopt::FTOL_REACHED:
      return "ftol reached";
    case nlopt::XTOL_REACHED:
      return "xtol reached";
    case nlopt::MAXEVAL_REACHED:
      return "max evaluations";
    case nlopt::MAXTIME_REACHED:
      return "max time";
    default:
      return absl::StrCat("nlopt result ", static_cast<int>(result));
  }
}

// Deterministic starts: `base` first, then base * exp(u) with each u uniform
// in [-1, 1] from a fixed-seed mt19937_64 (whose output sequence the
// standard fixes; the mapping to [0, 1) is ours, so it is portable too).
std::vector<std::vector<double>> MakeStarts(const std::vector<double>& base,
                                            int count, uint64_t seed) {
  std::vector<std::vector<double>> starts;
  std::mt19937_64 rng(seed);
  for (int k = 0; k < count; ++k) {
    std::vector<double> start = base;
    for (double& v : start) {
      double log_v = std::log(v);
      if (k > 0) {
        const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
        log_v += 2 * u - 1;
      }
      v = std::exp(std::clamp(log_v, -kLogBound + 0.5, kLogBound - 0.5));
    }
    starts.push_back(std::move(start));
  }
  return starts;
}

absl::Status CheckOptions(const FitOptions& options) {
  if (options.starts < 1) {
    return absl::InvalidArgumentError("fit options: starts must be >= 1");
  }
  if (!std::isfinite(options.l2_penalty) || options.l2_penalty < 0) {
    return absl::InvalidArgumentError(
        "fit options: l2_penalty must be finite and >= 0");
  }
  if (options.max_evaluations < 1) {
    return absl::InvalidArgumentError(
        "fit options: max_evaluations must be >= 1");
  }
  return absl::OkStatus();
}

// Runs every start and picks the winner (see FitCountModel).
absl::StatusOr<FitResult> RunFit(const LogLikelihoodFn& log_likelihood,
                                 const std::vector<std::vector<double>>& starts,
                                 nlopt::algorithm algorithm,
                                 double total_weight,
                                 const FitOptions& options) {
  const size_t n = starts.front().size();
  FitResult result;
  OptimizerContext ctx{.log_likelihood = &log_likelihood,
                       .options = &options,
                       .opt = nullptr,
                       .n = n,
                       .scale = 1 / total_weight,
                       .theta = std::vector<double>(n),
                       .gradient = std::vector<double>(n),
                       .latest = Evaluation(),
                       .best = Evaluation()};
  const bool uses_gradient = algorithm == nlopt::LD_LBFGS;
  std::vector<std::vector<double>> ends;
  std::vector<std::vector<double>> end_gradients;
  std::vector<double> objectives;
  for (const std::vector<double>& initial : starts) {
    FitStart start;
    start.initial = initial;
    std::vector<double> x(n);
    for (size_t k = 0; k < n; ++k) x[k] = std::log(initial[k]);
    ctx.non_finite = false;
    ctx.best = Evaluation();
    std::vector<double> g(n);
    const double f0 = PenalisedObjective(ctx, x.data(), g.data());
    if (ctx.non_finite || !std::isfinite(f0)) {
      start.termination = "non-finite likelihood";
      result.starts.push_back(std::move(start));
      ends.emplace_back();
      end_gradients.emplace_back();
      objectives.push_back(kInf);
      continue;
    }
    nlopt::opt opt(algorithm, static_cast<unsigned>(n));
    ctx.opt = &opt;
    opt.set_lower_bounds(-kLogBound);
    opt.set_upper_bounds(kLogBound);
    opt.set_min_objective(NloptObjective, &ctx);
    opt.set_ftol_rel(1e-11);
    opt.set_xtol_abs(1e-9);
    opt.set_maxeval(options.max_evaluations);
    if (!uses_gradient) opt.set_initial_step(0.3);
    double f = f0;
    bool roundoff = false;
    try {
      const nlopt::result status = opt.optimize(x, f);
      start.termination = Termination(status);
      start.converged =
          status == nlopt::SUCCESS || status == nlopt::FTOL_REACHED ||
          status == nlopt::XTOL_REACHED || status == nlopt::STOPVAL_REACHED;
    } catch (const nlopt::roundoff_limited&) {
      start.termination = "roundoff limited";
      roundoff = true;
    } catch (const nlopt::forced_stop&) {
      if (ctx.cancelled) return absl::CancelledError("model fit cancelled");
      start.termination = "failure: forced stop";
    } catch (const std::exception& e) {
      start.termination = absl::StrCat("failure: ", e.what());
    }
    if (ctx.cancelled) return absl::CancelledError("model fit cancelled");
    start.iterations = opt.get_numevals();
    // Judge the start at its end point.
    ctx.non_finite = false;
    f = PenalisedObjective(ctx, x.data(), g.data());
    const double ll = ctx.log_likelihood_value;
    if (ctx.non_finite || !std::isfinite(f) || !std::isfinite(ll)) {
      start.converged = false;
      start.termination = "non-finite likelihood";
      objectives.push_back(kInf);
      ends.emplace_back();
      end_gradients.emplace_back();
    } else {
      if (roundoff) {
        // LD_LBFGS gives up when it cannot decrease f further, which at an
        // optimum is success: accept it when the projected gradient (zero
        // for components pushing against an active bound) is small.
        double largest = 0;
        for (size_t k = 0; k < n; ++k) {
          const bool at_lower = x[k] <= -kLogBound + 1e-9 && g[k] > 0;
          const bool at_upper = x[k] >= kLogBound - 1e-9 && g[k] < 0;
          if (!at_lower && !at_upper)
            largest = std::max(largest, std::abs(g[k]));
        }
        start.converged = largest < kConvergedGradient;
      }
      start.log_likelihood = ll;
      objectives.push_back(f);
      std::vector<double> theta(n);
      for (size_t k = 0; k < n; ++k) theta[k] = std::exp(x[k]);
      ends.push_back(std::move(theta));
      end_gradients.push_back(g);
    }
    result.starts.push_back(std::move(start));
  }
  // The best converged start, else the best finished one.
  int best = -1;
  for (int pass = 0; pass < 2 && best < 0; ++pass) {
    for (size_t k = 0; k < objectives.size(); ++k) {
      if (!std::isfinite(objectives[k])) continue;
      if (pass == 0 && !result.starts[k].converged) continue;
      if (best < 0 || objectives[k] < objectives[best])
        best = static_cast<int>(k);
    }
  }
  if (best < 0) {
    return ModelFailed(
        "every optimiser start failed numerically (non-finite likelihood)");
  }
  result.params = ends[best];
  result.converged = result.starts[best].converged;
  result.iterations = result.starts[best].iterations;
  result.log_likelihood = *result.starts[best].log_likelihood;
  double norm = 0;
  for (double v : end_gradients[best]) {
    norm += (v / ctx.scale) * (v / ctx.scale);
  }
  result.gradient_norm = std::sqrt(norm);
  if (!std::isfinite(result.gradient_norm)) result.gradient_norm = 0;
  return result;
}

}  // namespace

// ---------------------------------------------------------------------------
// Summary data
// ---------------------------------------------------------------------------

int DaysPerPeriod(TimeUnit unit) { return static_cast<int>(unit); }

int PeriodsPerYear(TimeUnit unit) { return unit == TimeUnit::kDay ? 365 : 52; }

double DaysToPeriods(int64_t days, TimeUnit unit) {
  return static_cast<double>(days) / DaysPerPeriod(unit);
}

absl::StatusOr<CustomerSummary> SummarizeCustomer(
    std::span<const int64_t> purchase_days, std::span<const double> day_spend,
    int64_t calibration_end_day, TimeUnit unit) {
  if (!day_spend.empty() && day_spend.size() != purchase_days.size()) {
    return absl::InvalidArgumentError(
        "day_spend must be empty or aligned with purchase_days");
  }
  for (size_t i = 1; i < purchase_days.size(); ++i) {
    if (purchase_days[i] <= purchase_days[i - 1]) {
      return absl::InvalidArgumentError(
          "purchase days must be strictly increasing (merge same-day "
          "purchases first)");
    }
  }
  const size_t count =
      std::upper_bound(purchase_days.begin(), purchase_days.end(),
                       calibration_end_day) -
      purchase_days.begin();
  if (count == 0) {
    return absl::FailedPreconditionError(
        "no purchase on or before the calibration end day");
  }
  const int64_t first = purchase_days[0];
  CustomerSummary summary;
  summary.x = static_cast<double>(count - 1);
  summary.t_x = DaysToPeriods(purchase_days[count - 1] - first, unit);
  summary.T = DaysToPeriods(calibration_end_day - first, unit);
  if (!day_spend.empty() && count > 1) {
    double total = 0;
    for (size_t i = 1; i < count; ++i) total += day_spend[i];
    const double mean = total / static_cast<double>(count - 1);
    if (!std::isfinite(mean)) {
      return absl::InvalidArgumentError("day_spend must be finite");
    }
    summary.mean_repeat_spend = mean;
  }
  return summary;
}

void SummaryData::Add(double x_value, double t_x_value, double T_value,
                      double weight_value) {
  if (weight.empty() && weight_value != 1) weight.assign(x.size(), 1.0);
  x.push_back(x_value);
  t_x.push_back(t_x_value);
  T.push_back(T_value);
  if (!weight.empty()) weight.push_back(weight_value);
}

double SummaryData::TotalWeight() const {
  if (weight.empty()) return static_cast<double>(x.size());
  return std::accumulate(weight.begin(), weight.end(), 0.0);
}

double SpendData::TotalWeight() const {
  if (weight.empty()) return static_cast<double>(x.size());
  return std::accumulate(weight.begin(), weight.end(), 0.0);
}

SummaryData Compress(const SummaryData& data) {
  struct Row {
    double x, T, t_x, w;
  };
  const size_t n = std::min({data.x.size(), data.t_x.size(), data.T.size()});
  std::vector<Row> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const double w = i < data.weight.size() ? data.weight[i] : 1;
    if (w == 0) continue;
    rows.push_back({data.x[i], data.T[i], data.t_x[i], w});
  }
  auto before = [](const Row& u, const Row& v) {
    if (u.x != v.x) return u.x < v.x;
    if (u.T != v.T) return u.T < v.T;
    return u.t_x < v.t_x;
  };
  // Already compressed data (the common case on a second pass) needs no
  // sort.
  if (!std::is_sorted(rows.begin(), rows.end(), before)) {
    std::sort(rows.begin(), rows.end(), before);
  }
  SummaryData out;
  out.x.reserve(rows.size());
  out.t_x.reserve(rows.size());
  out.T.reserve(rows.size());
  out.weight.reserve(rows.size());
  for (const Row& row : rows) {
    if (!out.x.empty() && out.x.back() == row.x && out.T.back() == row.T &&
        out.t_x.back() == row.t_x) {
      out.weight.back() += row.w;
      continue;
    }
    out.x.push_back(row.x);
    out.t_x.push_back(row.t_x);
    out.T.push_back(row.T);
    out.weight.push_back(row.w);
  }
  return out;
}

absl::StatusOr<SpendSelection> SelectRepeatSpenders(
    std::span<const double> x, std::span<const double> mean_spend) {
  if (x.size() != mean_spend.size()) {
    return absl::InvalidArgumentError(
        "x and mean_spend must have equal lengths");
  }
  SpendSelection selection;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || x[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("row ", i, ": x must be finite and >= 0"));
    }
    if (x[i] == 0) {
      ++selection.one_time_buyers;
    } else if (!std::isfinite(mean_spend[i]) || mean_spend[i] <= 0) {
      ++selection.non_positive_spend;
    } else {
      selection.data.x.push_back(x[i]);
      selection.data.spend.push_back(mean_spend[i]);
      selection.rows.push_back(i);
    }
  }
  return selection;
}

// ---------------------------------------------------------------------------
// Log-likelihoods
// ---------------------------------------------------------------------------

std::vector<std::string> ParameterNames(CountModel model) {
  if (model == CountModel::kParetoNbd) return {"r", "alpha", "s", "beta"};
  return {"r", "alpha", "a", "b"};
}

std::vector<std::string> GammaGammaParameterNames() {
  return {"p", "q", "gamma"};
}

std::string OptimizerName(CountModel model) {
  return model == CountModel::kParetoNbd ? "nlopt:LN_BOBYQA" : "nlopt:LD_LBFGS";
}

absl::StatusOr<double> CustomerLogLikelihood(CountModel model,
                                             std::span<const double> params,
                                             double x, double t_x, double T) {
  if (absl::Status s = CheckModel(model, params); !s.ok()) return s;
  if (absl::Status s = CheckCustomer(x, t_x, T); !s.ok()) return s;
  double ll;
  if (model == CountModel::kParetoNbd) {
    ll = ParetoCustomerTerms(params[0], params[1], params[2], params[3], x, t_x,
                             T, LogGamma(params[0] + x) - LogGamma(params[0]))
             .log_likelihood;
  } else {
    ll = BgFamilyCustomerLogLikelihood(model == CountModel::kMbgNbd, params[0],
                                       params[1], params[2], params[3], x, t_x,
                                       T);
  }
  return Finite(ll, "the log-likelihood");
}

absl::StatusOr<LogLikelihood> CountLogLikelihood(CountModel model,
                                                 std::span<const double> params,
                                                 const SummaryData& data) {
  if (absl::Status s = CheckModel(model, params); !s.ok()) return s;
  absl::StatusOr<PreparedCounts> prepared = PrepareCounts(data);
  if (!prepared.ok()) return prepared.status();
  BgWorkspace ws;
  LogLikelihood result;
  result.gradient.resize(4);
  result.value = CountModelLogLikelihood(model, *prepared, params.data(),
                                         result.gradient.data(), ws);
  if (!std::isfinite(result.value) || !AllFinite(result.gradient)) {
    return ModelFailed("the log-likelihood is not finite at these parameters");
  }
  return result;
}

absl::StatusOr<double> GammaGammaCustomerLogLikelihood(
    std::span<const double> params, double x, double mean_spend) {
  if (absl::Status s = CheckParams(params, 3, "Gamma-Gamma"); !s.ok()) return s;
  if (!std::isfinite(x) || x <= 0 || !std::isfinite(mean_spend) ||
      mean_spend <= 0) {
    return absl::InvalidArgumentError(
        "x and mean_spend must be finite and positive");
  }
  return Finite(GammaGammaRowLogLikelihood(params[0], params[1], params[2], x,
                                           mean_spend),
                "the log-likelihood");
}

absl::StatusOr<LogLikelihood> GammaGammaLogLikelihood(
    std::span<const double> params, const SpendData& data) {
  if (absl::Status s = CheckParams(params, 3, "Gamma-Gamma"); !s.ok()) return s;
  absl::StatusOr<PreparedSpend> prepared = PrepareSpend(data);
  if (!prepared.ok()) return prepared.status();
  LogLikelihood result;
  result.gradient.resize(3);
  result.value = GammaGammaSummedLogLikelihood(*prepared, params.data(),
                                               result.gradient.data());
  if (!std::isfinite(result.value) || !AllFinite(result.gradient)) {
    return ModelFailed("the log-likelihood is not finite at these parameters");
  }
  return result;
}

// ---------------------------------------------------------------------------
// Fitting
// ---------------------------------------------------------------------------

absl::StatusOr<FitResult> FitCountModel(CountModel model,
                                        const SummaryData& data,
                                        const FitOptions& options) {
  if (model != CountModel::kBgNbd && model != CountModel::kMbgNbd &&
      model != CountModel::kParetoNbd) {
    return absl::InvalidArgumentError("unknown purchase-count model");
  }
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<PreparedCounts> prepared = PrepareCounts(data);
  if (!prepared.ok()) return prepared.status();
  const PreparedCounts& d = *prepared;
  if (absl::Status s = CheckIdentifiable(d); !s.ok()) return s;

  // Moments-based first start: a Gamma(r, alpha) purchase rate with the
  // population's repeat rate r / alpha = sum(x) / sum(T); drop-out
  // Beta(1, 3) (BG family), or a Gamma(1, beta) drop-out rate of one per
  // mean age (Pareto/NBD, with r = 1). For the BG family r is the NBD
  // moment estimate (NbdMomentShape), which saves the optimiser a few
  // evaluations.
  const double rate = d.sum_wx / d.sum_wT;
  std::vector<double> base;
  if (model == CountModel::kParetoNbd) {
    base = {1, 1 / rate, 1, d.sum_wT / d.total_weight};
  } else {
    const double r = NbdMomentShape(d);
    base = {r, r / rate, 1, 3};
  }
  const auto starts =
      MakeStarts(base, options.starts, 0x636c76 + static_cast<int>(model));
  BgWorkspace ws;
  const LogLikelihoodFn log_likelihood = [&](const double* theta,
                                             double* gradient) {
    return CountModelLogLikelihood(model, d, theta, gradient, ws);
  };
  const nlopt::algorithm algorithm =
      model == CountModel::kParetoNbd ? nlopt::LN_BOBYQA : nlopt::LD_LBFGS;
  absl::StatusOr<FitResult> result =
      RunFit(log_likelihood, starts, algorithm, d.total_weight, options);
  if (!result.ok()) return result;
  result->names = ParameterNames(model);
  result->optimizer = OptimizerName(model);
  result->customers_used = d.total_weight;
  result->repeat_buyers = d.repeat_weight;
  return result;
}

absl::StatusOr<FitResult> FitGammaGamma(const SpendData& data,
                                        const FitOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<PreparedSpend> prepared = PrepareSpend(data);
  if (!prepared.ok()) return prepared.status();
  const PreparedSpend& d = *prepared;
  if (d.total_weight <= 0) {
    return ModelFailed("no repeat buyers with positive spend to fit");
  }
  if (d.total_weight < 2) {
    return ModelFailed("a single customer cannot identify the spend model");
  }
  // First start: p = 2, q = 3 and gamma matching the mean spend,
  // E[Z] = p gamma / (q - 1).
  const auto starts = MakeStarts({2, 3, d.mean_spend}, options.starts, 0x6767);
  const LogLikelihoodFn log_likelihood = [&](const double* theta,
                                             double* gradient) {
    return GammaGammaSummedLogLikelihood(d, theta, gradient);
  };
  absl::StatusOr<FitResult> result =
      RunFit(log_likelihood, starts, nlopt::LD_LBFGS, d.total_weight, options);
  if (!result.ok()) return result;
  result->names = GammaGammaParameterNames();
  result->optimizer = "nlopt:LD_LBFGS";
  result->customers_used = d.total_weight;
  result->repeat_buyers = d.total_weight;
  return result;
}

// ---------------------------------------------------------------------------
// Predictions
// ---------------------------------------------------------------------------

absl::StatusOr<double> ProbabilityAlive(CountModel model,
                                        std::span<const double> params,
                                        double x, double t_x, double T) {
  if (absl::Status s = CheckModel(model, params); !s.ok()) return s;
  if (absl::Status s = CheckCustomer(x, t_x, T); !s.ok()) return s;
  double p;
  if (model == CountModel::kParetoNbd) {
    p = std::exp(ParetoCustomerTerms(params[0], params[1], params[2], params[3],
                                     x, t_x, T, 0)
                     .log_p_alive);
  } else {
    p = BgFamilyProbabilityAlive(model == CountModel::kMbgNbd, params[0],
                                 params[1], params[2], params[3], x, t_x, T);
  }
  absl::StatusOr<double> finite = Finite(p, "P(alive)");
  if (!finite.ok()) return finite;
  return std::clamp(*finite, 0.0, 1.0);
}

namespace {

// E[X(T, T + t) | alive at T] for the BG family: a fresh BG/NBD process with
// the posterior parameters r + x, alpha + T, a, b + x (+ 1 for MBG/NBD,
// whose customer also survived the flip after the first purchase). Times
// P(alive) this is Fader, Hardie & Lee (2005) eq. 10 and its MBG/NBD
// counterpart in Batislam et al. (2007).
double BgFamilyAliveExpectation(bool modified, std::span<const double> params,
                                double x, double T, double t) {
  return BgFreshExpectation(t, params[0] + x, params[1] + T, params[2],
                            params[3] + x + (modified ? 1 : 0));
}

// Pareto/NBD E[X(T, T + t) | alive at T] (Schmittlein, Morrison & Colombo
// 1987; Fader & Hardie 2005 note):
//   (r + x) (beta + T) / ((alpha + T) (s - 1)) [1 - ((beta + T) /
//   (beta + T + t))^(s - 1)],
// written with (1 - e^-(s-1)L) / (s - 1), L = log(1 + t / (beta + T)), which
// is continuous at s = 1.
double ParetoAliveExpectation(std::span<const double> params, double x,
                              double T, double t) {
  const double r = params[0], alpha = params[1], s = params[2],
               beta = params[3];
  return (r + x) / (alpha + T) * (beta + T) *
         ExpIntegralFactor(s - 1, std::log1p(t / (beta + T)));
}

absl::Status CheckHorizon(double t) {
  if (!std::isfinite(t) || t < 0) {
    return absl::InvalidArgumentError("t must be finite and >= 0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> ConditionalExpectedPurchases(
    CountModel model, std::span<const double> params, double x, double t_x,
    double T, double t) {
  if (absl::Status s = CheckHorizon(t); !s.ok()) return s;
  absl::StatusOr<double> alive = ProbabilityAlive(model, params, x, t_x, T);
  if (!alive.ok()) return alive;
  const double expectation =
      model == CountModel::kParetoNbd
          ? ParetoAliveExpectation(params, x, T, t)
          : BgFamilyAliveExpectation(model == CountModel::kMbgNbd, params, x, T,
                                     t);
  absl::StatusOr<double> value =
      Finite(*alive * expectation, "the expected purchases");
  if (!value.ok()) return value;
  return std::max(0.0, *value);
}

absl::StatusOr<double> ExpectedPurchases(CountModel model,
                                         std::span<const double> params,
                                         double t) {
  if (absl::Status s = CheckModel(model, params); !s.ok()) return s;
  if (absl::Status s = CheckHorizon(t); !s.ok()) return s;
  double value = 0;
  switch (model) {
    case CountModel::kBgNbd:
      // Fader, Hardie & Lee (2005), eq. 9.
      value = BgFreshExpectation(t, params[0], params[1], params[2], params[3]);
      break;
    case CountModel::kMbgNbd:
      // Batislam et al. (2007): b / (a - 1) [1 - (alpha / (alpha + t))^r
      // 2F1(r, b + 1; a + b; t / (alpha + t))], i.e. E[1 - p] = b / (a + b)
      // times the BG expectation with b + 1 (the customer survived the first
      // flip).
      value =
          params[3] / (params[2] + params[3]) *
          BgFreshExpectation(t, params[0], params[1], params[2], params[3] + 1);
      break;
    case CountModel::kParetoNbd:
      // r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)].
      value = ParetoAliveExpectation(params, 0, 0, t);
      break;
  }
  absl::StatusOr<double> finite = Finite(value, "the expected purchases");
  if (!finite.ok()) return finite;
  return std::max(0.0, *finite);
}

absl::StatusOr<double> CohortExpectedPurchases(CountModel model,
                                               std::span<const double> params,
                                               std::span<const double> ages) {
  if (absl::Status s = CheckModel(model, params); !s.ok()) return s;
  std::vector<double> sorted(ages.begin(), ages.end());
  if (!AllFinite(sorted)) {
    return absl::InvalidArgumentError("ages must be finite");
  }
  for (double& age : sorted) age = std::max(age, 0.0);
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    absl::StatusOr<double> e = ExpectedPurchases(model, params, sorted[i]);
    if (!e.ok()) return e;
    total += static_cast<double>(j - i) * *e;
    i = j;
  }
  return total;
}

double PeriodDiscountRate(double annual_rate, TimeUnit unit) {
  if (!std::isfinite(annual_rate)) annual_rate = 0;
  annual_rate = std::clamp(annual_rate, 0.0, 1.0);
  return std::expm1(std::log1p(annual_rate) / PeriodsPerYear(unit));
}

absl::StatusOr<double> DiscountedExpectedPurchases(
    CountModel model, std::span<const double> params, double x, double t_x,
    double T, int horizon, double period_discount_rate) {
  if (horizon < 1 || horizon > 100000) {
    return absl::InvalidArgumentError("horizon must be in [1, 100000]");
  }
  if (!std::isfinite(period_discount_rate) || period_discount_rate < 0) {
    return absl::InvalidArgumentError(
        "the discount rate must be finite and >= 0");
  }
  absl::StatusOr<double> alive = ProbabilityAlive(model, params, x, t_x, T);
  if (!alive.ok()) return alive;
  const double factor = 1 / (1 + period_discount_rate);
  double discount = 1, previous = 0, total = 0;
  for (int k = 1; k <= horizon; ++k) {
    discount *= factor;
    const double current =
        model == CountModel::kParetoNbd
            ? ParetoAliveExpectation(params, x, T, k)
            : BgFamilyAliveExpectation(model == CountModel::kMbgNbd, params, x,
                                       T, k);
    total += discount * (current - previous);
    previous = current;
  }
  absl::StatusOr<double> value =
      Finite(*alive * total, "the discounted expected purchases");
  if (!value.ok()) return value;
  return std::max(0.0, *value);
}

absl::StatusOr<double> ConditionalExpectedSpend(std::span<const double> params,
                                                double x, double mean_spend) {
  if (absl::Status s = CheckParams(params, 3, "Gamma-Gamma"); !s.ok()) return s;
  if (!std::isfinite(x) || x < 0 || !std::isfinite(mean_spend) ||
      (x > 0 && mean_spend <= 0)) {
    return absl::InvalidArgumentError(
        "x must be finite and >= 0, mean_spend positive when x > 0");
  }
  const double p = params[0], q = params[1], gamma = params[2];
  const double denominator = p * x + q - 1;
  if (denominator <= 0) {
    return ModelFailed(
        "the expected spend does not exist (p x + q <= 1 for this customer)");
  }
  // Fader, Hardie & Lee (2005) "RFM and CLV", appendix; Fader & Hardie
  // (2013): E[Z | p, q, gamma, x, zbar] = p (gamma + x zbar) / (p x + q - 1),
  // a weighted mean of the population mean p gamma / (q - 1) and zbar.
  return Finite(p * (gamma + x * (x > 0 ? mean_spend : 0)) / denominator,
                "the expected spend");
}

absl::StatusOr<double> PopulationMeanSpend(std::span<const double> params) {
  return ConditionalExpectedSpend(params, 0, 0);
}

absl::StatusOr<double> CustomerLifetimeValue(CountModel model,
                                             std::span<const double> params,
                                             double x, double t_x, double T,
                                             double expected_spend,
                                             const ClvOptions& options) {
  if (!std::isfinite(expected_spend) || expected_spend < 0) {
    return absl::InvalidArgumentError("expected_spend must be finite and >= 0");
  }
  if (!(options.margin > 0 && options.margin <= 1)) {
    return absl::InvalidArgumentError("margin must be in (0, 1]");
  }
  if (!(options.annual_discount_rate >= 0 &&
        options.annual_discount_rate < 1)) {
    return absl::InvalidArgumentError("annual_discount_rate must be in [0, 1)");
  }
  absl::StatusOr<double> purchases = DiscountedExpectedPurchases(
      model, params, x, t_x, T, options.horizon_periods,
      PeriodDiscountRate(options.annual_discount_rate, options.unit));
  if (!purchases.ok()) return purchases;
  return Finite(options.margin * expected_spend * *purchases, "the CLV");
}

std::optional<double> PearsonCorrelation(std::span<const double> a,
                                         std::span<const double> b,
                                         std::span<const double> weights) {
  if (a.size() != b.size() ||
      (!weights.empty() && weights.size() != a.size())) {
    return std::nullopt;
  }
  if (!AllFinite(a) || !AllFinite(b) || !AllFinite(weights)) {
    return std::nullopt;
  }
  double total = 0, mean_a = 0, mean_b = 0;
  size_t positive = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double w = weights.empty() ? 1 : weights[i];
    if (w < 0) return std::nullopt;
    if (w == 0) continue;
    ++positive;
    total += w;
    mean_a += w * a[i];
    mean_b += w * b[i];
  }
  if (positive < 2) return std::nullopt;
  mean_a /= total;
  mean_b /= total;
  double cov = 0, var_a = 0, var_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double w = weights.empty() ? 1 : weights[i];
    const double da = a[i] - mean_a, db = b[i] - mean_b;
    cov += w * da * db;
    var_a += w * da * da;
    var_b += w * db * db;
  }
  if (var_a <= 0 || var_b <= 0) return std::nullopt;
  const double rho = cov / std::sqrt(var_a * var_b);
  if (!std::isfinite(rho)) return std::nullopt;
  return std::clamp(rho, -1.0, 1.0);
}

}  // namespace custra::clv
