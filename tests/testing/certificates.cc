#include "tests/testing/certificates.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace custra::testing {

absl::StatusOr<TestCertificate> MakeSelfSignedCertificate(
    const std::filesystem::path& dir, const std::string& name) {
  TestCertificate certificate;
  certificate.cert_file = dir / (name + ".pem");
  certificate.key_file = dir / (name + ".key");
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
      " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ",
      certificate.key_file.string(), " -out ", certificate.cert_file.string(),
      " >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError("openssl could not make a certificate: " +
                               command);
  }
  std::ifstream in(certificate.cert_file);
  certificate.cert_pem.assign(std::istreambuf_iterator<char>(in), {});
  if (certificate.cert_pem.empty()) {
    return absl::InternalError("openssl wrote no certificate to " +
                               certificate.cert_file.string());
  }
  return certificate;
}

}  // namespace custra::testing
