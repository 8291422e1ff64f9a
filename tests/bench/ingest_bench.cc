// End-to-end ingestion benchmark (a program, not a test).
//
// Streams N synthetic transactions over M customers through the SDK into a
// real custra-server on loopback, then loads the same rows with a minimal
// raw-SQLite loader in this process (prepared inserts, same UNIQUE id
// guarantee, same batch size, one commit per batch, WAL, same synchronous
// level), and prints both rates and their ratio.
//
// Usage: ingest_bench [--rows N] [--customers M] [--batch B]
//                     [--synchronous full|normal]

#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
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

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  int64_t customers = 100'000;
  int batch = 10000;
  std::string synchronous = "full";
  CLI::App app{"custra end-to-end ingestion benchmark"};
  app.add_option("--rows", rows, "Transactions to import")
      ->capture_default_str();
  app.add_option("--customers", customers, "Distinct customers")
      ->capture_default_str();
  app.add_option("--batch", batch, "Rows per batch")->capture_default_str();
  app.add_option("--synchronous", synchronous, "SQLite synchronous level")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {"--sqlite-synchronous=" + synchronous};
  auto server = ServerProcess::Start(options);
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  custra::ClientOptions client_options;
  client_options.target = (*server)->address();
  client_options.api_key = (*server)->admin_key();
  auto admin = custra::Client::Create(client_options);
  if (!(*admin)->CreateTenant("bench").ok()) return 1;
  auto key = (*admin)->IssueApiKey("bench");
  client_options.tenant_id = "bench";
  client_options.api_key = key->secret();
  auto client = custra::Client::Create(client_options);

  int64_t next = 0;
  custra::ImportOptions import_options;
  import_options.batch_size = batch;
  const absl::Time start = absl::Now();
  auto summary = (*client)->ImportTransactions(
      [&](custra::v1::Transaction* t) {
        if (next == rows) return false;
        MakeRow(next++, customers, t);
        return true;
      },
      import_options);
  const double server_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!summary.ok() || summary->accepted != rows) {
    std::cerr << "import failed: "
              << (summary.ok() ? "accepted " + std::to_string(summary->accepted)
                               : summary.status().ToString())
              << "\n";
    return 1;
  }
  const double server_rate = rows / server_seconds;
  // Acknowledged rows are durable in the transaction log; the aggregates
  // follow when the log is folded, which the first read that needs them
  // does (here, at once: no quiet period). Timed separately and together.
  const absl::Time read_start = absl::Now();
  auto customer = (*client)->GetCustomer("c1");
  const double fold_seconds = absl::ToDoubleSeconds(absl::Now() - read_start);
  // Customer ids are a bijection of row numbers modulo `customers`: c1 has
  // at least rows / customers rows.
  if (!customer.ok() ||
      customer->purchase_stats().transaction_count() < rows / customers) {
    std::cerr << "aggregates not current after the import\n";
    return 1;
  }
  (*server)->SignalAndWait(SIGTERM);

  const double raw_rate =
      RawSqliteRate((dir.path() / "raw.db").string(), rows, customers, batch,
                    synchronous == "full");
  std::cout << absl::StrFormat(
      "ingest_bench: %d rows, %d customers, batch %d, synchronous=%s\n"
      "  custra-server via SDK (gRPC, validation, aggregates): %10.0f rows/s "
      "(%.2f s)\n"
      "  raw SQLite loader (same rows, UNIQUE id, no aggregates): %8.0f "
      "rows/s\n"
      "  ratio server / raw: %.2f   (targets: >= 1.00 and >= 150000 rows/s)\n"
      "  then the first read folds the log into the aggregates: %.2f s; "
      "import + fold: %.0f rows/s\n",
      rows, customers, batch, synchronous, server_rate, server_seconds,
      raw_rate, server_rate / raw_rate, fold_seconds,
      rows / (server_seconds + fold_seconds));
  return 0;
}
