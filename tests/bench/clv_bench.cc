// Customer-value model benchmark (a program, not a test).
//
// Times the BG/NBD maximum-likelihood fit of common/clv_models.h
//   1. on the CDNOW sample summary (2,357 customers, weeks; Fader, Hardie &
//      Lee 2005), and
//   2. on N simulated customers (default 1,000,000) in DAILY periods over a
//      year, so that compression still leaves hundreds of thousands of
//      distinct (x, t_x, T) rows,
// and in the same run times the same fit in SciPy
// (tests/bench/clv_reference.py: L-BFGS-B in log space on the same
// compressed rows and weights, from the same starting point, data already
// in memory, only the minimize call timed), then prints both and the
// speed-up. The like-for-like comparison is one optimiser start on each
// side; the default five-start fit is printed as well.
//
// Usage: clv_bench [--cdnow CSV] [--customers N] [--repeats K]
//                  [--python PATH] [--script PATH] [--no-python]
// CSV is cdnow_customers_summary.csv (ID,frequency,recency,T) or
// cdnow_customers_summary_with_transactions.csv (ID,x,t_x,T,zbar); default
// $CUSTRA_SHARED_DATA_DIR/cdnow/cdnow_customers_summary.csv.
//
// Targets: CDNOW fit <= 20 ms; 1M customers (compress + fit) <= 3 s;
// >= 20x faster than SciPy.

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/clv_models.h"

namespace {

using custra::clv::CountModel;
using custra::clv::FitOptions;
using custra::clv::FitResult;
using custra::clv::SummaryData;

double Seconds(const std::function<void()>& work) {
  const auto begin = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
      .count();
}

// Best wall time of `repeats` runs.
double BestOf(int repeats, const std::function<void()>& work) {
  double best = INFINITY;
  for (int i = 0; i < repeats; ++i) best = std::min(best, Seconds(work));
  return best;
}

std::optional<SummaryData> ReadCdnowSummary(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);  // Header: ID then x/frequency, t_x/recency, T.
  SummaryData data;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string id, x, t_x, T;
    if (!std::getline(fields, id, ',') || !std::getline(fields, x, ',') ||
        !std::getline(fields, t_x, ',') || !std::getline(fields, T, ',')) {
      return std::nullopt;
    }
    data.Add(std::stod(x), std::stod(t_x), std::stod(T));
  }
  return data;
}

// BG/NBD customers in days: first purchase on a uniform day of the year,
// calibration ending on day 365; purchases at exponential gaps while alive,
// merged per day; after each repeat purchase day the customer drops out with
// probability p.
SummaryData SimulateDaily(int64_t customers, uint64_t seed) {
  const double r = 0.25, alpha = 20, a = 0.8, b = 2.5;
  std::mt19937_64 rng(seed);
  std::gamma_distribution<double> rate(r, 1 / alpha);
  std::gamma_distribution<double> beta_a(a, 1), beta_b(b, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  SummaryData data;
  data.x.reserve(customers);
  data.t_x.reserve(customers);
  data.T.reserve(customers);
  for (int64_t i = 0; i < customers; ++i) {
    const int64_t first = static_cast<int64_t>(rng() % 365);
    const int64_t T = 365 - first;
    const double lambda = rate(rng);
    const double ga = beta_a(rng), gb = beta_b(rng);
    const double p = ga / (ga + gb);
    std::exponential_distribution<double> gap(lambda);
    double t = 0;
    int64_t x = 0, last_day = 0;
    while (true) {
      t += gap(rng);
      // Compared as a double first: a rate that underflowed to 0 gives
      // t = inf, which must not be converted to an integer.
      if (!(t < static_cast<double>(T + 1))) break;
      const int64_t day = static_cast<int64_t>(t);
      if (day == last_day) continue;  // Same day as the last purchase.
      ++x;
      last_day = day;
      if (uniform(rng) < p) break;
    }
    data.Add(static_cast<double>(x), static_cast<double>(last_day),
             static_cast<double>(T));
  }
  return data;
}

// FitCountModel's first start for the BG family (see clv_models.cc):
// alpha = r sum(T) / sum(x), a = 1, b = 3, with r the NBD moment estimate
// m^2 sum(T^2) / (sum((x - m T)^2) - m sum(T)), m = sum(x) / sum(T)
// (1 when that is not positive, clamped to [0.01, 100]).
std::vector<double> FirstStart(const SummaryData& data) {
  double sum_x = 0, sum_T = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    sum_x += data.WeightAt(i) * data.x[i];
    sum_T += data.WeightAt(i) * data.T[i];
  }
  const double m = sum_x / sum_T;
  double sum_squares = 0, sum_T2 = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const double deviation = data.x[i] - m * data.T[i];
    sum_squares += data.WeightAt(i) * deviation * deviation;
    sum_T2 += data.WeightAt(i) * data.T[i] * data.T[i];
  }
  const double excess = sum_squares - m * sum_T;
  double r = m * m * sum_T2 / excess;
  if (!(excess > 0) || !std::isfinite(r) || !(r > 0)) r = 1;
  r = std::clamp(r, 1e-2, 1e2);
  return {r, r / m, 1, 3};
}

std::string WriteRows(const SummaryData& compressed) {
  const char* dir = getenv("TMPDIR");
  std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/clv_bench_XXXXXX.csv";
  const int fd = mkstemps(path.data(), 4);
  if (fd < 0) return "";
  close(fd);
  std::ofstream out(path);
  out.precision(17);
  out << "x,t_x,T,weight\n";
  for (size_t i = 0; i < compressed.size(); ++i) {
    out << compressed.x[i] << ',' << compressed.t_x[i] << ',' << compressed.T[i]
        << ',' << compressed.weight[i] << '\n';
  }
  return path;
}

struct ScipyRun {
  std::string variant;
  double seconds = 0;
  int evaluations = 0;
  double log_likelihood = 0;
};

std::vector<ScipyRun> RunScipy(const std::string& python,
                               const std::string& script,
                               const std::string& csv,
                               const std::vector<double>& start, int repeats) {
  std::ostringstream command;
  command.precision(17);
  command << python << ' ' << script << ' ' << csv;
  for (double v : start) command << ' ' << v;
  command << ' ' << repeats;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.str().c_str(), "r"),
                                             pclose);
  std::vector<ScipyRun> runs;
  if (!pipe) return runs;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe.get()) != nullptr) {
    std::istringstream line(buffer);
    ScipyRun run;
    if (line >> run.variant >> run.seconds >> run.evaluations >>
        run.log_likelihood) {
      runs.push_back(run);
    }
  }
  return runs;
}

void PrintFit(const char* label, const FitResult& fit, double seconds) {
  printf(
      "  %-32s %9.3f ms  LL %.4f  r %.4f alpha %.4f a %.4f b %.4f  (%s, %d "
      "evals)\n",
      label, seconds * 1e3, fit.log_likelihood, fit.params[0], fit.params[1],
      fit.params[2], fit.params[3],
      fit.converged ? "converged" : "NOT converged", fit.iterations);
}

struct Outcome {
  double fit_seconds = 0;         // Default options (5 starts), raw rows.
  double one_start_seconds = 0;   // starts = 1, compressed rows.
  double best_scipy_speedup = 0;  // vs the faster SciPy variant.
};

Outcome Benchmark(const char* name, const SummaryData& data, int repeats,
                  bool run_python, const std::string& python,
                  const std::string& script) {
  Outcome outcome;
  SummaryData compressed;
  const double compress_seconds =
      BestOf(repeats, [&] { compressed = custra::clv::Compress(data); });
  printf("%s: %.0f customers, %zu distinct (x, t_x, T) rows\n", name,
         data.TotalWeight(), compressed.size());
  printf("  %-32s %9.2f ms\n", "Compress", compress_seconds * 1e3);

  FitOptions options;
  absl::StatusOr<FitResult> fit;
  outcome.fit_seconds = BestOf(repeats, [&] {
    fit = custra::clv::FitCountModel(CountModel::kBgNbd, data, options);
  });
  if (!fit.ok()) {
    std::cerr << "fit failed: " << fit.status() << "\n";
    exit(1);
  }
  PrintFit("C++ fit, 5 starts, raw rows", *fit, outcome.fit_seconds);
  // Like for like with SciPy: one start on the compressed rows.
  options.starts = 1;
  outcome.one_start_seconds = BestOf(repeats, [&] {
    fit = custra::clv::FitCountModel(CountModel::kBgNbd, compressed, options);
  });
  PrintFit("C++ fit, 1 start, compressed", *fit, outcome.one_start_seconds);
  if (!run_python) return outcome;

  const std::string csv = WriteRows(compressed);
  if (csv.empty()) {
    std::cerr << "cannot write a temporary file\n";
    return outcome;
  }
  const std::vector<ScipyRun> runs =
      RunScipy(python, script, csv, FirstStart(compressed), repeats);
  unlink(csv.c_str());
  if (runs.empty()) {
    std::cerr << "SciPy reference failed (" << python << " " << script << ")\n";
    return outcome;
  }
  for (const ScipyRun& run : runs) {
    const double speedup = run.seconds / outcome.one_start_seconds;
    printf(
        "  SciPy L-BFGS-B, %-16s %9.3f ms  LL %.4f  (%d evals)  C++ 1 start "
        "is %.1fx faster\n",
        run.variant.c_str(), run.seconds * 1e3, run.log_likelihood,
        run.evaluations, speedup);
    if (outcome.best_scipy_speedup == 0 ||
        speedup < outcome.best_scipy_speedup) {
      outcome.best_scipy_speedup = speedup;
    }
  }
  return outcome;
}

const char* Verdict(bool ok) { return ok ? "met" : "MISSED"; }

}  // namespace

int main(int argc, char** argv) {
  std::string cdnow;
  const char* dir = getenv("CUSTRA_SHARED_DATA_DIR");
#ifdef CUSTRA_SHARED_DATA_DIR
  if (dir == nullptr) dir = CUSTRA_SHARED_DATA_DIR;
#endif
  if (dir != nullptr) {
    cdnow = std::string(dir) + "/cdnow/cdnow_customers_summary.csv";
  }
  int64_t customers = 1'000'000;
  int repeats = 3;
  bool run_python = true;
  std::string python = "/usr/bin/python3";
#ifdef CUSTRA_SOURCE_DIR
  std::string script = CUSTRA_SOURCE_DIR "/tests/bench/clv_reference.py";
#else
  std::string script = "tests/bench/clv_reference.py";
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--cdnow" && has_value) {
      cdnow = argv[++i];
    } else if (arg == "--customers" && has_value) {
      customers = std::atoll(argv[++i]);
    } else if (arg == "--repeats" && has_value) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--python" && has_value) {
      python = argv[++i];
    } else if (arg == "--script" && has_value) {
      script = argv[++i];
    } else if (arg == "--no-python") {
      run_python = false;
    } else {
      std::cerr << "usage: clv_bench [--cdnow CSV] [--customers N] "
                   "[--repeats K] [--python PATH] [--script PATH] "
                   "[--no-python]\n";
      return 2;
    }
  }

  std::optional<Outcome> cdnow_outcome;
  if (std::optional<SummaryData> data = ReadCdnowSummary(cdnow)) {
    cdnow_outcome = Benchmark("CDNOW sample (weeks)", *data, repeats,
                              run_python, python, script);
  } else {
    printf(
        "CDNOW sample: skipped (no summary CSV; pass --cdnow or set "
        "CUSTRA_SHARED_DATA_DIR)\n");
  }
  SummaryData simulated;
  const double simulate_seconds =
      Seconds([&] { simulated = SimulateDaily(customers, 20240601); });
  printf("\n(simulating %lld customers took %.2f s, not counted)\n",
         static_cast<long long>(customers), simulate_seconds);
  const Outcome large =
      Benchmark("Simulated BG/NBD (days, one year)", simulated,
                std::min(repeats, 2), run_python, python, script);

  printf("\nTargets:\n");
  if (cdnow_outcome) {
    printf("  CDNOW fit (5 starts) <= 20 ms: %.2f ms, %s\n",
           cdnow_outcome->fit_seconds * 1e3,
           Verdict(cdnow_outcome->fit_seconds <= 0.020));
  }
  printf("  %lld customers (compress + fit, 5 starts) <= 3 s: %.2f s, %s\n",
         static_cast<long long>(customers), large.fit_seconds,
         Verdict(large.fit_seconds <= 3));
  if (run_python) {
    if (cdnow_outcome && cdnow_outcome->best_scipy_speedup > 0) {
      printf("  >= 20x faster than SciPy (CDNOW, 1 start each): %.1fx, %s\n",
             cdnow_outcome->best_scipy_speedup,
             Verdict(cdnow_outcome->best_scipy_speedup >= 20));
    }
    if (large.best_scipy_speedup > 0) {
      printf(
          "  >= 20x faster than SciPy (%lld customers, 1 start each): "
          "%.1fx, %s\n",
          static_cast<long long>(customers), large.best_scipy_speedup,
          Verdict(large.best_scipy_speedup >= 20));
    }
  }
  return 0;
}
