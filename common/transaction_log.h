#ifndef CUSTRA_COMMON_TRANSACTION_LOG_H_
#define CUSTRA_COMMON_TRANSACTION_LOG_H_

// How a tenant's transactions are stored: an append-only log of batches.
//
// Every import batch appends its accepted rows as ONE row of
// `transaction_batches` (a packed blob), and each row's id as one entry of
// `transaction_ids` (id -> batch), whose primary key is what makes a re-sent
// id a duplicate. An import therefore writes one small index entry per row
// and one sequential blob per batch, instead of a table row plus an index
// entry per row. Blobs are zstd-compressed (about 2.5x smaller): fewer pages
// to write at each commit and to read at each fold.
//
// The per-customer aggregates and rollups (customers, customer_days,
// customer_orders) are derived from the log: a batch is "folded" into them
// by FoldPendingTransactions, which runs before any call that reads them
// (TenantDatabase::Session) and in the background when a tenant goes idle.
// The log and the fold watermark (tenant_meta `folded_batch`) are written in
// the same database transactions as the rows, so the aggregates a reader
// sees are always those of every acknowledged row, after a crash too.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace custra {

// One stored transaction: a validated TransactionRow with its cost resolved
// (a margin becomes a cost) and times in Unix microseconds.
struct StoredTransaction {
  std::string id;
  std::string customer_id;
  int64_t time_us = 0;
  int64_t amount_micros = 0;
  std::optional<int64_t> cost_micros;
  double quantity = 0;
  std::string order_id;
  std::string product;
  std::string category;
  std::string channel;

  friend bool operator==(const StoredTransaction&,
                         const StoredTransaction&) = default;
};

// A StoredTransaction whose text fields view another row's.
struct TransactionView {
  absl::string_view id;
  absl::string_view customer_id;
  int64_t time_us = 0;
  int64_t amount_micros = 0;
  std::optional<int64_t> cost_micros;
  double quantity = 0;
  absl::string_view order_id;
  absl::string_view product;
  absl::string_view category;
  absl::string_view channel;
};

// Appends the encoding of a row to `body`, a batch being built; a batch is
// kBatchMagic followed by encoded rows.
inline constexpr absl::string_view kBatchMagic = "CTB1";
void AppendTransaction(const TransactionView& row, std::string* body);
void AppendTransaction(const StoredTransaction& row, std::string* body);

// How a batch is stored: kCompressedBatchMagic and a zstd frame of the
// encoded batch, or the encoded batch itself when compressing does not make
// it smaller.
inline constexpr absl::string_view kCompressedBatchMagic = "CTZ1";
std::string StoredBatch(absl::string_view body);
// The largest encoded batch a compressed one may expand to (a damaged
// frame header cannot make a reader allocate more).
inline constexpr uint64_t kMaxBatchBytes = uint64_t{1} << 28;

// The rows of a stored batch (compressed or not); DATA_LOSS if the blob is
// not one.
absl::StatusOr<std::vector<StoredTransaction>> DecodeTransactionBatch(
    absl::string_view body);

// What a tenant's ingestion keeps between calls (TenantDatabase holds it,
// guarded by the tenant's mutex).
struct IngestionState {
  // Ids of customers known to exist, so that an import inserts only new
  // customers. A cache: an id missing here is checked in the database.
  absl::flat_hash_set<std::string> known_customers;
  // Whether batches await folding; nullopt until checked.
  std::optional<bool> fold_pending;
  // When this server last appended a batch.
  absl::Time last_append = absl::InfinitePast();
};

}  // namespace custra

#endif  // CUSTRA_COMMON_TRANSACTION_LOG_H_
