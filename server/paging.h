#ifndef CUSTRA_SERVER_PAGING_H_
#define CUSTRA_SERVER_PAGING_H_

// Page sizes and page tokens of the List RPCs (AIP-158). A token carries
// its list's kind, a digest of the request fields that must not change
// between pages, and a position; anything else is INVALID_ARGUMENT with
// reason INVALID_PAGE_TOKEN.

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace custra::server {

// 0 gives `default_size`; negative is INVALID_ARGUMENT; above `max_size` is
// INVALID_ARGUMENT, or `max_size` when `clamp` (as some RPCs document).
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size,
                             bool clamp = false);

std::string EncodePageToken(absl::string_view kind, absl::string_view digest,
                            absl::string_view position);
// The position of a token made by EncodePageToken with the same kind and
// digest.
absl::StatusOr<std::string> DecodePageToken(absl::string_view kind,
                                            absl::string_view digest,
                                            absl::string_view token);

// A numeric position (an offset or a sequence number, >= 0) from a token
// made by EncodePageToken; 0 for an empty token (the first page).
absl::StatusOr<int64_t> DecodePageNumber(absl::string_view kind,
                                         absl::string_view digest,
                                         absl::string_view token);

// A short digest of request fields, for page tokens and request ids.
std::string Digest(std::initializer_list<absl::string_view> fields);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_PAGING_H_
