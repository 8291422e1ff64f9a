#ifndef CUSTRA_SERVER_STATUS_CONVERSION_H_
#define CUSTRA_SERVER_STATUS_CONVERSION_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace custra::server {

// Converts a domain status into the status sent on the wire, once, at the
// edge. The code and message carry over; the details (the
// grpc-status-details-bin trailer) hold a google.rpc.Status with a
// google.rpc.ErrorInfo (domain "custra.dev", the status's reason and
// metadata) and, when the status lists field violations, a
// google.rpc.BadRequest.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace custra::server

#endif  // CUSTRA_SERVER_STATUS_CONVERSION_H_
