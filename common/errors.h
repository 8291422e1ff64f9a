#ifndef CUSTRA_COMMON_ERRORS_H_
#define CUSTRA_COMMON_ERRORS_H_

// Structured errors for the domain layer.
//
// The domain speaks absl::Status only. Two facts travel with a status as
// payloads so the server can turn them into google.rpc error details at the
// edge without the domain knowing protobuf:
//  - a machine-readable reason (the ErrorReason name in common.proto without
//    its "ERROR_REASON_" prefix, e.g. "INVALID_TENANT_ID");
//  - for INVALID_ARGUMENT, the list of field violations (field path and why);
//  - optionally, metadata: key/value facts about the error (a limit and the
//    size that exceeded it).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace custra {

// Reasons, as sent in google.rpc.ErrorInfo.reason (domain kErrorDomain).
namespace reason {
inline constexpr absl::string_view kInvalidField = "INVALID_FIELD";
inline constexpr absl::string_view kInvalidTenantId = "INVALID_TENANT_ID";
inline constexpr absl::string_view kMissingCredentials = "MISSING_CREDENTIALS";
inline constexpr absl::string_view kInvalidApiKey = "INVALID_API_KEY";
inline constexpr absl::string_view kAccessDenied = "ACCESS_DENIED";
inline constexpr absl::string_view kTenantNotFound = "TENANT_NOT_FOUND";
inline constexpr absl::string_view kTenantExists = "TENANT_EXISTS";
inline constexpr absl::string_view kNotFound = "NOT_FOUND";
inline constexpr absl::string_view kAlreadyExists = "ALREADY_EXISTS";
inline constexpr absl::string_view kTenantConcurrencyLimit =
    "TENANT_CONCURRENCY_LIMIT";
inline constexpr absl::string_view kTooLarge = "TOO_LARGE";
inline constexpr absl::string_view kFailedPrecondition = "FAILED_PRECONDITION";
inline constexpr absl::string_view kUnavailable = "UNAVAILABLE";
inline constexpr absl::string_view kInternal = "INTERNAL";
inline constexpr absl::string_view kInvalidPageToken = "INVALID_PAGE_TOKEN";
inline constexpr absl::string_view kModelFailed = "MODEL_FAILED";
}  // namespace reason

inline constexpr absl::string_view kErrorDomain = "custra.dev";

// One invalid request field: `field` is a dotted path such as
// "customers[3].id"; `description` says what is wrong in a sentence.
struct FieldViolation {
  std::string field;
  std::string description;

  friend bool operator==(const FieldViolation&,
                         const FieldViolation&) = default;
};

// Returns INVALID_ARGUMENT for one bad field, with reason INVALID_FIELD.
absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view description);

// Returns INVALID_ARGUMENT listing every violation; the message joins them.
// `violations` must not be empty.
absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations);

// Returns `status` with its reason set (replacing any earlier reason).
absl::Status WithReason(absl::Status status, absl::string_view reason);

// Returns `status` listing `violations` (replacing any earlier list), for
// codes other than INVALID_ARGUMENT whose cause is still a request field
// (a batch too large for one message).
absl::Status WithFieldViolations(absl::Status status,
                                 const std::vector<FieldViolation>& violations);

// Returns `status` with the metadata entry `key` = `value` added (sent as
// google.rpc.ErrorInfo.metadata). Keys are lower_snake_case; a key set
// twice keeps both entries, and the later one wins on the wire.
absl::Status WithMetadata(absl::Status status, absl::string_view key,
                          absl::string_view value);

// The metadata entries attached to `status`, in the order they were added.
std::vector<std::pair<std::string, std::string>> MetadataOf(
    const absl::Status& status);

// Returns `status` with a hint of how long the caller should wait before
// trying again (sent as google.rpc.RetryInfo.retry_delay), for refusals
// that pass with time, such as a concurrency limit.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// The retry delay attached to `status`, if any.
std::optional<absl::Duration> RetryDelayOf(const absl::Status& status);

// NOT_FOUND with reason NOT_FOUND: "<what> <id> does not exist".
absl::Status NotFoundFor(absl::string_view what, absl::string_view id);

// The reason attached to `status`; when none was attached, a default derived
// from the code (e.g. NOT_FOUND -> "NOT_FOUND"). Empty for OK.
std::string ReasonOf(const absl::Status& status);

// The field violations attached to `status` (empty when there are none).
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);

}  // namespace custra

#endif  // CUSTRA_COMMON_ERRORS_H_
