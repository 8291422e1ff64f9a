#ifndef CUSTRA_COMMON_CONTROL_STORE_H_
#define CUSTRA_COMMON_CONTROL_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/sqlite_util.h"

namespace custra {

// A tenant as the control database knows it.
struct TenantRecord {
  std::string id;
  std::string display_name;
  absl::Time create_time;
};

// A tenant API key. `hash` is the lowercase hex SHA-256 of the secret; the
// secret itself is never stored.
struct ApiKeyRecord {
  std::string id;
  std::string tenant_id;
  std::string display_name;
  std::string hash;
  absl::Time create_time;
  std::optional<absl::Time> revoke_time;

  bool revoked() const { return revoke_time.has_value(); }
};

// The control database: which tenants exist and which keys they hold.
//
// Thread-safe. Reads are served from memory (the whole control data of
// 10,000 tenants is a few MB) so that authenticating a call never touches
// the disk; writes go to the database first and update memory only once
// committed.
class ControlStore {
 public:
  virtual ~ControlStore() = default;

  // Records a new tenant. ALREADY_EXISTS (reason TENANT_EXISTS) if the id
  // is taken. The id must already be valid.
  virtual absl::StatusOr<TenantRecord> CreateTenant(
      absl::string_view id, absl::string_view display_name, absl::Time now) = 0;

  // The tenant, or NOT_FOUND (reason TENANT_NOT_FOUND).
  virtual absl::StatusOr<TenantRecord> GetTenant(
      absl::string_view id) const = 0;

  // Up to `limit` tenants with ids greater than `after_id`, in id order.
  virtual std::vector<TenantRecord> ListTenants(absl::string_view after_id,
                                                int limit) const = 0;

  // Forgets the tenant and all its keys. NOT_FOUND if there is none.
  virtual absl::Status DeleteTenant(absl::string_view id) = 0;

  // Stores a new key. NOT_FOUND if its tenant does not exist; ALREADY_EXISTS
  // if the key id is taken.
  virtual absl::Status AddApiKey(const ApiKeyRecord& key) = 0;

  // The tenant's keys, oldest first (empty for an unknown tenant).
  virtual std::vector<ApiKeyRecord> ListApiKeys(
      absl::string_view tenant_id) const = 0;

  // Marks a key revoked at `now` (unchanged if it already is) and returns
  // it. NOT_FOUND if the tenant has no key with that id.
  virtual absl::StatusOr<ApiKeyRecord> RevokeApiKey(absl::string_view tenant_id,
                                                    absl::string_view key_id,
                                                    absl::Time now) = 0;

  // The key with this id, revoked or not; nullopt when unknown.
  virtual std::optional<ApiKeyRecord> FindApiKey(
      absl::string_view key_id) const = 0;
};

// Opens (creating if needed) the control database at `path` and loads it
// into memory. Errors as OpenSqlite and Migrate.
absl::StatusOr<std::unique_ptr<ControlStore>> OpenSqliteControlStore(
    const std::string& path, const SqliteOptions& options);

}  // namespace custra

#endif  // CUSTRA_COMMON_CONTROL_STORE_H_
