#ifndef CUSTRA_SERVER_BATCH_CHECKS_H_
#define CUSTRA_SERVER_BATCH_CHECKS_H_

// Checks every ingestion write applies to its request before any row.

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace custra::server {

// A transaction write (a unary call, or one batch of an import stream) of
// at most this many rows folds the log before it is acknowledged: a few
// milliseconds at most, and later reads then find the tenant's connection
// free instead of waiting behind the writes queued on it to fold. Larger
// batches (bulk imports) leave the fold to the first read or to a quiet
// second, so that the import itself runs at full speed.
constexpr size_t kEagerFoldRows = 1000;

// INVALID_ARGUMENT on `field` above kMaxBatchRows rows.
absl::Status CheckBatchSize(int rows, absl::string_view field);

// INVALID_ARGUMENT on request_id above kMaxIdBytes.
absl::Status CheckRequestId(absl::string_view request_id);

// Sequence numbers of a stream must increase strictly: INVALID_ARGUMENT on
// sequence_number otherwise. `last` is the stream's previous one.
absl::Status CheckSequence(int64_t sequence, std::optional<int64_t>* last);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_BATCH_CHECKS_H_
