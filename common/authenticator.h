#ifndef CUSTRA_COMMON_AUTHENTICATOR_H_
#define CUSTRA_COMMON_AUTHENTICATOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/control_store.h"

namespace custra {

// Who is calling, once authenticated.
struct Principal {
  enum class Kind { kAdmin, kTenant };
  Kind kind;
  // For kTenant: the tenant the key belongs to (equal to the requested one).
  std::string tenant_id;
  // For kTenant: the key id, safe to log. "admin" for the admin key.
  std::string key_id;
};

// Decides whether a call may proceed, from its two headers alone.
//
// Thread-safe (reads the control store's memory only; never the disk, and
// never the file system with an unvalidated tenant id). Failures, in the
// order they are checked:
//  - UNAUTHENTICATED (MISSING_CREDENTIALS): no "Bearer <key>" header;
//  - INVALID_ARGUMENT (INVALID_TENANT_ID): a tenant header that is required
//    or present but not a valid id;
//  - UNAUTHENTICATED (INVALID_API_KEY): unknown or revoked key;
//  - PERMISSION_DENIED (ACCESS_DENIED): a key of another tenant, an admin
//    key on a tenant call, or a tenant key on an admin call.
class Authenticator {
 public:
  // `admin_key_hash` is the SHA-256 hex of the admin key; empty disables
  // the admin service (every admin call is PERMISSION_DENIED).
  Authenticator(const ControlStore* control, std::string admin_key_hash)
      : control_(control), admin_key_hash_(std::move(admin_key_hash)) {}

  // A call to a tenant service: `authorization` is the raw header value,
  // `tenant_header` the value of x-tenant-id (required).
  absl::StatusOr<Principal> AuthenticateTenantCall(
      absl::string_view authorization, absl::string_view tenant_header) const;

  // A call to the admin service: only the admin key is accepted. (The
  // tenant header of an admin call is checked by the caller against the
  // tenant the request names.)
  absl::StatusOr<Principal> AuthenticateAdminCall(
      absl::string_view authorization) const;

 private:
  // Returns the presented key (after "Bearer ") or an error.
  static absl::StatusOr<absl::string_view> BearerToken(
      absl::string_view authorization);
  // Whether `token_hash` (Sha256Hex of a presented key) is the admin key's.
  bool IsAdminKeyHash(absl::string_view token_hash) const;

  const ControlStore* control_;
  const std::string admin_key_hash_;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_AUTHENTICATOR_H_
