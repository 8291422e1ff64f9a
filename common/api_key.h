#ifndef CUSTRA_COMMON_API_KEY_H_
#define CUSTRA_COMMON_API_KEY_H_

// API key secrets: generation, parsing, hashing and comparison.
//
// A tenant key looks like "ck_3f9a0c1b2d4e_<43 base64url characters>": the
// public key id, then 256 random bits. The server stores only the SHA-256 of
// the whole secret; a presented key is looked up by its id and its hash
// compared in constant time, so neither timing nor the control database
// reveals a usable key.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sha256.h"

namespace custra {

// A freshly generated key: `secret` is shown to the user once; `id` and
// `hash` are what the server keeps.
struct GeneratedApiKey {
  std::string id;      // "k_" + 12 lowercase hex digits.
  std::string secret;  // "ck_" + id without "k_" + "_" + 43 base64url chars.
  std::string hash;    // Lowercase hex SHA-256 of `secret`.
};

// Generates a key from the operating system's CSPRNG. Fails (INTERNAL) only
// if the random source fails.
absl::StatusOr<GeneratedApiKey> GenerateApiKey();

// The key id inside a presented secret, or nullopt when `secret` does not
// have the shape of a custra key (it may still be an admin key).
std::optional<std::string> ApiKeyIdOf(absl::string_view secret);

// Compares two strings in time that depends only on their lengths (which,
// for the hex digests compared here, are public and equal).
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace custra

#endif  // CUSTRA_COMMON_API_KEY_H_
