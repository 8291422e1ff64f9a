#include "common/tenant_schema.h"

#include <string>

#include "common/transaction_log.h"

namespace custra {
namespace {

// Migration 7: the rows of the transactions table become the transaction
// log (common/transaction_log.h), in batches of kLogBatchRows in their
// original order. The fold watermark stays at 0: the aggregates, cleared by
// the migration's SQL, are rebuilt from the log by the first read.
constexpr int kLogBatchRows = 10000;

void MoveTransactionsToLog(SQLite::Database& db) {
  int64_t seq = 0;
  {
    SQLite::Statement select(
        db,
        "SELECT id, customer_id, time_us, amount_micros, cost_micros, "
        "quantity, order_id, product, category, channel FROM transactions "
        "ORDER BY rowid");
    SQLite::Statement append(
        db, "INSERT INTO transaction_batches(seq, body) VALUES (?, ?)");
    SQLite::Statement claim(
        db, "INSERT INTO transaction_ids(id, batch) VALUES (?, ?)");
    std::string body;
    int rows = 0;
    auto flush = [&] {
      if (rows == 0) return;
      append.bind(1, static_cast<int64_t>(++seq));
      const std::string stored = StoredBatch(body);
      append.bind(2, stored.data(), static_cast<int>(stored.size()));
      append.exec();
      append.reset();
      body.clear();
      rows = 0;
    };
    StoredTransaction row;
    while (select.executeStep()) {
      row.id = select.getColumn(0).getString();
      row.customer_id = select.getColumn(1).getString();
      row.time_us = select.getColumn(2).getInt64();
      row.amount_micros = select.getColumn(3).getInt64();
      row.cost_micros.reset();
      if (!select.getColumn(4).isNull()) {
        row.cost_micros = select.getColumn(4).getInt64();
      }
      row.quantity = select.getColumn(5).getDouble();
      row.order_id = select.getColumn(6).getString();
      row.product = select.getColumn(7).getString();
      row.category = select.getColumn(8).getString();
      row.channel = select.getColumn(9).getString();
      AppendTransaction(row, &body);
      claim.bind(1, row.id);
      claim.bind(2, static_cast<int64_t>(seq + 1));
      claim.exec();
      claim.reset();
      if (++rows == kLogBatchRows) flush();
    }
    flush();
  }
  db.exec("DROP TABLE transactions");
}

constexpr Migration kTenantMigrations[] = {
    {1, "tenant metadata", R"sql(
CREATE TABLE tenant_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
    // Customers carry their purchase aggregates, kept current in the same
    // database transaction as the rows that change them (DESIGN.md §4), so
    // analyses read O(customers) rows. customer_days is the per-customer,
    // per-day rollup (weeks and months are sums of days); customer_orders
    // makes "orders" exact when an order's lines arrive in several batches.
    // Both rollups lead with the day / the order id, not the customer: data
    // arrives roughly in time and order order, so a batch's upserts land on
    // a few neighbouring pages instead of one random page per row (analyses
    // read the rollups whole, grouping by customer in memory).
    // Transactions carry no per-customer index: analyses read the rollups,
    // and the one per-customer scan (DeleteCustomer) is rare; an index would
    // add a random B-tree write to every imported row.
    {2, "customers, transactions, interactions", R"sql(
CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  kind INTEGER NOT NULL DEFAULT 1,
  display_name TEXT NOT NULL DEFAULT '',
  industry TEXT NOT NULL DEFAULT '',
  region TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  acquisition_channel TEXT NOT NULL DEFAULT '',
  acquisition_date TEXT NOT NULL DEFAULT '',
  man_money INTEGER NOT NULL DEFAULT 0,
  man_authority INTEGER NOT NULL DEFAULT 0,
  man_need INTEGER NOT NULL DEFAULT 0,
  budget_currency TEXT,
  budget_micros INTEGER,
  wallet_currency TEXT,
  wallet_micros INTEGER,
  implicit INTEGER NOT NULL DEFAULT 0,
  create_time_us INTEGER NOT NULL,
  update_time_us INTEGER NOT NULL,
  first_purchase_us INTEGER,
  last_purchase_us INTEGER,
  order_count INTEGER NOT NULL DEFAULT 0,
  purchase_day_count INTEGER NOT NULL DEFAULT 0,
  transaction_count INTEGER NOT NULL DEFAULT 0,
  revenue_micros INTEGER NOT NULL DEFAULT 0,
  returns_micros INTEGER NOT NULL DEFAULT 0,
  profit_micros INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE customer_tags (
  customer_id TEXT NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (customer_id, tag)
) WITHOUT ROWID;
CREATE INDEX customer_tags_by_tag ON customer_tags(tag, customer_id);
CREATE TABLE customer_attributes (
  customer_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (customer_id, key)
) WITHOUT ROWID;
CREATE TABLE transactions (
  id TEXT NOT NULL UNIQUE,
  customer_id TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  amount_micros INTEGER NOT NULL,
  cost_micros INTEGER,
  quantity REAL NOT NULL DEFAULT 0,
  order_id TEXT NOT NULL DEFAULT '',
  product TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT ''
);
CREATE TABLE customer_days (
  customer_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  amount_micros INTEGER NOT NULL DEFAULT 0,
  purchase_lines INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, customer_id)
) WITHOUT ROWID;
CREATE TABLE customer_orders (
  customer_id TEXT NOT NULL,
  order_id TEXT NOT NULL,
  amount_micros INTEGER NOT NULL DEFAULT 0,
  purchase_lines INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (order_id, customer_id)
) WITHOUT ROWID;
CREATE TABLE interactions (
  id TEXT NOT NULL UNIQUE,
  customer_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  contact TEXT NOT NULL DEFAULT '',
  channel TEXT NOT NULL DEFAULT '',
  notes TEXT NOT NULL DEFAULT '',
  satisfaction REAL,
  nps INTEGER,
  referred_customer_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX interactions_by_customer ON interactions(customer_id, time_us);
CREATE TABLE ingest_requests (
  kind TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  PRIMARY KEY (kind, request_id)
) WITHOUT ROWID;
)sql"},
    // Windowed analyses (a run's [window start, as of]) read customer_days:
    // it gains each day's profit and the orders counted on that day (an
    // order is counted on the day of its earliest purchase line known when
    // it became a purchase). Existing rollups are filled from the
    // transactions, with the same day arithmetic as ingestion (floor of
    // micros / day).
    {3, "profit and orders per customer day", R"sql(
ALTER TABLE customer_days ADD COLUMN profit_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customer_days ADD COLUMN orders INTEGER NOT NULL DEFAULT 0;
UPDATE customer_days SET profit_micros = b.profit FROM (
  SELECT customer_id,
         (time_us - ((time_us % 86400000000) + 86400000000) % 86400000000)
             / 86400000000 AS day,
         sum(amount_micros - cost_micros) AS profit
  FROM transactions WHERE cost_micros IS NOT NULL GROUP BY 1, 2) AS b
WHERE customer_days.customer_id = b.customer_id AND customer_days.day = b.day;
UPDATE customer_days SET orders = b.orders FROM (
  SELECT customer_id, day, count(*) AS orders FROM (
    SELECT customer_id,
           CASE WHEN order_id = '' THEN 't:' || id ELSE 'o:' || order_id END,
           min((time_us - ((time_us % 86400000000) + 86400000000)
                   % 86400000000) / 86400000000) AS day
    FROM transactions WHERE amount_micros > 0 GROUP BY 1, 2)
  GROUP BY 1, 2) AS b
WHERE customer_days.customer_id = b.customer_id AND customer_days.day = b.day;
)sql"},
    // Segmentation runs: the server's encoding of the run (its summary) and
    // the members packed by customer id (common/segmentation_store.h), so a
    // run of 100,000 customers is one row written, not 100,000.
    {4, "segmentation runs", R"sql(
CREATE TABLE segmentation_runs (
  id TEXT PRIMARY KEY,
  model INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  run BLOB NOT NULL,
  members BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX segmentation_runs_by_time
  ON segmentation_runs(create_time_us, id);
)sql"},
    // Customer-value models and key-account scoring. Records are the
    // server's encodings (opaque here); ids are "vm-%06d" / "sr-%06d" from
    // `seq`. tenant_meta learns whether any transaction carries a cost.
    {5, "value models and key-account scoring", R"sql(
CREATE TABLE value_models (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  model_type INTEGER NOT NULL,
  converged INTEGER NOT NULL,
  fit_time_us INTEGER NOT NULL,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE scoring_profiles (
  id TEXT PRIMARY KEY,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE account_assessments (
  customer_id TEXT PRIMARY KEY,
  strategic_value INTEGER NOT NULL DEFAULT 0,
  cooperation INTEGER NOT NULL DEFAULT 0,
  wallet_micros INTEGER,
  note TEXT NOT NULL DEFAULT '',
  assessed_by TEXT NOT NULL DEFAULT '',
  update_time_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE scoring_runs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  profile_id TEXT NOT NULL,
  as_of_day INTEGER NOT NULL,
  create_time_us INTEGER NOT NULL,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE account_scores (
  run_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  score REAL NOT NULL,
  tier INTEGER NOT NULL,
  rank INTEGER NOT NULL,
  detail BLOB NOT NULL,
  PRIMARY KEY (run_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX account_scores_by_rank ON account_scores(run_id, rank, customer_id);
CREATE INDEX account_scores_by_customer ON account_scores(customer_id, run_id);
INSERT OR IGNORE INTO tenant_meta(key, value)
  SELECT 'has_cost', '1'
  WHERE EXISTS (SELECT 1 FROM transactions WHERE cost_micros IS NOT NULL);
)sql"},
    // Opportunities (OpportunityService). Records are the server's
    // encodings; B2B volumes are small, so reports read them whole. The
    // logs (stage changes, activities) number their entries with rowids.
    {6, "opportunities, contacts, trust and activities", R"sql(
CREATE TABLE pipeline (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  record BLOB NOT NULL
);
CREATE TABLE opportunities (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX opportunities_by_customer ON opportunities(customer_id);
CREATE TABLE stage_changes (
  seq INTEGER PRIMARY KEY,
  opportunity_id TEXT NOT NULL,
  change_time_us INTEGER NOT NULL,
  record BLOB NOT NULL
);
CREATE INDEX stage_changes_by_opportunity
  ON stage_changes(opportunity_id, seq);
CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX contacts_by_customer ON contacts(customer_id);
CREATE TABLE account_trust (
  customer_id TEXT PRIMARY KEY,
  record BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE sales_activities (
  seq INTEGER PRIMARY KEY,
  customer_id TEXT NOT NULL,
  opportunity_id TEXT NOT NULL DEFAULT '',
  occur_time_us INTEGER NOT NULL,
  record BLOB NOT NULL
);
CREATE INDEX sales_activities_by_customer
  ON sales_activities(customer_id, occur_time_us);
)sql"},
    // Transactions move from a table (a row plus an index entry per
    // transaction) to an append-only log of batches (a blob per batch plus
    // an index entry per transaction) that the aggregates are folded from:
    // see common/transaction_log.h. The aggregates are rebuilt from the log
    // by the current rules: a zero amount with a positive quantity is now a
    // purchase, and customer_orders lists only the orders that are
    // purchases (its amount columns are no longer kept).
    {7, "transaction log", R"sql(
UPDATE customers SET first_purchase_us = NULL, last_purchase_us = NULL,
  order_count = 0, purchase_day_count = 0, transaction_count = 0,
  revenue_micros = 0, returns_micros = 0, profit_micros = 0;
DELETE FROM customer_days;
DELETE FROM customer_orders;
CREATE TABLE transaction_batches (
  seq INTEGER PRIMARY KEY,
  body BLOB NOT NULL
);
CREATE TABLE transaction_ids (
  id TEXT PRIMARY KEY,
  batch INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
     MoveTransactionsToLog},
};

}  // namespace

std::span<const Migration> TenantMigrations() { return kTenantMigrations; }

}  // namespace custra
