#include "server/paging.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/sha256.h"

namespace custra::server {

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size,
                             bool clamp) {
  if (requested < 0) {
    return InvalidFieldError("page_size", "must not be negative");
  }
  if (requested > max_size) {
    if (clamp) return max_size;
    return InvalidFieldError("page_size",
                             absl::StrCat("must be at most ", max_size));
  }
  return requested == 0 ? default_size : requested;
}

std::string EncodePageToken(absl::string_view kind, absl::string_view digest,
                            absl::string_view position) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kind, "\x1F", digest, "\x1F", position));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view kind,
                                            absl::string_view digest,
                                            absl::string_view token) {
  std::string decoded;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &decoded)) {
    parts = absl::StrSplit(decoded, absl::MaxSplits('\x1F', 2));
  }
  if (parts.size() != 3 || parts[0] != kind || parts[1] != digest) {
    return WithReason(
        InvalidFieldError("page_token",
                          "is not a token from this list call with the same "
                          "request fields"),
        reason::kInvalidPageToken);
  }
  return parts[2];
}

absl::StatusOr<int64_t> DecodePageNumber(absl::string_view kind,
                                         absl::string_view digest,
                                         absl::string_view token) {
  if (token.empty()) return 0;
  absl::StatusOr<std::string> position = DecodePageToken(kind, digest, token);
  if (!position.ok()) return position.status();
  int64_t number = 0;
  if (!absl::SimpleAtoi(*position, &number) || number < 0) {
    return WithReason(InvalidFieldError("page_token", "is malformed"),
                      reason::kInvalidPageToken);
  }
  return number;
}

std::string Digest(std::initializer_list<absl::string_view> fields) {
  Sha256 hash;
  for (absl::string_view f : fields) {
    hash.Update(absl::StrCat(f.size(), ":"));
    hash.Update(f);
  }
  return hash.HexDigest().substr(0, 16);
}

}  // namespace custra::server
