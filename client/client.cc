#include "custra/client.h"

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <deque>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "custra/v1/ingestion.grpc.pb.h"
#include "custra/v1/key_account.grpc.pb.h"
#include "custra/v1/opportunity.grpc.pb.h"
#include "custra/v1/segmentation.grpc.pb.h"
#include "custra/v1/tenant_admin.grpc.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "openssl/evp.h"
#include "openssl/rand.h"

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
      {"custra.v1.IngestionService", "GetCustomer"},
      {"custra.v1.IngestionService", "ListCustomers"},
      {"custra.v1.IngestionService", "ListInteractions"},
      {"custra.v1.SegmentationService", "GetRun"},
      {"custra.v1.SegmentationService", "ListRuns"},
      {"custra.v1.SegmentationService", "ListSegmentMembers"},
      {"custra.v1.SegmentationService", "GetCustomerSegments"},
      {"custra.v1.SegmentationService", "CompareRuns"},
      {"custra.v1.SegmentationService", "ListSegmentTransitionMembers"},
      {"custra.v1.SegmentationService", "GetStructureReport"},
      {"custra.v1.KeyAccountService", "GetValueModel"},
      {"custra.v1.KeyAccountService", "ListValueModels"},
      {"custra.v1.KeyAccountService", "PredictCustomerValue"},
      {"custra.v1.KeyAccountService", "PredictCumulativePurchases"},
      {"custra.v1.KeyAccountService", "EvaluateValueModel"},
      {"custra.v1.KeyAccountService", "GetScoringProfile"},
      {"custra.v1.KeyAccountService", "ListScoringProfiles"},
      {"custra.v1.KeyAccountService", "ListAccountAssessments"},
      {"custra.v1.KeyAccountService", "GetAccountScoringRun"},
      {"custra.v1.KeyAccountService", "ListAccountScoringRuns"},
      {"custra.v1.KeyAccountService", "GetAccountScore"},
      {"custra.v1.KeyAccountService", "ListTopAccounts"},
      {"custra.v1.KeyAccountService", "ListAccountScoreHistory"},
      {"custra.v1.KeyAccountService", "CompareScorings"},
      {"custra.v1.OpportunityService", "GetPipeline"},
      {"custra.v1.OpportunityService", "GetOpportunity"},
      {"custra.v1.OpportunityService", "ListOpportunities"},
      {"custra.v1.OpportunityService", "ListStageChanges"},
      {"custra.v1.OpportunityService", "GetContact"},
      {"custra.v1.OpportunityService", "ListContacts"},
      {"custra.v1.OpportunityService", "GetAccountTrust"},
      {"custra.v1.OpportunityService", "ListActivities"},
      {"custra.v1.OpportunityService", "GetPipelineSummary"},
      {"custra.v1.OpportunityService", "GetForecast"},
      {"custra.v1.OpportunityService", "ListStaleOpportunities"},
      {"custra.v1.OpportunityService", "GetDecisionMakerCoverage"},
      {"custra.v1.OpportunityService", "GetCalibratedProbabilities"},
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
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&retry)) {
      details.retry_delay = absl::Seconds(retry.retry_delay().seconds()) +
                            absl::Nanoseconds(retry.retry_delay().nanos());
    } else if (any.UnpackTo(&info)) {
      details.reason = info.reason();
      details.metadata.insert(info.metadata().begin(), info.metadata().end());
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
  std::unique_ptr<v1::IngestionService::Stub> ingestion;
  std::unique_ptr<v1::SegmentationService::Stub> segmentation;
  std::unique_ptr<v1::KeyAccountService::Stub> key_account;
  std::unique_ptr<v1::OpportunityService::Stub> opportunity;
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
  if (!options.connection_group.empty()) {
    // gRPC shares a connection between channels whose arguments are equal;
    // the group is one of them (and otherwise ignored).
    args.SetString("custra.connection_group", options.connection_group);
  }
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(options.target, credentials, args);
  impl->admin = v1::TenantAdminService::NewStub(impl->channel);
  impl->health = grpc::health::v1::Health::NewStub(impl->channel);
  impl->ingestion = v1::IngestionService::NewStub(impl->channel);
  impl->segmentation = v1::SegmentationService::NewStub(impl->channel);
  impl->key_account = v1::KeyAccountService::NewStub(impl->channel);
  impl->opportunity = v1::OpportunityService::NewStub(impl->channel);
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

absl::StatusOr<std::vector<v1::Tenant>> Client::ListTenants(TenantScope scope) {
  std::vector<v1::Tenant> tenants;
  v1::ListTenantsRequest request;
  request.set_page_size(1000);
  do {
    v1::ListTenantsResponse response;
    auto context = impl_->Context("");
    if (scope == TenantScope::kThisServer) {
      context->AddMetadata("x-custra-scope", "local");
    }
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

// --- IngestionService -------------------------------------------------------

absl::StatusOr<v1::CustomerBatchResult> Client::UpsertCustomers(
    const std::vector<v1::Customer>& customers, absl::string_view request_id) {
  v1::UpsertCustomersRequest request;
  request.mutable_customers()->Assign(customers.begin(), customers.end());
  request.set_request_id(std::string(request_id));
  v1::UpsertCustomersResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->ingestion->UpsertCustomers(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.result();
}

absl::StatusOr<v1::Customer> Client::GetCustomer(absl::string_view id) {
  v1::GetCustomerRequest request;
  request.set_id(std::string(id));
  v1::GetCustomerResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->ingestion->GetCustomer(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.customer();
}

absl::StatusOr<std::vector<v1::Customer>> Client::ListCustomers(
    absl::string_view filter, int64_t limit) {
  std::vector<v1::Customer> customers;
  v1::ListCustomersRequest request;
  request.set_filter(std::string(filter));
  request.set_page_size(1000);
  do {
    v1::ListCustomersResponse response;
    auto context = impl_->Context(impl_->options.tenant_id);
    absl::Status status = FromGrpcStatus(
        impl_->ingestion->ListCustomers(context.get(), request, &response));
    if (!status.ok()) return status;
    for (v1::Customer& c : *response.mutable_customers()) {
      if (limit > 0 && static_cast<int64_t>(customers.size()) >= limit) break;
      customers.push_back(std::move(c));
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() &&
           (limit <= 0 || static_cast<int64_t>(customers.size()) < limit));
  return customers;
}

absl::StatusOr<v1::DeleteCustomerResponse> Client::DeleteCustomer(
    absl::string_view id) {
  v1::DeleteCustomerRequest request;
  request.set_id(std::string(id));
  v1::DeleteCustomerResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->ingestion->DeleteCustomer(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::IngestionBatchResult> Client::RecordTransactions(
    const std::vector<v1::Transaction>& transactions,
    absl::string_view request_id) {
  v1::RecordTransactionsRequest request;
  request.mutable_transactions()->Assign(transactions.begin(),
                                         transactions.end());
  request.set_request_id(std::string(request_id));
  v1::RecordTransactionsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->ingestion->RecordTransactions(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.result();
}

absl::StatusOr<v1::IngestionBatchResult> Client::RecordInteractions(
    const std::vector<v1::Interaction>& interactions,
    absl::string_view request_id) {
  v1::RecordInteractionsRequest request;
  request.mutable_interactions()->Assign(interactions.begin(),
                                         interactions.end());
  request.set_request_id(std::string(request_id));
  v1::RecordInteractionsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->ingestion->RecordInteractions(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.result();
}

absl::StatusOr<std::vector<v1::Interaction>> Client::ListInteractions(
    absl::string_view customer_id, absl::string_view filter, int64_t limit) {
  std::vector<v1::Interaction> out;
  v1::ListInteractionsRequest request;
  request.set_customer_id(std::string(customer_id));
  request.set_filter(std::string(filter));
  request.set_page_size(1000);
  do {
    v1::ListInteractionsResponse response;
    auto context = impl_->Context(impl_->options.tenant_id);
    absl::Status status = FromGrpcStatus(
        impl_->ingestion->ListInteractions(context.get(), request, &response));
    if (!status.ok()) return status;
    for (v1::Interaction& i : *response.mutable_interactions()) {
      if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
      out.push_back(std::move(i));
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty() &&
           (limit <= 0 || static_cast<int64_t>(out.size()) < limit));
  return out;
}

// --- SegmentationService ----------------------------------------------------

absl::StatusOr<v1::SegmentationRun> Client::RunSegmentation(
    const v1::RunSegmentationRequest& request) {
  v1::RunSegmentationResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->segmentation->RunSegmentation(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.run();
}

absl::StatusOr<v1::SegmentationRun> Client::GetRun(absl::string_view run_id) {
  v1::GetRunRequest request;
  request.set_run_id(std::string(run_id));
  v1::GetRunResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->segmentation->GetRun(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.run();
}

absl::StatusOr<v1::ListRunsResponse> Client::ListRuns(
    const v1::ListRunsRequest& request) {
  v1::ListRunsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->segmentation->ListRuns(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListSegmentMembersResponse> Client::ListSegmentMembers(
    const v1::ListSegmentMembersRequest& request) {
  v1::ListSegmentMembersResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->segmentation->ListSegmentMembers(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::GetCustomerSegmentsResponse> Client::GetCustomerSegments(
    absl::string_view customer_id) {
  v1::GetCustomerSegmentsRequest request;
  request.set_customer_id(std::string(customer_id));
  v1::GetCustomerSegmentsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->segmentation->GetCustomerSegments(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::CompareRunsResponse> Client::CompareRuns(
    absl::string_view base_run_id, absl::string_view target_run_id) {
  v1::CompareRunsRequest request;
  request.set_base_run_id(std::string(base_run_id));
  request.set_target_run_id(std::string(target_run_id));
  v1::CompareRunsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->segmentation->CompareRuns(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListSegmentTransitionMembersResponse>
Client::ListSegmentTransitionMembers(
    const v1::ListSegmentTransitionMembersRequest& request) {
  v1::ListSegmentTransitionMembersResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->segmentation->ListSegmentTransitionMembers(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::Status Client::DeleteRun(absl::string_view run_id) {
  v1::DeleteRunRequest request;
  request.set_run_id(std::string(run_id));
  v1::DeleteRunResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  return FromGrpcStatus(
      impl_->segmentation->DeleteRun(context.get(), request, &response));
}

absl::StatusOr<v1::StructureReport> Client::GetStructureReport(
    const v1::GetStructureReportRequest& request) {
  v1::GetStructureReportResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->segmentation->GetStructureReport(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response.report();
}

// --- KeyAccountService -----------------------------------------------------

absl::StatusOr<v1::ValueModel> Client::FitValueModel(
    const v1::FitValueModelRequest& request) {
  v1::FitValueModelResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->FitValueModel(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.value_model();
}

absl::StatusOr<v1::ValueModel> Client::GetValueModel(absl::string_view id) {
  v1::GetValueModelRequest request;
  request.set_id(std::string(id));
  v1::GetValueModelResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->GetValueModel(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.value_model();
}

absl::StatusOr<v1::ListValueModelsResponse> Client::ListValueModels(
    const v1::ListValueModelsRequest& request) {
  v1::ListValueModelsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->ListValueModels(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::PredictCustomerValueResponse> Client::PredictCustomerValue(
    const v1::PredictCustomerValueRequest& request) {
  v1::PredictCustomerValueResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->PredictCustomerValue(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::PredictCumulativePurchasesResponse>
Client::PredictCumulativePurchases(
    const v1::PredictCumulativePurchasesRequest& request) {
  v1::PredictCumulativePurchasesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->key_account->PredictCumulativePurchases(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::EvaluateValueModelResponse> Client::EvaluateValueModel(
    const v1::EvaluateValueModelRequest& request) {
  v1::EvaluateValueModelResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->EvaluateValueModel(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ScoringProfile> Client::GetScoringProfile(
    absl::string_view id) {
  v1::GetScoringProfileRequest request;
  request.set_id(std::string(id));
  v1::GetScoringProfileResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->GetScoringProfile(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.scoring_profile();
}

absl::StatusOr<v1::ListScoringProfilesResponse> Client::ListScoringProfiles(
    const v1::ListScoringProfilesRequest& request) {
  v1::ListScoringProfilesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->ListScoringProfiles(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ScoringProfile> Client::CreateScoringProfile(
    const v1::CreateScoringProfileRequest& request) {
  v1::CreateScoringProfileResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->CreateScoringProfile(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response.scoring_profile();
}

absl::StatusOr<v1::ScoringProfile> Client::UpdateScoringProfile(
    const v1::UpdateScoringProfileRequest& request) {
  v1::UpdateScoringProfileResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->UpdateScoringProfile(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response.scoring_profile();
}

absl::Status Client::DeleteScoringProfile(absl::string_view id) {
  v1::DeleteScoringProfileRequest request;
  request.set_id(std::string(id));
  v1::DeleteScoringProfileResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  return FromGrpcStatus(impl_->key_account->DeleteScoringProfile(
      context.get(), request, &response));
}

absl::StatusOr<v1::SetAccountAssessmentsResponse> Client::SetAccountAssessments(
    const v1::SetAccountAssessmentsRequest& request) {
  v1::SetAccountAssessmentsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->key_account->SetAccountAssessments(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListAccountAssessmentsResponse>
Client::ListAccountAssessments(
    const v1::ListAccountAssessmentsRequest& request) {
  v1::ListAccountAssessmentsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->key_account->ListAccountAssessments(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::AccountScoringRun> Client::ScoreAccounts(
    const v1::ScoreAccountsRequest& request) {
  v1::ScoreAccountsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->ScoreAccounts(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.scoring_run();
}

absl::StatusOr<v1::AccountScoringRun> Client::GetAccountScoringRun(
    absl::string_view id) {
  v1::GetAccountScoringRunRequest request;
  request.set_id(std::string(id));
  v1::GetAccountScoringRunResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->key_account->GetAccountScoringRun(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response.scoring_run();
}

absl::StatusOr<v1::ListAccountScoringRunsResponse>
Client::ListAccountScoringRuns(
    const v1::ListAccountScoringRunsRequest& request) {
  v1::ListAccountScoringRunsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->key_account->ListAccountScoringRuns(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::AccountScore> Client::GetAccountScore(
    absl::string_view customer_id, absl::string_view scoring_run_id) {
  v1::GetAccountScoreRequest request;
  request.set_customer_id(std::string(customer_id));
  request.set_scoring_run_id(std::string(scoring_run_id));
  v1::GetAccountScoreResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->GetAccountScore(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.account_score();
}

absl::StatusOr<v1::ListTopAccountsResponse> Client::ListTopAccounts(
    const v1::ListTopAccountsRequest& request) {
  v1::ListTopAccountsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->ListTopAccounts(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListAccountScoreHistoryResponse>
Client::ListAccountScoreHistory(
    const v1::ListAccountScoreHistoryRequest& request) {
  v1::ListAccountScoreHistoryResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->key_account->ListAccountScoreHistory(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::CompareScoringsResponse> Client::CompareScorings(
    const v1::CompareScoringsRequest& request) {
  v1::CompareScoringsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->key_account->CompareScorings(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

// --- OpportunityService ----------------------------------------------------

absl::StatusOr<v1::Pipeline> Client::GetPipeline() {
  v1::GetPipelineRequest request;
  v1::GetPipelineResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->GetPipeline(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.pipeline();
}

absl::StatusOr<v1::UpdatePipelineResponse> Client::UpdatePipeline(
    const v1::UpdatePipelineRequest& request) {
  v1::UpdatePipelineResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->UpdatePipeline(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Opportunity> Client::CreateOpportunity(
    const v1::CreateOpportunityRequest& request) {
  v1::CreateOpportunityResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->CreateOpportunity(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.opportunity();
}

absl::StatusOr<v1::Opportunity> Client::GetOpportunity(absl::string_view id) {
  v1::GetOpportunityRequest request;
  request.set_opportunity_id(std::string(id));
  v1::GetOpportunityResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->GetOpportunity(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.opportunity();
}

absl::StatusOr<v1::ListOpportunitiesResponse> Client::ListOpportunities(
    const v1::ListOpportunitiesRequest& request) {
  v1::ListOpportunitiesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->ListOpportunities(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Opportunity> Client::UpdateOpportunity(
    const v1::UpdateOpportunityRequest& request) {
  v1::UpdateOpportunityResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->UpdateOpportunity(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.opportunity();
}

absl::Status Client::DeleteOpportunity(absl::string_view id) {
  v1::DeleteOpportunityRequest request;
  request.set_opportunity_id(std::string(id));
  v1::DeleteOpportunityResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  return FromGrpcStatus(
      impl_->opportunity->DeleteOpportunity(context.get(), request, &response));
}

absl::StatusOr<v1::ChangeOpportunityStageResponse>
Client::ChangeOpportunityStage(
    const v1::ChangeOpportunityStageRequest& request) {
  v1::ChangeOpportunityStageResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->ChangeOpportunityStage(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListStageChangesResponse> Client::ListStageChanges(
    const v1::ListStageChangesRequest& request) {
  v1::ListStageChangesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->ListStageChanges(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::AccountContact> Client::CreateContact(
    const v1::CreateContactRequest& request) {
  v1::CreateContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->CreateContact(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.contact();
}

absl::StatusOr<v1::AccountContact> Client::GetContact(absl::string_view id) {
  v1::GetContactRequest request;
  request.set_contact_id(std::string(id));
  v1::GetContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->GetContact(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.contact();
}

absl::StatusOr<v1::ListContactsResponse> Client::ListContacts(
    const v1::ListContactsRequest& request) {
  v1::ListContactsResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->ListContacts(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::AccountContact> Client::UpdateContact(
    const v1::UpdateContactRequest& request) {
  v1::UpdateContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->UpdateContact(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.contact();
}

absl::Status Client::DeleteContact(absl::string_view id) {
  v1::DeleteContactRequest request;
  request.set_contact_id(std::string(id));
  v1::DeleteContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  return FromGrpcStatus(
      impl_->opportunity->DeleteContact(context.get(), request, &response));
}

absl::StatusOr<v1::Opportunity> Client::LinkOpportunityContact(
    const v1::LinkOpportunityContactRequest& request) {
  v1::LinkOpportunityContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->LinkOpportunityContact(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response.opportunity();
}

absl::StatusOr<v1::Opportunity> Client::UnlinkOpportunityContact(
    absl::string_view opportunity_id, absl::string_view contact_id) {
  v1::UnlinkOpportunityContactRequest request;
  request.set_opportunity_id(std::string(opportunity_id));
  request.set_contact_id(std::string(contact_id));
  v1::UnlinkOpportunityContactResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->UnlinkOpportunityContact(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response.opportunity();
}

absl::StatusOr<v1::AccountTrust> Client::GetAccountTrust(
    absl::string_view customer_id) {
  v1::GetAccountTrustRequest request;
  request.set_customer_id(std::string(customer_id));
  v1::GetAccountTrustResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->GetAccountTrust(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.trust();
}

absl::StatusOr<v1::AccountTrust> Client::SetAccountTrust(
    const v1::SetAccountTrustRequest& request) {
  v1::SetAccountTrustResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->SetAccountTrust(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.trust();
}

absl::StatusOr<v1::SalesActivity> Client::LogActivity(
    const v1::LogActivityRequest& request) {
  v1::LogActivityResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->LogActivity(context.get(), request, &response));
  if (!status.ok()) return status;
  return response.activity();
}

absl::StatusOr<v1::ListActivitiesResponse> Client::ListActivities(
    const v1::ListActivitiesRequest& request) {
  v1::ListActivitiesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->ListActivities(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::GetPipelineSummaryResponse> Client::GetPipelineSummary(
    const v1::GetPipelineSummaryRequest& request) {
  v1::GetPipelineSummaryResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(impl_->opportunity->GetPipelineSummary(
      context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::GetForecastResponse> Client::GetForecast(
    const v1::GetForecastRequest& request) {
  v1::GetForecastResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status = FromGrpcStatus(
      impl_->opportunity->GetForecast(context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListStaleOpportunitiesResponse>
Client::ListStaleOpportunities(
    const v1::ListStaleOpportunitiesRequest& request) {
  v1::ListStaleOpportunitiesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->ListStaleOpportunities(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::GetDecisionMakerCoverageResponse>
Client::GetDecisionMakerCoverage(
    const v1::GetDecisionMakerCoverageRequest& request) {
  v1::GetDecisionMakerCoverageResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->GetDecisionMakerCoverage(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::GetCalibratedProbabilitiesResponse>
Client::GetCalibratedProbabilities(
    const v1::GetCalibratedProbabilitiesRequest& request) {
  v1::GetCalibratedProbabilitiesResponse response;
  auto context = impl_->Context(impl_->options.tenant_id);
  absl::Status status =
      FromGrpcStatus(impl_->opportunity->GetCalibratedProbabilities(
          context.get(), request, &response));
  if (!status.ok()) return status;
  return response;
}

namespace {

// One batch of an import, kept until the server acknowledges it. Its rows
// live in an arena: building and dropping a batch of 10,000 rows then costs
// a few block allocations instead of several per row.
struct PendingBatch {
  PendingBatch()
      : arena(std::make_unique<google::protobuf::Arena>(ArenaOptions())),
        request(google::protobuf::Arena::CreateMessage<
                v1::ImportTransactionsRequest>(arena.get())) {}

  static google::protobuf::ArenaOptions ArenaOptions() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 64 << 10;
    options.max_block_size = 1 << 20;
    return options;
  }

  int64_t first_row = 0;
  std::unique_ptr<google::protobuf::Arena> arena;
  v1::ImportTransactionsRequest* request;  // Owned by `arena`.
};

std::string RandomPrefix() {
  unsigned char bytes[8];
  RAND_bytes(bytes, sizeof(bytes));
  std::string hex;
  for (unsigned char b : bytes)
    absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  return absl::StrCat("import-", hex);
}

// State shared by the writing thread and the acknowledgement reader.
class ImportState {
 public:
  explicit ImportState(const ImportOptions& options) : options_(options) {}

  // Blocks while `max_batches_in_flight` batches await acknowledgement.
  void WaitForRoom() {
    absl::MutexLock lock(&mu_);
    auto has_room = [&] {
      return static_cast<int>(pending_.size()) <
                 options_.max_batches_in_flight ||
             stream_broken_;
    };
    mu_.Await(absl::Condition(&has_room));
  }

  // Queues `batch` and returns its request, which stays valid until the
  // server acknowledges it (deque elements do not move).
  const v1::ImportTransactionsRequest& Add(PendingBatch batch) {
    absl::MutexLock lock(&mu_);
    summary_.rows_sent += batch.request->transactions_size();
    pending_.push_back(std::move(batch));
    return *pending_.back().request;
  }

  // Copies of the unacknowledged batches, oldest first, for re-sending.
  std::vector<v1::ImportTransactionsRequest> Unacknowledged() {
    absl::MutexLock lock(&mu_);
    std::vector<v1::ImportTransactionsRequest> out;
    for (const PendingBatch& b : pending_) out.push_back(*b.request);
    return out;
  }

  // Records an acknowledgement; false if it does not match the oldest
  // pending batch (a protocol error).
  bool Acknowledge(const v1::ImportTransactionsResponse& ack) {
    ImportProgress progress;
    {
      absl::MutexLock lock(&mu_);
      if (pending_.empty() ||
          pending_.front().request->request_id() != ack.request_id()) {
        return false;
      }
      const PendingBatch& batch = pending_.front();
      const v1::IngestionBatchResult& r = ack.result();
      summary_.rows_acknowledged += batch.request->transactions_size();
      summary_.accepted += r.accepted_count();
      summary_.duplicates += r.duplicate_count();
      summary_.rejected += r.rejected_count();
      summary_.customers_created += r.customers_created_count();
      ++summary_.batches_acknowledged;
      for (const v1::IngestionRowError& e : r.rejections()) {
        ImportRejection rejection;
        rejection.row = batch.first_row + e.row_index();
        rejection.row_id = e.row_id();
        rejection.field = e.field();
        std::string reason = v1::IngestionRejectReason_Name(e.reason());
        absl::string_view short_reason = reason;
        absl::ConsumePrefix(&short_reason, "INGESTION_REJECT_REASON_");
        rejection.reason = std::string(short_reason);
        rejection.description = e.description();
        summary_.rejections.push_back(std::move(rejection));
      }
      pending_.pop_front();
      progress = summary_;
    }
    if (options_.on_progress) options_.on_progress(progress);
    return true;
  }

  void SetStreamBroken(bool broken) {
    absl::MutexLock lock(&mu_);
    stream_broken_ = broken;
  }
  bool AllAcknowledged() {
    absl::MutexLock lock(&mu_);
    return pending_.empty();
  }
  void WaitAllAcknowledgedOrBroken() {
    absl::MutexLock lock(&mu_);
    auto done = [&] { return pending_.empty() || stream_broken_; };
    mu_.Await(absl::Condition(&done));
  }
  void CountReconnect() {
    absl::MutexLock lock(&mu_);
    ++summary_.reconnects;
  }
  int64_t BatchesAcknowledged() {
    absl::MutexLock lock(&mu_);
    return summary_.batches_acknowledged;
  }
  ImportSummary Summary() {
    absl::MutexLock lock(&mu_);
    return summary_;
  }

 private:
  const ImportOptions& options_;
  absl::Mutex mu_;
  std::deque<PendingBatch> pending_ ABSL_GUARDED_BY(mu_);
  ImportSummary summary_ ABSL_GUARDED_BY(mu_);
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<ImportSummary> Client::ImportTransactions(
    const TransactionSource& source, const ImportOptions& options) {
  if (options.batch_size < 1 || options.batch_size > 10000) {
    return absl::InvalidArgumentError(
        "ImportOptions.batch_size must be 1 to 10000");
  }
  if (options.max_batches_in_flight < 1) {
    return absl::InvalidArgumentError(
        "ImportOptions.max_batches_in_flight must be at least 1");
  }
  const std::string prefix = options.request_id_prefix.empty()
                                 ? RandomPrefix()
                                 : options.request_id_prefix;
  ImportState state(options);
  int64_t next_row = 0;
  int64_t next_batch = 0;
  int64_t sequence = 0;
  bool source_done = false;
  int attempts = 0;
  absl::Duration backoff = absl::Milliseconds(100);

  while (true) {
    ++attempts;
    const int64_t acknowledged_before = state.BatchesAcknowledged();
    state.SetStreamBroken(false);
    auto context = impl_->Context(impl_->options.tenant_id);
    context->set_deadline(std::chrono::system_clock::time_point::max());
    auto stream = impl_->ingestion->ImportTransactions(context.get());
    bool broken = false;
    std::thread reader([&] {
      v1::ImportTransactionsResponse ack;
      while (stream->Read(&ack)) {
        if (!state.Acknowledge(ack)) break;
      }
      state.SetStreamBroken(true);
    });

    // Re-send what the previous stream left unacknowledged, then go on.
    for (v1::ImportTransactionsRequest& request : state.Unacknowledged()) {
      request.set_sequence_number(sequence++);
      if (!stream->Write(request)) {
        broken = true;
        break;
      }
    }
    while (!broken && !source_done) {
      state.WaitForRoom();
      PendingBatch batch;
      batch.first_row = next_row;
      auto& rows = *batch.request->mutable_transactions();
      while (rows.size() < options.batch_size) {
        if (!source(rows.Add())) {
          rows.RemoveLast();
          source_done = true;
          break;
        }
      }
      if (rows.empty()) break;
      next_row += rows.size();
      batch.request->set_request_id(absl::StrCat(prefix, "-", next_batch++));
      batch.request->set_sequence_number(sequence++);
      // Written from the queue: no copy. The reader thread drops it only
      // after its acknowledgement, which cannot precede this write.
      if (!stream->Write(state.Add(std::move(batch)))) broken = true;
    }
    if (!broken) {
      state.WaitAllAcknowledgedOrBroken();
      stream->WritesDone();
    } else {
      context->TryCancel();
    }
    reader.join();
    grpc::Status finished = stream->Finish();
    if (state.AllAcknowledged() && source_done && finished.ok()) {
      return state.Summary();
    }
    const bool retryable =
        finished.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (finished.ok() || finished.error_code() == grpc::StatusCode::CANCELLED);
    // A stream that made progress resets the budget: max_attempts bounds
    // consecutive failures, not the reconnects of a long import.
    if (state.BatchesAcknowledged() > acknowledged_before) attempts = 0;
    if (!retryable || attempts >= options.max_attempts) {
      if (finished.ok()) {
        return absl::InternalError(
            "the server closed the import stream before acknowledging "
            "every batch");
      }
      return FromGrpcStatus(finished);
    }
    state.CountReconnect();
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
    // Wait for the server to come back before re-sending.
    (void)WaitForServing(absl::Seconds(30));
  }
}

}  // namespace custra
