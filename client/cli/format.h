#ifndef CUSTRA_CLIENT_CLI_FORMAT_H_
#define CUSTRA_CLIENT_CLI_FORMAT_H_

// Helpers the `custra` commands share: parsing flag values, rendering money,
// shares and dates for people, printing aligned tables and "label: value"
// lines, paging through list calls, notes on stderr, and printing a result
// in the output format asked for.

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/cli/output.h"
#include "common/status_macros.h"
#include "custra/v1/common.pb.h"

namespace custra::cli {

// --- Parsing flag values ---------------------------------------------------

// Parses "YYYY-MM-DD" (a real calendar day, year >= 1) into `date`. On
// failure returns InvalidArgument naming `flag` and leaves `date` alone.
absl::Status ParseDate(absl::string_view flag, const std::string& text,
                       v1::Date* date);

// Parses a finite number; InvalidArgument naming `flag` otherwise.
absl::StatusOr<double> ParseNumber(absl::string_view flag,
                                   absl::string_view text);

// Parses an amount in currency units (at most 9e12 either way) into Money in
// micros with an empty currency code, i.e. the tenant's currency.
// InvalidArgument naming `flag` otherwise.
absl::StatusOr<v1::Money> ParseMoney(absl::string_view flag,
                                     absl::string_view text);

// --- Formatting ------------------------------------------------------------

// `name` without `prefix` when it starts with it: "SEGMENTATION_MODEL_ABC"
// with "SEGMENTATION_MODEL_" -> "ABC".
std::string ShortEnum(const std::string& name, absl::string_view prefix);

// An enum value name as lower-case words, `prefix` dropped:
// "MAN_APPROACH_REACH_DECISION_MAKER" -> "reach decision maker".
std::string EnumWords(const std::string& name, absl::string_view prefix);

// Money in currency units, rounded half away from zero to 2 decimals and
// without the currency: "-1234.50" (never "-0.00").
std::string Units(const v1::Money& money);

// Units, then the currency code when the server sent one: "12.50 USD".
std::string MoneyText(const v1::Money& money);

// A column header for money: `name`, then the currency code of `sample`
// when it has one ("REVENUE USD").
std::string MoneyHeader(absl::string_view name, const v1::Money& sample);

// A share in [0, 1] as a percentage with one decimal, without the sign:
// 0.1234 -> "12.3".
std::string Percent(double share);

// "2024-01-31", or `unset` for an unset date (year 0).
std::string DateText(const v1::Date& date, absl::string_view unset = "");

// RFC 3339 ("2024-01-31T12:00:00Z"), or "" for an unset timestamp (zero).
std::string TimeText(const google::protobuf::Timestamp& time);

// One CSV field: `text` as is, or in double quotes (inner quotes doubled)
// when it holds a comma, a quote, a newline or, with `quote_cr`, a carriage
// return.
std::string CsvEscape(absl::string_view text, bool quote_cr = true);

// --- Tables ----------------------------------------------------------------

// Rows of cells; the first row is the header.
using Table = std::vector<std::vector<std::string>>;

// Whether `s` reads as a number: an optional sign, then digits, '.' and ','
// with at least one digit. With `trailing_marker`, one trailing '*' or '%'
// is allowed too ("12.00*", "40%").
bool LooksNumeric(absl::string_view s, bool trailing_marker = true);

// "label:  value" lines, in order.
using Pairs = std::vector<std::pair<std::string, std::string>>;

// Prints "label:  value" lines with the values aligned two spaces after the
// longest label's colon. With `drop_empty`, pairs with an empty value are
// left out (and do not count for the alignment).
void PrintPairs(const Pairs& pairs, std::ostream& out, bool drop_empty = false);

// Prints `table` (its header row first) with columns two spaces apart and
// trailing blanks stripped: the first column left-aligned, a column whose
// non-empty body cells all look numeric (LooksNumeric with
// `trailing_markers`) right-aligned, any other left-aligned. Prints
// "(none)" after a table without body rows.
void PrintTable(const Table& table, std::ostream& out,
                bool trailing_markers = true);

// --- Listing ---------------------------------------------------------------

// Calls `fetch(page_size, page_token, items)` page after page until the last
// page or until `items` holds `limit` (> 0) items; `fetch` appends one page
// and returns its next_page_token. Pages ask for at most `max_page_size`
// items, and `items` is cut to `limit`. Returns whether more pages were
// left, or the first error of `fetch`.
template <typename Item>
absl::StatusOr<bool> FetchPages(
    int32_t max_page_size, int64_t limit, std::vector<Item>* items,
    const std::function<absl::StatusOr<std::string>(
        int32_t, const std::string&, std::vector<Item>*)>& fetch) {
  std::string token;
  do {
    int32_t page_size = max_page_size;
    if (limit > 0) {
      page_size = static_cast<int32_t>(std::min<int64_t>(
          max_page_size, limit - static_cast<int64_t>(items->size())));
    }
    CUSTRA_ASSIGN_OR_RETURN(token, fetch(page_size, token, items));
    if (limit > 0 && static_cast<int64_t>(items->size()) > limit) {
      items->resize(static_cast<size_t>(limit));
    }
  } while (!token.empty() &&
           (limit <= 0 || static_cast<int64_t>(items->size()) < limit));
  return !token.empty();
}

// Every item of a paged list call, up to `limit` (0: all), appended to
// `out`: `call(request)` returns a page (or an error), given a copy of
// `request` with the page size (at most `max_page_size`) and token set,
// which it may change for the pages after; `items(page)` returns the page's
// repeated field of items, once per page. Returns whether more were left.
template <typename Item, typename Request, typename Call, typename Items>
absl::StatusOr<bool> FetchAll(int64_t limit, Request request, Call call,
                              Items items, std::vector<Item>* out,
                              int32_t max_page_size = 1000) {
  return FetchPages<Item>(
      max_page_size, limit, out,
      [&](int32_t page_size, const std::string& token,
          std::vector<Item>* into) -> absl::StatusOr<std::string> {
        request.set_page_size(page_size);
        request.set_page_token(token);
        CUSTRA_ASSIGN_OR_RETURN(auto page, call(request));
        for (auto& item : *items(page)) into->push_back(std::move(item));
        return page.next_page_token();
      });
}

// FetchAll for a response that holds more than its items (counts, totals):
// `*merged` becomes the first page without its next_page_token, with the
// items of every page read (up to `limit`, 0: all). Returns whether more
// were left.
template <typename Request, typename Response, typename Call, typename Items>
absl::StatusOr<bool> FetchMerged(int64_t limit, const Request& request,
                                 Call call, Items items, Response* merged) {
  using Item =
      typename std::remove_pointer_t<decltype(items(*merged))>::value_type;
  bool have_first = false;
  auto keep_first = [&](Request& r) -> absl::StatusOr<Response> {
    CUSTRA_ASSIGN_OR_RETURN(Response page, call(r));
    if (!have_first) {
      *merged = page;
      items(*merged)->Clear();
      merged->clear_next_page_token();
      have_first = true;
    }
    return page;
  };
  std::vector<Item> all;
  CUSTRA_ASSIGN_OR_RETURN(const bool more,
                          FetchAll(limit, request, keep_first, items, &all));
  for (Item& item : all) *items(*merged)->Add() = std::move(item);
  return more;
}

// Pointers to `messages`, in order, as PrintRows takes them. They point
// into `messages`, so they are valid while it is unchanged.
template <typename Message>
std::vector<const google::protobuf::Message*> RowsOf(
    const std::vector<Message>& messages) {
  std::vector<const google::protobuf::Message*> rows;
  for (const Message& m : messages) rows.push_back(&m);
  return rows;
}

template <typename Message>
std::vector<const google::protobuf::Message*> RowsOf(
    const google::protobuf::RepeatedPtrField<Message>& messages) {
  std::vector<const google::protobuf::Message*> rows;
  for (const Message& m : messages) rows.push_back(&m);
  return rows;
}

// --- Notes on stderr -------------------------------------------------------

// Tells (on stderr) that a listing cut at `flag` has more.
void NoteMore(bool more, size_t shown, absl::string_view what,
              absl::string_view flag = "--limit");

// Tells (on stderr) that `what` `id` was deleted when `status` is OK.
// Returns `status`.
absl::Status NoteDeleted(absl::Status status, absl::string_view what,
                         absl::string_view id);

// --- Printing by output format ---------------------------------------------

// Prints `message` with `print(message, out)` for the table format, else
// with PrintOne.
template <typename Message, typename Print>
void PrintMessage(const Message& message, OutputFormat format,
                  const Print& print, std::ostream& out) {
  if (format == OutputFormat::kTable) {
    print(message, out);
  } else {
    PrintOne(message, format, out);
  }
}

// For json and csv, prints `rows` (a vector or repeated field of messages)
// with PrintRows and returns true; for the table format prints nothing and
// returns false, so the caller prints its table.
template <typename Rows>
bool PrintRowsUnlessTable(const Rows& rows, OutputFormat format,
                          std::ostream& out) {
  if (format == OutputFormat::kTable) return false;
  PrintRows(RowsOf(rows), Rows::value_type::descriptor(), format, out);
  return true;
}

// Prints a report for machines: `report` as JSON, or `rows` (its main
// repeated field) as CSV. Returns false, printing nothing, for the table
// format.
template <typename Rows>
bool PrintReportUnlessTable(const google::protobuf::Message& report,
                            const Rows& rows, OutputFormat format,
                            std::ostream& out) {
  if (format == OutputFormat::kJson) {
    PrintOne(report, format, out);
    return true;
  }
  return PrintRowsUnlessTable(rows, format, out);
}

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_FORMAT_H_
