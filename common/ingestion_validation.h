#ifndef CUSTRA_COMMON_INGESTION_VALIDATION_H_
#define CUSTRA_COMMON_INGESTION_VALIDATION_H_

// Row-level validation of ingested data. Pure functions: no I/O, no clock
// (the caller passes `now`), so they are unit-tested and fuzzed directly.

#include <optional>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ingestion_types.h"

namespace custra {

inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxLabelBytes = 128;
inline constexpr size_t kMaxNotesBytes = 8 * 1024;
inline constexpr size_t kMaxTags = 64;
inline constexpr size_t kMaxAttributes = 64;
inline constexpr int kMaxBatchRows = 10000;
// Largest accepted amount: one billion currency units, in micros. Sums of
// up to 9,000 such amounts stay within int64.
inline constexpr int64_t kMaxAmountMicros = 1'000'000'000'000'000;

// Earliest accepted event time, and how far past `now` a time may be.
absl::Time EarliestEventTime();
inline constexpr absl::Duration kMaxFutureSkew = absl::Hours(24);

// True for "" (tenant currency) or three upper-case ASCII letters.
bool IsValidCurrencyCode(absl::string_view code);

// The first problem of a transaction row, or nullopt when it is valid.
// `tenant_currency` is the tenant's currency ("" while it has none, in
// which case any valid code is accepted). row_index is left 0.
std::optional<RowError> ValidateTransaction(const TransactionRow& row,
                                            absl::string_view tenant_currency,
                                            absl::Time now);

std::optional<RowError> ValidateInteraction(const InteractionRow& row,
                                            absl::Time now);

// Checks the writable fields of a customer (id, enums, lengths, money,
// date). `tenant_currency` as for transactions.
std::optional<RowError> ValidateCustomer(const CustomerRecord& customer,
                                         absl::string_view tenant_currency);

// "YYYY-MM-DD" with a real calendar day, or empty.
bool IsValidIsoDate(absl::string_view date);

}  // namespace custra

#endif  // CUSTRA_COMMON_INGESTION_VALIDATION_H_
