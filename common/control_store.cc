#include "common/control_store.h"

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace custra {
namespace {

constexpr Migration kControlMigrations[] = {
    {1, "tenants and api keys", R"sql(
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  create_time_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL DEFAULT '',
  sha256 TEXT NOT NULL,
  create_time_us INTEGER NOT NULL,
  revoke_time_us INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, create_time_us);
)sql"},
};

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

class SqliteControlStore final : public ControlStore {
 public:
  explicit SqliteControlStore(std::unique_ptr<Connection> db)
      : db_(std::move(db)) {}

  SqliteControlStore(const SqliteControlStore&) = delete;
  SqliteControlStore& operator=(const SqliteControlStore&) = delete;

  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return CatchSqlite("loading control database", [&]() -> absl::Status {
      SQLite::Statement tenants(
          *db_, "SELECT id, display_name, create_time_us FROM tenants");
      while (tenants.executeStep()) {
        TenantRecord t{tenants.getColumn(0).getString(),
                       tenants.getColumn(1).getString(),
                       FromMicros(tenants.getColumn(2).getInt64())};
        tenants_.emplace(t.id, std::move(t));
      }
      SQLite::Statement keys(*db_,
                             "SELECT id, tenant_id, display_name, sha256, "
                             "create_time_us, revoke_time_us FROM api_keys");
      while (keys.executeStep()) {
        ApiKeyRecord k;
        k.id = keys.getColumn(0).getString();
        k.tenant_id = keys.getColumn(1).getString();
        k.display_name = keys.getColumn(2).getString();
        k.hash = keys.getColumn(3).getString();
        k.create_time = FromMicros(keys.getColumn(4).getInt64());
        if (!keys.getColumn(5).isNull()) {
          k.revoke_time = FromMicros(keys.getColumn(5).getInt64());
        }
        keys_.emplace(k.id, std::move(k));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<TenantRecord> CreateTenant(absl::string_view id,
                                            absl::string_view display_name,
                                            absl::Time now) override {
    absl::MutexLock lock(&mu_);
    if (tenants_.contains(id)) return TenantExists(id);
    TenantRecord record{std::string(id), std::string(display_name), now};
    CUSTRA_RETURN_IF_ERROR(CatchSqlite("creating tenant", [&] {
      SQLite::Statement insert(*db_,
                               "INSERT INTO tenants(id, display_name, "
                               "create_time_us) VALUES (?, ?, ?)");
      insert.bind(1, record.id);
      insert.bind(2, record.display_name);
      insert.bind(3, static_cast<int64_t>(ToMicros(now)));
      insert.exec();
      return absl::OkStatus();
    }));
    tenants_.emplace(record.id, record);
    return record;
  }

  absl::StatusOr<TenantRecord> GetTenant(absl::string_view id) const override {
    absl::MutexLock lock(&mu_);
    auto it = tenants_.find(id);
    if (it == tenants_.end()) return TenantNotFound(id);
    return it->second;
  }

  std::vector<TenantRecord> ListTenants(absl::string_view after_id,
                                        int limit) const override {
    absl::MutexLock lock(&mu_);
    std::vector<TenantRecord> out;
    for (auto it = tenants_.upper_bound(after_id);
         it != tenants_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  absl::Status DeleteTenant(absl::string_view id) override {
    absl::MutexLock lock(&mu_);
    if (!tenants_.contains(id)) return TenantNotFound(id);
    CUSTRA_RETURN_IF_ERROR(CatchSqlite("deleting tenant", [&] {
      SQLite::Transaction txn(*db_);
      SQLite::Statement keys(*db_, "DELETE FROM api_keys WHERE tenant_id = ?");
      keys.bind(1, std::string(id));
      keys.exec();
      SQLite::Statement tenant(*db_, "DELETE FROM tenants WHERE id = ?");
      tenant.bind(1, std::string(id));
      tenant.exec();
      txn.commit();
      return absl::OkStatus();
    }));
    tenants_.erase(tenants_.find(id));
    absl::erase_if(keys_,
                   [&](const auto& kv) { return kv.second.tenant_id == id; });
    return absl::OkStatus();
  }

  absl::Status AddApiKey(const ApiKeyRecord& key) override {
    absl::MutexLock lock(&mu_);
    if (!tenants_.contains(key.tenant_id)) return TenantNotFound(key.tenant_id);
    if (keys_.contains(key.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("API key ", key.id, " already exists"));
    }
    CUSTRA_RETURN_IF_ERROR(CatchSqlite("storing API key", [&] {
      SQLite::Statement insert(
          *db_,
          "INSERT INTO api_keys(id, tenant_id, display_name, sha256, "
          "create_time_us, revoke_time_us) VALUES (?, ?, ?, ?, ?, NULL)");
      insert.bind(1, key.id);
      insert.bind(2, key.tenant_id);
      insert.bind(3, key.display_name);
      insert.bind(4, key.hash);
      insert.bind(5, static_cast<int64_t>(ToMicros(key.create_time)));
      insert.exec();
      return absl::OkStatus();
    }));
    ApiKeyRecord stored = key;
    stored.revoke_time.reset();
    keys_.emplace(stored.id, std::move(stored));
    return absl::OkStatus();
  }

  std::vector<ApiKeyRecord> ListApiKeys(
      absl::string_view tenant_id) const override {
    absl::MutexLock lock(&mu_);
    std::vector<ApiKeyRecord> out;
    for (const auto& [id, key] : keys_) {
      if (key.tenant_id == tenant_id) out.push_back(key);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return std::tie(a.create_time, a.id) < std::tie(b.create_time, b.id);
    });
    return out;
  }

  absl::StatusOr<ApiKeyRecord> RevokeApiKey(absl::string_view tenant_id,
                                            absl::string_view key_id,
                                            absl::Time now) override {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(key_id);
    if (it == keys_.end() || it->second.tenant_id != tenant_id) {
      return absl::NotFoundError(
          absl::StrCat("tenant ", tenant_id, " has no API key ", key_id));
    }
    if (it->second.revoked()) return it->second;
    CUSTRA_RETURN_IF_ERROR(CatchSqlite("revoking API key", [&] {
      SQLite::Statement update(
          *db_, "UPDATE api_keys SET revoke_time_us = ? WHERE id = ?");
      update.bind(1, static_cast<int64_t>(ToMicros(now)));
      update.bind(2, std::string(key_id));
      update.exec();
      return absl::OkStatus();
    }));
    it->second.revoke_time = now;
    return it->second;
  }

  std::optional<ApiKeyRecord> FindApiKey(
      absl::string_view key_id) const override {
    absl::MutexLock lock(&mu_);
    auto it = keys_.find(key_id);
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }

 private:
  static absl::Status TenantNotFound(absl::string_view id) {
    return WithReason(
        absl::NotFoundError(absl::StrCat("tenant ", id, " does not exist")),
        reason::kTenantNotFound);
  }
  static absl::Status TenantExists(absl::string_view id) {
    return WithReason(absl::AlreadyExistsError(
                          absl::StrCat("tenant ", id, " already exists")),
                      reason::kTenantExists);
  }

  mutable absl::Mutex mu_;
  std::unique_ptr<Connection> db_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, TenantRecord, std::less<>> tenants_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ApiKeyRecord> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<ControlStore>> OpenSqliteControlStore(
    const std::string& path, const SqliteOptions& options) {
  CUSTRA_ASSIGN_OR_RETURN(std::unique_ptr<Connection> db,
                          OpenSqlite(path, options));
  CUSTRA_RETURN_IF_ERROR(Migrate(*db, kControlMigrations).status());
  auto store = std::make_unique<SqliteControlStore>(std::move(db));
  CUSTRA_RETURN_IF_ERROR(store->Load());
  return store;
}

}  // namespace custra
