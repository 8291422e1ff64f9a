#include "common/authenticator.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/api_key.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"

namespace custra {
namespace {

absl::Status Unauthenticated(absl::string_view message, absl::string_view why) {
  return WithReason(absl::UnauthenticatedError(message), why);
}

absl::Status Denied(absl::string_view message) {
  return WithReason(absl::PermissionDeniedError(message),
                    reason::kAccessDenied);
}

absl::Status CheckTenantHeader(absl::string_view tenant_header) {
  return ValidateTenantId(tenant_header, "x-tenant-id");
}

}  // namespace

absl::StatusOr<absl::string_view> Authenticator::BearerToken(
    absl::string_view authorization) {
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") &&
      !absl::ConsumePrefix(&token, "bearer ")) {
    return Unauthenticated(
        "missing credentials: send the header 'authorization: Bearer "
        "<api-key>'",
        reason::kMissingCredentials);
  }
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) {
    return Unauthenticated("missing credentials: the bearer token is empty",
                           reason::kMissingCredentials);
  }
  return token;
}

bool Authenticator::IsAdminKeyHash(absl::string_view token_hash) const {
  return !admin_key_hash_.empty() &&
         ConstantTimeEquals(token_hash, admin_key_hash_);
}

absl::StatusOr<Principal> Authenticator::AuthenticateTenantCall(
    absl::string_view authorization, absl::string_view tenant_header) const {
  CUSTRA_ASSIGN_OR_RETURN(absl::string_view token, BearerToken(authorization));
  CUSTRA_RETURN_IF_ERROR(CheckTenantHeader(tenant_header));
  const std::string token_hash = Sha256Hex(token);
  if (IsAdminKeyHash(token_hash)) {
    return Denied(
        "the admin key cannot call tenant services: issue a tenant API key "
        "with TenantAdminService.IssueApiKey");
  }
  std::optional<std::string> key_id = ApiKeyIdOf(token);
  std::optional<ApiKeyRecord> key;
  if (key_id) key = control_->FindApiKey(*key_id);
  if (!key || !ConstantTimeEquals(token_hash, key->hash)) {
    return Unauthenticated("invalid API key", reason::kInvalidApiKey);
  }
  if (key->revoked()) {
    return Unauthenticated(absl::StrCat("API key ", key->id, " was revoked"),
                           reason::kInvalidApiKey);
  }
  if (key->tenant_id != tenant_header) {
    return Denied(absl::StrCat("API key ", key->id, " is not valid for tenant ",
                               tenant_header));
  }
  return Principal{Principal::Kind::kTenant, key->tenant_id, key->id};
}

absl::StatusOr<Principal> Authenticator::AuthenticateAdminCall(
    absl::string_view authorization) const {
  CUSTRA_ASSIGN_OR_RETURN(absl::string_view token, BearerToken(authorization));
  const std::string token_hash = Sha256Hex(token);
  if (IsAdminKeyHash(token_hash)) {
    return Principal{Principal::Kind::kAdmin, "", "admin"};
  }
  std::optional<std::string> key_id = ApiKeyIdOf(token);
  std::optional<ApiKeyRecord> key;
  if (key_id) key = control_->FindApiKey(*key_id);
  if (key && !key->revoked() && ConstantTimeEquals(token_hash, key->hash)) {
    return Denied("a tenant API key cannot call TenantAdminService");
  }
  return Unauthenticated("invalid admin key", reason::kInvalidApiKey);
}

}  // namespace custra
