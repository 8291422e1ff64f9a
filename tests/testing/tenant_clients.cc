#include "tests/testing/tenant_clients.h"

#include <string>

#include "common/status_macros.h"

namespace custra::testing {

absl::StatusOr<std::unique_ptr<Client>> AdminClient(
    const ServerProcess& server) {
  ClientOptions options;
  options.target = server.address();
  options.api_key = server.admin_key();
  return Client::Create(options);
}

absl::StatusOr<std::unique_ptr<Client>> NewTenantClient(
    const ServerProcess& server, absl::string_view tenant) {
  CUSTRA_ASSIGN_OR_RETURN(std::unique_ptr<Client> admin, AdminClient(server));
  CUSTRA_RETURN_IF_ERROR(admin->CreateTenant(tenant).status());
  CUSTRA_ASSIGN_OR_RETURN(auto key, admin->IssueApiKey(tenant));
  ClientOptions options;
  options.target = server.address();
  options.tenant_id = std::string(tenant);
  options.api_key = key.secret();
  return Client::Create(options);
}

}  // namespace custra::testing
