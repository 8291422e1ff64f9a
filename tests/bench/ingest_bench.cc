// End-to-end ingestion benchmark (a program, not a test).
//
// Streams N synthetic transactions over M customers through the SDK into a
// real custra-server on loopback, then loads the same rows with a minimal
// raw-SQLite loader in this process (prepared inserts, same UNIQUE id
// guarantee, same batch size, one commit per batch, WAL, same synchronous
// level), and prints both rates and their ratio.
//
// The two run in alternation, --repeats times, each on a fresh data
// directory: this machine's speed drifts by tens of percent within a minute,
// and alternating lets both sides see the same drift. Medians are printed.
//
// Usage: ingest_bench [--rows N] [--customers M] [--batch B] [--repeats R]
//                     [--synchronous full|normal]

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "custra/client.h"
#include "tests/bench/synthetic_data.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace {

using custra::testing::ServerProcess;
using custra::testing::TempDir;

using custra::bench::MakeRow;

double RawSqliteRate(const std::string& path, int64_t rows, int64_t customers,
                     int batch, bool full) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  db.exec(
      "CREATE TABLE transactions (id TEXT NOT NULL UNIQUE, customer_id TEXT "
      "NOT NULL, time_us INTEGER NOT NULL, amount_micros INTEGER NOT NULL, "
      "quantity REAL, order_id TEXT, product TEXT)");
  SQLite::Statement insert(
      db, "INSERT OR IGNORE INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?)");
  custra::v1::Transaction t;
  const absl::Time start = absl::Now();
  for (int64_t first = 0; first < rows; first += batch) {
    SQLite::Transaction txn(db);
    for (int64_t i = first; i < std::min(rows, first + batch); ++i) {
      MakeRow(i, customers, &t);
      insert.bind(1, t.id());
      insert.bind(2, t.customer_id());
      insert.bind(3, static_cast<int64_t>(t.time().seconds() * 1000000));
      insert.bind(4, static_cast<int64_t>(t.amount().amount_micros()));
      insert.bind(5, t.quantity());
      insert.bind(6, t.order_id());
      insert.bind(7, t.product());
      insert.exec();
      insert.reset();
    }
    txn.commit();
  }
  return rows / absl::ToDoubleSeconds(absl::Now() - start);
}

// One import through a fresh server: its rate, and the time the first read
// then takes to fold the log.
struct ServerRun {
  double rows_per_second = 0;
  double seconds = 0;
  double fold_seconds = 0;
};

absl::StatusOr<ServerRun> ImportThroughServer(
    const std::filesystem::path& data_dir, int64_t rows, int64_t customers,
    int batch, const std::string& synchronous) {
  ServerProcess::Options options;
  options.data_dir = data_dir;
  options.extra_args = {"--sqlite-synchronous=" + synchronous};
  CUSTRA_ASSIGN_OR_RETURN(auto server, ServerProcess::Start(options));
  custra::ClientOptions client_options;
  client_options.target = server->address();
  client_options.api_key = server->admin_key();
  CUSTRA_ASSIGN_OR_RETURN(auto admin, custra::Client::Create(client_options));
  CUSTRA_RETURN_IF_ERROR(admin->CreateTenant("bench").status());
  CUSTRA_ASSIGN_OR_RETURN(auto key, admin->IssueApiKey("bench"));
  client_options.tenant_id = "bench";
  client_options.api_key = key.secret();
  CUSTRA_ASSIGN_OR_RETURN(auto client, custra::Client::Create(client_options));

  int64_t next = 0;
  custra::ImportOptions import_options;
  import_options.batch_size = batch;
  const absl::Time start = absl::Now();
  CUSTRA_ASSIGN_OR_RETURN(auto summary, client->ImportTransactions(
                                            [&](custra::v1::Transaction* t) {
                                              if (next == rows) return false;
                                              MakeRow(next++, customers, t);
                                              return true;
                                            },
                                            import_options));
  ServerRun run;
  run.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  run.rows_per_second = rows / run.seconds;
  if (summary.accepted != rows) {
    return absl::InternalError(
        absl::StrCat("import accepted ", summary.accepted, " of ", rows));
  }
  // Acknowledged rows are durable in the transaction log; the aggregates
  // follow when the log is folded, which the first read that needs them
  // does (here, at once: no quiet period).
  const absl::Time read_start = absl::Now();
  CUSTRA_ASSIGN_OR_RETURN(auto customer, client->GetCustomer("c1"));
  run.fold_seconds = absl::ToDoubleSeconds(absl::Now() - read_start);
  // Customer ids are a bijection of row numbers modulo `customers`: c1 has
  // at least rows / customers rows.
  if (customer.purchase_stats().transaction_count() < rows / customers) {
    return absl::InternalError("aggregates not current after the import");
  }
  server->SignalAndWait(SIGTERM);
  return run;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  int64_t customers = 100'000;
  int batch = 10000;
  int repeats = 3;
  std::string synchronous = "full";
  CLI::App app{"custra end-to-end ingestion benchmark"};
  app.add_option("--rows", rows, "Transactions to import")
      ->capture_default_str();
  app.add_option("--customers", customers, "Distinct customers")
      ->capture_default_str();
  app.add_option("--batch", batch, "Rows per batch")->capture_default_str();
  app.add_option("--repeats", repeats,
                 "Rounds of (server import, raw load), alternated so that "
                 "both see the same machine; medians are compared")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--synchronous", synchronous, "SQLite synchronous level")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<double> server_rates, raw_rates, ratios, folds, end_to_end;
  for (int round = 0; round < repeats; ++round) {
    TempDir dir;
    auto run = ImportThroughServer(dir.path() / "data", rows, customers, batch,
                                   synchronous);
    if (!run.ok()) {
      std::cerr << "server import failed: " << run.status() << "\n";
      return 1;
    }
    const double raw_rate =
        RawSqliteRate((dir.path() / "raw.db").string(), rows, customers, batch,
                      synchronous == "full");
    server_rates.push_back(run->rows_per_second);
    raw_rates.push_back(raw_rate);
    ratios.push_back(run->rows_per_second / raw_rate);
    folds.push_back(run->fold_seconds);
    end_to_end.push_back(rows / (run->seconds + run->fold_seconds));
    std::cout << absl::StrFormat(
        "  round %d: server %8.0f rows/s, raw %8.0f rows/s, ratio %.2f, "
        "fold %.2f s\n",
        round + 1, run->rows_per_second, raw_rate, ratios.back(),
        run->fold_seconds);
  }
  std::cout << absl::StrFormat(
      "ingest_bench: %d rows, %d customers, batch %d, synchronous=%s, "
      "median of %d rounds\n"
      "  custra-server via SDK (gRPC, validation, durable ack): %10.0f "
      "rows/s\n"
      "  raw SQLite loader (same rows, UNIQUE id, no aggregates): %8.0f "
      "rows/s\n"
      "  ratio server / raw: %.2f   (targets: >= 1.00 and >= 150000 rows/s)\n"
      "  then the first read folds the log into the aggregates: %.2f s; "
      "import + fold: %.0f rows/s\n",
      rows, customers, batch, synchronous, repeats, Median(server_rates),
      Median(raw_rates), Median(ratios), Median(folds), Median(end_to_end));
  return 0;
}
