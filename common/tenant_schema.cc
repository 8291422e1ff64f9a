#include "common/tenant_schema.h"

namespace custra {
namespace {

constexpr Migration kTenantMigrations[] = {
    {1, "tenant metadata", R"sql(
CREATE TABLE tenant_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
};

}  // namespace

std::span<const Migration> TenantMigrations() { return kTenantMigrations; }

}  // namespace custra
