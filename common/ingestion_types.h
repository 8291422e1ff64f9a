#ifndef CUSTRA_COMMON_INGESTION_TYPES_H_
#define CUSTRA_COMMON_INGESTION_TYPES_H_

// Plain data of the ingestion domain: what a tenant sends (customers,
// transactions, interactions) and what it is told back. Enum-like integers
// use the numbers of the matching custra.v1 enums.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace custra {

// An exact amount: micros of a currency unit. Empty currency means the
// tenant's currency.
struct MoneyValue {
  std::string currency;
  int64_t micros = 0;

  friend bool operator==(const MoneyValue&, const MoneyValue&) = default;
};

// Per-customer purchase aggregates, maintained on ingestion.
//  - a purchase is a transaction with a positive amount; returns and
//    cancellations (negative amounts) reduce revenue but are not purchases;
//  - revenue is net (all amounts); returns is the sum of negative amounts;
//  - profit sums amount - cost over transactions whose cost is known;
//  - orders are distinct order ids (or transaction ids without one) with at
//    least one purchase line; purchase days are distinct UTC days with one.
struct PurchaseStats {
  std::optional<absl::Time> first_purchase;
  std::optional<absl::Time> last_purchase;
  int64_t order_count = 0;
  int64_t purchase_day_count = 0;
  int64_t transaction_count = 0;
  int64_t revenue_micros = 0;
  int64_t returns_micros = 0;
  int64_t profit_micros = 0;
};

struct CustomerRecord {
  std::string id;
  int kind = 0;  // CustomerKind
  std::string display_name;
  std::string industry;
  std::string region;
  int size = 0;  // CustomerSize
  std::string acquisition_channel;
  std::string acquisition_date;   // "YYYY-MM-DD" or empty.
  std::vector<std::string> tags;  // Sorted, distinct.
  int man_money = 0;              // ManLevel
  int man_authority = 0;
  int man_need = 0;
  std::optional<MoneyValue> annual_budget;
  std::optional<MoneyValue> annual_wallet;
  std::map<std::string, std::string> attributes;

  // Read-only.
  PurchaseStats stats;
  absl::Time create_time;
  absl::Time update_time;
};

struct TransactionRow {
  std::string id;
  std::string customer_id;
  std::optional<absl::Time> time;
  std::optional<MoneyValue> amount;
  std::optional<MoneyValue> cost;
  std::optional<double> margin;  // Share of amount that is profit.
  double quantity = 0;
  std::string order_id;
  std::string product;
  std::string category;
  std::string channel;
};

struct InteractionRow {
  std::string id;
  std::string customer_id;
  int kind = 0;  // InteractionKind
  std::optional<absl::Time> time;
  std::string contact;
  std::string channel;
  std::string notes;
  std::optional<double> satisfaction;
  std::optional<int> nps;
  std::string referred_customer_id;
};

// Matches custra.v1.IngestionRejectReason.
enum class RejectReason {
  kMissingField = 1,
  kInvalidValue = 2,
  kOutOfRange = 3,
  kTooLong = 4,
  kCurrencyMismatch = 5,
};

// Why one row of a batch was not written.
struct RowError {
  int row_index = 0;
  std::string row_id;
  std::string field;
  RejectReason reason = RejectReason::kInvalidValue;
  std::string description;

  friend bool operator==(const RowError&, const RowError&) = default;
};

// The outcome of one batch of transactions or interactions.
struct IngestResult {
  int accepted = 0;
  int duplicates = 0;
  int rejected = 0;
  int customers_created = 0;
  std::vector<RowError> rejections;
  bool replayed = false;  // A request id seen before: nothing was written.
};

// Matches custra.v1.CustomerWriteOutcome.
enum class CustomerOutcome { kCreated = 1, kUpdated, kUnchanged, kRejected };

struct CustomerWriteResult {
  int row_index = 0;
  std::string customer_id;
  CustomerOutcome outcome = CustomerOutcome::kRejected;
  std::optional<RowError> rejection;
};

struct CustomerBatchResult {
  int created = 0;
  int updated = 0;
  int unchanged = 0;
  int rejected = 0;
  std::vector<CustomerWriteResult> results;
  bool replayed = false;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_INGESTION_TYPES_H_
