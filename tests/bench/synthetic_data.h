#ifndef CUSTRA_TESTS_BENCH_SYNTHETIC_DATA_H_
#define CUSTRA_TESTS_BENCH_SYNTHETIC_DATA_H_

// The deterministic synthetic transactions the benchmarks share.

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "custra/v1/ingestion.pb.h"

namespace custra::bench {

// 2023-01-01T00:00:00Z: the synthetic year starts here.
inline constexpr int64_t kJan1 = 1672531200;

// Row i: customer (i * 7919) % customers, three lines per order, times
// spread over 2023, a return every 50th row.
inline void MakeRow(int64_t i, int64_t customers, v1::Transaction* t) {
  t->set_id(absl::StrCat("t", i));
  t->set_customer_id(absl::StrCat("c", (i * 7919) % customers));
  t->mutable_time()->set_seconds(kJan1 + (i * 37) % (365 * 86400));
  t->mutable_amount()->set_currency_code("USD");
  const int64_t amount = 1'000'000 + (i * 131) % 90'000'000;
  t->mutable_amount()->set_amount_micros(i % 50 == 49 ? -amount : amount);
  t->set_quantity(1 + i % 3);
  t->set_order_id(absl::StrCat("o", i / 3));
  t->set_product(absl::StrCat("p", i % 500));
}

}  // namespace custra::bench

#endif  // CUSTRA_TESTS_BENCH_SYNTHETIC_DATA_H_
