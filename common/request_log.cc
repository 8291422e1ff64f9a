#include "common/request_log.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace custra {

absl::StatusOr<std::optional<std::string>> LoadRequest(
    Connection& db, absl::string_view kind, absl::string_view request_id,
    absl::string_view fingerprint) {
  Connection::Statement select_handle = db.Prepare(
      "SELECT fingerprint, result FROM ingest_requests "
      "WHERE kind = ? AND request_id = ?");
  SQLite::Statement& select = *select_handle;
  select.bind(1, std::string(kind));
  select.bind(2, std::string(request_id));
  if (!select.executeStep()) return std::nullopt;
  if (select.getColumn(0).getString() != fingerprint) {
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "request_id ", request_id, " was already used for a different ",
            kind, " request; use a new request id",
            kind == "transactions" ? " (an import resumed with another batch "
                                     "size needs a new --resume-id)"
                                   : "")),
        reason::kFailedPrecondition);
  }
  return std::make_optional(select.getColumn(1).getString());
}

void SaveRequest(Connection& db, absl::string_view kind,
                 absl::string_view request_id, absl::string_view fingerprint,
                 const std::string& result, absl::Time now) {
  Connection::Statement insert_handle = db.Prepare(
      "INSERT OR REPLACE INTO ingest_requests(kind, "
      "request_id, fingerprint, result, create_time_us) "
      "VALUES (?, ?, ?, ?, ?)");
  SQLite::Statement& insert = *insert_handle;
  insert.bind(1, std::string(kind));
  insert.bind(2, std::string(request_id));
  insert.bind(3, std::string(fingerprint));
  insert.bind(4, result);
  insert.bind(5, static_cast<int64_t>(absl::ToUnixMicros(now)));
  insert.exec();
}

}  // namespace custra
