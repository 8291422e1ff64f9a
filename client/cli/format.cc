#include "client/cli/format.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"

namespace custra::cli {

// --- Parsing flag values ---------------------------------------------------

absl::Status ParseDate(absl::string_view flag, const std::string& text,
                       v1::Date* date) {
  const std::vector<std::string> parts = absl::StrSplit(text, '-');
  int year = 0;
  int month = 0;
  int day = 0;
  bool ok = parts.size() == 3 && parts[0].size() == 4 && parts[1].size() == 2 &&
            parts[2].size() == 2;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    for (char c : parts[i]) ok = ok && absl::ascii_isdigit(c);
  }
  ok = ok && absl::SimpleAtoi(parts[0], &year) &&
       absl::SimpleAtoi(parts[1], &month) && absl::SimpleAtoi(parts[2], &day);
  if (ok) {
    const absl::CivilDay civil(year, month, day);
    ok = year >= 1 && civil.year() == year && civil.month() == month &&
         civil.day() == day;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a date YYYY-MM-DD, got '", text, "'"));
  }
  date->set_year(year);
  date->set_month(month);
  date->set_day(day);
  return absl::OkStatus();
}

absl::StatusOr<double> ParseNumber(absl::string_view flag,
                                   absl::string_view text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": expected a number, got '", text, "'"));
  }
  return value;
}

absl::StatusOr<v1::Money> ParseMoney(absl::string_view flag,
                                     absl::string_view text) {
  CUSTRA_ASSIGN_OR_RETURN(const double units, ParseNumber(flag, text));
  if (std::fabs(units) > 9e12) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": amount out of range: ", text));
  }
  v1::Money money;  // Empty currency code: the tenant's currency.
  money.set_amount_micros(std::llround(units * 1e6));
  return money;
}

// --- Formatting ------------------------------------------------------------

std::string ShortEnum(const std::string& name, absl::string_view prefix) {
  absl::string_view s = name;
  absl::ConsumePrefix(&s, prefix);
  return std::string(s);
}

std::string EnumWords(const std::string& name, absl::string_view prefix) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(ShortEnum(name, prefix)),
                             {{"_", " "}});
}

std::string Units(const v1::Money& money) {
  const int64_t micros = money.amount_micros();
  const uint64_t abs = micros < 0 ? 0 - static_cast<uint64_t>(micros)
                                  : static_cast<uint64_t>(micros);
  const uint64_t cents = (abs + 5000) / 10000;
  return absl::StrFormat("%s%d.%02d", micros < 0 && cents > 0 ? "-" : "",
                         cents / 100, cents % 100);
}

std::string MoneyText(const v1::Money& money) {
  return money.currency_code().empty()
             ? Units(money)
             : absl::StrCat(Units(money), " ", money.currency_code());
}

std::string MoneyHeader(absl::string_view name, const v1::Money& sample) {
  return sample.currency_code().empty()
             ? std::string(name)
             : absl::StrCat(name, " ", sample.currency_code());
}

std::string Percent(double share) {
  return absl::StrFormat("%.1f", share * 100);
}

std::string DateText(const v1::Date& date, absl::string_view unset) {
  if (date.year() == 0) return std::string(unset);
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(),
                         date.day());
}

std::string TimeText(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(time);
}

std::string CsvEscape(absl::string_view text, bool quote_cr) {
  if (text.find_first_of(quote_cr ? ",\"\n\r" : ",\"\n") ==
      absl::string_view::npos) {
    return std::string(text);
  }
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// --- Tables ----------------------------------------------------------------

bool LooksNumeric(absl::string_view s, bool trailing_marker) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  // A trailing marker ("12.00*") keeps the column numeric.
  if (trailing_marker && !s.empty() && (s.back() == '*' || s.back() == '%')) {
    s.remove_suffix(1);
  }
  bool digit = false;
  for (char c : s) {
    if (absl::ascii_isdigit(c)) {
      digit = true;
    } else if (c != '.' && c != ',') {
      return false;
    }
  }
  return digit;
}

void PrintPairs(const Pairs& pairs, std::ostream& out, bool drop_empty) {
  size_t width = 0;
  for (const auto& [label, value] : pairs) {
    if (!drop_empty || !value.empty()) width = std::max(width, label.size());
  }
  for (const auto& [label, value] : pairs) {
    if (drop_empty && value.empty()) continue;
    out << label << ":" << std::string(width - label.size() + 2, ' ') << value
        << "\n";
  }
}

void PrintTable(const Table& table, std::ostream& out, bool trailing_markers) {
  size_t columns = 0;
  for (const auto& row : table) columns = std::max(columns, row.size());
  std::vector<size_t> width(columns, 0);
  std::vector<bool> right(columns, true);
  if (columns > 0) right[0] = false;
  for (size_t r = 0; r < table.size(); ++r) {
    for (size_t c = 0; c < table[r].size(); ++c) {
      const std::string& cell = table[r][c];
      width[c] = std::max(width[c], cell.size());
      if (r > 0 && !cell.empty() && !LooksNumeric(cell, trailing_markers)) {
        right[c] = false;
      }
    }
  }
  for (const auto& row : table) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      line += right[c] ? pad + row[c] : row[c] + pad;
    }
    out << std::string(absl::StripTrailingAsciiWhitespace(line)) << "\n";
  }
  if (table.size() <= 1) out << "(none)\n";
}

// --- Notes on stderr -------------------------------------------------------

void NoteMore(bool more, size_t shown, absl::string_view what,
              absl::string_view flag) {
  if (more) {
    std::cerr << "(showing the first " << shown << " " << what << "; raise "
              << flag << " for more)\n";
  }
}

absl::Status NoteDeleted(absl::Status status, absl::string_view what,
                         absl::string_view id) {
  if (status.ok()) std::cerr << "deleted " << what << " " << id << "\n";
  return status;
}

}  // namespace custra::cli
