#include "server/tenant_admin_service.h"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/api_key.h"
#include "common/errors.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "server/proto_convert.h"
#include "server/shard_peers.h"

namespace custra::server {
namespace {

namespace fs = std::filesystem;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kBackupChunkBytes = 1 << 20;
constexpr absl::string_view kTenantPageTokenPrefix = "tenants-after:";

// A file in the scratch directory, removed when the object goes away.
class ScratchFile {
 public:
  ScratchFile(const fs::path& dir, absl::string_view stem)
      : path_(dir /
              absl::StrCat(stem, "-", absl::ToUnixNanos(absl::Now()), ".db")) {}
  ~ScratchFile() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(fs::path(path_.string() + suffix), ec);
    }
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void ToApiKey(const ApiKeyRecord& record, v1::ApiKey* out) {
  out->set_id(record.id);
  out->set_tenant_id(record.tenant_id);
  out->set_display_name(record.display_name);
  ToTimestamp(record.create_time, out->mutable_create_time());
  if (record.revoke_time) {
    ToTimestamp(*record.revoke_time, out->mutable_revoke_time());
  }
}

absl::StatusOr<std::string> DecodeTenantPageToken(absl::string_view token) {
  std::string decoded;
  absl::string_view after;
  if (!absl::WebSafeBase64Unescape(token, &decoded) ||
      !absl::StartsWith(decoded, kTenantPageTokenPrefix) ||
      !IsValidTenantId(after = absl::string_view(decoded).substr(
                           kTenantPageTokenPrefix.size()))) {
    return WithReason(
        InvalidFieldError("page_token", "is not a token from ListTenants"),
        reason::kInvalidPageToken);
  }
  return std::string(after);
}

}  // namespace

absl::Status TenantAdminServiceImpl::FillTenant(const TenantRecord& record,
                                                v1::Tenant* out) {
  out->set_id(record.id);
  out->set_display_name(record.display_name);
  ToTimestamp(record.create_time, out->mutable_create_time());
  CUSTRA_ASSIGN_OR_RETURN(TenantRegistry::Stats stats,
                          registry_->GetStats(record.id));
  out->set_database_size_bytes(stats.size_bytes);
  out->set_schema_version(stats.schema_version);
  return absl::OkStatus();
}

grpc::Status TenantAdminServiceImpl::CreateTenant(
    grpc::ServerContext* context, const v1::CreateTenantRequest* request,
    v1::CreateTenantResponse* response) {
  return gate_->ServeAdminCall(*context, request->tenant_id(), [&] {
    CUSTRA_ASSIGN_OR_RETURN(
        TenantRecord record,
        admin_->CreateTenant(request->tenant_id(), request->display_name()));
    return FillTenant(record, response->mutable_tenant());
  });
}

grpc::Status TenantAdminServiceImpl::GetTenant(
    grpc::ServerContext* context, const v1::GetTenantRequest* request,
    v1::GetTenantResponse* response) {
  return gate_->ServeAdminCall(*context, request->tenant_id(), [&] {
    CUSTRA_ASSIGN_OR_RETURN(TenantRecord record,
                            admin_->GetTenant(request->tenant_id()));
    return FillTenant(record, response->mutable_tenant());
  });
}

grpc::Status TenantAdminServiceImpl::ListTenants(
    grpc::ServerContext* context, const v1::ListTenantsRequest* request,
    v1::ListTenantsResponse* response) {
  return gate_->ServeAdminCall(*context, "", [&]() -> absl::Status {
    // Tells a server that lists itself among its peers that it asked itself.
    context->AddInitialMetadata(std::string(ShardPeers::kServerIdHeader),
                                ShardPeers::ThisServerId());
    if (request->page_size() < 0) {
      return InvalidFieldError("page_size", "must not be negative");
    }
    const int page_size = request->page_size() == 0
                              ? kDefaultPageSize
                              : std::min(request->page_size(), kMaxPageSize);
    std::string after;
    if (!request->page_token().empty()) {
      CUSTRA_ASSIGN_OR_RETURN(after,
                              DecodeTenantPageToken(request->page_token()));
    }
    // One extra row tells whether another page follows.
    const std::vector<TenantRecord> local =
        admin_->ListTenants(after, page_size + 1);
    std::vector<v1::Tenant> remote;
    bool more = false;
    if (peers_ != nullptr &&
        CallGate::Header(*context, ShardPeers::kScopeHeader) !=
            ShardPeers::kLocalScope) {
      // Each shard's first page after the token holds every tenant of the
      // merged page: the page is the first page_size ids of the union.
      CUSTRA_ASSIGN_OR_RETURN(
          ShardPeers::Page page,
          peers_->ListTenants(CallGate::Header(*context, "authorization"),
                              request->page_token(), page_size,
                              absl::FromChrono(context->deadline())));
      more = page.more;
      remote = std::move(page.tenants);
      std::sort(remote.begin(), remote.end(),
                [](const v1::Tenant& a, const v1::Tenant& b) {
                  return a.id() < b.id();
                });
    }
    // Merges the two id-ordered lists; only the local tenants on the page
    // are filled in (each opens its database). A tenant on two shards was
    // created past the proxy: it is listed once, this shard's copy first.
    size_t l = 0, r = 0;
    auto skip_listed = [&] {
      const int n = response->tenants_size();
      if (n == 0) return;
      const std::string& last = response->tenants(n - 1).id();
      while (l < local.size() && local[l].id == last) ++l;
      while (r < remote.size() && remote[r].id() == last) ++r;
    };
    while (response->tenants_size() < page_size &&
           (l < local.size() || r < remote.size())) {
      if (r == remote.size() ||
          (l < local.size() && local[l].id <= remote[r].id())) {
        CUSTRA_RETURN_IF_ERROR(FillTenant(local[l++], response->add_tenants()));
      } else {
        *response->add_tenants() = std::move(remote[r++]);
      }
      skip_listed();
    }
    more = more || l < local.size() || r < remote.size();
    if (more && response->tenants_size() > 0) {
      response->set_next_page_token(absl::WebSafeBase64Escape(
          absl::StrCat(kTenantPageTokenPrefix,
                       response->tenants(response->tenants_size() - 1).id())));
    }
    return absl::OkStatus();
  });
}

grpc::Status TenantAdminServiceImpl::DeleteTenant(
    grpc::ServerContext* context, const v1::DeleteTenantRequest* request,
    v1::DeleteTenantResponse*) {
  return gate_->ServeAdminCall(*context, request->tenant_id(), [&] {
    return admin_->DeleteTenant(request->tenant_id());
  });
}

grpc::Status TenantAdminServiceImpl::IssueApiKey(
    grpc::ServerContext* context, const v1::IssueApiKeyRequest* request,
    v1::IssueApiKeyResponse* response) {
  return gate_->ServeAdminCall(
      *context, request->tenant_id(), [&]() -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            TenantAdmin::IssuedKey issued,
            admin_->IssueApiKey(request->tenant_id(), request->display_name()));
        ToApiKey(issued.key, response->mutable_api_key());
        response->set_secret(std::move(issued.secret));
        return absl::OkStatus();
      });
}

grpc::Status TenantAdminServiceImpl::ListApiKeys(
    grpc::ServerContext* context, const v1::ListApiKeysRequest* request,
    v1::ListApiKeysResponse* response) {
  return gate_->ServeAdminCall(
      *context, request->tenant_id(), [&]() -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(std::vector<ApiKeyRecord> keys,
                                admin_->ListApiKeys(request->tenant_id()));
        for (const ApiKeyRecord& key : keys)
          ToApiKey(key, response->add_api_keys());
        return absl::OkStatus();
      });
}

grpc::Status TenantAdminServiceImpl::RevokeApiKey(
    grpc::ServerContext* context, const v1::RevokeApiKeyRequest* request,
    v1::RevokeApiKeyResponse* response) {
  return gate_->ServeAdminCall(
      *context, request->tenant_id(), [&]() -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            ApiKeyRecord key,
            admin_->RevokeApiKey(request->tenant_id(), request->api_key_id()));
        ToApiKey(key, response->mutable_api_key());
        return absl::OkStatus();
      });
}

grpc::Status TenantAdminServiceImpl::BackupTenant(
    grpc::ServerContext* context, const v1::BackupTenantRequest* request,
    grpc::ServerWriter<v1::BackupTenantResponse>* writer) {
  return gate_->ServeAdminCall(*context, request->tenant_id(),
                               [&] { return StreamBackup(*request, writer); });
}

absl::Status TenantAdminServiceImpl::StreamBackup(
    const v1::BackupTenantRequest& request,
    grpc::ServerWriter<v1::BackupTenantResponse>* writer) {
  CUSTRA_RETURN_IF_ERROR(admin_->GetTenant(request.tenant_id()).status());
  ScratchFile scratch(scratch_dir_,
                      absl::StrCat("backup-", request.tenant_id()));
  CUSTRA_ASSIGN_OR_RETURN(
      int64_t total, registry_->Backup(request.tenant_id(), scratch.path()));
  std::ifstream in(scratch.path(), std::ios::binary);
  if (!in) return absl::InternalError("cannot read the staged backup");
  Sha256 hash;
  std::string buffer(kBackupChunkBytes, '\0');
  bool first = true;
  int64_t sent = 0;
  while (sent < total || first) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0 && !first) {
      return absl::InternalError("the staged backup ended early");
    }
    v1::BackupTenantResponse chunk;
    chunk.set_chunk(buffer.data(), static_cast<size_t>(got));
    hash.Update(chunk.chunk());
    sent += got;
    if (first) chunk.set_total_bytes(total);
    if (sent >= total) chunk.set_sha256(hash.HexDigest());
    first = false;
    if (!writer->Write(chunk)) {
      return absl::CancelledError("the client went away during the backup");
    }
  }
  return absl::OkStatus();
}

grpc::Status TenantAdminServiceImpl::RestoreTenant(
    grpc::ServerContext* context,
    grpc::ServerReader<v1::RestoreTenantRequest>* reader,
    v1::RestoreTenantResponse* response) {
  // The tenant is named in the stream, not known before reading it; the
  // header check against it happens in ReceiveRestore.
  return gate_->ServeAdminCall(
      *context, "", [&] { return ReceiveRestore(*context, reader, response); });
}

absl::Status TenantAdminServiceImpl::ReceiveRestore(
    const grpc::ServerContext& context,
    grpc::ServerReader<v1::RestoreTenantRequest>* reader,
    v1::RestoreTenantResponse* response) {
  v1::RestoreTenantRequest message;
  std::string tenant_id;
  std::string expected_sha256;
  std::unique_ptr<ScratchFile> scratch;
  std::ofstream out;
  Sha256 hash;
  int64_t received = 0;
  while (reader->Read(&message)) {
    CUSTRA_RETURN_IF_ERROR(gate_->RequestSizeRefusal(context));
    if (tenant_id.empty()) {
      tenant_id = message.tenant_id();
      CUSTRA_RETURN_IF_ERROR(ValidateTenantId(tenant_id));
      CUSTRA_RETURN_IF_ERROR(CallGate::CheckAdminTenant(context, tenant_id));
      scratch = std::make_unique<ScratchFile>(
          scratch_dir_, absl::StrCat("restore-", tenant_id));
      out.open(scratch->path(), std::ios::binary | std::ios::trunc);
      if (!out) return absl::InternalError("cannot stage the upload");
    } else if (!message.tenant_id().empty() &&
               message.tenant_id() != tenant_id) {
      return InvalidFieldError("tenant_id",
                               "must be the same in every message");
    }
    if (!message.sha256().empty()) expected_sha256 = message.sha256();
    hash.Update(message.chunk());
    out.write(message.chunk().data(),
              static_cast<std::streamsize>(message.chunk().size()));
    received += static_cast<int64_t>(message.chunk().size());
  }
  if (tenant_id.empty()) {
    return InvalidFieldError("tenant_id", "is required on the first message");
  }
  out.close();
  if (!out) return absl::InternalError("cannot write the staged upload");
  if (received == 0) return InvalidFieldError("chunk", "the upload is empty");
  if (!expected_sha256.empty() &&
      !ConstantTimeEquals(hash.HexDigest(), expected_sha256)) {
    return InvalidFieldError("sha256",
                             "does not match the uploaded bytes; the upload "
                             "was damaged or incomplete");
  }
  CUSTRA_ASSIGN_OR_RETURN(TenantRecord record,
                          admin_->RestoreTenant(tenant_id, scratch->path()));
  response->set_restored_bytes(received);
  return FillTenant(record, response->mutable_tenant());
}

}  // namespace custra::server
