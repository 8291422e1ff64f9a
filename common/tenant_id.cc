#include "common/tenant_id.h"

#include "common/errors.h"

namespace custra {
namespace {

constexpr size_t kMinLength = 3;
constexpr size_t kMaxLength = 63;

bool IsLowerAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const char* TenantIdProblem(absl::string_view id) {
  if (id.empty()) return "is required";
  if (id.size() < kMinLength) return "must be at least 3 characters long";
  if (id.size() > kMaxLength) return "must be at most 63 characters long";
  if (!IsLowerAlpha(id[0])) return "must start with a lowercase letter a-z";
  for (char c : id) {
    if (!IsLowerAlpha(c) && !IsDigit(c) && c != '-') {
      return "may contain only lowercase letters a-z, digits and '-'";
    }
  }
  return nullptr;
}

}  // namespace

absl::Status ValidateTenantId(absl::string_view id, absl::string_view field) {
  if (const char* problem = TenantIdProblem(id)) {
    return WithReason(InvalidFieldError(field, problem),
                      reason::kInvalidTenantId);
  }
  return absl::OkStatus();
}

bool IsValidTenantId(absl::string_view id) {
  return TenantIdProblem(id) == nullptr;
}

}  // namespace custra
