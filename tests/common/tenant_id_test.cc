#include "common/tenant_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/errors.h"
#include "tests/testing/status_matchers.h"

namespace custra {
namespace {

using ::custra::testing::StatusIs;

TEST(TenantIdTest, AcceptsLowercaseLettersDigitsAndDashes) {
  for (const char* id : {"acme", "abc", "a-1", "acme-2024", "x0-y1-z2"}) {
    EXPECT_TRUE(IsValidTenantId(id)) << id;
    CUSTRA_EXPECT_OK(ValidateTenantId(id));
  }
}

TEST(TenantIdTest, AcceptsExactlySixtyThreeCharacters) {
  EXPECT_TRUE(IsValidTenantId("a" + std::string(62, 'b')));
  EXPECT_FALSE(IsValidTenantId("a" + std::string(63, 'b')));
}

TEST(TenantIdTest, RejectsPathsCaseUnicodeAndLength) {
  for (const std::string& id : std::vector<std::string>{
           "", "ab", "../x", "a/b", "A", "Acme", "acme.db", "1acme", "-acme",
           "ac me", "acme\n", "acm\xC3\xA9", std::string("ab\0c", 4),
           std::string(64, 'a'), "acme_co"}) {
    EXPECT_FALSE(IsValidTenantId(id)) << id;
    EXPECT_THAT(ValidateTenantId(id),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << id;
  }
}

TEST(TenantIdTest, ErrorNamesTheFieldAndReason) {
  absl::Status status = ValidateTenantId("../x", "x-tenant-id");
  EXPECT_EQ(ReasonOf(status), "INVALID_TENANT_ID");
  ASSERT_EQ(FieldViolationsOf(status).size(), 1u);
  EXPECT_EQ(FieldViolationsOf(status)[0].field, "x-tenant-id");
  EXPECT_EQ(FieldViolationsOf(status)[0].description,
            "must start with a lowercase letter a-z");
}

}  // namespace
}  // namespace custra
