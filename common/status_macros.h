#ifndef CUSTRA_COMMON_STATUS_MACROS_H_
#define CUSTRA_COMMON_STATUS_MACROS_H_

// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status, which Abseil 20220623
// does not ship yet.

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CUSTRA_STATUS_CONCAT_INNER_(a, b) a##b
#define CUSTRA_STATUS_CONCAT_(a, b) CUSTRA_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function unless it is OK.
#define CUSTRA_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status custra_status_ = (expr);          \
    if (!custra_status_.ok()) return custra_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, else moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define CUSTRA_ASSIGN_OR_RETURN(lhs, rexpr) \
  CUSTRA_ASSIGN_OR_RETURN_IMPL_(            \
      CUSTRA_STATUS_CONCAT_(custra_statusor_, __LINE__), lhs, rexpr)
#define CUSTRA_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)

#endif  // CUSTRA_COMMON_STATUS_MACROS_H_
