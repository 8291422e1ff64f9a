#ifndef CUSTRA_CLIENT_CLI_IMPORT_FORMATS_H_
#define CUSTRA_CLIENT_CLI_IMPORT_FORMATS_H_

// Turning files into custra.v1 rows: CSV with a header (RFC 4180, parsed by
// libcsv) and column mapping, plus the known formats of the data sets users
// start with (CDNOW, UCI Online Retail). Pure: no network, so every parser
// is unit-tested and fuzzed.

#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "custra/v1/ingestion.pb.h"

namespace custra::cli {

// "12.34" -> 12340000, "-0.5" -> -500000, "7" -> 7000000. At most six
// decimals; no exponents, no thousands separators. nullopt if malformed or
// out of int64 range.
std::optional<int64_t> ParseDecimalMicros(absl::string_view text);

// Parses a time with `format` (absl::ParseTime syntax) or, when `format` is
// empty, any of: RFC 3339, "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD", "YYYYMMDD".
// Times without a zone are UTC.
std::optional<absl::Time> ParseTime(absl::string_view text,
                                    const std::string& format);

// One record of an input file: its fields and the line it started on.
struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;
};

// Reads records from a file: CSV (libcsv, quotes and embedded newlines) or
// whitespace-separated columns (CDNOW). Not thread-safe.
class RecordReader {
 public:
  enum class Syntax { kCsv, kWhitespace };
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(
      const std::string& path, Syntax syntax);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record, or nullopt at the end. INVALID_ARGUMENT for malformed
  // CSV (with the line).
  absl::StatusOr<std::optional<Record>> Next();

  // Bytes consumed so far and the file size, for progress.
  int64_t bytes_read() const { return bytes_read_; }
  int64_t size() const { return size_; }

  // Feeds `data` to a CSV parser and returns its records (for tests and
  // fuzzing; `final` flushes the last record).
  static absl::StatusOr<std::vector<Record>> ParseCsv(absl::string_view data);

 private:
  RecordReader() = default;
  struct CsvState;

  Syntax syntax_ = Syntax::kCsv;
  std::ifstream in_;
  int64_t bytes_read_ = 0;
  int64_t size_ = 0;
  int64_t line_ = 0;
  std::deque<Record> ready_;
  std::unique_ptr<CsvState> csv_;
  bool eof_ = false;
};

// Splits a line on runs of spaces/tabs (and drops a trailing CR).
std::vector<std::string> SplitWhitespace(absl::string_view line);

// Payloads a converter may attach to a rejection: the source column and
// the reason code (an IngestionRejectReason name without its prefix).
inline constexpr char kRejectColumnUrl[] = "custra.cli/column";
inline constexpr char kRejectReasonUrl[] = "custra.cli/reason";

// Maps a record to a row; a string error rejects the row client-side.
template <typename Row>
class RowConverter {
 public:
  virtual ~RowConverter() = default;
  // Called with the first record of each file when the format has a header
  // (returns an error for an unusable header: the import fails).
  virtual absl::Status SetHeader(const std::vector<std::string>& header) = 0;
  virtual bool has_header() const = 0;
  // The row, or a reason the record is rejected; nullopt row means "skip
  // silently" (e.g. a header line in the middle of a CDNOW file).
  virtual absl::StatusOr<std::optional<Row>> Convert(const Record& record) = 0;
};

// `--format cdnow`: "customer date cds dollars" (CDNOW_master.txt) or
// "master_id sample_id date cds dollars" (CDNOW_sample.txt). Transaction
// ids are "<customer>-<date>-<n>" (n-th purchase of that customer that day),
// so re-importing a file yields duplicates, never new rows.
std::unique_ptr<RowConverter<v1::Transaction>> NewCdnowConverter();

// `--format online-retail`: the UCI Online Retail columns. Order id is
// InvoiceNo; amount Quantity x UnitPrice (exact); "C" invoices are returns
// (negative quantities); rows without CustomerID are rejected. Ids are
// "<InvoiceNo>:<n>" (n-th line of the invoice).
std::unique_ptr<RowConverter<v1::Transaction>> NewOnlineRetailConverter(
    const std::string& currency);

// Generic CSV: the header names columns; `mapping` maps custra field names
// (id, customer_id, time, amount, currency, cost, margin, quantity,
// order_id, product, category, channel) to column names (identity where not
// given). `time_format` as for ParseTime.
std::unique_ptr<RowConverter<v1::Transaction>> NewCsvTransactionConverter(
    std::map<std::string, std::string> mapping, std::string time_format,
    std::string currency);

// Customers CSV: id, kind, display_name, industry, region, size,
// acquisition_channel, acquisition_date, tags (';'-separated), man_money,
// man_authority, man_need (HIGH/LOW), annual_budget, annual_wallet,
// currency; any other column becomes a custom attribute.
std::unique_ptr<RowConverter<v1::Customer>> NewCsvCustomerConverter(
    std::map<std::string, std::string> mapping);

// Interactions CSV: id, customer_id, kind, time, contact, channel, notes,
// satisfaction, nps, referred_customer_id.
std::unique_ptr<RowConverter<v1::Interaction>> NewCsvInteractionConverter(
    std::map<std::string, std::string> mapping, std::string time_format);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_IMPORT_FORMATS_H_
