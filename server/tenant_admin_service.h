#ifndef CUSTRA_SERVER_TENANT_ADMIN_SERVICE_H_
#define CUSTRA_SERVER_TENANT_ADMIN_SERVICE_H_

#include <filesystem>

#include "common/tenant_admin.h"
#include "common/tenant_registry.h"
#include "custra/v1/tenant_admin.grpc.pb.h"
#include "server/call_context.h"
#include "server/shard_peers.h"

namespace custra::server {

// custra.v1.TenantAdminService over TenantAdmin. Thread-safe. Backups are
// staged in `scratch_dir` (on the data volume, so large backups do not fill
// a small /tmp) and removed when the call ends. With `peers` (the other
// shards behind the same proxy), ListTenants lists theirs too, unless the
// call asks for this server's only (ShardPeers::kScopeHeader).
class TenantAdminServiceImpl final : public v1::TenantAdminService::Service {
 public:
  TenantAdminServiceImpl(CallGate* gate, TenantAdmin* admin,
                         TenantRegistry* registry,
                         std::filesystem::path scratch_dir,
                         ShardPeers* peers = nullptr)
      : gate_(gate),
        admin_(admin),
        registry_(registry),
        scratch_dir_(std::move(scratch_dir)),
        peers_(peers) {}

  grpc::Status CreateTenant(grpc::ServerContext* context,
                            const v1::CreateTenantRequest* request,
                            v1::CreateTenantResponse* response) override;
  grpc::Status GetTenant(grpc::ServerContext* context,
                         const v1::GetTenantRequest* request,
                         v1::GetTenantResponse* response) override;
  grpc::Status ListTenants(grpc::ServerContext* context,
                           const v1::ListTenantsRequest* request,
                           v1::ListTenantsResponse* response) override;
  grpc::Status DeleteTenant(grpc::ServerContext* context,
                            const v1::DeleteTenantRequest* request,
                            v1::DeleteTenantResponse* response) override;
  grpc::Status IssueApiKey(grpc::ServerContext* context,
                           const v1::IssueApiKeyRequest* request,
                           v1::IssueApiKeyResponse* response) override;
  grpc::Status ListApiKeys(grpc::ServerContext* context,
                           const v1::ListApiKeysRequest* request,
                           v1::ListApiKeysResponse* response) override;
  grpc::Status RevokeApiKey(grpc::ServerContext* context,
                            const v1::RevokeApiKeyRequest* request,
                            v1::RevokeApiKeyResponse* response) override;
  grpc::Status BackupTenant(
      grpc::ServerContext* context, const v1::BackupTenantRequest* request,
      grpc::ServerWriter<v1::BackupTenantResponse>* writer) override;
  grpc::Status RestoreTenant(
      grpc::ServerContext* context,
      grpc::ServerReader<v1::RestoreTenantRequest>* reader,
      v1::RestoreTenantResponse* response) override;

 private:
  // Fills a Tenant message from the control record and the database stats.
  absl::Status FillTenant(const TenantRecord& record, v1::Tenant* out);
  absl::Status StreamBackup(
      const v1::BackupTenantRequest& request,
      grpc::ServerWriter<v1::BackupTenantResponse>* writer);
  absl::Status ReceiveRestore(
      const grpc::ServerContext& context,
      grpc::ServerReader<v1::RestoreTenantRequest>* reader,
      v1::RestoreTenantResponse* response);

  CallGate* gate_;
  TenantAdmin* admin_;
  TenantRegistry* registry_;
  const std::filesystem::path scratch_dir_;
  ShardPeers* const peers_;  // Null: a single server (or no peers given).
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_TENANT_ADMIN_SERVICE_H_
