#include "common/errors.h"

#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace custra {
namespace {

constexpr absl::string_view kReasonUrl = "custra.dev/reason";
constexpr absl::string_view kViolationsUrl = "custra.dev/field-violations";
constexpr absl::string_view kMetadataUrl = "custra.dev/metadata";
constexpr absl::string_view kRetryDelayUrl = "custra.dev/retry-delay";

// Violations are stored as "field\x1Fdescription" records separated by
// \x1E (ASCII unit and record separators), which cannot occur in field paths;
// metadata as "key\x1Fvalue" records the same way.
constexpr char kUnitSep = '\x1F';
constexpr char kRecordSep = '\x1E';

std::string DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kInvalidArgument:
      return std::string(reason::kInvalidField);
    case absl::StatusCode::kNotFound:
      return std::string(reason::kNotFound);
    case absl::StatusCode::kAlreadyExists:
      return std::string(reason::kAlreadyExists);
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAborted:
      return std::string(reason::kFailedPrecondition);
    case absl::StatusCode::kUnauthenticated:
      return std::string(reason::kInvalidApiKey);
    case absl::StatusCode::kPermissionDenied:
      return std::string(reason::kAccessDenied);
    case absl::StatusCode::kResourceExhausted:
      return std::string(reason::kTooLarge);
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return std::string(reason::kUnavailable);
    default:
      return std::string(reason::kInternal);
  }
}

}  // namespace

absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view description) {
  return InvalidFieldsError({{std::string(field), std::string(description)}});
}

absl::Status InvalidFieldsError(const std::vector<FieldViolation>& violations) {
  std::vector<std::string> parts;
  for (const FieldViolation& v : violations) {
    parts.push_back(absl::StrCat(v.field, ": ", v.description));
  }
  return WithReason(
      WithFieldViolations(
          absl::InvalidArgumentError(absl::StrJoin(parts, "; ")), violations),
      reason::kInvalidField);
}

absl::Status WithFieldViolations(
    absl::Status status, const std::vector<FieldViolation>& violations) {
  if (status.ok()) return status;
  std::vector<std::string> records;
  for (const FieldViolation& v : violations) {
    records.push_back(
        absl::StrCat(v.field, std::string(1, kUnitSep), v.description));
  }
  status.SetPayload(kViolationsUrl, absl::Cord(absl::StrJoin(
                                        records, std::string(1, kRecordSep))));
  return status;
}

absl::Status WithMetadata(absl::Status status, absl::string_view key,
                          absl::string_view value) {
  if (status.ok()) return status;
  std::string records;
  if (auto payload = status.GetPayload(kMetadataUrl)) {
    records = std::string(*payload);
    records.push_back(kRecordSep);
  }
  absl::StrAppend(&records, key, std::string(1, kUnitSep), value);
  status.SetPayload(kMetadataUrl, absl::Cord(records));
  return status;
}

std::vector<std::pair<std::string, std::string>> MetadataOf(
    const absl::Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  auto payload = status.GetPayload(kMetadataUrl);
  if (!payload) return out;
  for (absl::string_view record :
       absl::StrSplit(std::string(*payload), kRecordSep, absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(record, absl::MaxSplits(kUnitSep, 1));
    out.emplace_back(std::string(kv.first), std::string(kv.second));
  }
  return out;
}

absl::Status WithReason(absl::Status status, absl::string_view reason) {
  if (!status.ok()) status.SetPayload(kReasonUrl, absl::Cord(reason));
  return status;
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  if (!status.ok()) {
    status.SetPayload(kRetryDelayUrl,
                      absl::Cord(absl::StrCat(absl::ToInt64Nanoseconds(
                          std::max(delay, absl::ZeroDuration())))));
  }
  return status;
}

std::optional<absl::Duration> RetryDelayOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRetryDelayUrl);
  int64_t nanos = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &nanos)) {
    return std::nullopt;
  }
  return absl::Nanoseconds(nanos);
}

std::string ReasonOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kReasonUrl)) {
    return std::string(*payload);
  }
  return DefaultReason(status.code());
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kViolationsUrl);
  if (!payload) return out;
  for (absl::string_view record :
       absl::StrSplit(std::string(*payload), kRecordSep, absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(record, absl::MaxSplits(kUnitSep, 1));
    out.push_back({std::string(kv.first), std::string(kv.second)});
  }
  return out;
}

absl::Status NotFoundFor(absl::string_view what, absl::string_view id) {
  return WithReason(
      absl::NotFoundError(absl::StrCat(what, " ", id, " does not exist")),
      reason::kNotFound);
}

}  // namespace custra
