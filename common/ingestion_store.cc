#include "common/ingestion_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <tuple>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/ingestion_validation.h"
#include "common/opportunity_store.h"
#include "common/request_log.h"
#include "common/segmentation_store.h"
#include "common/sha256.h"
#include "common/sqlite_util.h"
#include "common/status_macros.h"
#include "common/transaction_log.h"

namespace custra {
namespace {

constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
constexpr char kFieldSep = '\x1F';
constexpr char kRecordSep = '\x1E';

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

int64_t DayOf(int64_t time_us) {
  int64_t day = time_us / kMicrosPerDay;
  if (time_us % kMicrosPerDay < 0) --day;
  return day;
}

// --- Stored results of idempotent requests ---------------------------------
// Plain text: counts, then one record per rejection / row result.

// Text fields are C-escaped, so ids holding the separator characters
// (rejected rows keep their raw ids) cannot break the record structure.
std::string EncodeRowError(const RowError& e) {
  return absl::StrCat(e.row_index, std::string(1, kFieldSep),
                      absl::CEscape(e.row_id), std::string(1, kFieldSep),
                      absl::CEscape(e.field), std::string(1, kFieldSep),
                      static_cast<int>(e.reason), std::string(1, kFieldSep),
                      absl::CEscape(e.description));
}

std::optional<RowError> DecodeRowError(absl::string_view text) {
  std::vector<std::string> f = absl::StrSplit(text, kFieldSep);
  RowError e;
  int reason = 0;
  if (f.size() != 5 || !absl::SimpleAtoi(f[0], &e.row_index) ||
      !absl::SimpleAtoi(f[3], &reason)) {
    return std::nullopt;
  }
  if (!absl::CUnescape(f[1], &e.row_id) || !absl::CUnescape(f[2], &e.field) ||
      !absl::CUnescape(f[4], &e.description)) {
    return std::nullopt;
  }
  e.reason = static_cast<RejectReason>(reason);
  return e;
}

std::string EncodeIngestResult(const IngestResult& r) {
  std::vector<std::string> records = {
      absl::StrCat(r.accepted, " ", r.duplicates, " ", r.rejected, " ",
                   r.customers_created)};
  for (const RowError& e : r.rejections) records.push_back(EncodeRowError(e));
  return absl::StrJoin(records, std::string(1, kRecordSep));
}

std::optional<IngestResult> DecodeIngestResult(absl::string_view text) {
  std::vector<absl::string_view> records = absl::StrSplit(text, kRecordSep);
  IngestResult r;
  std::vector<absl::string_view> counts = absl::StrSplit(records[0], ' ');
  if (counts.size() != 4 || !absl::SimpleAtoi(counts[0], &r.accepted) ||
      !absl::SimpleAtoi(counts[1], &r.duplicates) ||
      !absl::SimpleAtoi(counts[2], &r.rejected) ||
      !absl::SimpleAtoi(counts[3], &r.customers_created)) {
    return std::nullopt;
  }
  for (size_t i = 1; i < records.size(); ++i) {
    auto e = DecodeRowError(records[i]);
    if (!e) return std::nullopt;
    r.rejections.push_back(*std::move(e));
  }
  return r;
}

std::string EncodeCustomerResult(const CustomerBatchResult& r) {
  std::vector<std::string> records = {absl::StrCat(
      r.created, " ", r.updated, " ", r.unchanged, " ", r.rejected)};
  for (const CustomerWriteResult& w : r.results) {
    records.push_back(absl::StrCat(
        w.row_index, std::string(1, kFieldSep), absl::CEscape(w.customer_id),
        std::string(1, kFieldSep), static_cast<int>(w.outcome),
        std::string(1, kFieldSep),
        w.rejection
            ? absl::StrCat(static_cast<int>(w.rejection->reason),
                           std::string(1, kFieldSep), w.rejection->field,
                           std::string(1, kFieldSep), w.rejection->description)
            : std::string(1, kFieldSep) + std::string(1, kFieldSep)));
  }
  return absl::StrJoin(records, std::string(1, kRecordSep));
}

std::optional<CustomerBatchResult> DecodeCustomerResult(
    absl::string_view text) {
  std::vector<absl::string_view> records = absl::StrSplit(text, kRecordSep);
  CustomerBatchResult r;
  std::vector<absl::string_view> counts = absl::StrSplit(records[0], ' ');
  if (counts.size() != 4 || !absl::SimpleAtoi(counts[0], &r.created) ||
      !absl::SimpleAtoi(counts[1], &r.updated) ||
      !absl::SimpleAtoi(counts[2], &r.unchanged) ||
      !absl::SimpleAtoi(counts[3], &r.rejected)) {
    return std::nullopt;
  }
  for (size_t i = 1; i < records.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(records[i], kFieldSep);
    CustomerWriteResult w;
    int outcome = 0;
    if (f.size() != 6 || !absl::SimpleAtoi(f[0], &w.row_index) ||
        !absl::SimpleAtoi(f[2], &outcome)) {
      return std::nullopt;
    }
    std::string field;
    std::string description;
    if (!absl::CUnescape(f[1], &w.customer_id) ||
        !absl::CUnescape(f[4], &field) ||
        !absl::CUnescape(f[5], &description)) {
      return std::nullopt;
    }
    w.outcome = static_cast<CustomerOutcome>(outcome);
    int reason = 0;
    if (absl::SimpleAtoi(f[3], &reason)) {
      w.rejection = RowError{w.row_index, w.customer_id, field,
                             static_cast<RejectReason>(reason), description};
    }
    r.results.push_back(std::move(w));
  }
  return r;
}

// What a request carried: the SHA-256 of its row ids, so a request id
// reused for other rows (say, an import resumed with another batch size) is
// refused instead of replaying a result that does not describe them.
template <typename Row>
std::string Fingerprint(std::span<const Row> rows) {
  Sha256 hash;
  hash.Update(absl::StrCat(rows.size(), ":"));
  for (const Row& row : rows) {
    hash.Update(row.id);
    hash.Update(absl::string_view("\x1F", 1));
  }
  return hash.HexDigest();
}

// One idempotent write: its kind, request id (empty: not idempotent) and
// the fingerprint of its rows.
struct RequestKey {
  absl::string_view kind;
  absl::string_view request_id;
  std::string fingerprint;
};

template <typename Row>
RequestKey KeyOf(absl::string_view kind, absl::string_view request_id,
                 std::span<const Row> rows) {
  return RequestKey{kind, request_id,
                    request_id.empty() ? "" : Fingerprint(rows)};
}

// The result of an earlier request with the same key, marked replayed;
// nullopt when the write is new (or has no request id).
template <typename Result, typename Decode>
absl::StatusOr<std::optional<Result>> Replay(Connection& db,
                                             const RequestKey& key,
                                             Decode decode) {
  if (key.request_id.empty()) return std::nullopt;
  CUSTRA_ASSIGN_OR_RETURN(
      std::optional<std::string> stored,
      LoadRequest(db, key.kind, key.request_id, key.fingerprint));
  if (!stored) return std::nullopt;
  std::optional<Result> result = decode(*stored);
  if (!result) return absl::InternalError("unreadable stored result");
  result->replayed = true;
  return result;
}

// Stores the encoded result of a write that has a request id.
void Remember(Connection& db, const RequestKey& key, const std::string& encoded,
              absl::Time now) {
  if (!key.request_id.empty()) {
    SaveRequest(db, key.kind, key.request_id, key.fingerprint, encoded, now);
  }
}

std::string ReadCurrency(Connection& db) {
  Connection::Statement select_handle =
      db.Prepare("SELECT value FROM tenant_meta WHERE key = 'currency'");
  SQLite::Statement& select = *select_handle;
  return select.executeStep() ? select.getColumn(0).getString() : "";
}

void WriteCurrency(Connection& db, const std::string& currency) {
  Connection::Statement insert_handle = db.Prepare(
      "INSERT OR REPLACE INTO tenant_meta(key, value) "
      "VALUES ('currency', ?)");
  SQLite::Statement& insert = *insert_handle;
  insert.bind(1, currency);
  insert.exec();
}

// Creates minimal customers for the ids not known to exist yet and returns
// how many it created. `known` (optional) holds ids known to exist: they are
// skipped; the ids checked here are added to `checked`, for the caller to
// remember once its transaction commits.
int EnsureCustomers(Connection& db,
                    const std::vector<absl::string_view>& customer_ids,
                    absl::Time now,
                    const absl::flat_hash_set<std::string>* known,
                    std::vector<absl::string_view>* checked) {
  const size_t first = checked->size();
  for (absl::string_view id : customer_ids) {
    if (known == nullptr || !known->contains(id)) checked->push_back(id);
  }
  if (checked->size() == first) return 0;
  // In id order: consecutive inserts then land on the same pages.
  std::sort(checked->begin() + first, checked->end());
  Connection::Statement insert_handle = db.Prepare(
      "INSERT OR IGNORE INTO customers(id, kind, implicit, "
      "create_time_us, update_time_us) VALUES (?, 1, 1, ?, ?)");
  SQLite::Statement& insert = *insert_handle;
  insert.bind(2, static_cast<int64_t>(Micros(now)));
  insert.bind(3, static_cast<int64_t>(Micros(now)));
  int created = 0;
  for (size_t i = first; i < checked->size(); ++i) {
    insert.bind(1, std::string((*checked)[i]));
    created += insert.exec();
    insert.reset();
  }
  return created;
}

// Known customer ids are a cache: past this many, it starts again.
constexpr size_t kMaxKnownCustomers = 1 << 20;

void Remember(IngestionState* state,
              const std::vector<absl::string_view>& ids) {
  if (state == nullptr) return;
  if (state->known_customers.size() + ids.size() > kMaxKnownCustomers) {
    state->known_customers.clear();
  }
  for (absl::string_view id : ids) state->known_customers.emplace(id);
}

void BindOptionalMicros(SQLite::Statement& s, int index,
                        const std::optional<int64_t>& v) {
  if (v) {
    s.bind(index, static_cast<int64_t>(*v));
  } else {
    s.bind(index);
  }
}

// A line is a purchase when its amount is positive, or zero with a positive
// quantity (free goods, a promotion: the customer still bought). Returns
// and cancellations (negative amounts, or zero amounts with no positive
// quantity) are not purchases.
bool IsPurchase(int64_t amount_micros, double quantity) {
  return amount_micros > 0 || (amount_micros == 0 && quantity > 0);
}

// Aggregate changes of a set of transactions, applied once per customer /
// day / order.
struct CustomerDelta {
  int64_t transactions = 0;
  int64_t revenue = 0;
  int64_t returns = 0;
  int64_t profit = 0;
  int64_t new_orders = 0;
  int64_t new_days = 0;
  std::optional<int64_t> first_purchase_us;
  std::optional<int64_t> last_purchase_us;
};
// One customer day.
struct LineDelta {
  int64_t amount = 0;
  int64_t purchase_lines = 0;
  int64_t profit = 0;
  int64_t orders = 0;  // Orders that became purchases, counted on this day.
};

// The entries of a hash map, ordered by key.
template <typename Map>
std::vector<typename Map::value_type*> SortedEntries(Map& map) {
  std::vector<typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (auto& entry : map) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

// What a set of stored transactions changes in the per-customer aggregates
// and the per-day and per-order rollups. Keys view the rows, which must
// outlive it. Changes are summed in hash maps and written in key order, so
// that SQLite's cursor walks each B-tree from one end to the other.
class AggregateDeltas {
 public:
  void Add(const StoredTransaction& row) {
    const int64_t amount = row.amount_micros;
    const std::optional<int64_t>& cost = row.cost_micros;
    CustomerDelta& c = customers_[row.customer_id];
    ++c.transactions;
    c.revenue += amount;
    if (amount < 0) c.returns += amount;
    if (cost) c.profit += amount - *cost;
    const bool purchase = IsPurchase(amount, row.quantity);
    if (purchase) {
      c.first_purchase_us =
          std::min(c.first_purchase_us.value_or(row.time_us), row.time_us);
      c.last_purchase_us =
          std::max(c.last_purchase_us.value_or(row.time_us), row.time_us);
    }
    const int64_t day_number = DayOf(row.time_us);
    LineDelta& day = days_[{day_number, row.customer_id}];
    day.amount += amount;
    day.purchase_lines += purchase ? 1 : 0;
    if (cost) day.profit += amount - *cost;
    if (purchase) {
      // Orders and order-less transactions live in separate key spaces
      // ("o:" / "t:"), so a transaction id never collides with an order.
      const bool own_order = row.order_id.empty();
      int64_t& first_day =
          orders_
              .try_emplace(
                  OrderKey{own_order ? 't' : 'o',
                           own_order ? row.id : row.order_id, row.customer_id},
                  INT64_MAX)
              .first->second;
      first_day = std::min(first_day, day_number);
    }
  }

  // Writes the changes; the customers exist (an import creates them).
  void Apply(Connection& db) {
    // Orders first. customer_orders holds the orders that are purchases: an
    // order inserted here became one, and is counted on the day of its
    // earliest purchase line in this set (a day whose delta exists). A
    // transaction without an order id is an order of its own that no other
    // line can join (its id is unique in the tenant): it is new, and not
    // stored.
    Connection::Statement order_insert_handle = db.Prepare(
        "INSERT OR IGNORE INTO customer_orders("
        "order_id, customer_id) VALUES (?, ?)");
    SQLite::Statement& order_insert = *order_insert_handle;
    std::string order_text;
    for (const auto* entry : SortedEntries(orders_)) {
      const OrderKey& key = entry->first;
      bool is_new = key.space == 't';
      if (!is_new) {
        order_text.assign(1, key.space);
        absl::StrAppend(&order_text, ":", key.id);
        order_insert.bindNoCopy(1, order_text);
        order_insert.bind(2, std::string(key.customer));
        is_new = order_insert.exec() == 1;
        order_insert.reset();
      }
      if (is_new) {
        ++customers_[key.customer].new_orders;
        ++days_[{entry->second, key.customer}].orders;
      }
    }
    // Days: a new row, or added to an existing one; a day became a purchase
    // day when its purchase lines were 0 before.
    Connection::Statement day_insert_handle = db.Prepare(
        "INSERT OR IGNORE INTO customer_days(customer_id, day, amount_micros, "
        "purchase_lines, profit_micros, orders) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6)");
    SQLite::Statement& day_insert = *day_insert_handle;
    Connection::Statement day_add_handle = db.Prepare(
        "UPDATE customer_days SET amount_micros = amount_micros + ?3, "
        "purchase_lines = purchase_lines + ?4, profit_micros = profit_micros "
        "+ ?5, orders = orders + ?6 WHERE day = ?2 AND customer_id = ?1 "
        "RETURNING purchase_lines");
    SQLite::Statement& day_add = *day_add_handle;
    for (const auto* entry : SortedEntries(days_)) {
      const auto& [day, customer] = entry->first;
      const LineDelta& d = entry->second;
      bool new_purchase_day = false;
      for (SQLite::Statement* s : {&day_insert, &day_add}) {
        s->bind(1, std::string(customer));
        s->bind(2, static_cast<int64_t>(day));
        s->bind(3, static_cast<int64_t>(d.amount));
        s->bind(4, static_cast<int64_t>(d.purchase_lines));
        s->bind(5, static_cast<int64_t>(d.profit));
        s->bind(6, static_cast<int64_t>(d.orders));
      }
      if (day_insert.exec() == 1) {
        new_purchase_day = d.purchase_lines > 0;
      } else if (day_add.executeStep()) {
        new_purchase_day = d.purchase_lines > 0 &&
                           day_add.getColumn(0).getInt64() == d.purchase_lines;
      }
      day_insert.reset();
      day_add.reset();
      if (new_purchase_day) ++customers_[customer].new_days;
    }

    Connection::Statement update_handle = db.Prepare(
        "UPDATE customers SET transaction_count = transaction_count + ?1, "
        "revenue_micros = revenue_micros + ?2, "
        "returns_micros = returns_micros + ?3, "
        "profit_micros = profit_micros + ?4, "
        "order_count = order_count + ?5, "
        "purchase_day_count = purchase_day_count + ?6, "
        "first_purchase_us = min(coalesce(first_purchase_us, ?7), "
        "coalesce(?7, first_purchase_us)), "
        "last_purchase_us = max(coalesce(last_purchase_us, ?8), "
        "coalesce(?8, last_purchase_us)) WHERE id = ?9");
    SQLite::Statement& update = *update_handle;
    for (const auto* entry : SortedEntries(customers_)) {
      const CustomerDelta& d = entry->second;
      update.bind(1, static_cast<int64_t>(d.transactions));
      update.bind(2, static_cast<int64_t>(d.revenue));
      update.bind(3, static_cast<int64_t>(d.returns));
      update.bind(4, static_cast<int64_t>(d.profit));
      update.bind(5, static_cast<int64_t>(d.new_orders));
      update.bind(6, static_cast<int64_t>(d.new_days));
      BindOptionalMicros(update, 7, d.first_purchase_us);
      BindOptionalMicros(update, 8, d.last_purchase_us);
      update.bind(9, std::string(entry->first));
      update.exec();
      update.reset();
    }
  }

 private:
  // An order: its key space ('o' for an order id, 't' for a transaction
  // that is its own order), that id, and the customer. Ordered as the text
  // key "<space>:<id>" of customer_orders, then the customer.
  struct OrderKey {
    char space;
    absl::string_view id;
    absl::string_view customer;
    friend bool operator==(const OrderKey&, const OrderKey&) = default;
    friend bool operator<(const OrderKey& a, const OrderKey& b) {
      return std::tie(a.space, a.id, a.customer) <
             std::tie(b.space, b.id, b.customer);
    }
    template <typename H>
    friend H AbslHashValue(H h, const OrderKey& k) {
      return H::combine(std::move(h), k.space, k.id, k.customer);
    }
  };

  absl::flat_hash_map<absl::string_view, CustomerDelta> customers_;
  // (day, customer): the order of customer_days' key.
  absl::flat_hash_map<std::pair<int64_t, absl::string_view>, LineDelta> days_;
  // Purchase orders -> the earliest day of their purchase lines.
  absl::flat_hash_map<OrderKey, int64_t> orders_;
};

constexpr char kFoldedBatchKey[] = "folded_batch";

int64_t FoldedBatch(Connection& db) {
  Connection::Statement select_handle =
      db.Prepare("SELECT value FROM tenant_meta WHERE key = ?");
  SQLite::Statement& select = *select_handle;
  select.bind(1, kFoldedBatchKey);
  int64_t batch = 0;
  if (select.executeStep()) {
    (void)absl::SimpleAtoi(select.getColumn(0).getString(), &batch);
  }
  return batch;
}

// Folds the batches after the watermark, about `max_rows` rows of them,
// within the caller's database transaction. Returns the rows folded; 0 when
// nothing was pending.
absl::StatusOr<int64_t> FoldChunk(Connection& db, int64_t max_rows) {
  const int64_t watermark = FoldedBatch(db);
  Connection::Statement select_handle = db.Prepare(
      "SELECT seq, body FROM transaction_batches WHERE "
      "seq > ? ORDER BY seq");
  SQLite::Statement& select = *select_handle;
  select.bind(1, static_cast<int64_t>(watermark));
  std::deque<std::vector<StoredTransaction>> batches;
  AggregateDeltas deltas;
  int64_t rows = 0;
  int64_t last = watermark;
  while (rows < max_rows && select.executeStep()) {
    last = select.getColumn(0).getInt64();
    const SQLite::Column body = select.getColumn(1);
    CUSTRA_ASSIGN_OR_RETURN(std::vector<StoredTransaction> decoded,
                            DecodeTransactionBatch(absl::string_view(
                                static_cast<const char*>(body.getBlob()),
                                static_cast<size_t>(body.getBytes()))));
    batches.push_back(std::move(decoded));
    for (const StoredTransaction& row : batches.back()) deltas.Add(row);
    rows += static_cast<int64_t>(batches.back().size());
  }
  if (last == watermark) return 0;
  deltas.Apply(db);
  Connection::Statement advance_handle = db.Prepare(
      "INSERT INTO tenant_meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
      "DO UPDATE SET value = excluded.value");
  SQLite::Statement& advance = *advance_handle;
  advance.bind(1, kFoldedBatchKey);
  advance.bind(2, absl::StrCat(last));
  advance.exec();
  return rows;
}

// Removes a customer's rows from the transaction log and frees their ids.
// Batches are not indexed by customer, so every batch is decoded: erasure
// is rare, imports are not. Returns the rows removed.
absl::StatusOr<int64_t> EraseCustomerTransactions(
    Connection& db, absl::string_view customer_id) {
  std::vector<std::pair<int64_t, std::string>> rewrites;
  std::vector<std::string> erased_ids;
  {
    Connection::Statement select_handle =
        db.Prepare("SELECT seq, body FROM transaction_batches");
    SQLite::Statement& select = *select_handle;
    while (select.executeStep()) {
      const SQLite::Column body = select.getColumn(1);
      CUSTRA_ASSIGN_OR_RETURN(std::vector<StoredTransaction> rows,
                              DecodeTransactionBatch(absl::string_view(
                                  static_cast<const char*>(body.getBlob()),
                                  static_cast<size_t>(body.getBytes()))));
      std::string kept;
      bool changed = false;
      for (const StoredTransaction& row : rows) {
        if (row.customer_id == customer_id) {
          erased_ids.push_back(row.id);
          changed = true;
        } else {
          AppendTransaction(row, &kept);
        }
      }
      if (changed) {
        rewrites.emplace_back(select.getColumn(0).getInt64(), std::move(kept));
      }
    }
  }
  // A batch left empty stays (as a bare header): batch numbers are never
  // reused, so the fold watermark stays meaningful.
  Connection::Statement update_handle = db.Prepare(
      "UPDATE transaction_batches SET body = ? WHERE "
      "seq = ?");
  SQLite::Statement& update = *update_handle;
  for (auto& [seq, body] : rewrites) {
    if (body.empty()) body = std::string(kBatchMagic);
    body = StoredBatch(body);
    update.bind(1, body.data(), static_cast<int>(body.size()));
    update.bind(2, static_cast<int64_t>(seq));
    update.exec();
    update.reset();
  }
  Connection::Statement free_id_handle =
      db.Prepare("DELETE FROM transaction_ids WHERE id = ?");
  SQLite::Statement& free_id = *free_id_handle;
  for (const std::string& id : erased_ids) {
    free_id.bind(1, id);
    free_id.exec();
    free_id.reset();
  }
  return static_cast<int64_t>(erased_ids.size());
}

std::string DecodeEnumTerm(absl::string_view value, absl::string_view prefix) {
  std::string upper = absl::AsciiStrToUpper(value);
  absl::string_view v = upper;
  absl::ConsumePrefix(&v, prefix);
  return std::string(v);
}

}  // namespace

namespace {

// Splits a filter on the AND keyword (any case) surrounded by spaces.
std::vector<std::string> FilterTerms(absl::string_view filter) {
  std::vector<std::string> terms;
  filter = absl::StripAsciiWhitespace(filter);
  if (filter.empty()) return terms;
  const std::string text(filter);
  const std::string lower = absl::AsciiStrToLower(text);
  size_t start = 0;
  while (true) {
    const size_t pos = lower.find(" and ", start);
    if (pos == std::string::npos) {
      terms.push_back(text.substr(start));
      break;
    }
    terms.push_back(text.substr(start, pos - start));
    start = pos + 5;
  }
  return terms;
}

absl::string_view Unquote(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

}  // namespace

absl::StatusOr<InteractionFilter> ParseInteractionFilter(
    absl::string_view filter) {
  InteractionFilter out;
  for (const std::string& raw : FilterTerms(filter)) {
    absl::string_view term = absl::StripAsciiWhitespace(raw);
    if (absl::StartsWithIgnoreCase(term, "time")) {
      absl::string_view rest =
          absl::StripLeadingAsciiWhitespace(term.substr(4));
      std::string op;
      for (const char* candidate : {">=", "<=", ">", "<"}) {
        if (absl::StartsWith(rest, candidate)) {
          op = candidate;
          break;
        }
      }
      absl::Time t;
      std::string error;
      if (op.empty() ||
          !absl::ParseTime(absl::RFC3339_full,
                           std::string(Unquote(rest.substr(op.size()))), &t,
                           &error)) {
        return InvalidFieldError(
            "filter",
            absl::StrCat("'", term, "' is not time >=|>|<=|< \"RFC 3339\""));
      }
      if (t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
        return InvalidFieldError("filter", "times must be finite");
      }
      const int64_t us = absl::ToUnixMicros(t);
      if (op == ">=") out.from_us = us;
      if (op == ">") out.from_us = us + 1;
      if (op == "<") out.until_us = us;
      if (op == "<=") out.until_us = us + 1;
      continue;
    }
    const size_t eq = term.find('=');
    if (eq == absl::string_view::npos) {
      return InvalidFieldError("filter",
                               absl::StrCat("'", term, "' is not field=value"));
    }
    const std::string field =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(term.substr(0, eq)));
    const absl::string_view value = Unquote(term.substr(eq + 1));
    if (field == "kind") {
      const char* names[] = {"VISIT",     "CALL",     "MEETING", "SURVEY",
                             "COMPLAINT", "REFERRAL", "OTHER"};
      std::string upper = absl::AsciiStrToUpper(value);
      absl::string_view v = upper;
      absl::ConsumePrefix(&v, "INTERACTION_KIND_");
      for (int i = 0; i < 7; ++i) {
        if (v == names[i]) out.kind = i + 1;
      }
      if (!out.kind) {
        return InvalidFieldError(
            "filter",
            absl::StrCat("kind '", value, "' is not an interaction kind"));
      }
    } else if (field == "channel") {
      out.channel = std::string(value);
    } else {
      return InvalidFieldError("filter",
                               absl::StrCat("unknown field '", field,
                                            "'; use kind, channel or time"));
    }
  }
  return out;
}

absl::StatusOr<CustomerFilter> ParseCustomerFilter(
    absl::string_view filter, absl::string_view field_name) {
  CustomerFilter out;
  for (const std::string& raw : FilterTerms(filter)) {
    absl::string_view term = absl::StripAsciiWhitespace(raw);
    const size_t eq = term.find('=');
    if (eq == absl::string_view::npos) {
      return InvalidFieldError(field_name,
                               absl::StrCat("'", term, "' is not field=value"));
    }
    std::string field =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(term.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(term.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (field == "kind") {
      const std::string v = DecodeEnumTerm(value, "CUSTOMER_KIND_");
      if (v == "INDIVIDUAL") {
        out.kind = 1;
      } else if (v == "ENTERPRISE") {
        out.kind = 2;
      } else if (v == "GOVERNMENT") {
        out.kind = 3;
      } else {
        return InvalidFieldError(
            field_name, absl::StrCat("kind '", value,
                                     "' is not INDIVIDUAL, ENTERPRISE or "
                                     "GOVERNMENT"));
      }
    } else if (field == "size") {
      const std::string v = DecodeEnumTerm(value, "CUSTOMER_SIZE_");
      const char* names[] = {"MICRO", "SMALL", "MEDIUM", "LARGE"};
      for (int i = 0; i < 4; ++i) {
        if (v == names[i]) out.size = i + 1;
      }
      if (!out.size) {
        return InvalidFieldError(
            field_name, absl::StrCat("size '", value,
                                     "' is not MICRO, SMALL, MEDIUM or LARGE"));
      }
    } else if (field == "industry") {
      out.industry = std::string(value);
    } else if (field == "region") {
      out.region = std::string(value);
    } else if (field == "channel" || field == "acquisition_channel") {
      out.channel = std::string(value);
    } else if (field == "tag" || field == "tags") {
      out.tag = std::string(value);
    } else {
      return InvalidFieldError(
          field_name, absl::StrCat("unknown field '", field,
                                   "'; use kind, size, industry, region, "
                                   "channel or tag"));
    }
  }
  return out;
}

// Removes the customer's assignment from every stored segmentation run
// (runs keep their summaries, which describe the data as it was).
void EraseFromRuns(Connection& db, absl::string_view customer_id) {
  Connection::Statement select_handle =
      db.Prepare("SELECT id, members FROM segmentation_runs");
  SQLite::Statement& select = *select_handle;
  std::vector<std::pair<std::string, std::string>> rewritten;
  while (select.executeStep()) {
    const SQLite::Column blob = select.getColumn(1);
    const absl::string_view members(static_cast<const char*>(blob.getBlob()),
                                    static_cast<size_t>(blob.getBytes()));
    if (!FindMember(members, customer_id)) continue;
    std::optional<std::vector<SegmentMember>> decoded = DecodeMembers(members);
    if (!decoded) continue;
    std::erase_if(*decoded, [&](const SegmentMember& m) {
      return m.customer_id == customer_id;
    });
    rewritten.emplace_back(select.getColumn(0).getString(),
                           EncodeMembers(*decoded));
  }
  Connection::Statement update_handle = db.Prepare(
      "UPDATE segmentation_runs SET members = ? WHERE "
      "id = ?");
  SQLite::Statement& update = *update_handle;
  for (const auto& [run_id, blob] : rewritten) {
    update.bind(1, blob.data(), static_cast<int>(blob.size()));
    update.bind(2, run_id);
    update.exec();
    update.reset();
  }
}

std::string CustomerFilterCondition(const CustomerFilter& filter) {
  std::vector<std::string> where = {"1"};
  if (filter.kind) where.push_back("c.kind = ?2");
  if (filter.size) where.push_back("c.size = ?3");
  if (filter.industry) where.push_back("c.industry = ?4");
  if (filter.region) where.push_back("c.region = ?5");
  if (filter.channel) where.push_back("c.acquisition_channel = ?6");
  if (filter.tag) {
    where.push_back(
        "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id "
        "AND t.tag = ?7)");
  }
  return absl::StrJoin(where, " AND ");
}

void BindCustomerFilter(SQLite::Statement& statement,
                        const CustomerFilter& filter) {
  if (filter.kind) statement.bind(2, *filter.kind);
  if (filter.size) statement.bind(3, *filter.size);
  if (filter.industry) statement.bind(4, *filter.industry);
  if (filter.region) statement.bind(5, *filter.region);
  if (filter.channel) statement.bind(6, *filter.channel);
  if (filter.tag) statement.bind(7, *filter.tag);
}

absl::StatusOr<std::string> IngestionStore::TenantCurrency() {
  return CatchSqlite(
      "reading the tenant currency",
      [&]() -> absl::StatusOr<std::string> { return ReadCurrency(*db_); });
}

namespace {

constexpr int kClaimChunk = 64;

// "INSERT OR IGNORE INTO transaction_ids(id, batch) VALUES (?2, ?1), ..."
// for `n` ids.
std::string ClaimSql(int n) {
  std::string sql = "INSERT OR IGNORE INTO transaction_ids(id, batch) VALUES ";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(?", i + 2, ", ?1)");
  }
  return sql;
}

// Claims the ids of `in.claim_order` for `batch`, marking `accepted` and
// counting into `result`.
void ClaimIds(Connection& db, int64_t batch, const PreparedTransactions& in,
              std::vector<char>* accepted, IngestResult* result) {
  const std::vector<int>& order = in.claim_order;
  std::optional<SQLite::Statement> full, tail;
  std::optional<SQLite::Statement> owner;
  for (size_t first = 0; first < order.size(); first += kClaimChunk) {
    const int n =
        static_cast<int>(std::min<size_t>(kClaimChunk, order.size() - first));
    std::optional<SQLite::Statement>& claim = n == kClaimChunk ? full : tail;
    if (!claim) {
      claim.emplace(db, ClaimSql(n));
      claim->bind(1, batch);
    }
    for (int i = 0; i < n; ++i) {
      claim->bindNoCopy(i + 2, in.rows[in.valid[order[first + i]]].id);
    }
    const int changes = claim->exec();
    claim->reset();
    if (changes == n) {
      for (int i = 0; i < n; ++i) (*accepted)[order[first + i]] = 1;
      result->accepted += n;
      continue;
    }
    // Some ids were there before: theirs carry an earlier batch number.
    if (!owner) {
      owner.emplace(db, "SELECT batch FROM transaction_ids WHERE id = ?");
    }
    for (int i = 0; i < n; ++i) {
      const int p = order[first + i];
      owner->bindNoCopy(1, in.rows[in.valid[p]].id);
      const bool mine =
          owner->executeStep() && owner->getColumn(0).getInt64() == batch;
      owner->reset();
      (*accepted)[p] = mine ? 1 : 0;
      if (mine) {
        ++result->accepted;
      } else {
        ++result->duplicates;
      }
    }
  }
}

}  // namespace

PreparedTransactions PrepareTransactions(absl::string_view request_id,
                                         std::span<const TransactionRow> rows,
                                         absl::string_view tenant_currency,
                                         absl::Time now) {
  PreparedTransactions prepared;
  prepared.rows = rows;
  prepared.request_id = std::string(request_id);
  prepared.fingerprint = KeyOf("transactions", request_id, rows).fingerprint;
  prepared.now = now;
  prepared.checked_currency = std::string(tenant_currency);
  prepared.currency = std::string(tenant_currency);
  prepared.valid.reserve(rows.size());
  prepared.encoded_end.reserve(rows.size());
  prepared.encoded.reserve(kBatchMagic.size() + 64 * rows.size());
  prepared.encoded.append(kBatchMagic.data(), kBatchMagic.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const TransactionRow& row = rows[i];
    if (auto error = ValidateTransaction(row, prepared.currency, now)) {
      error->row_index = static_cast<int>(i);
      prepared.rejections.push_back(*std::move(error));
      continue;
    }
    if (prepared.currency.empty()) prepared.currency = row.amount->currency;
    TransactionView stored{.id = row.id,
                           .customer_id = row.customer_id,
                           .time_us = Micros(*row.time),
                           .amount_micros = row.amount->micros,
                           .cost_micros = std::nullopt,
                           .quantity = row.quantity,
                           .order_id = row.order_id,
                           .product = row.product,
                           .category = row.category,
                           .channel = row.channel};
    if (row.cost) {
      stored.cost_micros = row.cost->micros;
    } else if (row.margin) {
      stored.cost_micros =
          stored.amount_micros -
          static_cast<int64_t>(std::llround(
              static_cast<double>(stored.amount_micros) * *row.margin));
    }
    AppendTransaction(stored, &prepared.encoded);
    prepared.has_cost.push_back(stored.cost_micros.has_value());
    prepared.valid.push_back(static_cast<int>(i));
    prepared.encoded_end.push_back(prepared.encoded.size());
  }
  prepared.stored = StoredBatch(prepared.encoded);
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t p = 0; p < prepared.valid.size(); ++p) {
    const std::string& customer = rows[prepared.valid[p]].customer_id;
    if (seen.insert(customer).second) prepared.customers.push_back(customer);
    prepared.any_cost = prepared.any_cost || prepared.has_cost[p];
  }
  prepared.claim_order.resize(prepared.valid.size());
  for (size_t p = 0; p < prepared.valid.size(); ++p) {
    prepared.claim_order[p] = static_cast<int>(p);
  }
  std::sort(prepared.claim_order.begin(), prepared.claim_order.end(),
            [&](int a, int b) {
              const std::string& x = rows[prepared.valid[a]].id;
              const std::string& y = rows[prepared.valid[b]].id;
              const int c = x.compare(y);
              return c < 0 || (c == 0 && a < b);
            });
  // A later row with the id of an earlier one is a duplicate without
  // asking the database: in id order it follows the first at once.
  size_t kept = 0;
  for (size_t i = 0; i < prepared.claim_order.size(); ++i) {
    if (kept > 0 &&
        rows[prepared.valid[prepared.claim_order[i]]].id ==
            rows[prepared.valid[prepared.claim_order[kept - 1]]].id) {
      ++prepared.batch_duplicates;
      continue;
    }
    prepared.claim_order[kept++] = prepared.claim_order[i];
  }
  prepared.claim_order.resize(kept);
  return prepared;
}

absl::StatusOr<IngestResult> IngestionStore::RecordTransactions(
    absl::string_view request_id, std::span<const TransactionRow> rows) {
  // Prepared against the currency read now; RecordPrepared prepares again
  // in the rare case that another import changed it in between.
  absl::StatusOr<std::string> currency = TenantCurrency();
  if (!currency.ok()) return currency.status();
  PreparedTransactions prepared =
      PrepareTransactions(request_id, rows, *currency, now_);
  return RecordPrepared(&prepared);
}

absl::StatusOr<IngestResult> IngestionStore::RecordPrepared(
    PreparedTransactions* prepared) {
  std::vector<absl::string_view> checked;
  absl::StatusOr<IngestResult> result = CatchSqlite(
      "recording transactions", [&]() -> absl::StatusOr<IngestResult> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        const RequestKey key{"transactions", prepared->request_id,
                             prepared->fingerprint};
        CUSTRA_ASSIGN_OR_RETURN(
            std::optional<IngestResult> replayed,
            Replay<IngestResult>(*db_, key, DecodeIngestResult));
        if (replayed) return *std::move(replayed);
        const std::string currency = ReadCurrency(*db_);
        if (currency != prepared->checked_currency) {
          *prepared = PrepareTransactions(prepared->request_id, prepared->rows,
                                          currency, prepared->now);
        }
        const PreparedTransactions& in = *prepared;
        IngestResult result;
        result.rejections = in.rejections;
        result.rejected = static_cast<int>(result.rejections.size());
        // The batch's number: after every batch written or folded so far.
        const int64_t batch =
            db_->execAndGet(
                   "SELECT max(coalesce((SELECT max(seq) FROM "
                   "transaction_batches), 0), coalesce((SELECT CAST(value AS "
                   "INTEGER) FROM tenant_meta WHERE key = 'folded_batch'), "
                   "0)) + 1")
                .getInt64();
        // Claiming the id is the duplicate check against the database (the
        // batch's own repeats are known already). Ids are claimed
        // kClaimChunk at a time; a chunk with fewer changes than ids held
        // ids claimed by earlier batches, told apart by their batch number.
        const std::vector<int>& valid = in.valid;
        std::vector<char> accepted(valid.size(), 0);
        result.duplicates = in.batch_duplicates;
        ClaimIds(*db_, batch, in, &accepted, &result);
        // The accepted rows' encodings, distinct customers and whether any
        // has a cost: as prepared in the usual case of no duplicates.
        absl::string_view body = in.stored;
        std::vector<absl::string_view> customer_ids = in.customers;
        bool any_cost = in.any_cost;
        std::string kept;
        if (result.accepted < static_cast<int>(valid.size())) {
          kept.assign(kBatchMagic.data(), kBatchMagic.size());
          customer_ids.clear();
          any_cost = false;
          absl::flat_hash_set<absl::string_view> seen;
          for (size_t p = 0; p < valid.size(); ++p) {
            if (!accepted[p]) continue;
            const size_t begin =
                p == 0 ? kBatchMagic.size() : in.encoded_end[p - 1];
            kept.append(in.encoded, begin, in.encoded_end[p] - begin);
            any_cost = any_cost || in.has_cost[p];
            const std::string& customer = in.rows[valid[p]].customer_id;
            if (seen.insert(customer).second) customer_ids.push_back(customer);
          }
          kept = StoredBatch(kept);
          body = kept;
        }
        result.customers_created = EnsureCustomers(
            *db_, customer_ids, now_,
            state_ == nullptr ? nullptr : &state_->known_customers, &checked);
        if (result.accepted > 0 && in.currency != currency) {
          WriteCurrency(*db_, in.currency);
        }
        if (result.accepted > 0) {
          Connection::Statement append_handle = db_->Prepare(
              "INSERT INTO transaction_batches(seq, body) VALUES (?, ?)");
          SQLite::Statement& append = *append_handle;
          append.bind(1, static_cast<int64_t>(batch));
          append.bindNoCopy(2, body.data(), static_cast<int>(body.size()));
          append.exec();
          // What customer-value models and scoring need to know without a
          // scan: when transactions last changed, and whether any carries a
          // cost (profit is then meaningful).
          Connection::Statement meta_handle = db_->Prepare(
              "INSERT INTO tenant_meta(key, value) VALUES "
              "('transactions_written_us', ?1) ON CONFLICT(key) DO UPDATE SET "
              "value = excluded.value");
          SQLite::Statement& meta = *meta_handle;
          meta.bind(1, absl::StrCat(Micros(now_)));
          meta.exec();
          if (any_cost) {
            db_->exec(
                "INSERT OR IGNORE INTO tenant_meta(key, value) VALUES "
                "('has_cost', '1')");
          }
          // Without tenant state nothing folds later: fold now, in this
          // transaction.
          if (state_ == nullptr) {
            while (true) {
              CUSTRA_ASSIGN_OR_RETURN(int64_t folded,
                                      FoldChunk(*db_, kFoldChunkRows));
              if (folded == 0) break;
            }
          }
        } else {
          prepared->currency = currency;
        }
        Remember(*db_, key, EncodeIngestResult(result), now_);
        txn.commit();
        return result;
      });
  if (result.ok() && state_ != nullptr) {
    Remember(state_, checked);
    if (result->accepted > 0 && !result->replayed) {
      state_->fold_pending = true;
      state_->last_append = absl::Now();
    }
  }
  return result;
}

absl::StatusOr<int64_t> FoldPendingTransactions(Connection& db,
                                                int64_t chunk_rows) {
  return CatchSqlite("folding transactions", [&]() -> absl::StatusOr<int64_t> {
    int64_t total = 0;
    while (true) {
      SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
      CUSTRA_ASSIGN_OR_RETURN(int64_t folded, FoldChunk(db, chunk_rows));
      txn.commit();
      if (folded == 0) return total;
      total += folded;
    }
  });
}

absl::StatusOr<bool> HasPendingTransactions(Connection& db) {
  return CatchSqlite(
      "checking for unfolded transactions", [&]() -> absl::StatusOr<bool> {
        const int64_t last = db.execAndGet(
                                   "SELECT coalesce(max(seq), 0) FROM "
                                   "transaction_batches")
                                 .getInt64();
        return last > FoldedBatch(db);
      });
}

absl::StatusOr<IngestResult> IngestionStore::RecordInteractions(
    absl::string_view request_id, std::span<const InteractionRow> rows) {
  return CatchSqlite(
      "recording interactions", [&]() -> absl::StatusOr<IngestResult> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        const RequestKey key = KeyOf("interactions", request_id, rows);
        CUSTRA_ASSIGN_OR_RETURN(
            std::optional<IngestResult> replayed,
            Replay<IngestResult>(*db_, key, DecodeIngestResult));
        if (replayed) return *std::move(replayed);
        IngestResult result;
        Connection::Statement insert_handle = db_->Prepare(
            "INSERT OR IGNORE INTO interactions(id, customer_id, kind, "
            "time_us, "
            "contact, channel, notes, satisfaction, nps, referred_customer_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        SQLite::Statement& insert = *insert_handle;
        std::vector<absl::string_view> customer_ids;  // View `rows`.
        for (size_t i = 0; i < rows.size(); ++i) {
          const InteractionRow& row = rows[i];
          if (auto error = ValidateInteraction(row, now_)) {
            error->row_index = static_cast<int>(i);
            result.rejections.push_back(*std::move(error));
            continue;
          }
          insert.bind(1, row.id);
          insert.bind(2, row.customer_id);
          insert.bind(3, row.kind);
          insert.bind(4, static_cast<int64_t>(Micros(*row.time)));
          insert.bind(5, row.contact);
          insert.bind(6, row.channel);
          insert.bind(7, row.notes);
          if (row.satisfaction) {
            insert.bind(8, *row.satisfaction);
          } else {
            insert.bind(8);
          }
          if (row.nps) {
            insert.bind(9, *row.nps);
          } else {
            insert.bind(9);
          }
          insert.bind(10, row.referred_customer_id);
          const int inserted = insert.exec();
          insert.reset();
          if (inserted == 0) {
            ++result.duplicates;
          } else {
            ++result.accepted;
            customer_ids.push_back(row.customer_id);
          }
        }
        result.rejected = static_cast<int>(result.rejections.size());
        std::vector<absl::string_view> checked;
        result.customers_created =
            EnsureCustomers(*db_, customer_ids, now_, nullptr, &checked);
        Remember(*db_, key, EncodeIngestResult(result), now_);
        txn.commit();
        return result;
      });
}

namespace {

constexpr char kCustomerColumns[] =
    "id, kind, display_name, industry, region, size, acquisition_channel, "
    "acquisition_date, man_money, man_authority, man_need, budget_currency, "
    "budget_micros, wallet_currency, wallet_micros, create_time_us, "
    "update_time_us, first_purchase_us, last_purchase_us, order_count, "
    "purchase_day_count, transaction_count, revenue_micros, returns_micros, "
    "profit_micros";

std::optional<MoneyValue> ReadMoney(SQLite::Statement& s, int currency_col,
                                    int micros_col) {
  if (s.getColumn(micros_col).isNull()) return std::nullopt;
  return MoneyValue{s.getColumn(currency_col).getString(),
                    s.getColumn(micros_col).getInt64()};
}

std::optional<absl::Time> ReadTime(SQLite::Statement& s, int col) {
  if (s.getColumn(col).isNull()) return std::nullopt;
  return absl::FromUnixMicros(s.getColumn(col).getInt64());
}

CustomerRecord ReadCustomerRow(SQLite::Statement& s) {
  CustomerRecord c;
  c.id = s.getColumn(0).getString();
  c.kind = s.getColumn(1).getInt();
  c.display_name = s.getColumn(2).getString();
  c.industry = s.getColumn(3).getString();
  c.region = s.getColumn(4).getString();
  c.size = s.getColumn(5).getInt();
  c.acquisition_channel = s.getColumn(6).getString();
  c.acquisition_date = s.getColumn(7).getString();
  c.man_money = s.getColumn(8).getInt();
  c.man_authority = s.getColumn(9).getInt();
  c.man_need = s.getColumn(10).getInt();
  c.annual_budget = ReadMoney(s, 11, 12);
  c.annual_wallet = ReadMoney(s, 13, 14);
  c.create_time = absl::FromUnixMicros(s.getColumn(15).getInt64());
  c.update_time = absl::FromUnixMicros(s.getColumn(16).getInt64());
  c.stats.first_purchase = ReadTime(s, 17);
  c.stats.last_purchase = ReadTime(s, 18);
  c.stats.order_count = s.getColumn(19).getInt64();
  c.stats.purchase_day_count = s.getColumn(20).getInt64();
  c.stats.transaction_count = s.getColumn(21).getInt64();
  c.stats.revenue_micros = s.getColumn(22).getInt64();
  c.stats.returns_micros = s.getColumn(23).getInt64();
  c.stats.profit_micros = s.getColumn(24).getInt64();
  return c;
}

// Loads the tags and attributes of customers sorted by id (one, or a page):
// one range scan per table over their ids, not two lookups per customer.
void LoadTagsAndAttributes(Connection& db, std::span<CustomerRecord> page) {
  if (page.empty()) return;
  absl::flat_hash_map<absl::string_view, CustomerRecord*> by_id;
  for (CustomerRecord& c : page) by_id.emplace(c.id, &c);
  auto scan = [&](const char* sql, auto&& add) {
    Connection::Statement q_handle = db.Prepare(sql);
    SQLite::Statement& q = *q_handle;
    q.bind(1, page.front().id);
    q.bind(2, page.back().id);
    while (q.executeStep()) {
      auto it = by_id.find(q.getColumn(0).getText());
      if (it != by_id.end()) add(*it->second, q);
    }
  };
  scan(
      "SELECT customer_id, tag FROM customer_tags WHERE customer_id BETWEEN ? "
      "AND ? ORDER BY customer_id, tag",
      [](CustomerRecord& c, SQLite::Statement& q) {
        c.tags.push_back(q.getColumn(1).getString());
      });
  scan(
      "SELECT customer_id, key, value FROM customer_attributes WHERE "
      "customer_id BETWEEN ? AND ?",
      [](CustomerRecord& c, SQLite::Statement& q) {
        c.attributes[q.getColumn(1).getString()] = q.getColumn(2).getString();
      });
}

std::optional<CustomerRecord> FindCustomer(Connection& db,
                                           absl::string_view id) {
  static const std::string* const sql = new std::string(absl::StrCat(
      "SELECT ", kCustomerColumns, " FROM customers WHERE id = ?"));
  Connection::Statement select_handle = db.Prepare(*sql);
  SQLite::Statement& select = *select_handle;
  select.bind(1, std::string(id));
  if (!select.executeStep()) return std::nullopt;
  CustomerRecord c = ReadCustomerRow(select);
  LoadTagsAndAttributes(db, {&c, 1});
  return c;
}

// Copies the fields named by `mask` (all writable fields when null).
void MergeCustomer(const CustomerRecord& in, const std::set<std::string>* mask,
                   CustomerRecord& out) {
  auto want = [&](const char* field) {
    return mask == nullptr || mask->contains(field);
  };
  if (want("kind")) out.kind = in.kind;
  if (want("display_name")) out.display_name = in.display_name;
  if (want("industry")) out.industry = in.industry;
  if (want("region")) out.region = in.region;
  if (want("size")) out.size = in.size;
  if (want("acquisition_channel")) {
    out.acquisition_channel = in.acquisition_channel;
  }
  if (want("acquisition_date")) out.acquisition_date = in.acquisition_date;
  if (want("tags")) out.tags = in.tags;
  if (want("man_assessment")) {
    out.man_money = in.man_money;
    out.man_authority = in.man_authority;
    out.man_need = in.man_need;
  }
  if (want("annual_budget")) out.annual_budget = in.annual_budget;
  if (want("annual_wallet")) out.annual_wallet = in.annual_wallet;
  if (want("attributes")) out.attributes = in.attributes;
}

bool SameWritableFields(const CustomerRecord& a, const CustomerRecord& b) {
  return a.kind == b.kind && a.display_name == b.display_name &&
         a.industry == b.industry && a.region == b.region && a.size == b.size &&
         a.acquisition_channel == b.acquisition_channel &&
         a.acquisition_date == b.acquisition_date && a.tags == b.tags &&
         a.man_money == b.man_money && a.man_authority == b.man_authority &&
         a.man_need == b.man_need && a.annual_budget == b.annual_budget &&
         a.annual_wallet == b.annual_wallet && a.attributes == b.attributes;
}

void BindMoney(SQLite::Statement& s, int currency_index,
               const std::optional<MoneyValue>& m) {
  if (m) {
    s.bind(currency_index, m->currency);
    s.bind(currency_index + 1, static_cast<int64_t>(m->micros));
  } else {
    s.bind(currency_index);
    s.bind(currency_index + 1);
  }
}

void WriteCustomer(Connection& db, const CustomerRecord& c, bool exists,
                   absl::Time now) {
  if (exists) {
    Connection::Statement update_handle = db.Prepare(
        "UPDATE customers SET kind = ?1, display_name = ?2, industry = ?3, "
        "region = ?4, size = ?5, acquisition_channel = ?6, acquisition_date = "
        "?7, man_money = ?8, man_authority = ?9, man_need = ?10, "
        "budget_currency = ?11, budget_micros = ?12, wallet_currency = ?13, "
        "wallet_micros = ?14, implicit = 0, update_time_us = ?15 WHERE id = "
        "?16");
    SQLite::Statement& update = *update_handle;
    update.bind(16, c.id);
    update.bind(1, c.kind);
    update.bind(2, c.display_name);
    update.bind(3, c.industry);
    update.bind(4, c.region);
    update.bind(5, c.size);
    update.bind(6, c.acquisition_channel);
    update.bind(7, c.acquisition_date);
    update.bind(8, c.man_money);
    update.bind(9, c.man_authority);
    update.bind(10, c.man_need);
    BindMoney(update, 11, c.annual_budget);
    BindMoney(update, 13, c.annual_wallet);
    update.bind(15, static_cast<int64_t>(Micros(now)));
    update.exec();
  } else {
    Connection::Statement insert_handle = db.Prepare(
        "INSERT INTO customers(kind, display_name, industry, region, size, "
        "acquisition_channel, acquisition_date, man_money, man_authority, "
        "man_need, budget_currency, budget_micros, wallet_currency, "
        "wallet_micros, create_time_us, update_time_us, id) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)");
    SQLite::Statement& insert = *insert_handle;
    insert.bind(16, c.id);
    insert.bind(1, c.kind);
    insert.bind(2, c.display_name);
    insert.bind(3, c.industry);
    insert.bind(4, c.region);
    insert.bind(5, c.size);
    insert.bind(6, c.acquisition_channel);
    insert.bind(7, c.acquisition_date);
    insert.bind(8, c.man_money);
    insert.bind(9, c.man_authority);
    insert.bind(10, c.man_need);
    BindMoney(insert, 11, c.annual_budget);
    BindMoney(insert, 13, c.annual_wallet);
    insert.bind(15, static_cast<int64_t>(Micros(now)));
    insert.exec();
  }
  Connection::Statement clear_tags_handle =
      db.Prepare("DELETE FROM customer_tags WHERE customer_id = ?");
  SQLite::Statement& clear_tags = *clear_tags_handle;
  clear_tags.bind(1, c.id);
  clear_tags.exec();
  Connection::Statement add_tag_handle = db.Prepare(
      "INSERT OR IGNORE INTO customer_tags(customer_id, tag) VALUES (?, ?)");
  SQLite::Statement& add_tag = *add_tag_handle;
  for (const std::string& tag : c.tags) {
    add_tag.bind(1, c.id);
    add_tag.bind(2, tag);
    add_tag.exec();
    add_tag.reset();
  }
  Connection::Statement clear_attrs_handle =
      db.Prepare("DELETE FROM customer_attributes WHERE customer_id = ?");
  SQLite::Statement& clear_attrs = *clear_attrs_handle;
  clear_attrs.bind(1, c.id);
  clear_attrs.exec();
  Connection::Statement add_attr_handle = db.Prepare(
      "INSERT INTO customer_attributes(customer_id, "
      "key, value) VALUES (?, ?, ?)");
  SQLite::Statement& add_attr = *add_attr_handle;
  for (const auto& [key, value] : c.attributes) {
    add_attr.bind(1, c.id);
    add_attr.bind(2, key);
    add_attr.bind(3, value);
    add_attr.exec();
    add_attr.reset();
  }
}

}  // namespace

absl::StatusOr<CustomerBatchResult> IngestionStore::UpsertCustomers(
    absl::string_view request_id, std::span<const CustomerRecord> customers,
    const std::set<std::string>* mask) {
  return CatchSqlite(
      "upserting customers", [&]() -> absl::StatusOr<CustomerBatchResult> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        const RequestKey key = KeyOf("customers", request_id, customers);
        CUSTRA_ASSIGN_OR_RETURN(
            std::optional<CustomerBatchResult> replayed,
            Replay<CustomerBatchResult>(*db_, key, DecodeCustomerResult));
        if (replayed) return *std::move(replayed);
        const std::string currency = ReadCurrency(*db_);
        CustomerBatchResult result;
        for (size_t i = 0; i < customers.size(); ++i) {
          CustomerRecord in = customers[i];
          std::sort(in.tags.begin(), in.tags.end());
          in.tags.erase(std::unique(in.tags.begin(), in.tags.end()),
                        in.tags.end());
          CustomerWriteResult w;
          w.row_index = static_cast<int>(i);
          w.customer_id = in.id;
          if (auto error = ValidateCustomer(in, currency)) {
            error->row_index = w.row_index;
            w.outcome = CustomerOutcome::kRejected;
            w.rejection = *std::move(error);
            ++result.rejected;
            result.results.push_back(std::move(w));
            continue;
          }
          std::optional<CustomerRecord> existing = FindCustomer(*db_, in.id);
          if (!existing) {
            if (in.kind == 0) in.kind = 1;
            WriteCustomer(*db_, in, /*exists=*/false, now_);
            w.outcome = CustomerOutcome::kCreated;
            ++result.created;
          } else {
            CustomerRecord merged = *existing;
            MergeCustomer(in, mask, merged);
            if (merged.kind == 0) merged.kind = existing->kind;
            if (SameWritableFields(merged, *existing)) {
              w.outcome = CustomerOutcome::kUnchanged;
              ++result.unchanged;
            } else {
              WriteCustomer(*db_, merged, /*exists=*/true, now_);
              w.outcome = CustomerOutcome::kUpdated;
              ++result.updated;
            }
          }
          result.results.push_back(std::move(w));
        }
        Remember(*db_, key, EncodeCustomerResult(result), now_);
        txn.commit();
        return result;
      });
}

absl::StatusOr<CustomerRecord> IngestionStore::GetCustomer(
    absl::string_view id) {
  return CatchSqlite("reading customer",
                     [&]() -> absl::StatusOr<CustomerRecord> {
                       std::optional<CustomerRecord> c = FindCustomer(*db_, id);
                       if (!c) {
                         return absl::NotFoundError(
                             absl::StrCat("customer ", id, " does not exist"));
                       }
                       return *std::move(c);
                     });
}

absl::StatusOr<absl::flat_hash_map<std::string, IngestionStore::CustomerName>>
IngestionStore::GetCustomerNames(std::span<const std::string> ids) {
  return CatchSqlite(
      "reading customer names",
      [&]() -> absl::StatusOr<absl::flat_hash_map<std::string, CustomerName>> {
        absl::flat_hash_map<std::string, CustomerName> out;
        Connection::Statement select_handle = db_->Prepare(
            "SELECT kind, display_name FROM customers WHERE id = ?");
        SQLite::Statement& select = *select_handle;
        for (const std::string& id : ids) {
          select.reset();
          select.bind(1, id);
          if (!select.executeStep()) continue;
          out[id] = {select.getColumn(0).getInt(),
                     select.getColumn(1).getString()};
        }
        return out;
      });
}

absl::StatusOr<std::vector<CustomerRecord>> IngestionStore::ListCustomers(
    const CustomerFilter& filter, absl::string_view after_id, int limit) {
  return CatchSqlite(
      "listing customers",
      [&]() -> absl::StatusOr<std::vector<CustomerRecord>> {
        const std::string where =
            absl::StrCat("c.id > ?1 AND ", CustomerFilterCondition(filter));
        std::string columns;
        for (absl::string_view col : absl::StrSplit(kCustomerColumns, ", ")) {
          absl::StrAppend(&columns, columns.empty() ? "" : ", ", "c.", col);
        }
        Connection::Statement select_handle = db_->Prepare(
            absl::StrCat("SELECT ", columns, " FROM customers c WHERE ", where,
                         " ORDER BY c.id LIMIT ?8"));
        SQLite::Statement& select = *select_handle;
        select.bind(1, std::string(after_id));
        BindCustomerFilter(select, filter);
        select.bind(8, limit);
        std::vector<CustomerRecord> out;
        while (select.executeStep()) out.push_back(ReadCustomerRow(select));
        LoadTagsAndAttributes(*db_, out);
        return out;
      });
}

absl::StatusOr<IngestionStore::DeleteCounts> IngestionStore::DeleteCustomer(
    absl::string_view id) {
  // Forgetting an id is always safe (the cache is re-checked).
  if (state_ != nullptr) state_->known_customers.erase(id);
  return CatchSqlite(
      "deleting customer", [&]() -> absl::StatusOr<DeleteCounts> {
        SQLite::Transaction txn(*db_, SQLite::TransactionBehavior::IMMEDIATE);
        Connection::Statement exists_handle =
            db_->Prepare("SELECT 1 FROM customers WHERE id = ?");
        SQLite::Statement& exists = *exists_handle;
        exists.bind(1, std::string(id));
        if (!exists.executeStep()) {
          return absl::NotFoundError(
              absl::StrCat("customer ", id, " does not exist"));
        }
        DeleteCounts counts;
        auto erase = [&](const char* sql) {
          Connection::Statement s_handle = db_->Prepare(sql);
          SQLite::Statement& s = *s_handle;
          s.bind(1, std::string(id));
          return s.exec();
        };
        CUSTRA_ASSIGN_OR_RETURN(counts.transactions,
                                EraseCustomerTransactions(*db_, id));
        counts.interactions =
            erase("DELETE FROM interactions WHERE customer_id = ?");
        erase("DELETE FROM customer_days WHERE customer_id = ?");
        erase("DELETE FROM customer_orders WHERE customer_id = ?");
        erase("DELETE FROM customer_tags WHERE customer_id = ?");
        erase("DELETE FROM customer_attributes WHERE customer_id = ?");
        erase("DELETE FROM customers WHERE id = ?");
        EraseFromRuns(*db_, id);
        EraseCustomerOpportunityData(*db_, id);
        erase("DELETE FROM account_assessments WHERE customer_id = ?");
        erase("DELETE FROM account_scores WHERE customer_id = ?");
        txn.commit();
        return counts;
      });
}

absl::StatusOr<std::vector<InteractionRow>> IngestionStore::ListInteractions(
    absl::string_view customer_id, const InteractionFilter& filter,
    const std::optional<InteractionCursor>& after, int limit) {
  return CatchSqlite(
      "listing interactions",
      [&]() -> absl::StatusOr<std::vector<InteractionRow>> {
        std::vector<std::string> where = {"1"};
        if (!customer_id.empty()) where.push_back("customer_id = ?1");
        if (after) where.push_back("(time_us, id) < (?2, ?3)");
        if (filter.kind) where.push_back("kind = ?5");
        if (filter.channel) where.push_back("channel = ?6");
        if (filter.from_us) where.push_back("time_us >= ?7");
        if (filter.until_us) where.push_back("time_us < ?8");
        Connection::Statement select_handle = db_->Prepare(absl::StrCat(
            "SELECT id, customer_id, kind, time_us, contact, channel, "
            "notes, satisfaction, nps, referred_customer_id FROM "
            "interactions WHERE ",
            absl::StrJoin(where, " AND "),
            " ORDER BY time_us DESC, id DESC LIMIT ?4"));
        SQLite::Statement& select = *select_handle;
        if (!customer_id.empty()) select.bind(1, std::string(customer_id));
        if (after) {
          select.bind(2, static_cast<int64_t>(after->time_us));
          select.bind(3, after->id);
        }
        select.bind(4, limit);
        if (filter.kind) select.bind(5, *filter.kind);
        if (filter.channel) select.bind(6, *filter.channel);
        if (filter.from_us)
          select.bind(7, static_cast<int64_t>(*filter.from_us));
        if (filter.until_us) {
          select.bind(8, static_cast<int64_t>(*filter.until_us));
        }
        std::vector<InteractionRow> out;
        while (select.executeStep()) {
          InteractionRow row;
          row.id = select.getColumn(0).getString();
          row.customer_id = select.getColumn(1).getString();
          row.kind = select.getColumn(2).getInt();
          row.time = absl::FromUnixMicros(select.getColumn(3).getInt64());
          row.contact = select.getColumn(4).getString();
          row.channel = select.getColumn(5).getString();
          row.notes = select.getColumn(6).getString();
          if (!select.getColumn(7).isNull()) {
            row.satisfaction = select.getColumn(7).getDouble();
          }
          if (!select.getColumn(8).isNull())
            row.nps = select.getColumn(8).getInt();
          row.referred_customer_id = select.getColumn(9).getString();
          out.push_back(std::move(row));
        }
        return out;
      });
}

}  // namespace custra
