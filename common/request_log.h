#ifndef CUSTRA_COMMON_REQUEST_LOG_H_
#define CUSTRA_COMMON_REQUEST_LOG_H_

// The tenant's log of idempotent writes (AIP-155 request ids): table
// ingest_requests, keyed by (kind, request_id), holding a fingerprint of
// what was asked and the encoded result. Use inside the write's own
// database transaction, so the result is remembered exactly when the write
// lands.

#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/sqlite_util.h"

namespace custra {

// The stored result of an earlier request with this id, nullopt for a new
// id, FAILED_PRECONDITION when the id was used with another fingerprint.
// Throws SQLite::Exception on database errors.
absl::StatusOr<std::optional<std::string>> LoadRequest(
    Connection& db, absl::string_view kind, absl::string_view request_id,
    absl::string_view fingerprint);

// Remembers the result of a request. Throws SQLite::Exception on errors.
void SaveRequest(Connection& db, absl::string_view kind,
                 absl::string_view request_id, absl::string_view fingerprint,
                 const std::string& result, absl::Time now);

}  // namespace custra

#endif  // CUSTRA_COMMON_REQUEST_LOG_H_
