#ifndef CUSTRA_TESTS_TESTING_CERTIFICATES_H_
#define CUSTRA_TESTS_TESTING_CERTIFICATES_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace custra::testing {

// A self-signed certificate (its own CA) and its private key, as PEM files.
struct TestCertificate {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  // The contents of `cert_file`: what a client trusts as its root.
  std::string cert_pem;
};

// Makes a self-signed certificate for 127.0.0.1 and localhost with the
// openssl command-line tool, as `<dir>/<name>.pem` and `<dir>/<name>.key`.
// Each call makes a new key, so two certificates never vouch for each other.
absl::StatusOr<TestCertificate> MakeSelfSignedCertificate(
    const std::filesystem::path& dir, const std::string& name = "server");

}  // namespace custra::testing

#endif  // CUSTRA_TESTS_TESTING_CERTIFICATES_H_
