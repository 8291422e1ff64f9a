#include "server/call_context.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "server/observability.h"

namespace custra::server {

absl::StatusOr<TenantConcurrencyLimiter::Slot>
TenantConcurrencyLimiter::Acquire(absl::string_view tenant,
                                  absl::Duration wait) {
  // Waits (without spinning) until the tenant has a free slot or `wait` is
  // over; either way the mutex is held afterwards.
  struct Free {
    const TenantConcurrencyLimiter* limiter;
    absl::string_view tenant;
    bool operator()() const {
      auto it = limiter->tenants_.find(tenant);
      return it == limiter->tenants_.end() ||
             it->second.in_flight < limiter->limit_;
    }
  };
  const Free free{this, tenant};
  mu_.LockWhenWithTimeout(absl::Condition(&free), wait);
  Tenant& entry = tenants_[tenant];
  if (entry.in_flight >= limit_) {
    const absl::Duration delay =
        std::clamp(entry.mean_hold, kMinRetryDelay, kMaxRetryDelay);
    mu_.Unlock();
    return WithRetryDelay(
        WithReason(
            absl::ResourceExhaustedError(absl::StrCat(
                "tenant ", tenant, " already has ", limit_, " ", what_,
                " in flight (the per-tenant limit); retry after ",
                absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))),
                " (RetryInfo)")),
            reason::kTenantConcurrencyLimit),
        delay);
  }
  ++entry.in_flight;
  mu_.Unlock();
  return Slot(this, std::string(tenant));
}

void TenantConcurrencyLimiter::Release(absl::string_view tenant,
                                       absl::Duration held) {
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  Tenant& entry = it->second;
  --entry.in_flight;
  // Weight 1/8: follows a change of workload within a few dozen calls.
  entry.mean_hold = entry.mean_hold == absl::ZeroDuration()
                        ? held
                        : entry.mean_hold + (held - entry.mean_hold) / 8;
}

absl::StatusOr<CallGate::Admission> CallGate::AdmitTenantCall(
    const grpc::ServerContextBase& context, Weight weight) {
  CUSTRA_ASSIGN_OR_RETURN(
      Principal principal,
      authenticator_->AuthenticateTenantCall(Header(context, "authorization"),
                                             Header(context, "x-tenant-id")));
  CUSTRA_RETURN_IF_ERROR(RequestSizeRefusal(context));
  CUSTRA_ASSIGN_OR_RETURN(TenantConcurrencyLimiter::Slot slot,
                          limiter_.Acquire(principal.tenant_id));
  std::optional<TenantConcurrencyLimiter::Slot> heavy_slot;
  if (weight == Weight::kHeavy && heavy_limited_) {
    // Heavy calls queue (a waiting thread costs no CPU; refusing and
    // retrying would), within the tenant's concurrency limit above.
    CUSTRA_ASSIGN_OR_RETURN(
        TenantConcurrencyLimiter::Slot heavy,
        heavy_limiter_.Acquire(principal.tenant_id, HeavyWait(context)));
    heavy_slot.emplace(std::move(heavy));
  }
  CUSTRA_ASSIGN_OR_RETURN(std::shared_ptr<TenantDatabase> database,
                          registry_->Get(principal.tenant_id));
  return Admission{TenantCall{std::move(principal), std::move(database)},
                   std::move(slot), std::move(heavy_slot)};
}

absl::Duration CallGate::HeavyWait(const grpc::ServerContextBase& context) {
  const absl::Duration left =
      absl::FromChrono(context.deadline()) - absl::Now();
  return std::clamp(left, absl::ZeroDuration(), kMaxHeavyWait);
}

absl::string_view CallGate::Header(const grpc::ServerContextBase& context,
                                   absl::string_view name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(name.data(), name.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

absl::Status CallGate::AdmitAdmin(const grpc::ServerContextBase& context,
                                  absl::string_view request_tenant) {
  CUSTRA_RETURN_IF_ERROR(
      authenticator_->AuthenticateAdminCall(Header(context, "authorization"))
          .status());
  return CheckAdminTenant(context, request_tenant);
}

absl::Status CallGate::CheckAdminTenant(const grpc::ServerContextBase& context,
                                        absl::string_view request_tenant) {
  if (!request_tenant.empty()) {
    CUSTRA_RETURN_IF_ERROR(ValidateTenantId(request_tenant, "tenant_id"));
  }
  const absl::string_view tenant_header = Header(context, "x-tenant-id");
  if (!tenant_header.empty()) {
    CUSTRA_RETURN_IF_ERROR(ValidateTenantId(tenant_header, "x-tenant-id"));
  }
  if (!tenant_header.empty() && !request_tenant.empty() &&
      tenant_header != request_tenant) {
    return InvalidFieldError(
        "tenant_id",
        absl::StrCat("names tenant ", request_tenant,
                     " but the x-tenant-id header says ", tenant_header));
  }
  return absl::OkStatus();
}

void CallGate::CountRows(const TenantCall& call, int64_t rows) const {
  if (observability_ != nullptr)
    observability_->AddRows(call.tenant_id(), rows);
}

}  // namespace custra::server
