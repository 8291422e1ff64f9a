#ifndef CUSTRA_COMMON_TENANT_ADMIN_H_
#define CUSTRA_COMMON_TENANT_ADMIN_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/control_store.h"
#include "common/tenant_registry.h"

namespace custra {

// Tenant life cycle across the control database and the tenant files: the
// two are kept consistent (a tenant exists in both or in neither, as far as
// callers can see).
//
// Thread-safe: creations, deletions and restores are serialised, so two
// concurrent creates of one id cannot undo each other. Clock injected for
// tests.
class TenantAdmin {
 public:
  TenantAdmin(ControlStore* control, TenantRegistry* registry,
              absl::Time (*now)() = &absl::Now)
      : control_(control), registry_(registry), now_(now) {}

  // Validates the id and display name, creates the database file, then the
  // control record. INVALID_ARGUMENT, ALREADY_EXISTS (TENANT_EXISTS).
  absl::StatusOr<TenantRecord> CreateTenant(absl::string_view id,
                                            absl::string_view display_name);

  // NOT_FOUND (TENANT_NOT_FOUND), INVALID_ARGUMENT.
  absl::StatusOr<TenantRecord> GetTenant(absl::string_view id) const;

  // Up to `limit` tenants with ids after `after_id`, in id order.
  std::vector<TenantRecord> ListTenants(absl::string_view after_id,
                                        int limit) const {
    return control_->ListTenants(after_id, limit);
  }

  // Removes the control record first (its keys stop working at once), then
  // the database files.
  absl::Status DeleteTenant(absl::string_view id);

  // A new key for an existing tenant; the secret is in the result only.
  struct IssuedKey {
    ApiKeyRecord key;
    std::string secret;
  };
  absl::StatusOr<IssuedKey> IssueApiKey(absl::string_view tenant_id,
                                        absl::string_view display_name);

  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys(
      absl::string_view tenant_id) const;

  absl::StatusOr<ApiKeyRecord> RevokeApiKey(absl::string_view tenant_id,
                                            absl::string_view key_id);

  // Restores a backup file into the tenant, creating the tenant (control
  // record and database) if it does not exist.
  absl::StatusOr<TenantRecord> RestoreTenant(
      absl::string_view id, const std::filesystem::path& backup);

 private:
  ControlStore* control_;
  TenantRegistry* registry_;
  absl::Time (*now_)();
  // Held across the two stores for the life-cycle changes.
  absl::Mutex lifecycle_mu_;
};

}  // namespace custra

#endif  // CUSTRA_COMMON_TENANT_ADMIN_H_
