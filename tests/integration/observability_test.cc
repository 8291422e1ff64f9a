// Metrics endpoint and access log of a real custra-server: the counters
// move with the calls made, rows are counted per tenant, and the access log
// has one JSON line per RPC without any API key.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custra/client.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace custra {
namespace {

using ::custra::testing::ServerProcess;
using ::custra::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

// A free loopback port (bound and released; good enough for a test).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

// GET /metrics over a plain socket; the body, or "" on failure.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample whose line starts with `series` (name and
// labels exactly as exposed), or -1.
double Sample(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) {
        return value;
      }
    }
  }
  return -1;
}

TEST(ObservabilityTest, MetricsMoveAndTheAccessLogHasOneLinePerCall) {
  TempDir dir;
  const int metrics_port = FreePort();
  const std::string log_path = (dir.path() / "access.log").string();
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.extra_args = {
      absl::StrCat("--metrics-listen=127.0.0.1:", metrics_port),
      "--access-log=" + log_path, "--read-threads=2", "--write-threads=1",
      "--heavy-threads=1"};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();

  ClientOptions client_options;
  client_options.target = (*server)->address();
  client_options.api_key = (*server)->admin_key();
  auto admin = Client::Create(client_options);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->CreateTenant("acme").ok());
  auto key = (*admin)->IssueApiKey("acme");
  ASSERT_TRUE(key.ok());
  client_options.tenant_id = "acme";
  client_options.api_key = key->secret();
  auto acme = Client::Create(client_options);
  ASSERT_TRUE(acme.ok());

  // gRPC's own health service passes through the same interceptor.
  ASSERT_TRUE((*admin)->WaitForServing(absl::Seconds(5)).ok());
  const std::string before = Scrape(metrics_port);
  ASSERT_FALSE(before.empty()) << "no metrics endpoint on " << metrics_port;

  std::vector<v1::Transaction> rows(3);
  for (int i = 0; i < 3; ++i) {
    rows[i].set_id(absl::StrCat("t", i));
    rows[i].set_customer_id("c1");
    rows[i].mutable_time()->set_seconds(1672531200 + i * 86400);
    rows[i].mutable_amount()->set_currency_code("EUR");
    rows[i].mutable_amount()->set_amount_micros(1'000'000);
  }
  ASSERT_TRUE((*acme)->RecordTransactions(rows, "req-42").ok());
  // A call with a wrong key fails UNAUTHENTICATED and is counted too.
  client_options.api_key = "ck_000000000000_nope";
  auto stranger = Client::Create(client_options);
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE((*stranger)->ListCustomers().ok());

  // A call's metrics and access-log line are written once it has finished
  // on the server, which can be just after its response reached the client:
  // wait (bounded) until no call is in flight and the five lines are there.
  auto log_lines = [&] {
    std::ifstream in(log_path);
    std::stringstream content;
    content << in.rdbuf();
    return std::vector<std::string>(
        absl::StrSplit(content.str(), '\n', absl::SkipEmpty()));
  };
  std::string after = Scrape(metrics_port);
  for (const absl::Time give_up = absl::Now() + absl::Seconds(5);
       (Sample(after, "custra_rpc_in_flight") != 0 || log_lines().size() < 5) &&
       absl::Now() < give_up;
       after = Scrape(metrics_port)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const std::string record =
      "custra_rpc_requests_total{code=\"OK\",method=\"/"
      "custra.v1.IngestionService/RecordTransactions\"}";
  EXPECT_EQ(Sample(after, record), 1) << after;
  EXPECT_EQ(Sample(after,
                   "custra_rpc_requests_total{code=\"UNAUTHENTICATED\","
                   "method=\"/custra.v1.IngestionService/ListCustomers\"}"),
            1);
  EXPECT_EQ(Sample(after, "custra_tenant_rows_total{tenant=\"acme\"}"), 3);
  EXPECT_EQ(Sample(after, "custra_import_rows_total"), 3);
  EXPECT_GE(Sample(after, "custra_tenant_requests_total{tenant=\"acme\"}"), 3);
  EXPECT_EQ(Sample(after, "custra_open_tenant_databases"), 1);
  // The write ran on the write pool, the refused read on the read pool
  // (admission runs there); no heavy call came.
  EXPECT_EQ(Sample(after, "custra_worker_threads{pool=\"write\"}"), 1);
  EXPECT_EQ(Sample(after, "custra_worker_threads{pool=\"heavy\"}"), 0);
  const double read_threads =
      Sample(after, "custra_worker_threads{pool=\"read\"}");
  EXPECT_GE(read_threads, 1);
  EXPECT_LE(read_threads, 2);
  EXPECT_EQ(Sample(after, "custra_worker_queued_calls{pool=\"write\"}"), 0);
  EXPECT_EQ(Sample(after, "custra_rpc_in_flight"), 0);
  EXPECT_EQ(Sample(after,
                   "custra_rpc_latency_seconds_count{method=\"/"
                   "custra.v1.IngestionService/RecordTransactions\"}"),
            1);

  std::ifstream in(log_path);
  std::stringstream content;
  content << in.rdbuf();
  const std::string log = content.str();
  std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  // CreateTenant, IssueApiKey, Health/Check, RecordTransactions,
  // ListCustomers. A line is written once its call has finished, after the
  // response went out, so lines of consecutive calls may swap: find each by
  // its method.
  ASSERT_EQ(lines.size(), 5u) << log;
  auto line_of = [&](absl::string_view method) -> std::string {
    const std::string needle = absl::StrCat("\"method\":\"", method, "\"");
    for (const std::string& line : lines) {
      if (absl::StrContains(line, needle)) return line;
    }
    return "";
  };
  EXPECT_NE(line_of("/grpc.health.v1.Health/Check"), "") << log;
  const std::string record_line =
      line_of("/custra.v1.IngestionService/RecordTransactions");
  EXPECT_THAT(record_line, HasSubstr("\"tenant\":\"acme\""));
  EXPECT_THAT(record_line, HasSubstr("\"code\":\"OK\""));
  EXPECT_THAT(record_line, HasSubstr("\"request_id\":\"req-42\""));
  EXPECT_THAT(record_line, HasSubstr("\"latency_ms\":"));
  EXPECT_THAT(line_of("/custra.v1.IngestionService/ListCustomers"),
              HasSubstr("\"code\":\"UNAUTHENTICATED\""));
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":")) << line;
    EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
  }
  // Never a key, neither the tenant's nor the admin's.
  EXPECT_THAT(log, Not(HasSubstr(key->secret())));
  EXPECT_THAT(log, Not(HasSubstr((*server)->admin_key())));
}

}  // namespace
}  // namespace custra
