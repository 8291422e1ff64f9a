#include "server/batch_checks.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ingestion_validation.h"

namespace custra::server {

absl::Status CheckBatchSize(int rows, absl::string_view field) {
  if (rows > kMaxBatchRows) {
    return InvalidFieldError(
        field, absl::StrCat("has ", rows, " rows; at most ", kMaxBatchRows,
                            " per batch"));
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view request_id) {
  if (request_id.size() > kMaxIdBytes) {
    return InvalidFieldError("request_id", "must be at most 128 bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckSequence(int64_t sequence, std::optional<int64_t>* last) {
  if (last->has_value() && sequence <= **last) {
    return InvalidFieldError("sequence_number",
                             absl::StrCat("is ", sequence, " after ", **last,
                                          "; sequence numbers must increase"));
  }
  *last = sequence;
  return absl::OkStatus();
}

}  // namespace custra::server
