#ifndef CUSTRA_SERVER_LIST_FILTER_H_
#define CUSTRA_SERVER_LIST_FILTER_H_

// The filter syntax of OpportunityService's List and report calls: a
// conjunction `field OP value [AND field OP value ...]`, OP one of = != < <=
// > >=, strings double-quoted (\" and \\ escape), enum values bare without
// their prefix, dates "YYYY-MM-DD", times RFC 3339. Ordering operators only
// on dates and times. Errors are INVALID_ARGUMENT naming `filter`.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace custra::server {

enum class FilterOp { kEq, kNe, kLt, kLe, kGt, kGe };

enum class FieldType {
  kString,  // Quoted value; = and != only.
  kEnum,    // Bare word (the caller checks it); = and != only.
  kDate,    // "YYYY-MM-DD" (quoted or bare), compared as a day number.
  kTime,    // RFC 3339 (quoted or bare), compared in microseconds.
};

struct FilterTerm {
  std::string field;
  FilterOp op = FilterOp::kEq;
  std::string text;    // String and enum values.
  int64_t number = 0;  // Dates: day number. Times: Unix microseconds.
};

// Parses `filter` against the allowed fields and their types.
absl::StatusOr<std::vector<FilterTerm>> ParseListFilter(
    absl::string_view filter, const std::map<std::string, FieldType>& fields);

// Whether `value` satisfies a term's comparison.
bool Compare(FilterOp op, absl::string_view value, absl::string_view wanted);
bool Compare(FilterOp op, int64_t value, int64_t wanted);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_LIST_FILTER_H_
