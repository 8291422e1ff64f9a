#include "common/errors.h"

#include <gtest/gtest.h>

namespace custra {
namespace {

TEST(ErrorsTest, InvalidFieldsCarriesEveryViolationAndReason) {
  absl::Status status = InvalidFieldsError(
      {{"customers[0].id", "is required"},
       {"customers[2].kind", "must be one of INDIVIDUAL, ENTERPRISE"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "customers[0].id: is required; customers[2].kind: must be one of "
            "INDIVIDUAL, ENTERPRISE");
  EXPECT_EQ(ReasonOf(status), "INVALID_FIELD");
  const std::vector<FieldViolation> expected = {
      {"customers[0].id", "is required"},
      {"customers[2].kind", "must be one of INDIVIDUAL, ENTERPRISE"}};
  EXPECT_EQ(FieldViolationsOf(status), expected);
}

TEST(ErrorsTest, ReasonDefaultsFromTheCode) {
  EXPECT_EQ(ReasonOf(absl::NotFoundError("x")), "NOT_FOUND");
  EXPECT_EQ(ReasonOf(absl::UnavailableError("x")), "UNAVAILABLE");
  EXPECT_EQ(ReasonOf(absl::InternalError("x")), "INTERNAL");
  EXPECT_EQ(ReasonOf(absl::OkStatus()), "");
}

TEST(ErrorsTest, WithReasonOverridesTheDefault) {
  absl::Status status =
      WithReason(absl::NotFoundError("no tenant"), reason::kTenantNotFound);
  EXPECT_EQ(ReasonOf(status), "TENANT_NOT_FOUND");
  EXPECT_TRUE(WithReason(absl::OkStatus(), reason::kInternal).ok());
}

TEST(ErrorsTest, PlainStatusHasNoViolations) {
  EXPECT_TRUE(FieldViolationsOf(absl::InvalidArgumentError("x")).empty());
}

TEST(ErrorsTest, MetadataAndViolationsTravelWithAnyCode) {
  absl::Status status = WithFieldViolations(
      WithMetadata(WithMetadata(absl::ResourceExhaustedError("too big"),
                                "limit_bytes", "1024"),
                   "field", "transactions"),
      {{"transactions", "take 2048 bytes"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"limit_bytes", "1024"}, {"field", "transactions"}};
  EXPECT_EQ(MetadataOf(status), expected);
  const std::vector<FieldViolation> violations = {
      {"transactions", "take 2048 bytes"}};
  EXPECT_EQ(FieldViolationsOf(status), violations);
  EXPECT_TRUE(MetadataOf(absl::NotFoundError("x")).empty());
  EXPECT_TRUE(WithMetadata(absl::OkStatus(), "k", "v").ok());
}

}  // namespace
}  // namespace custra
