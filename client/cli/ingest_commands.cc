#include "client/cli/ingest_commands.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/cli/format.h"
#include "client/cli/import_formats.h"
#include "common/status_macros.h"

namespace custra::cli {
namespace {

namespace fs = std::filesystem;

// "INGESTION_REJECT_REASON_MISSING_FIELD" -> "MISSING_FIELD".
std::string ShortReason(v1::IngestionRejectReason reason) {
  return ShortEnum(v1::IngestionRejectReason_Name(reason),
                   "INGESTION_REJECT_REASON_");
}

// Files named on the command line; directories expand to their regular
// files in name order.
absl::StatusOr<std::vector<std::string>> ExpandInputs(
    const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(input)) {
        if (entry.is_regular_file()) found.push_back(entry.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(input, ec)) {
      files.push_back(input);
    } else {
      return absl::NotFoundError("no such file or directory: " + input);
    }
  }
  if (files.empty()) return absl::InvalidArgumentError("no input files");
  return files;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMapping(
    const std::vector<std::string>& items) {
  std::map<std::string, std::string> mapping;
  for (const std::string& item : items) {
    for (absl::string_view pair :
         absl::StrSplit(item, ',', absl::SkipEmpty())) {
      std::vector<std::string> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--map expects field=Column pairs, got '", pair, "'"));
      }
      mapping[kv[0]] = kv[1];
    }
  }
  return mapping;
}

// Where a row came from.
struct Origin {
  uint32_t file = 0;
  int64_t line = 0;
};

// The origin of the row at `index`, or an empty one for an index the
// server should not have sent.
Origin OriginAt(const std::vector<Origin>& origins, int64_t index) {
  if (index < 0 || index >= static_cast<int64_t>(origins.size())) return {};
  return origins[index];
}

// A row refused before or by the server.
struct RejectedRow {
  Origin origin;
  std::string row_id;
  std::string field;
  std::string reason;
  std::string description;
};

// Reads rows of type Row from a list of files through a converter.
template <typename Row>
class RowStream {
 public:
  RowStream(std::vector<std::string> files, RecordReader::Syntax syntax,
            std::unique_ptr<RowConverter<Row>> converter)
      : files_(std::move(files)),
        syntax_(syntax),
        converter_(std::move(converter)) {
    for (const std::string& f : files_) {
      std::error_code ec;
      total_bytes_ += static_cast<int64_t>(fs::file_size(f, ec));
    }
  }

  // The next row and its origin; rows the converter rejects go to
  // `rejected`. nullopt at the end; an error for unreadable input.
  absl::StatusOr<std::optional<std::pair<Row, Origin>>> Next(
      std::vector<RejectedRow>* rejected) {
    while (true) {
      if (!reader_) {
        if (next_file_ >= files_.size()) return std::nullopt;
        auto reader = RecordReader::Open(files_[next_file_], syntax_);
        if (!reader.ok()) return reader.status();
        reader_ = *std::move(reader);
        current_file_ = static_cast<uint32_t>(next_file_++);
        need_header_ = converter_->has_header();
      }
      auto record = reader_->Next();
      if (!record.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            files_[current_file_], ": ", record.status().message()));
      }
      if (!record->has_value()) {
        done_bytes_ += reader_->size();
        reader_.reset();
        continue;
      }
      const Record& r = **record;
      if (need_header_) {
        need_header_ = false;
        absl::Status header = converter_->SetHeader(r.fields);
        if (!header.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(files_[current_file_], ": ", header.message()));
        }
        continue;
      }
      Origin origin{current_file_, r.line};
      auto row = converter_->Convert(r);
      if (!row.ok()) {
        auto column = row.status().GetPayload(kRejectColumnUrl);
        auto reason = row.status().GetPayload(kRejectReasonUrl);
        rejected->push_back(
            RejectedRow{origin, "", column ? std::string(*column) : "",
                        reason ? std::string(*reason) : "INVALID_VALUE",
                        std::string(row.status().message())});
        continue;
      }
      if (!row->has_value()) continue;
      return std::make_optional(std::make_pair(**std::move(row), origin));
    }
  }

  double fraction_done() const {
    if (total_bytes_ == 0) return 0;
    const int64_t current = reader_ ? reader_->bytes_read() : 0;
    return std::min(1.0, static_cast<double>(done_bytes_ + current) /
                             static_cast<double>(total_bytes_));
  }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<std::string> files_;
  RecordReader::Syntax syntax_;
  std::unique_ptr<RowConverter<Row>> converter_;
  std::unique_ptr<RecordReader> reader_;
  size_t next_file_ = 0;
  uint32_t current_file_ = 0;
  bool need_header_ = false;
  int64_t total_bytes_ = 0;
  int64_t done_bytes_ = 0;
};

// A one-line progress bar on a terminal: rows, rows/s, ETA.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled)
      : enabled_(enabled && isatty(STDERR_FILENO)), start_(absl::Now()) {}

  void Update(int64_t rows, double fraction) {
    if (!enabled_) return;
    const absl::Time now = absl::Now();
    if (now - last_ < absl::Milliseconds(100) && fraction < 1) return;
    last_ = now;
    const double seconds = absl::ToDoubleSeconds(now - start_);
    const double rate = seconds > 0 ? rows / seconds : 0;
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(filled, '=');
    if (filled < width) bar += '>';
    bar.resize(width, ' ');
    std::string eta = "--";
    if (fraction > 0.01 && fraction < 1) {
      eta = absl::StrFormat("%.0fs", seconds * (1 - fraction) / fraction);
    }
    std::cerr << absl::StrFormat(
                     "\r[%s] %3.0f%%  %d rows  %.0f rows/s  ETA %s ", bar,
                     fraction * 100, rows, rate, eta)
              << std::flush;
  }
  void Finish() {
    if (enabled_) std::cerr << "\n";
  }

 private:
  bool enabled_;
  absl::Time start_;
  absl::Time last_;
};

absl::Status WriteRejects(const std::string& path,
                          const std::vector<std::string>& files,
                          std::vector<RejectedRow> rejected) {
  std::sort(rejected.begin(), rejected.end(), [](const auto& a, const auto& b) {
    return std::tie(a.origin.file, a.origin.line) <
           std::tie(b.origin.file, b.origin.line);
  });
  std::ofstream out(path, std::ios::trunc);
  out << "file,line,row_id,field,reason,description\n";
  // Unlike PrintRows' CSV, a field is not quoted for a carriage return.
  auto csv = [](const std::string& s) {
    return CsvEscape(s, /*quote_cr=*/false);
  };
  for (const RejectedRow& r : rejected) {
    out << csv(files[r.origin.file]) << "," << r.origin.line << ","
        << csv(r.row_id) << "," << csv(r.field) << "," << r.reason << ","
        << csv(r.description) << "\n";
  }
  if (!out) return absl::PermissionDeniedError("cannot write " + path);
  return absl::OkStatus();
}

void PrintSummary(absl::string_view what, size_t files, int64_t rows,
                  absl::Duration elapsed,
                  const std::vector<std::pair<std::string, int64_t>>& counts,
                  const std::vector<std::string>& file_names,
                  const std::vector<RejectedRow>& rejected,
                  const std::string& rejects_path) {
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-9);
  std::cout << absl::StrFormat(
      "imported %s from %d file%s: %d rows in %.1f s "
      "(%.0f rows/s)\n",
      what, files, files == 1 ? "" : "s", rows, seconds, rows / seconds);
  for (const auto& [name, value] : counts) {
    std::cout << absl::StrFormat("  %-18s %d\n", name, value);
  }
  if (rejected.empty()) return;
  if (!rejects_path.empty()) {
    std::cout << "  rejected rows are listed in " << rejects_path << "\n";
    return;
  }
  std::cerr << "first rejected rows (use --rejects FILE for all):\n";
  for (size_t i = 0; i < rejected.size() && i < 10; ++i) {
    const RejectedRow& r = rejected[i];
    std::cerr << "  " << file_names[r.origin.file] << ":" << r.origin.line
              << ": " << (r.field.empty() ? "" : r.field + ": ")
              << r.description << "\n";
  }
}

absl::Status ImportTransactionsCommand(Client& client,
                                       const ImportFlags& flags) {
  CUSTRA_ASSIGN_OR_RETURN(auto files, ExpandInputs(flags.inputs));
  CUSTRA_ASSIGN_OR_RETURN(auto mapping, ParseMapping(flags.map));
  std::unique_ptr<RowConverter<v1::Transaction>> converter;
  RecordReader::Syntax syntax = RecordReader::Syntax::kCsv;
  if (flags.format == "cdnow") {
    converter = NewCdnowConverter();
    syntax = RecordReader::Syntax::kWhitespace;
  } else if (flags.format == "online-retail") {
    converter = NewOnlineRetailConverter(
        flags.currency.empty() ? "GBP" : flags.currency);
  } else {
    converter =
        NewCsvTransactionConverter(mapping, flags.time_format, flags.currency);
  }
  RowStream<v1::Transaction> stream(files, syntax, std::move(converter));
  std::vector<RejectedRow> rejected;
  std::vector<Origin> origins;  // Origin of every row sent, by position.
  absl::Status read_error;
  ProgressBar bar(!flags.quiet);
  std::atomic<double> fraction{0};
  ImportOptions options;
  options.batch_size = flags.batch_size;
  options.request_id_prefix = flags.resume_id;
  options.on_progress = [&](const ImportProgress& p) {
    bar.Update(p.rows_acknowledged, fraction.load());
  };
  const absl::Time start = absl::Now();
  auto summary = client.ImportTransactions(
      [&](v1::Transaction* out) {
        auto next = stream.Next(&rejected);
        fraction.store(stream.fraction_done());
        if (!next.ok()) {
          read_error = next.status();
          return false;
        }
        if (!next->has_value()) return false;
        *out = std::move((*next)->first);
        origins.push_back((*next)->second);
        return true;
      },
      options);
  bar.Update(summary.ok() ? summary->rows_acknowledged : 0, 1.0);
  bar.Finish();
  if (!read_error.ok()) return read_error;
  if (!summary.ok()) return summary.status();
  const int64_t client_rejected = static_cast<int64_t>(rejected.size());
  for (const ImportRejection& r : summary->rejections) {
    rejected.push_back(RejectedRow{OriginAt(origins, r.row), r.row_id, r.field,
                                   r.reason, r.description});
  }
  if (!flags.rejects_path.empty()) {
    absl::Status written = WriteRejects(flags.rejects_path, files, rejected);
    if (!written.ok()) return written;
  }
  PrintSummary("transactions", files.size(),
               summary->rows_sent + client_rejected, absl::Now() - start,
               {{"accepted", summary->accepted},
                {"duplicates", summary->duplicates},
                {"rejected", summary->rejected + client_rejected},
                {"customers created", summary->customers_created}},
               files, rejected, flags.rejects_path);
  return absl::OkStatus();
}

// Customers and interactions arrive in smaller volumes: unary batches with
// request ids, so a re-run with --resume-id is exact too.
template <typename Row, typename Send>
absl::Status ImportUnary(absl::string_view what, const ImportFlags& flags,
                         std::unique_ptr<RowConverter<Row>> converter,
                         Send send, std::vector<std::string> files) {
  RowStream<Row> stream(files, RecordReader::Syntax::kCsv,
                        std::move(converter));
  std::vector<RejectedRow> rejected;
  std::map<std::string, int64_t> counts;
  ProgressBar bar(!flags.quiet);
  const absl::Time start = absl::Now();
  const std::string prefix =
      flags.resume_id.empty() ? absl::StrCat("cli-", absl::ToUnixNanos(start))
                              : flags.resume_id;
  int64_t rows = 0;
  int64_t batch_number = 0;
  bool done = false;
  while (!done) {
    std::vector<Row> batch;
    std::vector<Origin> origins;
    while (static_cast<int>(batch.size()) < flags.batch_size) {
      auto next = stream.Next(&rejected);
      if (!next.ok()) return next.status();
      if (!next->has_value()) {
        done = true;
        break;
      }
      batch.push_back(std::move((*next)->first));
      origins.push_back((*next)->second);
    }
    if (batch.empty()) break;
    rows += static_cast<int64_t>(batch.size());
    absl::Status sent = send(batch, absl::StrCat(prefix, "-", batch_number++),
                             origins, counts, rejected);
    if (!sent.ok()) return sent;
    bar.Update(rows, stream.fraction_done());
  }
  bar.Finish();
  counts["rejected"] += 0;
  int64_t client_rejected = 0;
  for (const RejectedRow& r : rejected) client_rejected += r.row_id.empty();
  if (!flags.rejects_path.empty()) {
    absl::Status written = WriteRejects(flags.rejects_path, files, rejected);
    if (!written.ok()) return written;
  }
  std::vector<std::pair<std::string, int64_t>> lines(counts.begin(),
                                                     counts.end());
  for (auto& [name, value] : lines) {
    if (name == "rejected") value = static_cast<int64_t>(rejected.size());
  }
  PrintSummary(what, files.size(), rows + client_rejected, absl::Now() - start,
               lines, files, rejected, flags.rejects_path);
  return absl::OkStatus();
}

absl::Status ImportCustomersCommand(Client& client, const ImportFlags& flags) {
  CUSTRA_ASSIGN_OR_RETURN(auto files, ExpandInputs(flags.inputs));
  CUSTRA_ASSIGN_OR_RETURN(auto mapping, ParseMapping(flags.map));
  return ImportUnary<v1::Customer>(
      "customers", flags, NewCsvCustomerConverter(mapping),
      [&](const std::vector<v1::Customer>& batch, const std::string& request_id,
          const std::vector<Origin>& origins,
          std::map<std::string, int64_t>& counts,
          std::vector<RejectedRow>& rejected) -> absl::Status {
        auto result = client.UpsertCustomers(batch, request_id);
        if (!result.ok()) return result.status();
        counts["created"] += result->created_count();
        counts["updated"] += result->updated_count();
        counts["unchanged"] += result->unchanged_count();
        for (const auto& r : result->results()) {
          if (!r.has_rejection()) continue;
          rejected.push_back(RejectedRow{OriginAt(origins, r.row_index()),
                                         r.customer_id(), r.rejection().field(),
                                         ShortReason(r.rejection().reason()),
                                         r.rejection().description()});
        }
        return absl::OkStatus();
      },
      files);
}

absl::Status ImportInteractionsCommand(Client& client,
                                       const ImportFlags& flags) {
  CUSTRA_ASSIGN_OR_RETURN(auto files, ExpandInputs(flags.inputs));
  CUSTRA_ASSIGN_OR_RETURN(auto mapping, ParseMapping(flags.map));
  return ImportUnary<v1::Interaction>(
      "interactions", flags,
      NewCsvInteractionConverter(mapping, flags.time_format),
      [&](const std::vector<v1::Interaction>& batch,
          const std::string& request_id, const std::vector<Origin>& origins,
          std::map<std::string, int64_t>& counts,
          std::vector<RejectedRow>& rejected) -> absl::Status {
        auto result = client.RecordInteractions(batch, request_id);
        if (!result.ok()) return result.status();
        counts["accepted"] += result->accepted_count();
        counts["duplicates"] += result->duplicate_count();
        counts["customers created"] += result->customers_created_count();
        for (const auto& e : result->rejections()) {
          rejected.push_back(
              RejectedRow{OriginAt(origins, e.row_index()), e.row_id(),
                          e.field(), ShortReason(e.reason()), e.description()});
        }
        return absl::OkStatus();
      },
      files);
}

void PrintCustomers(const std::vector<v1::Customer>& customers,
                    OutputFormat format) {
  PrintRows(RowsOf(customers), v1::Customer::descriptor(), format, std::cout,
            format == OutputFormat::kTable
                ? std::vector<std::string>{"id", "kind", "display_name",
                                           "industry", "region", "tags"}
                : std::vector<std::string>{});
}

}  // namespace

void AddIngestCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                       int& exit_code) {
  ImportFlags& flags = args.import;
  CLI::App* import = app.add_subcommand(
      "import",
      "Import customers, transactions or interactions from files "
      "(tenant API key)");
  import->require_subcommand(1);
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("files", flags.inputs,
                    "Files or directories (all files in name order)")
        ->required();
    cmd->add_option("--map", flags.map,
                    "Column mapping field=Column[,field=Column...]");
    cmd->add_option("--rejects", flags.rejects_path,
                    "Write rejected rows (file, line, reason) to this CSV");
    cmd->add_option("--resume-id", flags.resume_id,
                    "Request-id prefix; re-run with the same value to resume "
                    "an interrupted import exactly");
    cmd->add_option("--batch-size", flags.batch_size, "Rows per batch")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    cmd->add_flag("-q,--quiet", flags.quiet, "No progress bar");
  };
  CLI::App* transactions = import->add_subcommand(
      "transactions", "Import purchase transactions (streaming)");
  add_common(transactions);
  transactions
      ->add_option("--format", flags.format,
                   "csv (header: id,customer_id,time,amount,...), cdnow, "
                   "online-retail")
      ->check(CLI::IsMember({"csv", "cdnow", "online-retail"}))
      ->capture_default_str();
  transactions->add_option("--time-format", flags.time_format,
                           "Time format (absl::ParseTime), default: "
                           "RFC 3339, YYYY-MM-DD[ HH:MM:SS] or YYYYMMDD");
  transactions->add_option("--currency", flags.currency,
                           "ISO 4217 code for amounts without a currency "
                           "column (online-retail: GBP)");
  transactions->callback([&] {
    exit_code = cli.WithTenant(
        [&](Client& c) { return ImportTransactionsCommand(c, flags); });
  });
  CLI::App* customers_import =
      import->add_subcommand("customers", "Import or update customers (CSV)");
  add_common(customers_import);
  customers_import->callback([&] {
    exit_code = cli.WithTenant(
        [&](Client& c) { return ImportCustomersCommand(c, flags); });
  });
  CLI::App* interactions = import->add_subcommand(
      "interactions", "Import visits, calls, surveys, complaints, referrals");
  add_common(interactions);
  interactions->add_option("--time-format", flags.time_format,
                           "Time format (absl::ParseTime)");
  interactions->callback([&] {
    exit_code = cli.WithTenant(
        [&](Client& c) { return ImportInteractionsCommand(c, flags); });
  });

  std::string& filter = args.filter;
  int64_t& limit = args.limit;
  std::string& id = args.id;
  CLI::App* customers =
      app.add_subcommand("customers", "List, show and delete customers");
  customers->require_subcommand(1);
  CLI::App* list = customers->add_subcommand("list", "List customers");
  list->add_option("--filter", filter,
                   "e.g. 'kind=ENTERPRISE AND region=\"east\"' (fields: kind, "
                   "size, industry, region, channel, tag)");
  list->add_option("--limit", limit, "At most this many (0: all)");
  list->callback([&] {
    exit_code = cli.WithTenant([&](Client& c) -> absl::Status {
      auto result = c.ListCustomers(filter, limit);
      if (!result.ok()) return result.status();
      PrintCustomers(*result, cli.format());
      return absl::OkStatus();
    });
  });
  CLI::App* get = customers->add_subcommand(
      "get", "Show one customer with its purchase aggregates");
  get->add_option("id", id, "Customer id")->required();
  get->callback([&] {
    exit_code = cli.WithTenant([&](Client& c) -> absl::Status {
      auto customer = c.GetCustomer(id);
      if (!customer.ok()) return customer.status();
      PrintOne(*customer, cli.format(), std::cout);
      return absl::OkStatus();
    });
  });
  CLI::App* remove = customers->add_subcommand(
      "delete", "Erase a customer and all its transactions and interactions");
  remove->add_option("id", id, "Customer id")->required();
  remove->callback([&] {
    exit_code = cli.WithTenant([&](Client& c) -> absl::Status {
      auto deleted = c.DeleteCustomer(id);
      if (!deleted.ok()) return deleted.status();
      std::cerr << "deleted customer " << id << " ("
                << deleted->deleted_transaction_count() << " transactions, "
                << deleted->deleted_interaction_count() << " interactions)\n";
      return absl::OkStatus();
    });
  });
}

}  // namespace custra::cli
