#ifndef CUSTRA_SERVER_PROTO_CONVERT_H_
#define CUSTRA_SERVER_PROTO_CONVERT_H_

// Conversions between common's plain types and protobuf messages.

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace custra::server {

inline void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1'000'000;
  int64_t remainder = micros % 1'000'000;
  if (remainder < 0) {
    remainder += 1'000'000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(remainder * 1000));
}

inline absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace custra::server

#endif  // CUSTRA_SERVER_PROTO_CONVERT_H_
