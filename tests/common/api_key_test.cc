#include "common/api_key.h"

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"

namespace custra {
namespace {

TEST(ApiKeyTest, Sha256MatchesPublishedTestVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyTest, IncrementalHashEqualsOneShot) {
  Sha256 hash;
  hash.Update("a");
  hash.Update("bc");
  EXPECT_EQ(hash.HexDigest(), Sha256Hex("abc"));
}

TEST(ApiKeyTest, GeneratedKeyHasIdInsideSecretAndHashOfSecret) {
  absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(absl::StartsWith(key->id, "k_"));
  EXPECT_EQ(key->id.size(), 14u);
  EXPECT_TRUE(absl::StartsWith(key->secret, "ck_"));
  EXPECT_EQ(key->secret.size(), 3u + 12 + 1 + 43);
  EXPECT_EQ(ApiKeyIdOf(key->secret), key->id);
  EXPECT_EQ(key->hash, Sha256Hex(key->secret));
  EXPECT_EQ(key->secret.find(key->hash), std::string::npos);
}

TEST(ApiKeyTest, GeneratedKeysAreDistinct) {
  absl::flat_hash_set<std::string> secrets;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<GeneratedApiKey> key = GenerateApiKey();
    ASSERT_TRUE(key.ok());
    EXPECT_TRUE(secrets.insert(key->secret).second);
  }
}

TEST(ApiKeyTest, ApiKeyIdOfRejectsMalformedSecrets) {
  EXPECT_EQ(ApiKeyIdOf(""), std::nullopt);
  EXPECT_EQ(ApiKeyIdOf("Bearer x"), std::nullopt);
  EXPECT_EQ(ApiKeyIdOf("ck_short_abc"), std::nullopt);
  // Upper-case hex in the id part is not a key we issued.
  EXPECT_EQ(ApiKeyIdOf("ck_ABCDEF012345_" + std::string(43, 'a')),
            std::nullopt);
  EXPECT_EQ(ApiKeyIdOf("ck_abcdef012345_" + std::string(43, 'a')),
            "k_abcdef012345");
}

TEST(ApiKeyTest, ConstantTimeEqualsComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace custra
