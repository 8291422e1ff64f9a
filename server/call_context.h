#ifndef CUSTRA_SERVER_CALL_CONTEXT_H_
#define CUSTRA_SERVER_CALL_CONTEXT_H_

// The one place where every RPC is authenticated, held to the request size
// limit, bound to its tenant and admitted under the tenant's concurrency
// limit. Handlers call ServeTenantCall / ServeAdminCall and contain only
// their own logic.

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/authenticator.h"
#include "common/tenant_registry.h"
#include "server/request_size_limit.h"
#include "server/status_conversion.h"
#include "server/worker_pool.h"

namespace custra::server {

class Observability;

// Counts in-flight calls per tenant and refuses calls above the limit.
// Thread-safe.
class TenantConcurrencyLimiter {
 public:
  // `what` names the calls counted in the refusal ("calls", "heavy
  // calls ...").
  explicit TenantConcurrencyLimiter(int limit, std::string what = "calls")
      : limit_(limit), what_(std::move(what)) {}

  // A held slot; releasing it (destruction) lets another call in.
  class Slot {
   public:
    Slot(TenantConcurrencyLimiter* limiter, std::string tenant)
        : limiter_(limiter), tenant_(std::move(tenant)), since_(absl::Now()) {}
    Slot(Slot&& other) noexcept
        : limiter_(std::exchange(other.limiter_, nullptr)),
          tenant_(std::move(other.tenant_)),
          since_(other.since_) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (limiter_ != nullptr) limiter_->Release(tenant_, absl::Now() - since_);
    }

   private:
    TenantConcurrencyLimiter* limiter_;
    std::string tenant_;
    absl::Time since_;
  };

  // A slot, or RESOURCE_EXHAUSTED (TENANT_CONCURRENCY_LIMIT) when the
  // tenant has `limit` calls in flight for longer than `wait` (at once for
  // a zero wait). The refusal carries a retry delay (RetryInfo): about how
  // long the tenant's calls have been holding their slots lately (a moving
  // average), within [kMinRetryDelay, kMaxRetryDelay], so that a client
  // that waits as asked finds a free slot instead of spinning on refusals.
  absl::StatusOr<Slot> Acquire(absl::string_view tenant,
                               absl::Duration wait = absl::ZeroDuration())
      ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr absl::Duration kMinRetryDelay = absl::Milliseconds(10);
  static constexpr absl::Duration kMaxRetryDelay = absl::Seconds(10);

 private:
  struct Tenant {
    int in_flight = 0;
    absl::Duration mean_hold;  // Moving average; zero before the first.
  };
  void Release(absl::string_view tenant, absl::Duration held)
      ABSL_LOCKS_EXCLUDED(mu_);

  const int limit_;
  const std::string what_;
  absl::Mutex mu_;
  // Every tenant seen since start (an entry is two words and its id).
  absl::flat_hash_map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
};

// What a tenant-service handler gets: the authenticated tenant and its
// database.
struct TenantCall {
  Principal principal;
  std::shared_ptr<TenantDatabase> database;
  const std::string& tenant_id() const { return principal.tenant_id; }
};

// Authenticates calls from their metadata. Thread-safe.
class CallGate {
 public:
  // `heavy_concurrency`: calls in flight per tenant that run whole-tenant
  // computations (segmentation runs, scoring, model fits), so that one
  // tenant cannot take every core from the others; 0: no such limit.
  CallGate(const Authenticator* authenticator, TenantRegistry* registry,
           int tenant_concurrency, int heavy_concurrency = 0)
      : authenticator_(authenticator),
        registry_(registry),
        limiter_(tenant_concurrency),
        heavy_limited_(heavy_concurrency > 0),
        heavy_limiter_(heavy_concurrency,
                       "heavy calls (segmentation runs, scoring, model fits)") {
  }

  // What a call costs. A read runs at normal priority (ServeTenantRead:
  // on the read pool). A write runs on the write pool and a heavy call on
  // the heavy pool, both at lower priority and on few threads (see
  // server/worker_pool.h); a heavy call also takes one of the tenant's
  // heavy slots first.
  enum class Weight { kRead, kWrite, kHeavy };

  // An admitted tenant call: the tenant and its database, and the
  // concurrency slots it holds until destroyed.
  struct Admission {
    TenantCall call;
    TenantConcurrencyLimiter::Slot slot;
    std::optional<TenantConcurrencyLimiter::Slot> heavy_slot;
  };

  // Authenticates a tenant call, applies the request size limit and the
  // tenant's concurrency limits (a heavy call may wait for its slot) and
  // opens the tenant's database.
  absl::StatusOr<Admission> AdmitTenantCall(
      const grpc::ServerContextBase& context, Weight weight = Weight::kWrite);

  // Runs `handler(TenantCall&) -> absl::Status` for an authenticated
  // tenant call and returns its wire status.
  template <typename Handler>
  grpc::Status ServeTenantCall(const grpc::ServerContextBase& context,
                               Handler&& handler,
                               Weight weight = Weight::kWrite) {
    absl::StatusOr<Admission> admission = AdmitTenantCall(context, weight);
    if (!admission.ok()) return ToGrpcStatus(admission.status());
    WorkerPool* pool = weight == Weight::kRead    ? nullptr
                       : weight == Weight::kHeavy ? heavy_
                                                  : writes_;
    if (pool == nullptr) return ToGrpcStatus(handler(admission->call));
    absl::Status status;
    pool->Run(admission->call.tenant_id(),
              [&] { status = handler(admission->call); });
    return ToGrpcStatus(status);
  }

  // Serves a unary read through gRPC's callback API: admission and
  // `handler` run on the read pool (normal priority; never on gRPC's own
  // threads, which must not block), and the reactor finishes there. Without
  // a read pool, runs them at once. `handler` runs after this returns, so
  // it must capture by value: the request and response live until the
  // reactor finishes.
  template <typename Handler>
  grpc::ServerUnaryReactor* ServeTenantRead(
      grpc::CallbackServerContext* context, Handler handler) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto serve = [this, context, reactor,
                  handler = std::move(handler)]() mutable {
      reactor->Finish(ServeTenantCall(*context, handler, Weight::kRead));
    };
    if (reads_ == nullptr) {
      serve();
    } else {
      // Queued by the tenant the call names (checked once it runs).
      reads_->Post(Header(*context, "x-tenant-id"), std::move(serve));
    }
    return reactor;
  }

  // Runs `handler() -> absl::Status` for a call with the admin key.
  // `request_tenant` is the tenant the request names (empty if none); if
  // the call also carries x-tenant-id, the two must agree.
  template <typename Handler>
  grpc::Status ServeAdminCall(const grpc::ServerContextBase& context,
                              absl::string_view request_tenant,
                              Handler&& handler) {
    absl::Status admitted = AdmitAdmin(context, request_tenant);
    if (admitted.ok()) admitted = RequestSizeRefusal(context);
    if (!admitted.ok()) return ToGrpcStatus(admitted);
    return ToGrpcStatus(handler());
  }

  // How long a heavy call may wait for its tenant's heavy slot: up to its
  // deadline, at most kMaxHeavyWait.
  static absl::Duration HeavyWait(const grpc::ServerContextBase& context);
  static constexpr absl::Duration kMaxHeavyWait = absl::Seconds(30);

  // Checks the tenant an admin request names (if any) and the call's
  // x-tenant-id header (if any): each must be a valid id, and they must
  // agree. For requests that name their tenant only once the call has
  // started (a restore upload).
  static absl::Status CheckAdminTenant(const grpc::ServerContextBase& context,
                                       absl::string_view request_tenant);

  // Enforces --max-message-bytes with details: a unary call whose request
  // is above the limit is refused before its handler runs. Null: no check
  // (gRPC's own limit applies).
  void set_request_size_limit(const RequestSizeLimit* limit) {
    request_size_limit_ = limit;
  }
  // The size refusal of `context`'s call (see RequestSizeLimit), or OK. A
  // streaming handler calls it after each message it reads.
  absl::Status RequestSizeRefusal(
      const grpc::ServerContextBase& context) const {
    return request_size_limit_ == nullptr
               ? absl::OkStatus()
               : request_size_limit_->RefusalFor(context);
  }

  // Where unary reads, writes and heavy calls run (null: on the gRPC
  // thread).
  void set_reads(WorkerPool* reads) { reads_ = reads; }
  void set_writes(WorkerPool* writes) { writes_ = writes; }
  void set_heavy(WorkerPool* heavy) { heavy_ = heavy; }
  // How much lower the priority of writes is (for work with threads of its
  // own, such as an import stream's stages).
  BackgroundPriority write_priority() const {
    return writes_ == nullptr ? BackgroundPriority{} : writes_->priority();
  }

  // Where services report what only they know (rows written, fit times);
  // null when the server runs without observability.
  void set_observability(Observability* observability) {
    observability_ = observability;
  }
  Observability* observability() const { return observability_; }
  // Counts rows a tenant call wrote (for the metrics); no-op without
  // observability.
  void CountRows(const TenantCall& call, int64_t rows) const;

  // The value of a request header, or empty.
  static absl::string_view Header(const grpc::ServerContextBase& context,
                                  absl::string_view name);

 private:
  absl::Status AdmitAdmin(const grpc::ServerContextBase& context,
                          absl::string_view request_tenant);

  const Authenticator* authenticator_;
  TenantRegistry* registry_;
  TenantConcurrencyLimiter limiter_;
  const bool heavy_limited_;
  TenantConcurrencyLimiter heavy_limiter_;
  Observability* observability_ = nullptr;
  WorkerPool* reads_ = nullptr;
  WorkerPool* writes_ = nullptr;
  WorkerPool* heavy_ = nullptr;
  const RequestSizeLimit* request_size_limit_ = nullptr;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_CALL_CONTEXT_H_
