#include "common/api_key.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace custra {
namespace {

constexpr absl::string_view kSecretPrefix = "ck_";
constexpr absl::string_view kIdPrefix = "k_";
constexpr size_t kIdHexDigits = 12;
constexpr size_t kSecretRandomBytes = 32;
constexpr size_t kSecretEncodedLength = 43;  // base64url of 32 bytes, no pad.

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<GeneratedApiKey> GenerateApiKey() {
  std::array<unsigned char, kIdHexDigits / 2 + kSecretRandomBytes> random;
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return absl::InternalError("the system random generator failed");
  }
  const absl::string_view bytes(reinterpret_cast<const char*>(random.data()),
                                random.size());
  const std::string id_hex = absl::BytesToHexString(bytes.substr(0, 6));
  GeneratedApiKey key;
  key.id = absl::StrCat(kIdPrefix, id_hex);
  key.secret = absl::StrCat(kSecretPrefix, id_hex, "_",
                            absl::WebSafeBase64Escape(bytes.substr(6)));
  key.hash = Sha256Hex(key.secret);
  return key;
}

std::optional<std::string> ApiKeyIdOf(absl::string_view secret) {
  if (!absl::StartsWith(secret, kSecretPrefix)) return std::nullopt;
  secret.remove_prefix(kSecretPrefix.size());
  if (secret.size() != kIdHexDigits + 1 + kSecretEncodedLength ||
      secret[kIdHexDigits] != '_' ||
      !IsLowerHex(secret.substr(0, kIdHexDigits))) {
    return std::nullopt;
  }
  return absl::StrCat(kIdPrefix, secret.substr(0, kIdHexDigits));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace custra
