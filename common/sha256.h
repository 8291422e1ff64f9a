#ifndef CUSTRA_COMMON_SHA256_H_
#define CUSTRA_COMMON_SHA256_H_

#include <openssl/types.h>

#include <string>

#include "absl/strings/string_view.h"

namespace custra {

// Incremental SHA-256 (OpenSSL). Not thread-safe; one hash per object.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // The lowercase hex digest of everything passed to Update. Call once.
  std::string HexDigest();

 private:
  EVP_MD_CTX* ctx_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

}  // namespace custra

#endif  // CUSTRA_COMMON_SHA256_H_
