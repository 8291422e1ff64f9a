#include "common/tenant_admin.h"

#include "absl/strings/str_cat.h"
#include "common/api_key.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"

namespace custra {
namespace {

constexpr size_t kMaxDisplayName = 200;

absl::Status ValidateDisplayName(absl::string_view name) {
  if (name.size() > kMaxDisplayName) {
    return InvalidFieldError("display_name", "must be at most 200 bytes long");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TenantRecord> TenantAdmin::CreateTenant(
    absl::string_view id, absl::string_view display_name) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  CUSTRA_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  absl::MutexLock lock(&lifecycle_mu_);
  if (control_->GetTenant(id).ok()) {
    return WithReason(absl::AlreadyExistsError(
                          absl::StrCat("tenant ", id, " already exists")),
                      reason::kTenantExists);
  }
  // A database file without a control record is left over from a crash
  // between the two steps below (or a failed delete): reuse it rather than
  // fail, since nobody can reach it.
  absl::Status created = registry_->Create(id);
  if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
  absl::StatusOr<TenantRecord> record =
      control_->CreateTenant(id, display_name, now_());
  if (!record.ok() && created.ok()) registry_->Remove(id).IgnoreError();
  return record;
}

absl::StatusOr<TenantRecord> TenantAdmin::GetTenant(
    absl::string_view id) const {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  return control_->GetTenant(id);
}

absl::Status TenantAdmin::DeleteTenant(absl::string_view id) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  absl::MutexLock lock(&lifecycle_mu_);
  CUSTRA_RETURN_IF_ERROR(control_->DeleteTenant(id));
  absl::Status removed = registry_->Remove(id);
  if (absl::IsNotFound(removed)) return absl::OkStatus();
  return removed;
}

absl::StatusOr<TenantAdmin::IssuedKey> TenantAdmin::IssueApiKey(
    absl::string_view tenant_id, absl::string_view display_name) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  CUSTRA_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  CUSTRA_ASSIGN_OR_RETURN(GeneratedApiKey generated, GenerateApiKey());
  IssuedKey issued;
  issued.key.id = generated.id;
  issued.key.tenant_id = std::string(tenant_id);
  issued.key.display_name = std::string(display_name);
  issued.key.hash = generated.hash;
  issued.key.create_time = now_();
  issued.secret = std::move(generated.secret);
  CUSTRA_RETURN_IF_ERROR(control_->AddApiKey(issued.key));
  return issued;
}

absl::StatusOr<std::vector<ApiKeyRecord>> TenantAdmin::ListApiKeys(
    absl::string_view tenant_id) const {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  CUSTRA_RETURN_IF_ERROR(control_->GetTenant(tenant_id).status());
  return control_->ListApiKeys(tenant_id);
}

absl::StatusOr<ApiKeyRecord> TenantAdmin::RevokeApiKey(
    absl::string_view tenant_id, absl::string_view key_id) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(tenant_id));
  if (key_id.empty()) return InvalidFieldError("api_key_id", "is required");
  return control_->RevokeApiKey(tenant_id, key_id, now_());
}

absl::StatusOr<TenantRecord> TenantAdmin::RestoreTenant(
    absl::string_view id, const std::filesystem::path& backup) {
  CUSTRA_RETURN_IF_ERROR(ValidateTenantId(id));
  absl::MutexLock lock(&lifecycle_mu_);
  CUSTRA_RETURN_IF_ERROR(registry_->Restore(id, backup));
  absl::StatusOr<TenantRecord> record = control_->GetTenant(id);
  if (absl::IsNotFound(record.status())) {
    return control_->CreateTenant(id, "", now_());
  }
  return record;
}

}  // namespace custra
