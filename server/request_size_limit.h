#ifndef CUSTRA_SERVER_REQUEST_SIZE_LIMIT_H_
#define CUSTRA_SERVER_REQUEST_SIZE_LIMIT_H_

// --max-message-bytes, enforced by custra rather than by gRPC, so that a
// request above it gets an answer a client can act on: RESOURCE_EXHAUSTED
// (reason TOO_LARGE) saying the limit, the request's size and which field
// made it large, instead of gRPC's bare RESOURCE_EXHAUSTED.
//
// gRPC's own receive limit stays as the transport ceiling (TransportCeiling,
// twice the limit): it bounds what the server deserializes at all, and a
// message above it is still refused by gRPC, without details.
//
// A server interceptor measures each request message of custra's services
// and records a refusal for the call; the CallGate answers with it before
// the handler runs (unary calls), and stream handlers ask for it after each
// message they read.

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace custra::server {

// Thread-safe.
class RequestSizeLimit {
 public:
  // `max_bytes`: the largest request message accepted (>= 1).
  explicit RequestSizeLimit(int64_t max_bytes) : max_bytes_(max_bytes) {}
  RequestSizeLimit(const RequestSizeLimit&) = delete;
  RequestSizeLimit& operator=(const RequestSizeLimit&) = delete;

  int64_t max_bytes() const { return max_bytes_; }

  // The receive limit to give gRPC for a limit of `max_message_bytes`:
  // twice it, at most INT_MAX.
  static int TransportCeiling(int max_message_bytes);

  // OK when `bytes` (the serialized size of `request`) is within the
  // limit; else RESOURCE_EXHAUSTED with reason TOO_LARGE, metadata
  // limit_bytes, request_bytes, field and field_bytes (plus field_items and
  // items_that_fit when the field is repeated), and a field violation on
  // that field (or on "request" when no single field stands out).
  absl::Status Check(const google::protobuf::Message& request,
                     int64_t bytes) const;

  // The refusal recorded for `call`, or OK. Costs one atomic load while no
  // call is refused.
  absl::Status RefusalFor(const grpc::ServerContextBase& call) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The interceptor factory to register with the server builder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // Called by the interceptor: `call` was refused with `status` (the first
  // refusal of a call is kept), until Forget(call) when the call ends.
  void Refuse(const grpc::ServerContextBase* call, absl::Status status)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(const grpc::ServerContextBase* call) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int64_t max_bytes_;
  std::atomic<int> refused_calls_{0};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const grpc::ServerContextBase*, absl::Status> refusals_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_REQUEST_SIZE_LIMIT_H_
