#ifndef CUSTRA_SERVER_SEGMENTATION_CONVERT_H_
#define CUSTRA_SERVER_SEGMENTATION_CONVERT_H_

// Conversions between custra.v1 segmentation messages and the plain structs
// of common/segmentation_models.h: parameters in (with defaults filled back
// into the proto, so a stored run records what was applied) and members out.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/segmentation_models.h"
#include "custra/v1/common.pb.h"
#include "custra/v1/segmentation.pb.h"

namespace custra::server {

// Day number (days since 1970-01-01) of a Date; INVALID_ARGUMENT naming
// `field` when it is not a real calendar date.
absl::StatusOr<int64_t> DayOf(const v1::Date& date, absl::string_view field);
void ToDate(int64_t day, v1::Date* out);
// Today's day number (UTC).
int64_t Today();

void ToMoney(int64_t micros, absl::string_view currency, v1::Money* out);

// The parameters of a run, checked, with every default filled into `params`.
// Field paths start with "parameters.".
absl::StatusOr<AbcParams> AbcFromProto(v1::AbcParameters& params);
absl::StatusOr<std::vector<RfmRule>> RfmFromProto(v1::RfmParameters& params);
absl::StatusOr<ValueMatrixParams> ValueMatrixFromProto(
    v1::ValueMatrixParameters& params);
absl::StatusOr<LifecycleParams> LifecycleFromProto(
    v1::LifecycleParameters& params);
absl::StatusOr<std::vector<int>> ManKindsFromProto(v1::ManParameters& params);

// The segments of a stored run (index = SegmentMember::segment).
struct RunContext {
  SegmentationModelKind model = SegmentationModelKind::kAbc;
  std::string currency;
  int64_t as_of_day = 0;
  const v1::SegmentationRun* run = nullptr;
  // Lifecycle runs: the parameters the explanations quote, converted once
  // per call rather than once per member.
  std::optional<LifecycleParams> lifecycle;
};

// A member as the API shows it.
void ToProto(const SegmentMember& member, const RunContext& context,
             v1::SegmentMember* out);

// Fills `out` with the summary of the members' segments.
void AddSegmentSummaries(std::span<const SegmentMember> members,
                         std::span<const SegmentInfo> segments,
                         absl::string_view currency, v1::SegmentationRun* out);

void ToProto(const SegmentTotals& totals, absl::string_view name,
             absl::string_view description, absl::string_view currency,
             v1::SegmentSummary* out);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_SEGMENTATION_CONVERT_H_
