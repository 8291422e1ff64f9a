#include "common/authenticator.h"

#include <gtest/gtest.h>

#include "common/api_key.h"
#include "common/errors.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;

constexpr char kAdminKey[] = "the-admin-key-for-tests";

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteControlStore((dir_.path() / "c.db").string(), {});
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    ASSERT_TRUE(store_->CreateTenant("acme", "", absl::Now()).ok());
    ASSERT_TRUE(store_->CreateTenant("beta", "", absl::Now()).ok());
    acme_key_ = Issue("acme");
    auth_ = std::make_unique<Authenticator>(store_.get(), Sha256Hex(kAdminKey));
  }

  std::string Issue(const std::string& tenant) {
    auto key = GenerateApiKey();
    ApiKeyRecord record;
    record.id = key->id;
    record.tenant_id = tenant;
    record.hash = key->hash;
    record.create_time = absl::Now();
    EXPECT_TRUE(store_->AddApiKey(record).ok());
    return key->secret;
  }

  static std::string Bearer(const std::string& key) { return "Bearer " + key; }

  TempDir dir_;
  std::unique_ptr<ControlStore> store_;
  std::unique_ptr<Authenticator> auth_;
  std::string acme_key_;
};

TEST_F(AuthenticatorTest, TenantKeyForItsTenantIsAccepted) {
  auto principal = auth_->AuthenticateTenantCall(Bearer(acme_key_), "acme");
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->tenant_id, "acme");
  EXPECT_EQ(principal->kind, Principal::Kind::kTenant);
  EXPECT_EQ(principal->key_id, *ApiKeyIdOf(acme_key_));
}

TEST_F(AuthenticatorTest, MissingOrMalformedHeaderIsUnauthenticated) {
  for (const char* header :
       {"", "Basic abc", "Bearer ", "Bearer    ", "acme-key"}) {
    auto result = auth_->AuthenticateTenantCall(header, "acme");
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnauthenticated)) << header;
    EXPECT_EQ(ReasonOf(result.status()), "MISSING_CREDENTIALS") << header;
  }
}

TEST_F(AuthenticatorTest, UnknownKeyIsUnauthenticated) {
  auto forged = *GenerateApiKey();
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(forged.secret), "acme"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer("nonsense"), "acme"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthenticatorTest, RightIdWithWrongSecretIsUnauthenticated) {
  std::string tampered = acme_key_;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(tampered), "acme"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthenticatorTest, RevokedKeyIsUnauthenticated) {
  ASSERT_TRUE(
      store_->RevokeApiKey("acme", *ApiKeyIdOf(acme_key_), absl::Now()).ok());
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(acme_key_), "acme"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthenticatorTest, KeyOfAnotherTenantIsPermissionDenied) {
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(acme_key_), "beta"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Even for a tenant that does not exist: nothing is revealed.
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(acme_key_), "ghost"),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(AuthenticatorTest, BadTenantHeaderIsInvalidArgument) {
  for (const std::string& tenant :
       {std::string("../x"), std::string("A"), std::string(""),
        std::string(64, 'a'), std::string("\xE5\xAE\xA2\xE6\x88\xB7")}) {
    auto result = auth_->AuthenticateTenantCall(Bearer(acme_key_), tenant);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument)) << tenant;
    EXPECT_EQ(ReasonOf(result.status()), "INVALID_TENANT_ID");
  }
}

TEST_F(AuthenticatorTest, AdminKeyIsOnlyForAdminCalls) {
  EXPECT_TRUE(auth_->AuthenticateAdminCall(Bearer(kAdminKey)).ok());
  EXPECT_THAT(auth_->AuthenticateTenantCall(Bearer(kAdminKey), "acme"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(auth_->AuthenticateAdminCall(Bearer(acme_key_)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(auth_->AuthenticateAdminCall(Bearer("wrong-admin-key")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(auth_->AuthenticateAdminCall(""),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(AuthenticatorTest, EmptyAdminHashDisablesTheAdminKey) {
  Authenticator no_admin(store_.get(), "");
  EXPECT_THAT(no_admin.AuthenticateAdminCall(Bearer("")),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(no_admin.AuthenticateAdminCall(Bearer(kAdminKey)),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace custra
