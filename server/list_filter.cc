#include "server/list_filter.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/errors.h"

namespace custra::server {
namespace {

absl::Status Bad(absl::string_view why) {
  return InvalidFieldError("filter", why);
}

// A small scanner over the filter text.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  std::string Word() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '_' ||
            text_[pos_] == '-' || text_[pos_] == '.' || text_[pos_] == ':' ||
            text_[pos_] == '+')) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  absl::StatusOr<FilterOp> Op() {
    SkipSpace();
    static constexpr std::pair<const char*, FilterOp> kOps[] = {
        {"!=", FilterOp::kNe}, {"<=", FilterOp::kLe}, {">=", FilterOp::kGe},
        {"=", FilterOp::kEq},  {"<", FilterOp::kLt},  {">", FilterOp::kGt}};
    for (const auto& [token, op] : kOps) {
      if (text_.substr(pos_).substr(0, strlen(token)) == token) {
        pos_ += strlen(token);
        return op;
      }
    }
    return Bad(absl::StrCat("expected = != < <= > or >= at position ", pos_));
  }
  // A quoted string or a bare word; `quoted` tells which.
  absl::StatusOr<std::string> Value(bool* quoted) {
    SkipSpace();
    *quoted = pos_ < text_.size() && text_[pos_] == '"';
    if (!*quoted) {
      std::string word = Word();
      if (word.empty()) {
        return Bad(absl::StrCat("expected a value at position ", pos_));
      }
      return word;
    }
    std::string out;
    for (++pos_; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c == '\\' && pos_ + 1 < text_.size()) {
        out.push_back(text_[++pos_]);
      } else if (c == '"') {
        ++pos_;
        return out;
      } else {
        out.push_back(c);
      }
    }
    return Bad("a quoted value is not closed");
  }
  bool Keyword(absl::string_view word) {
    SkipSpace();
    if (text_.size() - pos_ < word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i) {
      if (absl::ascii_toupper(text_[pos_ + i]) != word[i]) return false;
    }
    const size_t end = pos_ + word.size();
    if (end < text_.size() && !absl::ascii_isspace(text_[end])) return false;
    pos_ = end;
    return true;
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<FilterTerm>> ParseListFilter(
    absl::string_view filter, const std::map<std::string, FieldType>& fields) {
  std::vector<FilterTerm> terms;
  Scanner scan(filter);
  if (scan.AtEnd()) return terms;
  while (true) {
    FilterTerm term;
    term.field = scan.Word();
    const auto field = fields.find(term.field);
    if (field == fields.end()) {
      std::string known;
      for (const auto& [name, type] : fields) {
        absl::StrAppend(&known, known.empty() ? "" : ", ", name);
      }
      return Bad(absl::StrCat("unknown field '", term.field, "'; use ", known));
    }
    auto op = scan.Op();
    if (!op.ok()) return op.status();
    term.op = *op;
    bool quoted = false;
    auto value = scan.Value(&quoted);
    if (!value.ok()) return value.status();
    const FieldType type = field->second;
    const bool ordering = term.op != FilterOp::kEq && term.op != FilterOp::kNe;
    if (ordering && (type == FieldType::kString || type == FieldType::kEnum)) {
      return Bad(absl::StrCat("'", term.field,
                              "' takes only = and != (ordering is for dates "
                              "and times)"));
    }
    switch (type) {
      case FieldType::kString:
        if (!quoted) {
          return Bad(absl::StrCat("the value of '", term.field,
                                  "' must be a double-quoted string"));
        }
        term.text = *value;
        break;
      case FieldType::kEnum:
        term.text = absl::AsciiStrToUpper(*value);
        break;
      case FieldType::kDate: {
        absl::CivilDay day;
        if (!absl::ParseCivilTime(*value, &day) ||
            absl::FormatCivilTime(day) != *value) {
          return Bad(absl::StrCat("'", *value, "' is not a date YYYY-MM-DD"));
        }
        term.number = day - absl::CivilDay(1970, 1, 1);
        break;
      }
      case FieldType::kTime: {
        absl::Time t;
        std::string error;
        if (!absl::ParseTime(absl::RFC3339_full, *value, &t, &error) ||
            t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
          return Bad(absl::StrCat("'", *value, "' is not an RFC 3339 time"));
        }
        term.number = absl::ToUnixMicros(t);
        break;
      }
    }
    terms.push_back(std::move(term));
    if (scan.AtEnd()) break;
    if (!scan.Keyword("AND")) return Bad("terms must be joined by AND");
  }
  return terms;
}

bool Compare(FilterOp op, absl::string_view value, absl::string_view wanted) {
  return op == FilterOp::kEq ? value == wanted : value != wanted;
}

bool Compare(FilterOp op, int64_t value, int64_t wanted) {
  switch (op) {
    case FilterOp::kEq:
      return value == wanted;
    case FilterOp::kNe:
      return value != wanted;
    case FilterOp::kLt:
      return value < wanted;
    case FilterOp::kLe:
      return value <= wanted;
    case FilterOp::kGt:
      return value > wanted;
    case FilterOp::kGe:
      return value >= wanted;
  }
  return false;
}

}  // namespace custra::server
