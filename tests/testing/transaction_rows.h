#ifndef CUSTRA_TESTS_TESTING_TRANSACTION_ROWS_H_
#define CUSTRA_TESTS_TESTING_TRANSACTION_ROWS_H_

// Transactions for storage-level tests: a UTC time on a calendar day and a
// EUR row built in one line.

#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/ingestion_types.h"

namespace custra::testing {

// `hour`:00 UTC on the day.
inline absl::Time At(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hour, 0, 0),
                         absl::UTCTimeZone());
}

// A transaction of `micros` EUR, in `order` if not empty.
inline TransactionRow Txn(std::string id, std::string customer, absl::Time time,
                          int64_t micros, std::string order = "") {
  TransactionRow row;
  row.id = std::move(id);
  row.customer_id = std::move(customer);
  row.time = time;
  row.amount = MoneyValue{"EUR", micros};
  row.order_id = std::move(order);
  return row;
}

}  // namespace custra::testing

#endif  // CUSTRA_TESTS_TESTING_TRANSACTION_ROWS_H_
