#ifndef CUSTRA_COMMON_INGESTION_STORE_H_
#define CUSTRA_COMMON_INGESTION_STORE_H_

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ingestion_types.h"
#include "common/sqlite_util.h"
#include "common/transaction_log.h"

namespace custra {

// Which customers ListCustomers returns; unset fields match everything.
struct CustomerFilter {
  std::optional<int> kind;
  std::optional<int> size;
  std::optional<std::string> industry;
  std::optional<std::string> region;
  std::optional<std::string> channel;
  std::optional<std::string> tag;
};

// Parses `field=value` terms joined by AND (case-insensitive keyword), with
// fields kind, size, industry, region, channel, tag; values bare or in
// double quotes; kind and size take enum names with or without prefix
// (ENTERPRISE, CUSTOMER_KIND_ENTERPRISE). INVALID_ARGUMENT on `field`
// (the request field holding the filter) naming the bad term.
absl::StatusOr<CustomerFilter> ParseCustomerFilter(
    absl::string_view filter, absl::string_view field = "filter");

// The SQL condition selecting `filter`'s customers from `customers c`, with
// parameters ?2 to ?7 (bound by BindCustomerFilter); "1" for no filter.
std::string CustomerFilterCondition(const CustomerFilter& filter);
void BindCustomerFilter(SQLite::Statement& statement,
                        const CustomerFilter& filter);

// Whether the filter restricts anything.
inline bool IsEmpty(const CustomerFilter& f) {
  return !f.kind && !f.size && !f.industry && !f.region && !f.channel && !f.tag;
}

// Which interactions ListInteractions returns; unset fields match all.
// Times are a half-open range [from_us, until_us) in Unix microseconds.
struct InteractionFilter {
  std::optional<int> kind;
  std::optional<std::string> channel;
  std::optional<int64_t> from_us;
  std::optional<int64_t> until_us;
};

// Parses `kind=VALUE`, `channel="..."` and `time OP "RFC 3339"` (OP one of
// >=, >, <=, <) terms joined by AND. INVALID_ARGUMENT on field "filter".
absl::StatusOr<InteractionFilter> ParseInteractionFilter(
    absl::string_view filter);

// Rows folded per database transaction (bounds a fold's memory).
inline constexpr int64_t kFoldChunkRows = 250'000;

// Folds every batch of the transaction log not yet reflected in the
// aggregates (see common/transaction_log.h), one database transaction per
// chunk of about `chunk_rows` rows. Returns the rows folded.
absl::StatusOr<int64_t> FoldPendingTransactions(
    Connection& db, int64_t chunk_rows = kFoldChunkRows);

// Whether the log holds batches not yet folded.
absl::StatusOr<bool> HasPendingTransactions(Connection& db);

// A batch of transactions checked and encoded without the database, so
// that a server can prepare one batch while the previous one commits (see
// IngestionStore::RecordPrepared). It refers to the rows it was prepared
// from: they must outlive it.
struct PreparedTransactions {
  std::span<const TransactionRow> rows;
  std::string request_id;
  std::string fingerprint;  // Of the rows' ids; empty without a request id.
  absl::Time now;           // When the rows were checked.
  // The tenant currency the rows were checked against ("" = none yet: the
  // first valid row sets it), and the tenant currency after the batch.
  std::string checked_currency;
  std::string currency;
  std::vector<RowError> rejections;  // Invalid rows, in row order.
  // The valid rows: their indexes in `rows`, where each one's encoding ends
  // in `encoded` (kBatchMagic, then the valid rows in row order), and
  // whether it carries a cost.
  std::vector<int> valid;
  std::vector<size_t> encoded_end;
  std::vector<char> has_cost;
  std::string encoded;
  std::string stored;  // `encoded` as stored (StoredBatch).
  // Positions in `valid` whose ids to claim, in id order (claiming in this
  // order touches the id index page by page): the first row of each id;
  // later rows with the same id are `batch_duplicates`.
  std::vector<int> claim_order;
  int batch_duplicates = 0;
  // The valid rows' distinct customers (views of `rows`), and whether any
  // valid row carries a cost.
  std::vector<absl::string_view> customers;
  bool any_cost = false;
};

// Checks and encodes `rows` against the tenant currency `tenant_currency`
// ("" when the tenant has none yet), as of `now`.
PreparedTransactions PrepareTransactions(absl::string_view request_id,
                                         std::span<const TransactionRow> rows,
                                         absl::string_view tenant_currency,
                                         absl::Time now);

// Reads and writes one tenant's customers, transactions and interactions.
//
// Not thread-safe: use it inside a TenantDatabase::Session, which gives
// the calling thread exclusive use of the connection. Every write method
// runs one database transaction: on error nothing of the batch is written.
class IngestionStore {
 public:
  // With `state` (the tenant's, from its Session), a transaction import only
  // appends to the log and the aggregates follow when the log is folded;
  // without it, RecordTransactions folds before it returns.
  explicit IngestionStore(Connection* db, absl::Time now = absl::Now(),
                          IngestionState* state = nullptr)
      : db_(db), now_(now), state_(state) {}

  // Writes the valid rows of a batch of transactions and updates the
  // aggregates of the customers they touch. A row whose id exists already
  // (in the database or earlier in the batch) is a duplicate; a row naming
  // an unknown customer creates a minimal one (counted). With a non-empty
  // `request_id` seen before, writes nothing and returns the first result
  // with `replayed` set.
  absl::StatusOr<IngestResult> RecordTransactions(
      absl::string_view request_id, std::span<const TransactionRow> rows);

  // RecordTransactions for a prepared batch. If the tenant's currency is no
  // longer the one the batch was checked against (another import set it),
  // prepares it again first. Sets `prepared->currency` to the tenant's
  // currency after the batch.
  absl::StatusOr<IngestResult> RecordPrepared(PreparedTransactions* prepared);

  // As RecordTransactions, for interactions.
  absl::StatusOr<IngestResult> RecordInteractions(
      absl::string_view request_id, std::span<const InteractionRow> rows);

  // Creates or updates customers. `mask` names the fields to write on
  // existing customers (nullptr: every writable field). Invalid rows are
  // rejected; the others land.
  absl::StatusOr<CustomerBatchResult> UpsertCustomers(
      absl::string_view request_id, std::span<const CustomerRecord> customers,
      const std::set<std::string>* mask);

  // NOT_FOUND if there is no such customer.
  absl::StatusOr<CustomerRecord> GetCustomer(absl::string_view id);

  // The kind and display name of each of `ids` that exists (for listings
  // that show customers by name).
  struct CustomerName {
    int kind = 1;
    std::string display_name;
  };
  absl::StatusOr<absl::flat_hash_map<std::string, CustomerName>>
  GetCustomerNames(std::span<const std::string> ids);

  // Up to `limit` customers with ids after `after_id`, in id order.
  absl::StatusOr<std::vector<CustomerRecord>> ListCustomers(
      const CustomerFilter& filter, absl::string_view after_id, int limit);

  struct DeleteCounts {
    int64_t transactions = 0;
    int64_t interactions = 0;
  };
  // Erases the customer and every row that refers to it, including its
  // assignments in stored segmentation runs. NOT_FOUND if there is no such
  // customer.
  absl::StatusOr<DeleteCounts> DeleteCustomer(absl::string_view id);

  // Interactions, newest first; of one customer unless `customer_id` is
  // empty. The cursor is the (time, id) of the last row of the previous page.
  struct InteractionCursor {
    int64_t time_us = 0;
    std::string id;
  };
  absl::StatusOr<std::vector<InteractionRow>> ListInteractions(
      absl::string_view customer_id, const InteractionFilter& filter,
      const std::optional<InteractionCursor>& after, int limit);

  // The tenant's currency ("" until data names one).
  absl::StatusOr<std::string> TenantCurrency();

 private:
  Connection* db_;
  absl::Time now_;
  IngestionState* state_;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_INGESTION_STORE_H_
