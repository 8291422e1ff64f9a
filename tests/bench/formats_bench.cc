// Micro-benchmarks of the import path's pure functions (Google Benchmark),
// each next to a reference measured in the same run:
//  - exact decimal parsing vs absl::SimpleAtod (inexact, the floor);
//  - libcsv record parsing vs splitting the same text on ',' and '\n'
//    (no quoting support: the floor for any CSV reader);
//  - transaction validation vs copying the row (the cost of touching it).
// Run: build/tests/formats_bench

#include <benchmark/benchmark.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/import_formats.h"
#include "common/ingestion_validation.h"

namespace {

const char* kAmounts[] = {"12.34", "-0.5", "1999.99", "7", "0.000001"};

void BM_ParseDecimalMicros(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        custra::cli::ParseDecimalMicros(kAmounts[i++ % 5]));
  }
}
BENCHMARK(BM_ParseDecimalMicros);

void BM_Reference_SimpleAtod(benchmark::State& state) {
  size_t i = 0;
  double value = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(absl::SimpleAtod(kAmounts[i++ % 5], &value));
  }
}
BENCHMARK(BM_Reference_SimpleAtod);

std::string OnlineRetailText(int rows) {
  std::string text =
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
      "CustomerID,Country\n";
  for (int i = 0; i < rows; ++i) {
    absl::StrAppend(
        &text, 536365 + i / 7,
        ",85123A,WHITE HANGING HEART T-LIGHT"
        " HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n");
  }
  return text;
}

void BM_ParseCsvLibcsv(benchmark::State& state) {
  const std::string text = OnlineRetailText(1000);
  for (auto _ : state) {
    benchmark::DoNotOptimize(custra::cli::RecordReader::ParseCsv(text));
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ParseCsvLibcsv);

void BM_Reference_SplitOnly(benchmark::State& state) {
  const std::string text = OnlineRetailText(1000);
  for (auto _ : state) {
    std::vector<std::vector<std::string>> rows;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      rows.push_back(absl::StrSplit(line, ','));
    }
    benchmark::DoNotOptimize(rows);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_Reference_SplitOnly);

custra::TransactionRow SampleRow() {
  custra::TransactionRow row;
  row.id = "536365:1";
  row.customer_id = "17850";
  row.time = absl::FromUnixSeconds(1291191960);
  row.amount = custra::MoneyValue{"GBP", 15300000};
  row.order_id = "536365";
  row.product = "85123A";
  return row;
}

void BM_ValidateTransaction(benchmark::State& state) {
  const custra::TransactionRow row = SampleRow();
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(custra::ValidateTransaction(row, "GBP", now));
  }
}
BENCHMARK(BM_ValidateTransaction);

void BM_Reference_CopyRow(benchmark::State& state) {
  const custra::TransactionRow row = SampleRow();
  for (auto _ : state) {
    custra::TransactionRow copy = row;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_Reference_CopyRow);

}  // namespace

BENCHMARK_MAIN();
