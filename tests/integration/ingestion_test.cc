// IngestionService and the tenant-side auth matrix against a real
// custra-server on loopback, through the SDK.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "custra/client.h"
#include "custra/v1/ingestion.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/tenant_clients.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::StatusIs;
using ::custra::testing::TempDir;
using ::testing::ElementsAre;

v1::Transaction Txn(const std::string& id, const std::string& customer,
                    int64_t seconds, int64_t micros,
                    const std::string& order = "") {
  v1::Transaction t;
  t.set_id(id);
  t.set_customer_id(customer);
  t.mutable_time()->set_seconds(seconds);
  t.mutable_amount()->set_currency_code("USD");
  t.mutable_amount()->set_amount_micros(micros);
  t.set_order_id(order);
  return t;
}

constexpr int64_t kJan1 = 1672531200;  // 2023-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

class IngestionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.data_dir = dir_.path() / "data";
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = Connect("", server_->admin_key());
    ASSERT_TRUE(admin_->CreateTenant("acme").ok());
    ASSERT_TRUE(admin_->CreateTenant("beta").ok());
    auto key = admin_->IssueApiKey("acme");
    ASSERT_TRUE(key.ok());
    acme_key_ = key->secret();
    acme_key_id_ = key->api_key().id();
    acme_ = Connect("acme", acme_key_);
  }

  std::unique_ptr<Client> Connect(const std::string& tenant,
                                  const std::string& key) {
    ClientOptions options;
    options.target = server_->address();
    options.tenant_id = tenant;
    options.api_key = key;
    options.default_deadline = absl::Seconds(20);
    auto client = Client::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> admin_;
  std::unique_ptr<Client> acme_;
  std::string acme_key_;
  std::string acme_key_id_;
};

// The server reads and prepares batches ahead of the one it commits. A
// client that waits for each acknowledgement before sending the next batch
// must still get the status of a bad batch (not wait on the read-ahead), and
// every batch before it acknowledged and written.
TEST_F(IngestionTest, AStreamEndsAtItsFirstBadBatchAfterTheOnesBefore) {
  auto channel = grpc::CreateChannel(server_->address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::IngestionService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", acme_key_));
  context.AddMetadata("x-tenant-id", "acme");
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  auto stream = stub->ImportTransactions(&context);
  auto batch = [](int sequence) {
    v1::ImportTransactionsRequest request;
    request.set_sequence_number(sequence);
    request.set_request_id(absl::StrCat("batch-", sequence));
    for (int i = 0; i < 2; ++i) {
      v1::Transaction* t = request.add_transactions();
      t->set_id(absl::StrCat("s", sequence, "-", i));
      t->set_customer_id(absl::StrCat("seq-", sequence));
      t->mutable_time()->set_seconds(1'700'000'000);
      t->mutable_amount()->set_currency_code("EUR");
      t->mutable_amount()->set_amount_micros(1'000'000);
    }
    return request;
  };
  for (int sequence = 1; sequence <= 3; ++sequence) {
    ASSERT_TRUE(stream->Write(batch(sequence)));
    v1::ImportTransactionsResponse ack;
    ASSERT_TRUE(stream->Read(&ack)) << "batch " << sequence;
    EXPECT_EQ(ack.sequence_number(), sequence);
    EXPECT_EQ(ack.request_id(), absl::StrCat("batch-", sequence));
    EXPECT_EQ(ack.result().accepted_count(), 2);
  }
  // Out of sequence; the client then waits for its acknowledgement.
  ASSERT_TRUE(stream->Write(batch(2)));
  v1::ImportTransactionsResponse ack;
  EXPECT_FALSE(stream->Read(&ack));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              ::testing::HasSubstr("sequence numbers must increase"));
  for (int sequence = 1; sequence <= 3; ++sequence) {
    auto customer = acme_->GetCustomer(absl::StrCat("seq-", sequence));
    ASSERT_TRUE(customer.ok()) << customer.status();
    EXPECT_EQ(customer->purchase_stats().transaction_count(), 2);
  }
}

TEST_F(IngestionTest, AuthMatrix) {
  // The right key for the right tenant works.
  CUSTRA_EXPECT_OK(acme_->ListCustomers().status());
  // No key, or a key nobody issued: UNAUTHENTICATED.
  EXPECT_THAT(Connect("acme", "")->ListCustomers(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Connect("acme", "ck_000000000000_" + std::string(43, 'A'))
                  ->ListCustomers(),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // acme's key for beta, or for a tenant that does not exist:
  // PERMISSION_DENIED, revealing nothing.
  EXPECT_THAT(Connect("beta", acme_key_)->ListCustomers(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Connect("nobody", acme_key_)->ListCustomers(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // The admin key is not a tenant key.
  EXPECT_THAT(Connect("acme", server_->admin_key())->ListCustomers(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Bad tenant ids: INVALID_ARGUMENT naming x-tenant-id, no file created.
  for (const std::string& tenant : {std::string("../x"), std::string("A"),
                                    std::string(64, 'a'), std::string("ab")}) {
    auto result = Connect(tenant, acme_key_)->ListCustomers();
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument)) << tenant;
    ErrorDetails details = ErrorDetailsOf(result.status());
    EXPECT_EQ(details.reason, "INVALID_TENANT_ID");
    ASSERT_EQ(details.field_violations.size(), 1u);
    EXPECT_EQ(details.field_violations[0].field, "x-tenant-id");
  }
  // A missing tenant header is INVALID_ARGUMENT too.
  EXPECT_THAT(Connect("", acme_key_)->ListCustomers(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Non-ASCII ids never reach the wire: the SDK refuses them.
  ClientOptions unicode;
  unicode.target = server_->address();
  unicode.tenant_id = "\xE5\xAE\xA2\xE6\x88\xB7";
  EXPECT_THAT(Client::Create(unicode),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "x.db"));
  // A revoked key stops working at once.
  ASSERT_TRUE(admin_->RevokeApiKey("acme", acme_key_id_).ok());
  EXPECT_THAT(acme_->ListCustomers(),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(IngestionTest, UpsertGetListDeleteCustomers) {
  v1::Customer ent;
  ent.set_id("c-ent");
  ent.set_kind(v1::CUSTOMER_KIND_ENTERPRISE);
  ent.set_display_name("Shanghai Steel");
  ent.set_industry("steel");
  ent.set_region("east");
  ent.add_tags("vip");
  ent.mutable_man_assessment()->set_money(v1::MAN_LEVEL_HIGH);
  (*ent.mutable_attributes())["erp_id"] = "42";
  v1::Customer gov;
  gov.set_id("c-gov");
  gov.set_kind(v1::CUSTOMER_KIND_GOVERNMENT);
  gov.set_region("east");
  auto result = acme_->UpsertCustomers({ent, gov}, "req-1");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->created_count(), 2);
  // The same request id again is a replay, not a second write.
  auto replay = acme_->UpsertCustomers({ent, gov}, "req-1");
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed());
  EXPECT_EQ(replay->created_count(), 2);

  auto got = acme_->GetCustomer("c-ent");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->display_name(), "Shanghai Steel");
  EXPECT_EQ(got->man_assessment().money(), v1::MAN_LEVEL_HIGH);
  EXPECT_EQ(got->attributes().at("erp_id"), "42");

  auto enterprises = acme_->ListCustomers("kind=ENTERPRISE");
  ASSERT_TRUE(enterprises.ok());
  ASSERT_EQ(enterprises->size(), 1u);
  EXPECT_EQ((*enterprises)[0].id(), "c-ent");
  auto east = acme_->ListCustomers("region=east");
  ASSERT_TRUE(east.ok());
  EXPECT_EQ(east->size(), 2u);
  auto bad_filter = acme_->ListCustomers("colour=red");
  EXPECT_THAT(bad_filter, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ErrorDetailsOf(bad_filter.status()).field_violations[0].field,
            "filter");

  // Another tenant sees none of it.
  ASSERT_TRUE(admin_->IssueApiKey("beta").ok());
  auto beta_key = admin_->IssueApiKey("beta");
  auto beta = Connect("beta", beta_key->secret());
  EXPECT_THAT(beta->GetCustomer("c-ent"),
              StatusIs(absl::StatusCode::kNotFound));

  ASSERT_TRUE(acme_->RecordTransactions({Txn("t1", "c-ent", kJan1, 5)}).ok());
  auto deleted = acme_->DeleteCustomer("c-ent");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted_transaction_count(), 1);
  EXPECT_THAT(acme_->GetCustomer("c-ent"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IngestionTest, StreamedImportIsExactAndIdempotent) {
  // 23 rows over 5 customers in batches of 5: two rows of the same order,
  // one return, one bad row.
  std::vector<v1::Transaction> rows;
  for (int i = 0; i < 20; ++i) {
    rows.push_back(Txn("t" + std::to_string(i), "c" + std::to_string(i % 5),
                       kJan1 + i * kDay, 1'000'000 * (i + 1)));
  }
  rows.push_back(Txn("t20", "c0", kJan1, 2'500'000, "order-x"));
  rows.push_back(Txn("t21", "c0", kJan1, -1'000'000, "return-x"));
  rows.push_back(Txn("t22", "", kJan1, 1));
  size_t next = 0;
  auto source = [&](v1::Transaction* out) {
    if (next == rows.size()) return false;
    *out = rows[next++];
    return true;
  };
  ImportOptions options;
  options.batch_size = 5;
  options.max_batches_in_flight = 2;
  int64_t progress_calls = 0;
  options.on_progress = [&](const ImportProgress&) { ++progress_calls; };
  auto summary = acme_->ImportTransactions(source, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows_sent, 23);
  EXPECT_EQ(summary->rows_acknowledged, 23);
  EXPECT_EQ(summary->accepted, 22);
  EXPECT_EQ(summary->rejected, 1);
  EXPECT_EQ(summary->customers_created, 5);
  EXPECT_EQ(summary->batches_acknowledged, 5);
  EXPECT_EQ(progress_calls, 5);
  ASSERT_EQ(summary->rejections.size(), 1u);
  EXPECT_EQ(summary->rejections[0].row, 22);
  EXPECT_EQ(summary->rejections[0].field, "customer_id");
  EXPECT_EQ(summary->rejections[0].reason, "MISSING_FIELD");

  // c0 bought on days 0, 5, 10, 15 (1, 6, 11, 16 dollars) and on day 0
  // again (order-x, 2.50), and returned 1.00.
  auto c0 = acme_->GetCustomer("c0");
  ASSERT_TRUE(c0.ok());
  const auto& stats = c0->purchase_stats();
  EXPECT_EQ(stats.transaction_count(), 6);
  EXPECT_EQ(stats.revenue().amount_micros(),
            34'000'000 + 2'500'000 - 1'000'000);
  EXPECT_EQ(stats.revenue().currency_code(), "USD");
  EXPECT_EQ(stats.returns().amount_micros(), -1'000'000);
  EXPECT_EQ(stats.order_count(), 5);
  EXPECT_EQ(stats.purchase_day_count(), 4);
  EXPECT_EQ(stats.first_purchase_time().seconds(), kJan1);
  EXPECT_EQ(stats.last_purchase_time().seconds(), kJan1 + 15 * kDay);

  // Importing the same rows again: all duplicates, nothing changes.
  next = 0;
  auto again = acme_->ImportTransactions(source, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->accepted, 0);
  EXPECT_EQ(again->duplicates, 22);
  EXPECT_EQ(acme_->GetCustomer("c0")->purchase_stats().transaction_count(), 6);
}

TEST_F(IngestionTest, OversizeBatchIsInvalidArgument) {
  std::vector<v1::Transaction> rows(10001, Txn("x", "c", kJan1, 1));
  auto result = acme_->RecordTransactions(rows);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ErrorDetailsOf(result.status()).field_violations[0].field,
            "transactions");
}

TEST_F(IngestionTest, InteractionsAreRecordedAndListedNewestFirst) {
  std::vector<v1::Interaction> rows(3);
  for (int i = 0; i < 3; ++i) {
    rows[i].set_id("i" + std::to_string(i));
    rows[i].set_customer_id("prospect");
    rows[i].set_kind(v1::INTERACTION_KIND_VISIT);
    rows[i].mutable_time()->set_seconds(kJan1 + i * kDay);
  }
  rows[2].set_kind(v1::INTERACTION_KIND_SURVEY);
  rows[2].set_nps_score(9);
  auto result = acme_->RecordInteractions(rows);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->accepted_count(), 3);
  EXPECT_EQ(result->customers_created_count(), 1);
  rows[0].set_nps_score(11);
  rows[0].set_id("i-bad");
  auto bad = acme_->RecordInteractions({rows[0]});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->rejected_count(), 1);
  EXPECT_EQ(bad->rejections(0).field(), "nps_score");
  auto listed = acme_->ListInteractions("prospect");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> ids;
  for (const auto& i : *listed) ids.push_back(i.id());
  EXPECT_THAT(ids, ElementsAre("i2", "i1", "i0"));
  EXPECT_EQ((*listed)[0].nps_score(), 9);
  auto surveys = acme_->ListInteractions("prospect", "kind=SURVEY");
  ASSERT_TRUE(surveys.ok()) << surveys.status();
  ASSERT_EQ(surveys->size(), 1u);
  EXPECT_EQ((*surveys)[0].id(), "i2");
  EXPECT_THAT(acme_->ListInteractions("prospect", "mood=happy"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace custra

namespace custra {
namespace {

TEST(TenantConcurrencyTest, CallsAboveTheLimitAreResourceExhausted) {
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {"--tenant-concurrency=1"};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ClientOptions client_options;
  client_options.target = (*server)->address();
  client_options.api_key = (*server)->admin_key();
  auto admin = Client::Create(client_options);
  ASSERT_TRUE(admin.ok());
  std::map<std::string, std::unique_ptr<Client>> tenants;
  for (const char* id : {"busy", "calm"}) {
    ASSERT_TRUE((*admin)->CreateTenant(id).ok());
    auto key = (*admin)->IssueApiKey(id);
    ASSERT_TRUE(key.ok());
    ClientOptions tenant_options = client_options;
    tenant_options.tenant_id = id;
    tenant_options.api_key = key->secret();
    tenants[id] = *Client::Create(tenant_options);
  }
  // An import stream holds busy's only slot until its source ends; the
  // source blocks until the test has made its checks.
  absl::Notification streaming;
  absl::Notification checked;
  ImportOptions import_options;
  import_options.batch_size = 1;
  import_options.on_progress = [&](const ImportProgress&) {
    if (!streaming.HasBeenNotified()) streaming.Notify();
  };
  std::thread importer([&] {
    bool first = true;
    auto summary = tenants["busy"]->ImportTransactions(
        [&](v1::Transaction* out) {
          if (!first) {
            checked.WaitForNotification();
            return false;
          }
          first = false;
          *out = Txn("t1", "c1", kJan1, 1);
          return true;
        },
        import_options);
    EXPECT_TRUE(summary.ok()) << summary.status();
  });
  streaming.WaitForNotification();
  auto refused = tenants["busy"]->ListCustomers();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  const ErrorDetails details = ErrorDetailsOf(refused.status());
  EXPECT_EQ(details.reason, "TENANT_CONCURRENCY_LIMIT");
  // With a retry delay to wait (RetryInfo), within the limiter's bounds.
  ASSERT_TRUE(details.retry_delay.has_value());
  EXPECT_GE(*details.retry_delay, absl::Milliseconds(10));
  EXPECT_LE(*details.retry_delay, absl::Seconds(10));
  CUSTRA_EXPECT_OK(tenants["calm"]->ListCustomers().status());
  checked.Notify();
  importer.join();
  CUSTRA_EXPECT_OK(tenants["busy"]->ListCustomers().status());
}

// A row whose wire size does not depend on `i` (fixed-width ids), so that
// a batch's size is a multiple of one row's.
v1::Transaction SizedRow(const std::string& prefix, int i) {
  v1::Transaction t =
      Txn(absl::StrFormat("%s-t%06d", prefix, i),
          absl::StrFormat("%s-c%03d", prefix, i % 50), kJan1 + i, 1000000);
  t.set_product(std::string(100, 'p'));
  return t;
}

v1::RecordTransactionsRequest SizedBatch(const std::string& prefix, int rows) {
  v1::RecordTransactionsRequest request;
  for (int i = 0; i < rows; ++i)
    *request.add_transactions() = SizedRow(prefix, i);
  return request;
}

std::vector<v1::Transaction> Rows(const v1::RecordTransactionsRequest& r) {
  return {r.transactions().begin(), r.transactions().end()};
}

// --max-message-bytes is answered by custra with details a client can split
// its batch by; a request of exactly the limit is served; only above twice
// the limit does gRPC refuse the message itself.
TEST(MessageSizeLimitTest, RequestsAboveTheLimitAreRefusedWithDetails) {
  constexpr int kRowsAtLimit = 1000;
  const v1::RecordTransactionsRequest at_limit = SizedBatch("a", kRowsAtLimit);
  const int64_t limit = static_cast<int64_t>(at_limit.ByteSizeLong());
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {absl::StrCat("--max-message-bytes=", limit)};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = testing::NewTenantClient(**server, "bulk");
  ASSERT_TRUE(client.ok()) << client.status();

  auto served = (*client)->RecordTransactions(Rows(at_limit));
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->accepted_count(), kRowsAtLimit);

  const v1::RecordTransactionsRequest above =
      SizedBatch("b", kRowsAtLimit * 3 / 2);
  const int64_t above_bytes = static_cast<int64_t>(above.ByteSizeLong());
  auto refused = (*client)->RecordTransactions(Rows(above));
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("--max-message-bytes"));
  const ErrorDetails details = ErrorDetailsOf(refused.status());
  EXPECT_EQ(details.reason, "TOO_LARGE");
  EXPECT_EQ(details.metadata.at("limit_bytes"), absl::StrCat(limit));
  EXPECT_EQ(details.metadata.at("request_bytes"), absl::StrCat(above_bytes));
  EXPECT_EQ(details.metadata.at("field"), "transactions");
  EXPECT_EQ(details.metadata.at("field_bytes"), absl::StrCat(above_bytes));
  EXPECT_EQ(details.metadata.at("field_items"),
            absl::StrCat(kRowsAtLimit * 3 / 2));
  EXPECT_EQ(details.metadata.at("items_that_fit"), absl::StrCat(kRowsAtLimit));
  ASSERT_EQ(details.field_violations.size(), 1u);
  EXPECT_EQ(details.field_violations[0].field, "transactions");
  EXPECT_THAT(details.field_violations[0].description,
              ::testing::HasSubstr(absl::StrCat("send about ", kRowsAtLimit,
                                                " or fewer per request")));
  // Nothing of the refused batch was written.
  auto customers = (*client)->ListCustomers();
  ASSERT_TRUE(customers.ok()) << customers.status();
  EXPECT_EQ(customers->size(), 50u);

  // One row more than fits is refused as well.
  auto one_more =
      (*client)->RecordTransactions(Rows(SizedBatch("c", kRowsAtLimit + 1)));
  EXPECT_THAT(one_more, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(ErrorDetailsOf(one_more.status()).reason, "TOO_LARGE");

  // Above the transport ceiling (twice the limit) gRPC refuses the message
  // before custra sees it: the same code, without custra's details.
  auto huge = (*client)->RecordTransactions(
      Rows(SizedBatch("d", kRowsAtLimit * 2 + 10)));
  EXPECT_THAT(huge, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(ErrorDetailsOf(huge.status()).metadata.empty());
  auto after = (*client)->ListCustomers();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size(), 50u);

  // A streamed import batch is held to the same limit, with the same
  // details; the batches before it stay acknowledged and written.
  auto stream_rows = Rows(SizedBatch("e", kRowsAtLimit * 3 / 2));
  size_t next = 0;
  ImportOptions stream_options;
  stream_options.batch_size = kRowsAtLimit / 2;
  auto source = [&](v1::Transaction* t) {
    if (next == stream_rows.size()) return false;
    *t = stream_rows[next++];
    return true;
  };
  auto small = (*client)->ImportTransactions(source, stream_options);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->accepted, kRowsAtLimit * 3 / 2);
  next = 0;
  stream_rows = Rows(SizedBatch("f", kRowsAtLimit * 3 / 2));
  stream_options.batch_size = kRowsAtLimit * 3 / 2;
  auto big = (*client)->ImportTransactions(source, stream_options);
  EXPECT_THAT(big, StatusIs(absl::StatusCode::kResourceExhausted));
  const ErrorDetails stream_details = ErrorDetailsOf(big.status());
  EXPECT_EQ(stream_details.reason, "TOO_LARGE");
  EXPECT_EQ(stream_details.metadata.at("field"), "transactions");
  EXPECT_EQ(stream_details.metadata.at("limit_bytes"), absl::StrCat(limit));
}

}  // namespace
}  // namespace custra
