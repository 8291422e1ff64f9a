// TenantAdminService, health and reflection against a real custra-server
// child process on a loopback port with its own data directory.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "custra/client.h"
#include "custra/v1/tenant_admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "protos/reflection_subset.grpc.pb.h"
#include "tests/testing/certificates.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / "data";
    options.extra_args = extra_args_;
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = Connect(server_->admin_key());
  }

  std::unique_ptr<Client> Connect(const std::string& key) {
    ClientOptions options;
    options.target = server_->address();
    options.api_key = key;
    options.default_deadline = absl::Seconds(10);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok());
    return *std::move(client);
  }

  std::filesystem::path TenantFile(const std::string& id) const {
    return dir_.path() / "data" / "tenants" / (id + ".db");
  }

  TempDir dir_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> admin_;
};

TEST_F(AdminTest, HealthIsServing) {
  CUSTRA_EXPECT_OK(admin_->WaitForServing(absl::Seconds(5)));
}

// The sockets this (client) process has open.
int OpenSockets() {
  int sockets = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error);
    if (!error && target.string().rfind("socket:", 0) == 0) ++sockets;
  }
  return sockets;
}

// Clients with the same settings share a connection; a client with a
// connection group of its own opens another.
TEST_F(AdminTest, ConnectionGroupGivesAClientAConnectionOfItsOwn) {
  ASSERT_TRUE(admin_->ListTenants().ok());
  const int shared = OpenSockets();
  auto same = Connect(server_->admin_key());
  ASSERT_TRUE(same->ListTenants().ok());
  EXPECT_EQ(OpenSockets(), shared);

  ClientOptions options;
  options.target = server_->address();
  options.api_key = server_->admin_key();
  options.connection_group = "bulk";
  auto own = Client::Create(options);
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_TRUE((*own)->ListTenants().ok());
  EXPECT_EQ(OpenSockets(), shared + 1);
  auto same_group = Client::Create(options);
  ASSERT_TRUE(same_group.ok()) << same_group.status();
  ASSERT_TRUE((*same_group)->ListTenants().ok());
  EXPECT_EQ(OpenSockets(), shared + 1);
}

TEST_F(AdminTest, ReflectionListsEveryCustraService) {
  auto channel = grpc::CreateChannel(server_->address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(
      names, IsSupersetOf(
                 {"custra.v1.IngestionService", "custra.v1.SegmentationService",
                  "custra.v1.KeyAccountService", "custra.v1.OpportunityService",
                  "custra.v1.TenantAdminService", "grpc.health.v1.Health"}));
  // The descriptors are served too, so generic clients can call custra.
  request.set_file_containing_symbol("custra.v1.TenantAdminService");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(),
            0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(AdminTest, CreateTenantMakesItsDatabaseFile) {
  auto tenant = admin_->CreateTenant("acme", "Acme Ltd");
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  EXPECT_EQ(tenant->id(), "acme");
  EXPECT_EQ(tenant->display_name(), "Acme Ltd");
  EXPECT_GE(tenant->schema_version(), 1);
  EXPECT_GT(tenant->create_time().seconds(), 0);
  EXPECT_TRUE(std::filesystem::exists(TenantFile("acme")));
  auto again = admin_->GetTenant("acme");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->display_name(), "Acme Ltd");
}

TEST_F(AdminTest, DuplicateTenantIsAlreadyExistsWithReason) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  auto again = admin_->CreateTenant("acme");
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ErrorDetailsOf(again.status()).reason, "TENANT_EXISTS");
}

TEST_F(AdminTest, BadTenantIdsAreInvalidArgumentAndTouchNoFiles) {
  const auto tenants_dir = dir_.path() / "data" / "tenants";
  for (const std::string& id :
       {std::string("../x"), std::string("A"), std::string(""),
        std::string(64, 'a'), std::string("\xE5\xAE\xA2\xE6\x88\xB7")}) {
    auto result = admin_->CreateTenant(id);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument)) << id;
    ErrorDetails details = ErrorDetailsOf(result.status());
    EXPECT_EQ(details.reason, "INVALID_TENANT_ID") << id;
    ASSERT_EQ(details.field_violations.size(), 1u) << id;
    EXPECT_EQ(details.field_violations[0].field, "tenant_id");
  }
  EXPECT_TRUE(std::filesystem::is_empty(tenants_dir));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "x.db"));
}

TEST_F(AdminTest, ListTenantsPagesThroughAll) {
  // More than one page of the SDK's 1000 would be slow; the server's page
  // logic is exercised by the CLI test. Here: order and completeness.
  for (const char* id : {"delta", "alpha", "charlie", "bravo"}) {
    ASSERT_TRUE(admin_->CreateTenant(id).ok());
  }
  auto tenants = admin_->ListTenants();
  ASSERT_TRUE(tenants.ok());
  std::vector<std::string> ids;
  for (const auto& t : *tenants) ids.push_back(t.id());
  EXPECT_THAT(ids, ElementsAre("alpha", "bravo", "charlie", "delta"));
}

TEST_F(AdminTest, DeleteTenantRemovesDatabaseAndKeys) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  ASSERT_TRUE(admin_->IssueApiKey("acme").ok());
  CUSTRA_ASSERT_OK(admin_->DeleteTenant("acme"));
  EXPECT_FALSE(std::filesystem::exists(TenantFile("acme")));
  EXPECT_THAT(admin_->GetTenant("acme"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(admin_->ListApiKeys("acme"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(admin_->DeleteTenant("acme"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AdminTest, IssuedKeyIsListedWithoutSecretAndCanBeRevoked) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  auto issued = admin_->IssueApiKey("acme", "nightly export");
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_FALSE(issued->secret().empty());
  auto keys = admin_->ListApiKeys("acme");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id(), issued->api_key().id());
  EXPECT_EQ((*keys)[0].display_name(), "nightly export");
  EXPECT_EQ((*keys)[0].DebugString().find(issued->secret()), std::string::npos);
  auto revoked = admin_->RevokeApiKey("acme", issued->api_key().id());
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->has_revoke_time());
  // The secret is nowhere on disk.
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir_.path() / "data")) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content.find(issued->secret()), std::string::npos)
        << entry.path();
  }
}

TEST_F(AdminTest, AdminCallsNeedTheAdminKey) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  auto issued = admin_->IssueApiKey("acme");
  ASSERT_TRUE(issued.ok());
  EXPECT_THAT(Connect("")->ListTenants(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Connect("not-the-admin-key")->ListTenants(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Connect(issued->secret())->ListTenants(),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(AdminTest, BackupRestoreRoundTrip) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  const std::string backup = (dir_.path() / "acme.backup").string();
  auto bytes = admin_->BackupTenant("acme", backup);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, static_cast<int64_t>(std::filesystem::file_size(backup)));
  // Restoring into a new tenant creates it, with the same schema.
  auto restored = admin_->RestoreTenant("acme-copy", backup);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->id(), "acme-copy");
  EXPECT_EQ(restored->schema_version(),
            admin_->GetTenant("acme")->schema_version());
  EXPECT_TRUE(std::filesystem::exists(TenantFile("acme-copy")));
  // A damaged upload is refused and changes nothing.
  const std::string junk = (dir_.path() / "junk.db").string();
  std::ofstream(junk) << std::string(10000, 'x');
  auto refused = admin_->RestoreTenant("acme", junk);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kInvalidArgument));
  CUSTRA_EXPECT_OK(admin_->GetTenant("acme").status());
}

TEST_F(AdminTest, BackupOfUnknownTenantIsNotFound) {
  EXPECT_THAT(admin_->BackupTenant("ghost", (dir_.path() / "g").string()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "g"));
}

TEST_F(AdminTest, TenantsSurviveARestart) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  auto issued = admin_->IssueApiKey("acme");
  ASSERT_TRUE(issued.ok());
  const int status = server_->SignalAndWait(SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status));
  ServerProcess::Options options;
  options.data_dir = dir_.path() / "data";
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok());
  server_ = *std::move(server);
  admin_ = Connect(server_->admin_key());
  CUSTRA_EXPECT_OK(admin_->GetTenant("acme").status());
  auto keys = admin_->ListApiKeys("acme");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].id(), issued->api_key().id());
}

class DrainTest : public AdminTest {
 protected:
  DrainTest() { extra_args_ = {"--drain-delay=1", "--shutdown-grace=5"}; }
};

TEST_F(DrainTest, SigtermReportsNotServingFinishesInFlightCallAndExitsZero) {
  ASSERT_TRUE(admin_->CreateTenant("acme").ok());
  const std::string backup = (dir_.path() / "acme.backup").string();
  ASSERT_TRUE(admin_->BackupTenant("acme", backup).ok());
  std::ifstream in(backup, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});

  // Start a restore upload and leave it open: an in-flight call.
  auto channel = grpc::CreateChannel(server_->address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::TenantAdminService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + server_->admin_key());
  v1::RestoreTenantResponse response;
  auto upload = stub->RestoreTenant(&context, &response);
  v1::RestoreTenantRequest first;
  first.set_tenant_id("acme");
  first.set_chunk(bytes.substr(0, bytes.size() / 2));
  ASSERT_TRUE(upload->Write(first));

  server_->Signal(SIGTERM);

  // Health turns NOT_SERVING while the server drains.
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server_->address(), grpc::InsecureChannelCredentials()));
  bool not_serving = false;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!not_serving && absl::Now() < give_up) {
    grpc::ClientContext health_context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse answer;
    grpc::Status status = health->Check(&health_context, request, &answer);
    not_serving =
        status.ok() &&
        answer.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  }
  EXPECT_TRUE(not_serving);

  // The in-flight upload still completes.
  v1::RestoreTenantRequest rest;
  rest.set_chunk(bytes.substr(bytes.size() / 2));
  ASSERT_TRUE(upload->Write(rest));
  upload->WritesDone();
  grpc::Status finished = upload->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_EQ(response.restored_bytes(), static_cast<int64_t>(bytes.size()));

  const int status = server_->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ServerStartupTest, RefusesToStartWithoutAnAdminKey) {
  TempDir dir;
  const std::string command =
      testing::ServerBinaryPath() +
      " --listen=127.0.0.1:0 --data-dir=" + (dir.path() / "d").string() +
      " >/dev/null 2>&1";
  unsetenv("CUSTRA_ADMIN_KEY");
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
}

TEST(ServerStartupTest, RefusesPlaintextOnANonLoopbackAddress) {
  TempDir dir;
  const std::string command =
      "CUSTRA_ADMIN_KEY=0123456789abcdef0123 " + testing::ServerBinaryPath() +
      " --listen=0.0.0.0:0 --data-dir=" + (dir.path() / "d").string() +
      " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace custra

namespace custra {
namespace {

TEST(TlsTest, TlsServerServesTlsClientsAndRefusesPlaintextOnes) {
  TempDir dir;
  auto certificate = testing::MakeSelfSignedCertificate(dir.path());
  ASSERT_TRUE(certificate.ok()) << certificate.status();
  testing::ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {"--tls-cert=" + certificate->cert_file.string(),
                        "--tls-key=" + certificate->key_file.string()};
  auto server = testing::ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string& pem = certificate->cert_pem;

  ClientOptions tls;
  tls.target = (*server)->address();
  tls.api_key = (*server)->admin_key();
  tls.use_tls = true;
  tls.tls_root_certs_pem = pem;
  tls.default_deadline = absl::Seconds(10);
  auto secure = Client::Create(tls);
  ASSERT_TRUE(secure.ok());
  auto created = (*secure)->CreateTenant("acme");
  EXPECT_TRUE(created.ok()) << created.status();

  ClientOptions plain = tls;
  plain.use_tls = false;
  plain.default_deadline = absl::Seconds(2);
  plain.retry_idempotent_calls = false;
  auto insecure = Client::Create(plain);
  ASSERT_TRUE(insecure.ok());
  EXPECT_FALSE((*insecure)->GetTenant("acme").ok());
}

}  // namespace
}  // namespace custra
