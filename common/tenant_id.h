#ifndef CUSTRA_COMMON_TENANT_ID_H_
#define CUSTRA_COMMON_TENANT_ID_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace custra {

// Checks that `id` is a tenant id: `^[a-z][a-z0-9-]{2,62}$` (3 to 63 ASCII
// characters). Tenant ids become file names, so this is the only gate between
// a request header and the file system: it accepts nothing else.
//
// Returns OK, or INVALID_ARGUMENT (reason INVALID_TENANT_ID, field `field`)
// saying which rule failed.
absl::Status ValidateTenantId(absl::string_view id,
                              absl::string_view field = "tenant_id");

// True when ValidateTenantId(id) is OK.
bool IsValidTenantId(absl::string_view id);

}  // namespace custra

#endif  // CUSTRA_COMMON_TENANT_ID_H_
