// custra-server: the composition root. Parses flags, opens storage, wires
// the services together, serves until SIGTERM/SIGINT, then drains.

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/api_key.h"
#include "common/authenticator.h"
#include "common/control_store.h"
#include "common/tenant_admin.h"
#include "common/tenant_registry.h"
#include "custra/v1/ingestion.grpc.pb.h"
#include "custra/v1/key_account.grpc.pb.h"
#include "custra/v1/opportunity.grpc.pb.h"
#include "custra/v1/segmentation.grpc.pb.h"
#include "server/call_context.h"
#include "server/ingestion_service.h"
#include "server/key_account_service.h"
#include "server/observability.h"
#include "server/opportunity_service.h"
#include "server/request_size_limit.h"
#include "server/segmentation_service.h"
#include "server/shard_peers.h"
#include "server/tenant_admin_service.h"
#include "server/worker_pool.h"

namespace custra::server {
namespace {

namespace fs = std::filesystem;

struct ServerFlags {
  std::string listen = "127.0.0.1:50051";
  std::string data_dir = "custra-data";
  std::string admin_key_file;
  bool insecure_dev = false;
  bool plaintext = false;
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::string> peers;
  std::string peer_ca_file;
  size_t max_open_tenants = 256;
  int max_message_bytes = 16 << 20;
  int tenant_concurrency = 32;
  int tenant_heavy_concurrency = 0;
  int write_threads = 0;
  int heavy_threads = 0;
  int background_nice = 19;
  bool background_idle = true;
  int read_threads = 0;
  double drain_delay_seconds = 0;
  double shutdown_grace_seconds = 10;
  std::string sqlite_synchronous = "full";
  int64_t sqlite_memory_mib = 256;
  int64_t sqlite_mmap_mib = 0;
  std::string port_file;
  std::string metrics_listen;
  std::string access_log;
};

// Sync-server threads kept idle for the next call (see main).
constexpr int kSyncIdleThreads = 128;

int Fail(absl::string_view message) {
  std::cerr << "custra-server: " << message << "\n";
  return 1;
}

std::string ReadFileTrimmed(const std::string& path, bool* ok) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return std::string(absl::StripAsciiWhitespace(content.str()));
}

bool IsLoopback(absl::string_view address) {
  return absl::StartsWith(address, "127.") ||
         absl::StartsWith(address, "localhost:") ||
         absl::StartsWith(address, "[::1]:") ||
         absl::StartsWith(address, "unix:");
}

// The admin key: --admin-key-file, else $CUSTRA_ADMIN_KEY, else (only with
// --insecure-dev) a generated one written to <data>/admin.key.
absl::StatusOr<std::string> LoadAdminKey(const ServerFlags& flags) {
  if (!flags.admin_key_file.empty()) {
    bool ok = false;
    std::string key = ReadFileTrimmed(flags.admin_key_file, &ok);
    if (!ok) {
      return absl::NotFoundError(
          absl::StrCat("cannot read --admin-key-file ", flags.admin_key_file));
    }
    if (key.size() < 16) {
      return absl::InvalidArgumentError(
          "the admin key must be at least 16 characters");
    }
    return key;
  }
  if (const char* env = std::getenv("CUSTRA_ADMIN_KEY"); env && *env) {
    if (absl::string_view(env).size() < 16) {
      return absl::InvalidArgumentError(
          "CUSTRA_ADMIN_KEY must be at least 16 characters");
    }
    return std::string(env);
  }
  if (!flags.insecure_dev) {
    return absl::FailedPreconditionError(
        "no admin key: pass --admin-key-file FILE or set CUSTRA_ADMIN_KEY "
        "(or --insecure-dev to generate one for local development)");
  }
  const fs::path path = fs::path(flags.data_dir) / "admin.key";
  if (fs::exists(path)) {
    bool ok = false;
    std::string key = ReadFileTrimmed(path.string(), &ok);
    if (ok && !key.empty()) return key;
  }
  absl::StatusOr<GeneratedApiKey> generated = GenerateApiKey();
  if (!generated.ok()) return generated.status();
  const std::string key = absl::StrCat("admin_", generated->secret.substr(3));
  {
    std::ofstream out(path, std::ios::trunc);
    out << key << "\n";
    if (!out) return absl::InternalError("cannot write " + path.string());
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace);
  return key;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerFlags& flags) {
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key must be given together");
  }
  if (flags.tls_cert.empty()) {
    if (!flags.plaintext && !IsLoopback(flags.listen)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing plaintext on the non-loopback address ", flags.listen,
          ": give --tls-cert and --tls-key, or --plaintext if a trusted "
          "proxy terminates TLS"));
    }
    return grpc::InsecureServerCredentials();
  }
  bool ok_cert = false;
  bool ok_key = false;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  pair.cert_chain = ReadFileTrimmed(flags.tls_cert, &ok_cert);
  pair.private_key = ReadFileTrimmed(flags.tls_key, &ok_key);
  if (!ok_cert || pair.cert_chain.empty()) {
    return absl::NotFoundError("cannot read --tls-cert " + flags.tls_cert);
  }
  if (!ok_key || pair.private_key.empty()) {
    return absl::NotFoundError("cannot read --tls-key " + flags.tls_key);
  }
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

int Run(const ServerFlags& flags) {
  // Signals are taken by a dedicated thread; block them before gRPC starts
  // its own threads so they inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  fs::create_directories(fs::path(flags.data_dir) / "scratch", ec);
  if (ec) return Fail("cannot create data directory: " + ec.message());

  absl::StatusOr<std::string> admin_key = LoadAdminKey(flags);
  if (!admin_key.ok()) return Fail(admin_key.status().message());
  auto credentials = MakeCredentials(flags);
  if (!credentials.ok()) return Fail(credentials.status().message());

  SqliteOptions sqlite;
  sqlite.mmap_bytes = flags.sqlite_mmap_mib << 20;
  if (flags.sqlite_synchronous == "normal") {
    sqlite.synchronous = SqliteSynchronous::kNormal;
  } else if (flags.sqlite_synchronous != "full") {
    return Fail("--sqlite-synchronous must be 'full' or 'normal'");
  }
  // One memory budget for every tenant database: past it, SQLite recycles
  // page-cache buffers instead of growing (each connection's own cache is
  // bounded as well, but open tenants times that bound is unbounded).
  SetSqliteMemoryBudget(flags.sqlite_memory_mib << 20);
  auto control = OpenSqliteControlStore(
      (fs::path(flags.data_dir) / "control.db").string(), sqlite);
  if (!control.ok()) return Fail(control.status().ToString());
  TenantRegistryOptions registry_options;
  registry_options.data_dir = flags.data_dir;
  registry_options.max_open = flags.max_open_tenants;
  registry_options.sqlite = sqlite;
  auto registry = TenantRegistry::Open(registry_options);
  if (!registry.ok()) return Fail(registry.status().ToString());

  Authenticator authenticator(control->get(), Sha256Hex(*admin_key));
  CallGate gate(&authenticator, registry->get(), flags.tenant_concurrency,
                flags.tenant_heavy_concurrency);
  // The pools outlive the gRPC server (declared before it): calls still
  // running on them at shutdown finish before they are destroyed.
  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Unary reads: callback-API handlers whose work runs here, at normal
  // priority. Reads are short, so a few threads per core keep the cores
  // busy while one waits (for a fold, or a page from disk).
  WorkerPool reads("custra-read",
                   flags.read_threads > 0 ? flags.read_threads : 4 * cores);
  // Writes and heavy calls: few threads each, at lower priority. Calls
  // beyond them wait (tenants in turn) instead of taking cores from reads.
  const BackgroundPriority background{flags.background_nice,
                                      flags.background_idle};
  WorkerPool writes("custra-write",
                    flags.write_threads > 0 ? flags.write_threads : cores,
                    background);
  WorkerPool heavy("custra-heavy",
                   flags.heavy_threads > 0 ? flags.heavy_threads : cores,
                   background);
  gate.set_writes(&writes);
  gate.set_heavy(&heavy);
  gate.set_reads(&reads);
  Observability::Options observability_options;
  observability_options.metrics_listen = flags.metrics_listen;
  observability_options.access_log = flags.access_log;
  TenantRegistry* tenant_registry = registry->get();
  observability_options.open_tenants = [tenant_registry] {
    return static_cast<int64_t>(tenant_registry->open_count());
  };
  observability_options.pools = [&reads, &writes, &heavy] {
    using PoolLoad = Observability::Options::PoolLoad;
    return std::vector<PoolLoad>{{"read", reads.threads(), reads.queued()},
                                 {"write", writes.threads(), writes.queued()},
                                 {"heavy", heavy.threads(), heavy.queued()}};
  };
  auto observability = Observability::Create(observability_options);
  if (!observability.ok()) return Fail(observability.status().message());
  gate.set_observability(observability->get());
  RequestSizeLimit request_size_limit(flags.max_message_bytes);
  gate.set_request_size_limit(&request_size_limit);
  TenantAdmin admin(control->get(), registry->get());
  std::unique_ptr<ShardPeers> peers;
  if (!flags.peers.empty()) {
    // Peers are asked with the caller's admin key: not in plaintext off
    // this host unless the operator says the network is trusted.
    for (const std::string& peer : flags.peers) {
      if (flags.peer_ca_file.empty() && !flags.plaintext && !IsLoopback(peer)) {
        return Fail(absl::StrCat(
            "refusing to send admin keys in plaintext to the peer ", peer,
            ": give --peer-ca-file, or --plaintext if the network between "
            "the shards is trusted"));
      }
    }
    ShardPeers::Options peer_options;
    peer_options.addresses = flags.peers;
    if (!flags.peer_ca_file.empty()) {
      bool ok = false;
      peer_options.ca_pem = ReadFileTrimmed(flags.peer_ca_file, &ok);
      if (!ok || peer_options.ca_pem.empty()) {
        return Fail("cannot read --peer-ca-file " + flags.peer_ca_file);
      }
    }
    auto created = ShardPeers::Create(std::move(peer_options));
    if (!created.ok()) return Fail(created.status().message());
    peers = *std::move(created);
  }
  TenantAdminServiceImpl admin_service(&gate, &admin, registry->get(),
                                       fs::path(flags.data_dir) / "scratch",
                                       peers.get());
  IngestionServiceImpl ingestion_service(&gate);
  SegmentationServiceImpl segmentation_service(&gate);
  KeyAccountServiceImpl key_account_service(&gate);
  OpportunityServiceImpl opportunity_service(&gate);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Writes run on the sync API: each call holds a sync-server thread while
  // it waits for the write pool. gRPC keeps at most MAX_POLLERS (default 2)
  // of those threads idle and ends the others, so a backlog of writes made
  // it start and end a thread for nearly every call (388 thread starts/s
  // under the load driver, 52/s with this), stealing cores from reads. Idle
  // threads cost a stack each.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kSyncIdleThreads);
  int port = 0;
  builder.AddListeningPort(flags.listen, *credentials, &port);
  // custra answers requests above --max-message-bytes itself, with details
  // (RequestSizeLimit); gRPC refuses only those above the ceiling.
  builder.SetMaxReceiveMessageSize(
      RequestSizeLimit::TransportCeiling(flags.max_message_bytes));
  builder.SetMaxSendMessageSize(flags.max_message_bytes);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back((*observability)->InterceptorFactory());
  interceptors.push_back(request_size_limit.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.RegisterService(&admin_service);
  builder.RegisterService(&ingestion_service);
  builder.RegisterService(&segmentation_service);
  builder.RegisterService(&key_account_service);
  builder.RegisterService(&opportunity_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Fail("cannot listen on " + flags.listen);

  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  const std::string address = absl::StrCat(host, ":", port);
  if (!flags.port_file.empty()) {
    std::ofstream(flags.port_file, std::ios::trunc) << port << "\n";
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::cout << "custra-server listening on " << address << " (data "
            << flags.data_dir << ", "
            << (flags.tls_cert.empty() ? "plaintext" : "TLS") << ")"
            << std::endl;
  if ((*observability)->metrics_port() != 0) {
    std::cout << "custra-server metrics on http://"
              << flags.metrics_listen.substr(0, flags.metrics_listen.rfind(':'))
              << ":" << (*observability)->metrics_port() << "/metrics"
              << std::endl;
  }
  if (flags.admin_key_file.empty() && !std::getenv("CUSTRA_ADMIN_KEY")) {
    std::cout << "custra-server: --insecure-dev: admin key in "
              << (fs::path(flags.data_dir) / "admin.key").string() << std::endl;
  }

  std::thread signal_thread([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::cout << "custra-server: " << strsignal(signal_number) << ", draining"
              << std::endl;
    server->GetHealthCheckService()->SetServingStatus(false);
    absl::SleepFor(absl::Seconds(flags.drain_delay_seconds));
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(
                         flags.shutdown_grace_seconds * 1000)));
  });
  server->Wait();
  signal_thread.join();
  (*registry)->CloseAll();
  std::cout << "custra-server: stopped" << std::endl;
  return 0;
}

}  // namespace
}  // namespace custra::server

int main(int argc, char** argv) {
  // Analyses allocate and free tens of MiB per call (a run over 100,000
  // customers). With glibc's defaults such blocks come from fresh mmaps or
  // trimmed heap, and every call pays page faults to touch them again
  // (measured: RFM server-side 125 ms instead of 50 ms). Keep them in the
  // heap and keep up to 64 MiB of free heap for the next call.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Debian builds Abseil without NDEBUG, so absl::Mutex (which gRPC uses
  // too) checks every acquisition for deadlock cycles in a process-wide
  // graph behind a global lock: about 1 % of the server's CPU under load,
  // and one more lock every thread contends for.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  custra::server::ServerFlags flags;
  CLI::App app{
      "custra-server: multi-tenant customer-structure analysis over gRPC.\n"
      "Serves custra.v1 (ingestion, segmentation, key accounts, "
      "opportunities, tenant admin) with gRPC health checking and server "
      "reflection."};
  app.add_option("--listen", flags.listen,
                 "Address to listen on, host:port (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir,
                 "Directory for control.db and tenants/<id>.db")
      ->capture_default_str();
  app.add_option("--admin-key-file", flags.admin_key_file,
                 "File holding the admin key (else $CUSTRA_ADMIN_KEY)");
  app.add_flag("--insecure-dev", flags.insecure_dev,
               "Without an admin key, generate one into <data-dir>/admin.key "
               "(local development only)");
  app.add_flag(
      "--plaintext", flags.plaintext,
      "Allow plaintext on a non-loopback address (behind a TLS proxy)");
  app.add_option("--tls-cert", flags.tls_cert, "PEM certificate chain file")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", flags.tls_key, "PEM private key file")
      ->check(CLI::ExistingFile);
  app.add_option("--peer", flags.peers,
                 "Another shard behind the same tenant-routing proxy "
                 "(host:port, repeatable; this server's own address may be "
                 "among them, it is skipped). A call that names no tenant "
                 "reaches one shard: ListTenants then lists every peer's "
                 "tenants with its own, asking them with the caller's admin "
                 "key (over TLS with --peer-ca-file; in plaintext only to "
                 "loopback peers or with --plaintext), and fails if a peer "
                 "cannot answer. A call with the "
                 "header 'x-custra-scope: local' lists this server's only")
      ->delimiter(',');
  app.add_option("--peer-ca-file", flags.peer_ca_file,
                 "PEM CA certificates to verify the peers with (TLS to the "
                 "peers); without it they are called in plaintext")
      ->check(CLI::ExistingFile);
  app.add_option("--max-open-tenants", flags.max_open_tenants,
                 "Tenant databases kept open (LRU)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option(
         "--max-message-bytes", flags.max_message_bytes,
         "Largest request or response message. A request above it is "
         "refused with RESOURCE_EXHAUSTED (reason TOO_LARGE) and details: "
         "the limit, its size and the field to split; gRPC itself refuses "
         "messages above twice this, without details")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--tenant-concurrency", flags.tenant_concurrency,
                 "Calls in flight per tenant before RESOURCE_EXHAUSTED")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--write-threads", flags.write_threads,
                 "Threads that run unary writes (ingestion, opportunities, "
                 "accounts) at lower CPU priority; more writes wait, tenants "
                 "in turn (0: one per core). Import streams have threads of "
                 "their own")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--heavy-threads", flags.heavy_threads,
                 "Threads that run heavy calls (segmentation runs, scoring, "
                 "model fits) at lower CPU priority; more wait, tenants in "
                 "turn (0: one per core)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--read-threads", flags.read_threads,
                 "Threads that run unary reads at normal priority (0: four "
                 "per core)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--background-nice", flags.background_nice,
                 "How much lower than the reads' the CPU priority of the "
                 "write, heavy and import threads is (a nice value; 0: the "
                 "same nice value, though still under SCHED_IDLE unless "
                 "--background-idle=false), so that reads get a core first")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--background-idle", flags.background_idle,
                 "Also run the write, heavy and import threads under the "
                 "SCHED_IDLE policy: a read then preempts them at once, "
                 "where a nice value alone leaves them time slices that a "
                 "read waits behind (false: the nice value only)")
      ->capture_default_str();
  app.add_option("--tenant-heavy-concurrency", flags.tenant_heavy_concurrency,
                 "Heavy calls (segmentation runs, structure reports, "
                 "scoring, model fits and evaluations) in flight per tenant; "
                 "more wait for a slot up to their deadline (at most 30 s). "
                 "0: no limit")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--drain-delay", flags.drain_delay_seconds,
                 "Seconds to report NOT_SERVING before refusing new calls")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--shutdown-grace", flags.shutdown_grace_seconds,
                 "Seconds in-flight calls may take to finish at shutdown")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--sqlite-synchronous", flags.sqlite_synchronous,
                 "full: commits survive power loss; normal: commits survive "
                 "a process crash, faster")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  app.add_option("--sqlite-memory-mib", flags.sqlite_memory_mib,
                 "Memory budget of all SQLite databases together (page "
                 "caches), in MiB; a soft limit")
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--sqlite-mmap-mib", flags.sqlite_mmap_mib,
                 "Bytes of each database file read through a memory map, in "
                 "MiB (0: none). Mapped pages are the kernel's page cache but "
                 "count in the server's RSS; with 0 reads go through SQLite's "
                 "page caches, which --sqlite-memory-mib bounds")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--port-file", flags.port_file,
                 "Write the bound port to this file once listening");
  app.add_option("--metrics-listen", flags.metrics_listen,
                 "Serve Prometheus metrics over HTTP at host:port/metrics "
                 "(port 0 picks a free one; empty: no endpoint)");
  app.add_option("--access-log", flags.access_log,
                 "Write one JSON line per RPC (time, method, tenant, code, "
                 "latency, bytes, request id; never a key) to this file, or "
                 "'-' for stderr; empty: no access log");
  CLI11_PARSE(app, argc, argv);
  return custra::server::Run(flags);
}
