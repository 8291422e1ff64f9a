#include "client/cli/import_formats.h"

#include <csv.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace custra::cli {
namespace {

constexpr int64_t kMicros = 1000000;

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / kMicros;
  int64_t rem = micros % kMicros;
  if (rem < 0) {
    rem += kMicros;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

// Customer ids as written by spreadsheets: "17850.0" -> "17850",
// "00042" -> "42" (numeric ids only; other ids are kept as they are).
std::string NormalizeNumericId(absl::string_view raw) {
  absl::string_view id = absl::StripAsciiWhitespace(raw);
  absl::string_view digits = id;
  if (absl::EndsWith(digits, ".0")) digits.remove_suffix(2);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) {
        return absl::ascii_isdigit(c);
      })) {
    return std::string(id);
  }
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return std::string(digits);
}

// Column lookup by header name, with a custra-field -> column mapping.
class Columns {
 public:
  Columns(std::map<std::string, std::string> mapping)
      : mapping_(std::move(mapping)) {}

  void SetHeader(const std::vector<std::string>& header) {
    index_.clear();
    for (size_t i = 0; i < header.size(); ++i) {
      absl::string_view name = absl::StripAsciiWhitespace(header[i]);
      if (i == 0) absl::ConsumePrefix(&name, "\xEF\xBB\xBF");  // UTF-8 BOM.
      index_[std::string(name)] = static_cast<int>(i);
    }
  }
  // The column of a custra field, or -1.
  int Find(const std::string& field) const {
    auto m = mapping_.find(field);
    const std::string& column = m == mapping_.end() ? field : m->second;
    auto it = index_.find(column);
    return it == index_.end() ? -1 : it->second;
  }
  std::string Get(const Record& r, const std::string& field) const {
    const int i = Find(field);
    if (i < 0 || i >= static_cast<int>(r.fields.size())) return "";
    return std::string(absl::StripAsciiWhitespace(r.fields[i]));
  }
  const std::map<std::string, int>& index() const { return index_; }
  const std::map<std::string, std::string>& mapping() const { return mapping_; }

 private:
  std::map<std::string, std::string> mapping_;
  std::map<std::string, int> index_;
};

absl::Status MissingColumn(const std::string& field, const Columns& columns) {
  auto m = columns.mapping().find(field);
  return absl::InvalidArgumentError(absl::StrCat(
      "the header has no column '",
      m == columns.mapping().end() ? field : m->second, "' for field ", field,
      " (map one with --map ", field, "=COLUMN)"));
}

absl::Status Reject(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

// A rejection naming the source column and the reason code.
absl::Status Reject(absl::string_view column, absl::string_view reason,
                    absl::string_view why) {
  absl::Status status = absl::InvalidArgumentError(why);
  status.SetPayload(kRejectColumnUrl, absl::Cord(column));
  status.SetPayload(kRejectReasonUrl, absl::Cord(reason));
  return status;
}

class CdnowConverter final : public RowConverter<v1::Transaction> {
 public:
  absl::Status SetHeader(const std::vector<std::string>&) override {
    return absl::OkStatus();
  }
  bool has_header() const override { return false; }

  absl::StatusOr<std::optional<v1::Transaction>> Convert(
      const Record& record) override {
    const auto& f = record.fields;
    if (f.empty()) return std::nullopt;
    if (f[0] == "customer_id") return std::nullopt;  // Header line.
    if (f.size() != 4 && f.size() != 5) {
      return Reject(absl::StrCat("expected 4 or 5 columns, found ", f.size()));
    }
    const size_t o = f.size() - 4;  // Sample files have an extra id column.
    v1::Transaction t;
    const std::string customer = NormalizeNumericId(f[0]);
    if (customer.empty()) return Reject("empty customer id");
    const std::string& date = f[o + 1];
    auto time = ParseTime(date, "%Y%m%d");
    if (!time || date.size() != 8) {
      return Reject(absl::StrCat("date '", date, "' is not YYYYMMDD"));
    }
    double cds = 0;
    if (!absl::SimpleAtod(f[o + 2], &cds)) {
      return Reject(absl::StrCat("CD count '", f[o + 2], "' is not a number"));
    }
    auto amount = ParseDecimalMicros(f[o + 3]);
    if (!amount) {
      return Reject(absl::StrCat("dollar value '", f[o + 3],
                                 "' is not a decimal number"));
    }
    const std::string key = absl::StrCat(customer, "-", date);
    t.set_id(absl::StrCat(key, "-", ++occurrences_[key]));
    t.set_customer_id(customer);
    SetTime(*time, t.mutable_time());
    t.mutable_amount()->set_currency_code("USD");
    t.mutable_amount()->set_amount_micros(*amount);
    t.set_quantity(cds);
    return t;
  }

 private:
  absl::flat_hash_map<std::string, int> occurrences_;
};

class OnlineRetailConverter final : public RowConverter<v1::Transaction> {
 public:
  explicit OnlineRetailConverter(std::string currency)
      : currency_(std::move(currency)), columns_({}) {}

  absl::Status SetHeader(const std::vector<std::string>& header) override {
    columns_.SetHeader(header);
    for (const char* c : {"InvoiceNo", "StockCode", "Quantity", "InvoiceDate",
                          "UnitPrice", "CustomerID"}) {
      if (columns_.Find(c) < 0) return MissingColumn(c, columns_);
    }
    return absl::OkStatus();
  }
  bool has_header() const override { return true; }

  absl::StatusOr<std::optional<v1::Transaction>> Convert(
      const Record& record) override {
    const std::string invoice = columns_.Get(record, "InvoiceNo");
    if (invoice.empty()) {
      return Reject("InvoiceNo", "MISSING_FIELD", "is empty");
    }
    // The line number within the invoice makes the id stable across
    // re-imports; count it before any rejection so ids do not shift.
    const int line_in_invoice = ++invoice_lines_[invoice];
    const std::string customer = columns_.Get(record, "CustomerID");
    if (customer.empty()) {
      return Reject("CustomerID", "MISSING_FIELD", "is empty");
    }
    double quantity = 0;
    if (!absl::SimpleAtod(columns_.Get(record, "Quantity"), &quantity) ||
        !std::isfinite(quantity) || std::abs(quantity) > 1e9 ||
        quantity != std::trunc(quantity)) {
      return Reject("Quantity", "INVALID_VALUE",
                    "is not a whole number within +/- 1e9");
    }
    auto price = ParseDecimalMicros(columns_.Get(record, "UnitPrice"));
    if (!price) return Reject("UnitPrice is not a decimal number");
    int64_t amount = 0;
    if (__builtin_mul_overflow(static_cast<int64_t>(quantity), *price,
                               &amount)) {
      return Reject("UnitPrice", "OUT_OF_RANGE",
                    "Quantity x UnitPrice is out of range");
    }
    const std::string date = columns_.Get(record, "InvoiceDate");
    auto time = ParseTime(date, "");
    if (!time)
      return Reject(
          absl::StrCat("InvoiceDate '", date, "' is not a date and time"));
    v1::Transaction t;
    t.set_id(absl::StrCat(invoice, ":", line_in_invoice));
    t.set_customer_id(NormalizeNumericId(customer));
    SetTime(*time, t.mutable_time());
    t.mutable_amount()->set_currency_code(currency_);
    t.mutable_amount()->set_amount_micros(amount);
    t.set_quantity(quantity);
    t.set_order_id(invoice);
    t.set_product(columns_.Get(record, "StockCode"));
    t.set_channel("online");
    return t;
  }

 private:
  std::string currency_;
  Columns columns_;
  absl::flat_hash_map<std::string, int> invoice_lines_;
};

class CsvTransactionConverter final : public RowConverter<v1::Transaction> {
 public:
  CsvTransactionConverter(std::map<std::string, std::string> mapping,
                          std::string time_format, std::string currency)
      : columns_(std::move(mapping)),
        time_format_(std::move(time_format)),
        currency_(std::move(currency)) {}

  absl::Status SetHeader(const std::vector<std::string>& header) override {
    columns_.SetHeader(header);
    for (const char* c : {"id", "customer_id", "time", "amount"}) {
      if (columns_.Find(c) < 0) return MissingColumn(c, columns_);
    }
    return absl::OkStatus();
  }
  bool has_header() const override { return true; }

  absl::StatusOr<std::optional<v1::Transaction>> Convert(
      const Record& r) override {
    v1::Transaction t;
    t.set_id(columns_.Get(r, "id"));
    t.set_customer_id(columns_.Get(r, "customer_id"));
    const std::string time_text = columns_.Get(r, "time");
    auto time = ParseTime(time_text, time_format_);
    if (!time) {
      return Reject("time", "INVALID_VALUE",
                    absl::StrCat("'", time_text, "' does not parse"));
    }
    SetTime(*time, t.mutable_time());
    auto amount = ParseDecimalMicros(columns_.Get(r, "amount"));
    if (!amount) return Reject("amount is not a decimal number");
    std::string currency = columns_.Get(r, "currency");
    if (currency.empty()) currency = currency_;
    t.mutable_amount()->set_currency_code(currency);
    t.mutable_amount()->set_amount_micros(*amount);
    if (const std::string cost = columns_.Get(r, "cost"); !cost.empty()) {
      auto micros = ParseDecimalMicros(cost);
      if (!micros) return Reject("cost is not a decimal number");
      t.mutable_cost()->set_currency_code(currency);
      t.mutable_cost()->set_amount_micros(*micros);
    } else if (const std::string margin = columns_.Get(r, "margin");
               !margin.empty()) {
      double m = 0;
      if (!absl::SimpleAtod(margin, &m))
        return Reject("margin is not a number");
      t.set_margin(m);
    }
    if (const std::string q = columns_.Get(r, "quantity"); !q.empty()) {
      double quantity = 0;
      if (!absl::SimpleAtod(q, &quantity)) {
        return Reject("quantity is not a number");
      }
      t.set_quantity(quantity);
    }
    t.set_order_id(columns_.Get(r, "order_id"));
    t.set_product(columns_.Get(r, "product"));
    t.set_category(columns_.Get(r, "category"));
    t.set_channel(columns_.Get(r, "channel"));
    return t;
  }

 private:
  Columns columns_;
  std::string time_format_;
  std::string currency_;
};

std::optional<int> EnumValue(absl::string_view text, absl::string_view prefix,
                             std::initializer_list<const char*> names) {
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::string_view v = upper;
  absl::ConsumePrefix(&v, prefix);
  if (v.empty()) return 0;
  int i = 1;
  for (const char* name : names) {
    if (v == name) return i;
    ++i;
  }
  return std::nullopt;
}

class CsvCustomerConverter final : public RowConverter<v1::Customer> {
 public:
  explicit CsvCustomerConverter(std::map<std::string, std::string> mapping)
      : columns_(std::move(mapping)) {}

  absl::Status SetHeader(const std::vector<std::string>& header) override {
    columns_.SetHeader(header);
    if (columns_.Find("id") < 0) return MissingColumn("id", columns_);
    return absl::OkStatus();
  }
  bool has_header() const override { return true; }

  absl::StatusOr<std::optional<v1::Customer>> Convert(
      const Record& r) override {
    v1::Customer c;
    c.set_id(NormalizeNumericId(columns_.Get(r, "id")));
    auto kind = EnumValue(columns_.Get(r, "kind"), "CUSTOMER_KIND_",
                          {"INDIVIDUAL", "ENTERPRISE", "GOVERNMENT"});
    if (!kind)
      return Reject("kind is not INDIVIDUAL, ENTERPRISE or GOVERNMENT");
    c.set_kind(static_cast<v1::CustomerKind>(*kind));
    c.set_display_name(columns_.Get(r, "display_name"));
    c.set_industry(columns_.Get(r, "industry"));
    c.set_region(columns_.Get(r, "region"));
    auto size = EnumValue(columns_.Get(r, "size"), "CUSTOMER_SIZE_",
                          {"MICRO", "SMALL", "MEDIUM", "LARGE"});
    if (!size) return Reject("size is not MICRO, SMALL, MEDIUM or LARGE");
    c.set_size(static_cast<v1::CustomerSize>(*size));
    c.set_acquisition_channel(columns_.Get(r, "acquisition_channel"));
    if (const std::string d = columns_.Get(r, "acquisition_date"); !d.empty()) {
      auto time = ParseTime(d, "%Y-%m-%d");
      if (!time) return Reject("acquisition_date is not YYYY-MM-DD");
      const absl::CivilDay day = absl::ToCivilDay(*time, absl::UTCTimeZone());
      c.mutable_acquisition_date()->set_year(static_cast<int>(day.year()));
      c.mutable_acquisition_date()->set_month(day.month());
      c.mutable_acquisition_date()->set_day(day.day());
    }
    for (absl::string_view tag :
         absl::StrSplit(columns_.Get(r, "tags"), ';', absl::SkipWhitespace())) {
      c.add_tags(std::string(absl::StripAsciiWhitespace(tag)));
    }
    const char* man_fields[] = {"man_money", "man_authority", "man_need"};
    int levels[3];
    for (int i = 0; i < 3; ++i) {
      auto level = EnumValue(columns_.Get(r, man_fields[i]), "MAN_LEVEL_",
                             {"HIGH", "LOW"});
      if (!level)
        return Reject(absl::StrCat(man_fields[i], " is not HIGH or LOW"));
      levels[i] = *level;
    }
    if (levels[0] || levels[1] || levels[2]) {
      c.mutable_man_assessment()->set_money(
          static_cast<v1::ManLevel>(levels[0]));
      c.mutable_man_assessment()->set_authority(
          static_cast<v1::ManLevel>(levels[1]));
      c.mutable_man_assessment()->set_need(
          static_cast<v1::ManLevel>(levels[2]));
    }
    const std::string currency = columns_.Get(r, "currency");
    for (const char* field : {"annual_budget", "annual_wallet"}) {
      const std::string text = columns_.Get(r, field);
      if (text.empty()) continue;
      auto micros = ParseDecimalMicros(text);
      if (!micros)
        return Reject(absl::StrCat(field, " is not a decimal number"));
      v1::Money* money = std::string(field) == "annual_budget"
                             ? c.mutable_annual_budget()
                             : c.mutable_annual_wallet();
      money->set_currency_code(currency);
      money->set_amount_micros(*micros);
    }
    static const char* kKnown[] = {"id",
                                   "kind",
                                   "display_name",
                                   "industry",
                                   "region",
                                   "size",
                                   "acquisition_channel",
                                   "acquisition_date",
                                   "tags",
                                   "man_money",
                                   "man_authority",
                                   "man_need",
                                   "annual_budget",
                                   "annual_wallet",
                                   "currency"};
    for (const auto& [column, index] : columns_.index()) {
      bool known = false;
      for (const char* k : kKnown) known |= columns_.Find(k) == index;
      if (!known && index < static_cast<int>(r.fields.size()) &&
          !r.fields[index].empty()) {
        (*c.mutable_attributes())[column] = r.fields[index];
      }
    }
    return c;
  }

 private:
  Columns columns_;
};

class CsvInteractionConverter final : public RowConverter<v1::Interaction> {
 public:
  CsvInteractionConverter(std::map<std::string, std::string> mapping,
                          std::string time_format)
      : columns_(std::move(mapping)), time_format_(std::move(time_format)) {}

  absl::Status SetHeader(const std::vector<std::string>& header) override {
    columns_.SetHeader(header);
    for (const char* c : {"id", "customer_id", "kind", "time"}) {
      if (columns_.Find(c) < 0) return MissingColumn(c, columns_);
    }
    return absl::OkStatus();
  }
  bool has_header() const override { return true; }

  absl::StatusOr<std::optional<v1::Interaction>> Convert(
      const Record& r) override {
    v1::Interaction i;
    i.set_id(columns_.Get(r, "id"));
    i.set_customer_id(NormalizeNumericId(columns_.Get(r, "customer_id")));
    auto kind = EnumValue(columns_.Get(r, "kind"), "INTERACTION_KIND_",
                          {"VISIT", "CALL", "MEETING", "SURVEY", "COMPLAINT",
                           "REFERRAL", "OTHER"});
    if (!kind || *kind == 0) {
      return Reject(
          "kind is not VISIT, CALL, MEETING, SURVEY, COMPLAINT, "
          "REFERRAL or OTHER");
    }
    i.set_kind(static_cast<v1::InteractionKind>(*kind));
    auto time = ParseTime(columns_.Get(r, "time"), time_format_);
    if (!time) return Reject("time does not parse");
    SetTime(*time, i.mutable_time());
    i.set_contact(columns_.Get(r, "contact"));
    i.set_channel(columns_.Get(r, "channel"));
    i.set_notes(columns_.Get(r, "notes"));
    if (const std::string s = columns_.Get(r, "satisfaction"); !s.empty()) {
      double v = 0;
      if (!absl::SimpleAtod(s, &v))
        return Reject("satisfaction is not a number");
      i.set_satisfaction_score(v);
    }
    if (const std::string s = columns_.Get(r, "nps"); !s.empty()) {
      int v = 0;
      if (!absl::SimpleAtoi(s, &v)) return Reject("nps is not a whole number");
      i.set_nps_score(v);
    }
    i.set_referred_customer_id(columns_.Get(r, "referred_customer_id"));
    return i;
  }

 private:
  Columns columns_;
  std::string time_format_;
};

}  // namespace

std::optional<int64_t> ParseDecimalMicros(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  const size_t dot = text.find('.');
  absl::string_view whole = text.substr(0, dot);
  absl::string_view fraction = dot == absl::string_view::npos
                                   ? absl::string_view()
                                   : text.substr(dot + 1);
  if ((whole.empty() && fraction.empty()) || fraction.size() > 6) {
    return std::nullopt;
  }
  auto all_digits = [](absl::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return absl::ascii_isdigit(c); });
  };
  if (!all_digits(whole) || !all_digits(fraction) || whole.size() > 12) {
    return std::nullopt;
  }
  int64_t units = 0;
  if (!whole.empty() && !absl::SimpleAtoi(whole, &units)) return std::nullopt;
  int64_t micros = 0;
  for (size_t i = 0; i < 6; ++i) {
    micros = micros * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
  }
  const int64_t value = units * kMicros + micros;
  return negative ? -value : value;
}

std::optional<absl::Time> ParseTime(absl::string_view text,
                                    const std::string& format) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  // absl's %Y reads more than four digits, so compact dates are split here.
  if ((format.empty() || format == "%Y%m%d") && text.size() == 8 &&
      std::all_of(text.begin(), text.end(),
                  [](char c) { return absl::ascii_isdigit(c); })) {
    int y = 0, m = 0, d = 0;
    if (!absl::SimpleAtoi(text.substr(0, 4), &y) ||
        !absl::SimpleAtoi(text.substr(4, 2), &m) ||
        !absl::SimpleAtoi(text.substr(6, 2), &d)) {
      return std::nullopt;
    }
    const absl::CivilDay day(y, m, d);
    if (day.year() != y || day.month() != m || day.day() != d) {
      return std::nullopt;
    }
    return absl::FromCivil(day, absl::UTCTimeZone());
  }
  absl::Time t;
  std::string error;
  if (!format.empty()) {
    if (absl::ParseTime(format, std::string(text), absl::UTCTimeZone(), &t,
                        &error)) {
      return t;
    }
    return std::nullopt;
  }
  for (const char* f : {absl::RFC3339_full, "%Y-%m-%d %H:%M:%S",
                        "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d"}) {
    if (absl::ParseTime(f, std::string(text), absl::UTCTimeZone(), &t,
                        &error)) {
      return t;
    }
  }
  return std::nullopt;
}

std::vector<std::string> SplitWhitespace(absl::string_view line) {
  std::vector<std::string> out;
  for (absl::string_view part :
       absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

// libcsv state: fields of the record being built and finished records.
struct RecordReader::CsvState {
  csv_parser parser;
  Record current;
  std::deque<Record>* out = nullptr;
  int64_t line = 0;  // Lines fed so far.

  static void OnField(void* data, size_t size, void* self) {
    auto* s = static_cast<CsvState*>(self);
    s->current.fields.emplace_back(static_cast<const char*>(data), size);
  }
  static void OnRecord(int, void* self) {
    auto* s = static_cast<CsvState*>(self);
    int64_t embedded = 0;
    for (const std::string& f : s->current.fields) {
      embedded += std::count(f.begin(), f.end(), '\n');
    }
    s->current.line = std::max<int64_t>(1, s->line - embedded);
    s->out->push_back(std::move(s->current));
    s->current = Record();
  }
};

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(
    const std::string& path, Syntax syntax) {
  auto reader = std::unique_ptr<RecordReader>(new RecordReader());
  reader->syntax_ = syntax;
  reader->in_.open(path, std::ios::binary);
  if (!reader->in_) return absl::NotFoundError("cannot read " + path);
  std::error_code ec;
  reader->size_ = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (syntax == Syntax::kCsv) {
    reader->csv_ = std::make_unique<CsvState>();
    if (csv_init(&reader->csv_->parser, CSV_APPEND_NULL) != 0) {
      return absl::InternalError("cannot initialise the CSV parser");
    }
    reader->csv_->out = &reader->ready_;
  }
  return reader;
}

RecordReader::~RecordReader() {
  if (csv_) csv_free(&csv_->parser);
}

absl::StatusOr<std::optional<Record>> RecordReader::Next() {
  std::string line;
  while (ready_.empty() && !eof_) {
    if (!std::getline(in_, line)) {
      eof_ = true;
      if (csv_) {
        csv_fini(&csv_->parser, &CsvState::OnField, &CsvState::OnRecord,
                 csv_.get());
      }
      break;
    }
    bytes_read_ += static_cast<int64_t>(line.size()) + 1;
    ++line_;
    if (syntax_ == Syntax::kWhitespace) {
      std::vector<std::string> fields = SplitWhitespace(line);
      if (fields.empty()) continue;
      ready_.push_back(Record{std::move(fields), line_});
      continue;
    }
    line.push_back('\n');
    csv_->line = line_;
    if (csv_parse(&csv_->parser, line.data(), line.size(), &CsvState::OnField,
                  &CsvState::OnRecord, csv_.get()) != line.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_, ": malformed CSV (",
                       csv_strerror(csv_error(&csv_->parser)), ")"));
    }
  }
  if (ready_.empty()) return std::nullopt;
  Record record = std::move(ready_.front());
  ready_.pop_front();
  return record;
}

absl::StatusOr<std::vector<Record>> RecordReader::ParseCsv(
    absl::string_view data) {
  CsvState state;
  std::deque<Record> records;
  state.out = &records;
  if (csv_init(&state.parser, CSV_APPEND_NULL) != 0) {
    return absl::InternalError("cannot initialise the CSV parser");
  }
  absl::Status status;
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    ++state.line;
    std::string chunk(line);
    chunk.push_back('\n');
    if (csv_parse(&state.parser, chunk.data(), chunk.size(), &CsvState::OnField,
                  &CsvState::OnRecord, &state) != chunk.size()) {
      status = absl::InvalidArgumentError("malformed CSV");
      break;
    }
  }
  if (status.ok()) {
    csv_fini(&state.parser, &CsvState::OnField, &CsvState::OnRecord, &state);
  }
  csv_free(&state.parser);
  if (!status.ok()) return status;
  return std::vector<Record>(records.begin(), records.end());
}

std::unique_ptr<RowConverter<v1::Transaction>> NewCdnowConverter() {
  return std::make_unique<CdnowConverter>();
}

std::unique_ptr<RowConverter<v1::Transaction>> NewOnlineRetailConverter(
    const std::string& currency) {
  return std::make_unique<OnlineRetailConverter>(currency);
}

std::unique_ptr<RowConverter<v1::Transaction>> NewCsvTransactionConverter(
    std::map<std::string, std::string> mapping, std::string time_format,
    std::string currency) {
  return std::make_unique<CsvTransactionConverter>(
      std::move(mapping), std::move(time_format), std::move(currency));
}

std::unique_ptr<RowConverter<v1::Customer>> NewCsvCustomerConverter(
    std::map<std::string, std::string> mapping) {
  return std::make_unique<CsvCustomerConverter>(std::move(mapping));
}

std::unique_ptr<RowConverter<v1::Interaction>> NewCsvInteractionConverter(
    std::map<std::string, std::string> mapping, std::string time_format) {
  return std::make_unique<CsvInteractionConverter>(std::move(mapping),
                                                   std::move(time_format));
}

}  // namespace custra::cli
