#ifndef CUSTRA_SERVER_BATCH_CHECKS_H_
#define CUSTRA_SERVER_BATCH_CHECKS_H_

// Checks every ingestion write applies to its request before any row.

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace custra::server {

// INVALID_ARGUMENT on `field` above kMaxBatchRows rows.
absl::Status CheckBatchSize(int rows, absl::string_view field);

// INVALID_ARGUMENT on request_id above kMaxIdBytes.
absl::Status CheckRequestId(absl::string_view request_id);

// Sequence numbers of a stream must increase strictly: INVALID_ARGUMENT on
// sequence_number otherwise. `last` is the stream's previous one.
absl::Status CheckSequence(int64_t sequence, std::optional<int64_t>* last);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_BATCH_CHECKS_H_
