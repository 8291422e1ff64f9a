#ifndef CUSTRA_TESTS_TESTING_TENANT_CLIENTS_H_
#define CUSTRA_TESTS_TESTING_TENANT_CLIENTS_H_

// SDK clients of a test server: its admin, and a new tenant with its own key.

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "custra/client.h"
#include "tests/testing/server_process.h"

namespace custra::testing {

// A client holding the server's admin key.
absl::StatusOr<std::unique_ptr<Client>> AdminClient(
    const ServerProcess& server);

// Creates `tenant` with the admin key, issues it a key and returns a client
// of that tenant.
absl::StatusOr<std::unique_ptr<Client>> NewTenantClient(
    const ServerProcess& server, absl::string_view tenant);

}  // namespace custra::testing

#endif  // CUSTRA_TESTS_TESTING_TENANT_CLIENTS_H_
