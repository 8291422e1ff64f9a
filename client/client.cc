#include "custra/client.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "custra/v1/tenant_admin.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "openssl/evp.h"

namespace custra {
namespace {

constexpr absl::string_view kStatusDetailsUrl =
    "type.googleapis.com/google.rpc.Status";
constexpr size_t kUploadChunkBytes = 1 << 20;

// Retry policy for the idempotent methods (gRPC service config, A6).
std::string RetryServiceConfig() {
  const char* kIdempotent[][2] = {
      {"custra.v1.TenantAdminService", "GetTenant"},
      {"custra.v1.TenantAdminService", "ListTenants"},
      {"custra.v1.TenantAdminService", "ListApiKeys"},
      {"grpc.health.v1.Health", "Check"},
  };
  std::vector<std::string> names;
  for (const auto& m : kIdempotent) {
    names.push_back(absl::StrCat(R"({"service":")", m[0], R"(","method":")",
                                 m[1], R"("})"));
  }
  return absl::StrCat(R"({"methodConfig":[{"name":[)",
                      absl::StrJoin(names, ","),
                      R"(],"retryPolicy":{"maxAttempts":4,)"
                      R"("initialBackoff":"0.1s","maxBackoff":"2s",)"
                      R"("backoffMultiplier":2,)"
                      R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

// gRPC aborts the process on a metadata value outside printable ASCII, so
// values are checked before they become headers.
bool IsValidHeaderValue(absl::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload(kStatusDetailsUrl, absl::Cord(status.error_details()));
  }
  return out;
}

// Incremental SHA-256, as the server computes it for backups.
class Sha256Hasher {
 public:
  Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(const char* data, size_t size) {
    EVP_DigestUpdate(ctx_, data, size);
  }
  std::string HexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
      absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
    }
    return hex;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string HexSha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256Hasher hash;
  std::string buffer(kUploadChunkBytes, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return hash.HexDigest();
}

}  // namespace

ErrorDetails ErrorDetailsOf(const absl::Status& status) {
  ErrorDetails details;
  auto payload = status.GetPayload(kStatusDetailsUrl);
  google::rpc::Status rpc_status;
  if (!payload || !rpc_status.ParseFromString(std::string(*payload))) {
    return details;
  }
  for (const google::protobuf::Any& any : rpc_status.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&info)) {
      details.reason = info.reason();
    } else if (any.UnpackTo(&bad_request)) {
      for (const auto& v : bad_request.field_violations()) {
        details.field_violations.push_back({v.field(), v.description()});
      }
    }
  }
  return details;
}

struct Client::Impl {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::TenantAdminService::Stub> admin;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;

  // A context with the deadline and the auth headers. `tenant` overrides
  // the x-tenant-id header (admin calls route by the tenant they name).
  std::unique_ptr<grpc::ClientContext> Context(absl::string_view tenant) const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(
        absl::ToChronoTime(absl::Now() + options.default_deadline));
    if (!options.api_key.empty()) {
      context->AddMetadata("authorization",
                           absl::StrCat("Bearer ", options.api_key));
    }
    if (!tenant.empty() && IsValidHeaderValue(tenant)) {
      context->AddMetadata("x-tenant-id", std::string(tenant));
    }
    return context;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("ClientOptions.target is required");
  }
  if (!IsValidHeaderValue(options.tenant_id)) {
    return absl::InvalidArgumentError(
        "ClientOptions.tenant_id must be printable ASCII (a tenant id is "
        "lowercase letters, digits and '-')");
  }
  if (!IsValidHeaderValue(options.api_key)) {
    return absl::InvalidArgumentError(
        "ClientOptions.api_key must be printable ASCII (check for a stray "
        "newline)");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_certs_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  if (options.retry_idempotent_calls) {
    args.SetServiceConfigJSON(RetryServiceConfig());
  }
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(options.target, credentials, args);
  impl->admin = v1::TenantAdminService::NewStub(impl->channel);
  impl->health = grpc::health::v1::Health::NewStub(impl->channel);
  impl->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

absl::Status Client::WaitForServing(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status last;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    context.set_wait_for_ready(true);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    last = impl_->health->Check(&context, request, &response);
    if (last.ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(
      absl::StrCat("server at ", impl_->options.target,
                   " is not serving: ", last.error_message()));
}

absl::StatusOr<v1::Tenant> Client::CreateTenant(
    absl::string_view tenant_id, absl::string_view display_name) {
  v1::CreateTenantRequest request;
  request.set_tenant_id(std::string(tenant_id));
  request.set_display_name(std::string(display_name));
  v1::CreateTenantResponse response;
  auto context = impl_->Context(tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->admin->CreateTenant(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.tenant();
}

absl::StatusOr<v1::Tenant> Client::GetTenant(absl::string_view tenant_id) {
  v1::GetTenantRequest request;
  request.set_tenant_id(std::string(tenant_id));
  v1::GetTenantResponse response;
  auto context = impl_->Context(tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->admin->GetTenant(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.tenant();
}

absl::StatusOr<std::vector<v1::Tenant>> Client::ListTenants() {
  std::vector<v1::Tenant> tenants;
  v1::ListTenantsRequest request;
  request.set_page_size(1000);
  do {
    v1::ListTenantsResponse response;
    auto context = impl_->Context("");
    absl::Status status = FromGrpcStatus(
        impl_->admin->ListTenants(context.get(), request, &response));
    if (!status.ok()) return status;
    for (v1::Tenant& t : *response.mutable_tenants()) {
      tenants.push_back(std::move(t));
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return tenants;
}

absl::Status Client::DeleteTenant(absl::string_view tenant_id) {
  v1::DeleteTenantRequest request;
  request.set_tenant_id(std::string(tenant_id));
  v1::DeleteTenantResponse response;
  auto context = impl_->Context(tenant_id);
  return FromGrpcStatus(
      impl_->admin->DeleteTenant(context.get(), request, &response));
}

absl::StatusOr<v1::IssueApiKeyResponse> Client::IssueApiKey(
    absl::string_view tenant_id, absl::string_view display_name) {
  v1::IssueApiKeyRequest request;
  request.set_tenant_id(std::string(tenant_id));
  request.set_display_name(std::string(display_name));
  v1::IssueApiKeyResponse response;
  auto context = impl_->Context(tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->admin->IssueApiKey(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<std::vector<v1::ApiKey>> Client::ListApiKeys(
    absl::string_view tenant_id) {
  v1::ListApiKeysRequest request;
  request.set_tenant_id(std::string(tenant_id));
  v1::ListApiKeysResponse response;
  auto context = impl_->Context(tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->admin->ListApiKeys(context.get(), request, &response));
  if (!status.ok()) return status;
  return std::vector<v1::ApiKey>(response.api_keys().begin(),
                                 response.api_keys().end());
}

absl::StatusOr<v1::ApiKey> Client::RevokeApiKey(absl::string_view tenant_id,
                                                absl::string_view api_key_id) {
  v1::RevokeApiKeyRequest request;
  request.set_tenant_id(std::string(tenant_id));
  request.set_api_key_id(std::string(api_key_id));
  v1::RevokeApiKeyResponse response;
  auto context = impl_->Context(tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->admin->RevokeApiKey(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.api_key();
}

absl::StatusOr<int64_t> Client::BackupTenant(absl::string_view tenant_id,
                                             const std::string& path) {
  v1::BackupTenantRequest request;
  request.set_tenant_id(std::string(tenant_id));
  auto context = impl_->Context(tenant_id);
  // A backup may take longer than one unary deadline.
  context->set_deadline(std::chrono::system_clock::time_point::max());
  const std::string partial = path + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError("cannot write " + partial);
  auto reader = impl_->admin->BackupTenant(context.get(), request);
  v1::BackupTenantResponse chunk;
  Sha256Hasher hash;
  int64_t written = 0;
  std::string expected_sha256;
  while (reader->Read(&chunk)) {
    out.write(chunk.chunk().data(),
              static_cast<std::streamsize>(chunk.chunk().size()));
    hash.Update(chunk.chunk().data(), chunk.chunk().size());
    written += static_cast<int64_t>(chunk.chunk().size());
    if (!chunk.sha256().empty()) expected_sha256 = chunk.sha256();
  }
  out.close();
  absl::Status status = FromGrpcStatus(reader->Finish());
  if (status.ok() && !out) status = absl::DataLossError("cannot write " + path);
  if (status.ok() && hash.HexDigest() != expected_sha256) {
    status = absl::DataLossError(
        "the backup's SHA-256 does not match what the server sent");
  }
  if (!status.ok()) {
    std::remove(partial.c_str());
    return status;
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    return absl::PermissionDeniedError("cannot rename " + partial + " to " +
                                       path);
  }
  return written;
}

absl::StatusOr<v1::Tenant> Client::RestoreTenant(absl::string_view tenant_id,
                                                 const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  const std::string sha256 = HexSha256OfFile(path);
  auto context = impl_->Context(tenant_id);
  context->set_deadline(std::chrono::system_clock::time_point::max());
  v1::RestoreTenantResponse response;
  auto writer = impl_->admin->RestoreTenant(context.get(), &response);
  std::string buffer(kUploadChunkBytes, '\0');
  bool first = true;
  while (in || first) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    v1::RestoreTenantRequest message;
    if (first) message.set_tenant_id(std::string(tenant_id));
    message.set_chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    if (!in) message.set_sha256(sha256);
    first = false;
    if (!writer->Write(message)) break;  // Finish() says why.
  }
  writer->WritesDone();
  absl::Status status = FromGrpcStatus(writer->Finish());
  if (!status.ok()) return status;
  return response.tenant();
}

}  // namespace custra
