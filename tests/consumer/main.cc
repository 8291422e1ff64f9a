// Creates a tenant and issues it a key through the installed custra SDK.
// Usage: consumer TARGET ADMIN_KEY TENANT

#include <iostream>

#include "custra/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: consumer TARGET ADMIN_KEY TENANT\n";
    return 2;
  }
  custra::ClientOptions options;
  options.target = argv[1];
  options.api_key = argv[2];
  auto client = custra::Client::Create(options);
  if (!client.ok()) return 1;
  if (auto status = (*client)->WaitForServing(absl::Seconds(10));
      !status.ok()) {
    std::cerr << status << "\n";
    return 1;
  }
  auto tenant = (*client)->CreateTenant(argv[3], "from the consumer");
  if (!tenant.ok()) {
    std::cerr << tenant.status() << "\n";
    return 1;
  }
  auto key = (*client)->IssueApiKey(argv[3]);
  if (!key.ok()) {
    std::cerr << key.status() << "\n";
    return 1;
  }
  std::cout << "created " << tenant->id() << " with key " << key->api_key().id()
            << "\n";
  return 0;
}
