// Segmentation benchmark (a program, not a test).
//
// Imports N synthetic transactions over M customers into a real
// custra-server on loopback, then times RFM and ABC runs: server-side (the
// run's compute_duration: reading the aggregates and computing) and end to
// end (the SDK call, including storing the run and its members). In the same
// run it times the same computations
//   - in pandas on the raw transactions already in memory
//     (tests/bench/segment_reference.py, best of the repeats), and
//   - as one SQL query each over the raw transactions in SQLite (window
//     functions; a database file holding only the raw rows).
//
// Usage: segment_bench [--rows N] [--customers M] [--repeats K]
//                      [--python PATH]

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "custra/client.h"
#include "tests/bench/synthetic_data.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace {

using custra::bench::MakeRow;
using custra::testing::ServerProcess;
using custra::testing::TempDir;

// 2023-12-31: the as-of date of every run (the synthetic year's last day).
constexpr int kAsOfYear = 2023, kAsOfMonth = 12, kAsOfDay = 31;
constexpr int64_t kAsOfUnixSeconds = 1703980800;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Min(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

// Writes the raw rows to a SQLite file and a CSV file (for pandas).
void WriteRaw(const std::string& db_path, const std::string& csv_path,
              int64_t rows, int64_t customers) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(
      "CREATE TABLE transactions (id TEXT NOT NULL UNIQUE, customer_id TEXT "
      "NOT NULL, time_us INTEGER NOT NULL, amount_micros INTEGER NOT NULL, "
      "order_id TEXT NOT NULL)");
  SQLite::Statement insert(db,
                           "INSERT INTO transactions VALUES (?, ?, ?, ?, ?)");
  std::ofstream csv(csv_path);
  csv << "customer_id,time_us,amount_micros,order_id\n";
  custra::v1::Transaction t;
  SQLite::Transaction txn(db);
  for (int64_t i = 0; i < rows; ++i) {
    MakeRow(i, customers, &t);
    const int64_t time_us = t.time().seconds() * 1'000'000;
    insert.bind(1, t.id());
    insert.bind(2, t.customer_id());
    insert.bind(3, static_cast<int64_t>(time_us));
    insert.bind(4, static_cast<int64_t>(t.amount().amount_micros()));
    insert.bind(5, t.order_id());
    insert.exec();
    insert.reset();
    csv << t.customer_id() << ',' << time_us << ','
        << t.amount().amount_micros() << ',' << t.order_id() << '\n';
  }
  txn.commit();
}

// RFM as one query: per-customer recency / frequency / monetary from the raw
// rows, quintiles with NTILE (ties by customer id).
constexpr char kRfmSql[] = R"sql(
WITH c AS (
  SELECT customer_id,
         max(CASE WHEN amount_micros > 0 THEN time_us END) AS last_us,
         count(DISTINCT CASE WHEN amount_micros > 0 THEN order_id END) AS f,
         sum(amount_micros) AS m
  FROM transactions GROUP BY customer_id)
SELECT customer_id,
       NTILE(5) OVER (ORDER BY last_us, customer_id) AS r,
       NTILE(5) OVER (ORDER BY f, customer_id) AS fs,
       NTILE(5) OVER (ORDER BY m, customer_id) AS ms
FROM c WHERE f > 0)sql";

// ABC as one query: net value per buyer, cumulative share, classes.
constexpr char kAbcSql[] = R"sql(
WITH c AS (
  SELECT customer_id, sum(amount_micros) AS v FROM transactions
  GROUP BY customer_id HAVING sum(amount_micros > 0) > 0),
t AS (SELECT sum(max(v, 0)) AS total FROM c)
SELECT customer_id,
       CASE WHEN v > 0 AND cum <= 0.80 * total THEN 'A'
            WHEN v > 0 AND cum <= 0.95 * total THEN 'B' ELSE 'C' END
FROM (SELECT customer_id, v,
             sum(max(v, 0)) OVER (ORDER BY v DESC, customer_id
                                  ROWS UNBOUNDED PRECEDING) AS cum
      FROM c), t)sql";

// Best-of-`repeats` seconds of a query, and its row count.
std::pair<double, int64_t> TimeQuery(SQLite::Database& db, const char* sql,
                                     int repeats) {
  std::vector<double> times;
  int64_t count = 0;
  for (int i = 0; i < repeats; ++i) {
    const absl::Time start = absl::Now();
    SQLite::Statement query(db, sql);
    count = 0;
    while (query.executeStep()) ++count;
    times.push_back(absl::ToDoubleSeconds(absl::Now() - start));
  }
  return {Min(times), count};
}

struct RunTimes {
  std::vector<double> server, end_to_end;
  int64_t customers = 0;
};

RunTimes TimeRuns(custra::Client& client,
                  const custra::v1::SegmentationParameters& params,
                  int repeats) {
  RunTimes times;
  for (int i = 0; i < repeats; ++i) {
    custra::v1::RunSegmentationRequest request;
    *request.mutable_parameters() = params;
    request.mutable_as_of_date()->set_year(kAsOfYear);
    request.mutable_as_of_date()->set_month(kAsOfMonth);
    request.mutable_as_of_date()->set_day(kAsOfDay);
    const absl::Time start = absl::Now();
    auto run = client.RunSegmentation(request);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!run.ok()) {
      std::cerr << "run failed: " << run.status() << "\n";
      std::exit(1);
    }
    times.end_to_end.push_back(seconds);
    times.server.push_back(run->compute_duration().seconds() +
                           run->compute_duration().nanos() * 1e-9);
    times.customers = run->customer_count();
  }
  return times;
}

// Runs the pandas reference; returns {model: (seconds, customers)}.
std::map<std::string, std::pair<double, int64_t>> PandasTimes(
    const std::string& python, const std::string& csv, int repeats) {
  const std::string command = absl::StrCat(
      python, " ", CUSTRA_SOURCE_DIR, "/tests/bench/segment_reference.py ", csv,
      " ", kAsOfUnixSeconds, " ", repeats);
  std::map<std::string, std::pair<double, int64_t>> out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"),
                                             pclose);
  if (!pipe) return out;
  std::array<char, 256> line;
  while (fgets(line.data(), line.size(), pipe.get()) != nullptr) {
    std::vector<std::string> parts =
        absl::StrSplit(absl::string_view(line.data()), ' ');
    if (parts.size() == 3) {
      out[parts[0]] = {std::stod(parts[1]), std::stoll(parts[2])};
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  int64_t customers = 100'000;
  int repeats = 5;
  std::string python = "/usr/bin/python3";
  CLI::App app{"custra segmentation benchmark"};
  app.add_option("--rows", rows, "Transactions")->capture_default_str();
  app.add_option("--customers", customers, "Distinct customers")
      ->capture_default_str();
  app.add_option("--repeats", repeats, "Runs per measurement")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--python", python, "Python with pandas")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  auto server = ServerProcess::Start(options);
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  custra::ClientOptions client_options;
  client_options.target = (*server)->address();
  client_options.api_key = (*server)->admin_key();
  client_options.default_deadline = absl::Minutes(5);
  auto admin = custra::Client::Create(client_options);
  if (!(*admin)->CreateTenant("bench").ok()) return 1;
  auto key = (*admin)->IssueApiKey("bench");
  client_options.tenant_id = "bench";
  client_options.api_key = key->secret();
  auto client = custra::Client::Create(client_options);

  int64_t next = 0;
  const absl::Time import_start = absl::Now();
  auto summary = (*client)->ImportTransactions([&](custra::v1::Transaction* t) {
    if (next == rows) return false;
    MakeRow(next++, customers, t);
    return true;
  });
  if (!summary.ok() || summary->accepted != rows) {
    std::cerr << "import failed\n";
    return 1;
  }
  const double import_seconds =
      absl::ToDoubleSeconds(absl::Now() - import_start);

  custra::v1::SegmentationParameters rfm, abc;
  rfm.mutable_rfm();
  abc.mutable_abc();
  const RunTimes rfm_times = TimeRuns(**client, rfm, repeats);
  const RunTimes abc_times = TimeRuns(**client, abc, repeats);
  (*server)->SignalAndWait(SIGTERM);

  const std::string raw_db = (dir.path() / "raw.db").string();
  const std::string csv = (dir.path() / "raw.csv").string();
  WriteRaw(raw_db, csv, rows, customers);
  SQLite::Database db(raw_db, SQLite::OPEN_READONLY);
  db.exec("PRAGMA cache_size=-262144");
  const auto [rfm_sql, rfm_sql_rows] = TimeQuery(db, kRfmSql, repeats);
  const auto [abc_sql, abc_sql_rows] = TimeQuery(db, kAbcSql, repeats);
  const auto pandas = PandasTimes(python, csv, repeats);

  std::cout << absl::StrFormat(
      "segment_bench: %d transactions, %d customers (imported in %.1f s), "
      "best / median of %d\n",
      rows, customers, import_seconds, repeats);
  auto report = [&](const char* model, const RunTimes& t, double sql,
                    int64_t sql_rows) {
    const auto it = pandas.find(absl::AsciiStrToLower(model));
    const double pandas_seconds = it == pandas.end() ? 0 : it->second.first;
    const double server_best = Min(t.server);
    std::cout << absl::StrFormat(
        "  %-3s custra server-side  %7.1f ms best, %7.1f ms median  "
        "(%d customers)\n"
        "      custra end to end   %7.1f ms best, %7.1f ms median  "
        "(SDK call, run and members stored)\n"
        "      pandas, in memory   %7.1f ms best  (%s customers)\n"
        "      SQLite, one query   %7.1f ms best  (%d customers)\n"
        "      speed-up server-side vs pandas: %.1fx   (targets: <= 100 ms, "
        ">= 3x)\n",
        model, server_best * 1e3, Median(t.server) * 1e3, t.customers,
        Min(t.end_to_end) * 1e3, Median(t.end_to_end) * 1e3,
        pandas_seconds * 1e3,
        it == pandas.end() ? std::string("pandas failed:")
                           : absl::StrCat(it->second.second),
        sql * 1e3, sql_rows,
        server_best > 0 ? pandas_seconds / server_best : 0.0);
  };
  if (std::getenv("SEGMENT_BENCH_VERBOSE") != nullptr) {
    for (const RunTimes* t : {&rfm_times, &abc_times}) {
      for (size_t i = 0; i < t->server.size(); ++i) {
        std::cout << absl::StrFormat(
            "    run %d: server %.1f ms, e2e %.1f ms\n", i, t->server[i] * 1e3,
            t->end_to_end[i] * 1e3);
      }
    }
  }
  report("RFM", rfm_times, rfm_sql, rfm_sql_rows);
  report("ABC", abc_times, abc_sql, abc_sql_rows);
  return 0;
}
