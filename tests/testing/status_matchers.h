#ifndef CUSTRA_TESTS_TESTING_STATUS_MATCHERS_H_
#define CUSTRA_TESTS_TESTING_STATUS_MATCHERS_H_

// gMock matchers for absl::Status / absl::StatusOr, which Abseil 20220623
// does not ship.

#include <gmock/gmock.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace custra::testing {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs(code) / StatusIs(code, message_matcher) for Status or StatusOr.
MATCHER_P(StatusIs, code,
          std::string("has status code ") +
              absl::StatusCodeToString(static_cast<absl::StatusCode>(code))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

}  // namespace custra::testing

#define CUSTRA_ASSERT_OK(expr) ASSERT_THAT((expr), ::custra::testing::IsOk())
#define CUSTRA_EXPECT_OK(expr) EXPECT_THAT((expr), ::custra::testing::IsOk())

#endif  // CUSTRA_TESTS_TESTING_STATUS_MATCHERS_H_
