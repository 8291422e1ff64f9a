#include "server/status_conversion.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace custra::server {
namespace {

google::rpc::Status Details(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details()));
  return details;
}

TEST(StatusConversionTest, OkStaysOkWithoutDetails) {
  grpc::Status status = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(status.error_details().empty());
}

TEST(StatusConversionTest, CodesAndMessagesCarryOver) {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::NotFoundError("a"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("b"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::PermissionDeniedError("c"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::UnauthenticatedError("d"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::ResourceExhaustedError("e"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::FailedPreconditionError("f"),
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::UnavailableError("g"), grpc::StatusCode::UNAVAILABLE},
      {absl::DataLossError("h"), grpc::StatusCode::DATA_LOSS},
  };
  for (const auto& [in, code] : cases) {
    grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), code);
    EXPECT_EQ(out.error_message(), in.message());
    EXPECT_EQ(Details(out).code(), static_cast<int>(code));
  }
}

TEST(StatusConversionTest, EveryErrorCarriesErrorInfo) {
  grpc::Status out = ToGrpcStatus(
      WithReason(absl::NotFoundError("no"), reason::kTenantNotFound));
  google::rpc::Status details = Details(out);
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "TENANT_NOT_FOUND");
  EXPECT_EQ(info.domain(), "custra.dev");
}

TEST(StatusConversionTest, InvalidArgumentCarriesFieldViolations) {
  grpc::Status out = ToGrpcStatus(InvalidFieldsError(
      {{"tenant_id", "is required"}, {"page_size", "must not be negative"}}));
  EXPECT_EQ(out.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status details = Details(out);
  google::rpc::BadRequest bad_request;
  bool found = false;
  for (const auto& any : details.details()) {
    if (any.UnpackTo(&bad_request)) found = true;
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(0).field(), "tenant_id");
  EXPECT_EQ(bad_request.field_violations(0).description(), "is required");
  EXPECT_EQ(bad_request.field_violations(1).field(), "page_size");
}

TEST(StatusConversionTest, MetadataGoesToErrorInfoAndViolationsToBadRequest) {
  grpc::Status out = ToGrpcStatus(WithFieldViolations(
      WithMetadata(WithReason(absl::ResourceExhaustedError("too big"),
                              reason::kTooLarge),
                   "limit_bytes", "1024"),
      {{"transactions", "take 2048 bytes"}}));
  EXPECT_EQ(out.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  google::rpc::Status details = Details(out);
  ASSERT_EQ(details.details_size(), 2);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "TOO_LARGE");
  EXPECT_EQ(info.metadata().at("limit_bytes"), "1024");
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(1).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 1);
  EXPECT_EQ(bad_request.field_violations(0).field(), "transactions");
}

TEST(StatusConversionTest, ARetryDelayGoesToRetryInfo) {
  grpc::Status out = ToGrpcStatus(
      WithRetryDelay(WithReason(absl::ResourceExhaustedError("busy"),
                                reason::kTenantConcurrencyLimit),
                     absl::Milliseconds(1500)));
  google::rpc::Status details = Details(out);
  google::rpc::RetryInfo retry;
  bool found = false;
  for (const auto& any : details.details()) {
    if (any.UnpackTo(&retry)) found = true;
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(retry.retry_delay().seconds(), 1);
  EXPECT_EQ(retry.retry_delay().nanos(), 500'000'000);
  // Without a delay, no RetryInfo.
  google::rpc::Status plain =
      Details(ToGrpcStatus(absl::ResourceExhaustedError("full")));
  for (const auto& any : plain.details()) EXPECT_FALSE(any.UnpackTo(&retry));
}

}  // namespace
}  // namespace custra::server
