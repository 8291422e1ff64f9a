#ifndef CUSTRA_COMMON_TENANT_SCHEMA_H_
#define CUSTRA_COMMON_TENANT_SCHEMA_H_

#include <span>

#include "common/sqlite_util.h"

namespace custra {

// The schema of a tenant database, as an ordered list of migrations. A new
// release appends migrations; it never edits one that has shipped.
std::span<const Migration> TenantMigrations();

}  // namespace custra

#endif  // CUSTRA_COMMON_TENANT_SCHEMA_H_
