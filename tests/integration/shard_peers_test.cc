// ListTenants across shards (--peer): two real custra-server processes on
// loopback, each with its own data directory, that know each other.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <string>
#include <vector>

#include "custra/client.h"
#include "custra/v1/tenant_admin.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::TempDir;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

class ShardPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // b starts first (a free port); a knows b; b is then restarted on its
    // port knowing a and itself, as a StatefulSet's replicas all get the
    // same list.
    b_ = Start("b", {});
    ASSERT_NE(b_, nullptr);
    const std::string b_address = b_->address();
    a_ = Start("a", {"--peer=" + b_address});
    ASSERT_NE(a_, nullptr);
    b_->SignalAndWait(SIGTERM);
    b_ = Start("b", {"--peer=" + a_->address() + "," + b_address}, b_address);
    ASSERT_NE(b_, nullptr);
    ASSERT_EQ(b_->address(), b_address);

    // Interleaved ids, so that every merged page takes from both shards.
    for (const char* id : {"acme", "coral", "echo", "golf", "india"}) {
      CUSTRA_ASSERT_OK(Admin(*a_)->CreateTenant(id, id).status());
      expected_.push_back(id);
    }
    for (const char* id : {"bravo", "delta", "fox", "hotel"}) {
      CUSTRA_ASSERT_OK(Admin(*b_)->CreateTenant(id, id).status());
      expected_.push_back(id);
    }
    std::sort(expected_.begin(), expected_.end());
  }

  std::unique_ptr<ServerProcess> Start(const std::string& name,
                                       std::vector<std::string> args,
                                       const std::string& listen = "") {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / name;
    options.extra_args = std::move(args);
    if (!listen.empty()) options.listen = listen;
    auto server = ServerProcess::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  std::unique_ptr<Client> Admin(const ServerProcess& server) {
    ClientOptions options;
    options.target = server.address();
    options.api_key = server.admin_key();
    options.default_deadline = absl::Seconds(10);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok());
    return *std::move(client);
  }

  // One raw ListTenants call, so that the test sees each page.
  grpc::Status ListPage(const ServerProcess& server, int page_size,
                        const std::string& token, bool local,
                        v1::ListTenantsResponse* response,
                        const std::string& key = "") {
    auto stub = v1::TenantAdminService::NewStub(grpc::CreateChannel(
        server.address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.AddMetadata("authorization",
                        "Bearer " + (key.empty() ? server.admin_key() : key));
    if (local) context.AddMetadata("x-custra-scope", "local");
    v1::ListTenantsRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    return stub->ListTenants(&context, request, response);
  }

  static std::vector<std::string> Ids(const std::vector<v1::Tenant>& list) {
    std::vector<std::string> ids;
    for (const v1::Tenant& t : list) ids.push_back(t.id());
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
  std::vector<std::string> expected_;
};

TEST_F(ShardPeersTest, EachShardListsEveryShardsTenantsOnceInIdOrder) {
  for (ServerProcess* server : {a_.get(), b_.get()}) {
    auto tenants = Admin(*server)->ListTenants();
    CUSTRA_ASSERT_OK(tenants.status());
    EXPECT_THAT(Ids(*tenants), ElementsAreArray(expected_));
  }
  // The peers' own figures come through (each tenant's database exists).
  auto tenants = Admin(*a_)->ListTenants();
  CUSTRA_ASSERT_OK(tenants.status());
  for (const v1::Tenant& t : *tenants) {
    EXPECT_GT(t.database_size_bytes(), 0) << t.id();
    EXPECT_GT(t.schema_version(), 0) << t.id();
  }
}

TEST_F(ShardPeersTest, PagesWalkTheMergedListWithoutGapsOrRepeats) {
  for (int page_size : {1, 2, 3, 4, 9, 10}) {
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      v1::ListTenantsResponse response;
      grpc::Status status = ListPage(*b_, page_size, token, false, &response);
      ASSERT_TRUE(status.ok()) << status.error_message() << " token " << token;
      ASSERT_LE(response.tenants_size(), page_size);
      for (const v1::Tenant& t : response.tenants()) seen.push_back(t.id());
      token = response.next_page_token();
      ASSERT_LT(++pages, 20) << "page_size " << page_size;
    } while (!token.empty());
    EXPECT_THAT(seen, ElementsAreArray(expected_)) << "page_size " << page_size;
    const int full_pages =
        (static_cast<int>(expected_.size()) + page_size - 1) / page_size;
    EXPECT_EQ(pages, full_pages) << "page_size " << page_size;
  }
}

TEST_F(ShardPeersTest, ATenantOnTwoShardsIsListedOnce) {
  // Created on b directly, past any proxy: a has one of that id as well.
  CUSTRA_ASSERT_OK(Admin(*b_)->CreateTenant("coral", "second").status());
  for (ServerProcess* server : {a_.get(), b_.get()}) {
    for (int page_size : {1, 2, 3, 100}) {
      std::vector<std::string> seen;
      std::string token;
      do {
        v1::ListTenantsResponse response;
        grpc::Status status =
            ListPage(*server, page_size, token, false, &response);
        ASSERT_TRUE(status.ok()) << status.error_message();
        for (const v1::Tenant& t : response.tenants()) seen.push_back(t.id());
        token = response.next_page_token();
      } while (!token.empty());
      EXPECT_THAT(seen, ElementsAreArray(expected_))
          << server->address() << " page_size " << page_size;
    }
  }
}

TEST_F(ShardPeersTest, LocalScopeListsThisServersTenantsOnly) {
  v1::ListTenantsResponse response;
  grpc::Status status = ListPage(*a_, 100, "", /*local=*/true, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> ids;
  for (const v1::Tenant& t : response.tenants()) ids.push_back(t.id());
  EXPECT_THAT(ids,
              ElementsAreArray({"acme", "coral", "echo", "golf", "india"}));
}

TEST_F(ShardPeersTest, AWrongKeyIsRefusedBeforeAnyPeerIsAsked) {
  // With b gone, asking it would fail with UNAVAILABLE.
  b_->SignalAndWait(SIGKILL);
  v1::ListTenantsResponse response;
  grpc::Status status =
      ListPage(*a_, 100, "", false, &response, "not-the-admin-key-0123456789");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), Not(HasSubstr("shard peer")));
  EXPECT_EQ(response.tenants_size(), 0);
}

TEST_F(ShardPeersTest, APeerWithAnotherAdminKeyIsAMisconfiguredDeployment) {
  ServerProcess::Options options;
  options.data_dir = dir_.path() / "c";
  options.admin_key = "another-admin-key-0123456789";
  auto c = ServerProcess::Start(options);
  ASSERT_TRUE(c.ok()) << c.status();
  auto d = Start("d", {"--peer=" + (*c)->address()});
  ASSERT_NE(d, nullptr);
  v1::ListTenantsResponse response;
  grpc::Status status = ListPage(*d, 100, "", false, &response);
  // The caller's key is good on d: not UNAUTHENTICATED.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr((*c)->address()));
  EXPECT_THAT(status.error_message(), HasSubstr("same admin key"));
}

TEST(ShardPeersStartupTest, PlaintextPeersOffThisHostNeedPlaintextOrACa) {
  TempDir dir;
  const std::string command =
      "CUSTRA_ADMIN_KEY=0123456789abcdef0123 " + testing::ServerBinaryPath() +
      " --listen=127.0.0.1:0 --data-dir=" + (dir.path() / "d").string() +
      " --peer=10.1.2.3:50051 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(out, HasSubstr("refusing to send admin keys in plaintext to "
                             "the peer 10.1.2.3:50051"));
  // With --plaintext the operator vouches for the network: it starts (the
  // peer is not contacted before a listing).
  ServerProcess::Options options;
  options.data_dir = dir.path() / "e";
  options.extra_args = {"--peer=10.1.2.3:50051", "--plaintext"};
  auto server = ServerProcess::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
}

TEST_F(ShardPeersTest, AStoppedPeerFailsTheListingAndNamesThePeer) {
  const std::string b_address = b_->address();
  b_->SignalAndWait(SIGKILL);
  v1::ListTenantsResponse response;
  grpc::Status status = ListPage(*a_, 100, "", false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr(b_address));
  EXPECT_EQ(response.tenants_size(), 0);
  // The shard's own tenants are still listed when asked for them only.
  status = ListPage(*a_, 100, "", /*local=*/true, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.tenants_size(), 5);
}

}  // namespace
}  // namespace custra
