#include "common/control_store.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

ApiKeyRecord Key(std::string id, std::string tenant, absl::Time t) {
  ApiKeyRecord key;
  key.id = std::move(id);
  key.tenant_id = std::move(tenant);
  key.hash = "00ff";
  key.create_time = t;
  return key;
}

class ControlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto store = OpenSqliteControlStore((dir_.path() / "control.db").string(),
                                        SqliteOptions{});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  TempDir dir_;
  std::unique_ptr<ControlStore> store_;
};

TEST_F(ControlStoreTest, TenantsAndKeysSurviveReopening) {
  ASSERT_TRUE(store_->CreateTenant("acme", "Acme Ltd", kT0).ok());
  CUSTRA_ASSERT_OK(store_->AddApiKey(Key("k_1", "acme", kT0)));
  ASSERT_TRUE(store_->RevokeApiKey("acme", "k_1", kT0 + absl::Hours(1)).ok());
  Reopen();
  auto tenant = store_->GetTenant("acme");
  ASSERT_TRUE(tenant.ok());
  EXPECT_EQ(tenant->display_name, "Acme Ltd");
  EXPECT_EQ(tenant->create_time, kT0);
  auto key = store_->FindApiKey("k_1");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->tenant_id, "acme");
  EXPECT_EQ(key->hash, "00ff");
  EXPECT_EQ(key->revoke_time, kT0 + absl::Hours(1));
}

TEST_F(ControlStoreTest, DuplicateTenantIsAlreadyExists) {
  ASSERT_TRUE(store_->CreateTenant("acme", "", kT0).ok());
  auto again = store_->CreateTenant("acme", "", kT0);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReasonOf(again.status()), "TENANT_EXISTS");
}

TEST_F(ControlStoreTest, ListTenantsPagesInIdOrder) {
  for (const char* id : {"delta", "alpha", "charlie", "bravo"}) {
    ASSERT_TRUE(store_->CreateTenant(id, "", kT0).ok());
  }
  auto first = store_->ListTenants("", 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, "alpha");
  EXPECT_EQ(first[1].id, "bravo");
  auto second = store_->ListTenants("bravo", 10);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].id, "charlie");
  EXPECT_EQ(second[1].id, "delta");
}

TEST_F(ControlStoreTest, DeleteTenantForgetsItsKeys) {
  ASSERT_TRUE(store_->CreateTenant("acme", "", kT0).ok());
  CUSTRA_ASSERT_OK(store_->AddApiKey(Key("k_1", "acme", kT0)));
  CUSTRA_ASSERT_OK(store_->DeleteTenant("acme"));
  EXPECT_FALSE(store_->FindApiKey("k_1").has_value());
  Reopen();
  EXPECT_FALSE(store_->FindApiKey("k_1").has_value());
  EXPECT_THAT(store_->GetTenant("acme"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->DeleteTenant("acme"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ControlStoreTest, KeyForUnknownTenantIsNotFound) {
  EXPECT_THAT(store_->AddApiKey(Key("k_1", "ghost", kT0)),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ControlStoreTest, ListApiKeysIsOldestFirstAndPerTenant) {
  ASSERT_TRUE(store_->CreateTenant("acme", "", kT0).ok());
  ASSERT_TRUE(store_->CreateTenant("beta", "", kT0).ok());
  CUSTRA_ASSERT_OK(
      store_->AddApiKey(Key("k_b", "acme", kT0 + absl::Seconds(2))));
  CUSTRA_ASSERT_OK(
      store_->AddApiKey(Key("k_a", "acme", kT0 + absl::Seconds(1))));
  CUSTRA_ASSERT_OK(store_->AddApiKey(Key("k_c", "beta", kT0)));
  auto keys = store_->ListApiKeys("acme");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].id, "k_a");
  EXPECT_EQ(keys[1].id, "k_b");
}

TEST_F(ControlStoreTest, RevokeIsIdempotentAndScopedToTenant) {
  ASSERT_TRUE(store_->CreateTenant("acme", "", kT0).ok());
  ASSERT_TRUE(store_->CreateTenant("beta", "", kT0).ok());
  CUSTRA_ASSERT_OK(store_->AddApiKey(Key("k_1", "acme", kT0)));
  EXPECT_THAT(store_->RevokeApiKey("beta", "k_1", kT0),
              StatusIs(absl::StatusCode::kNotFound));
  auto first = store_->RevokeApiKey("acme", "k_1", kT0 + absl::Hours(1));
  ASSERT_TRUE(first.ok());
  auto second = store_->RevokeApiKey("acme", "k_1", kT0 + absl::Hours(2));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->revoke_time, kT0 + absl::Hours(1));
}

}  // namespace
}  // namespace custra
