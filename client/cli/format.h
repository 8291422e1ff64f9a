#ifndef CUSTRA_CLIENT_CLI_FORMAT_H_
#define CUSTRA_CLIENT_CLI_FORMAT_H_

// Helpers the `custra` commands share: parsing flag values, rendering money,
// shares and dates for people, printing aligned tables, and paging through
// list calls.

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_FORMAT_H_
