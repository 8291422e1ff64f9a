// Load driver (a program, not a test).
//
// Starts its own custra-server (the real binary, on loopback, with a
// temporary data directory), seeds M tenants and drives them with N
// concurrent clients, then prints QPS, p50/p99/p999 latency per method,
// errors by gRPC code and the server's RSS and open files. Every phase is
// bounded in time and in request count, and the program stops by itself
// (a watchdog ends it if anything hangs; the server dies with it).
//
// Placement (--driver-cpus): the driver stands in for clients that run on
// other machines, so by default its threads are confined to the
// highest-numbered CPU while the server may use all of them (gRPC's own
// benchmarks give client and server cores of their own). On a 2-core
// machine the kernel put most runnable normal-priority threads, the
// driver's and the server's, on one core while the other ran the server's
// SCHED_IDLE work; unconfined, a read's hops queued behind the driver's
// threads there.
//
// Phases, in order (each can be skipped):
//  1. Seeding: per tenant, CreateTenant + IssueApiKey (admin), an
//     ImportTransactions stream of --seed-rows synthetic rows over
//     --seed-customers customers (tests/bench/synthetic_data.h), attributes
//     on a few customers (UpsertCustomers), a BG/NBD and a Gamma-Gamma fit,
//     one ScoreAccounts and one RFM run (so scoring and run reads work), and
//     --seed-opportunities opportunities.
//  2. Limits probe (--probe-limits): an oversize batch (10,001 rows), an
//     oversize message (> --max-message-bytes) and a burst of concurrent
//     heavy calls above --tenant-concurrency on one tenant; prints the code
//     and the error details each got.
//  3. Mixed load (--seconds > 0): --clients threads, client i on tenant
//     i % --tenants, for --warmup seconds (not recorded) and then --seconds
//     seconds (recorded). By default each client is a closed loop (its next
//     call as soon as it has an answer), so 64 clients keep ~64 calls in
//     flight and latency is queueing: mean latency = clients / QPS (Little's
//     law). With --rate R the clients are an open loop offering R calls/s in
//     all (Poisson arrivals), each latency counted from the call's scheduled
//     time so that falling behind shows (no coordinated omission). --mix
//     reads drops the writes and heavy calls. Each thread owns its own
//     custra::Client, hence its own grpc::Channel. gRPC makes channels with
//     identical arguments share one HTTP/2 connection; by default
//     (--connections tenant) a tenant's threads share one, like the workers
//     of that company's application, and different tenants (companies) do
//     not. ListCustomers (a single page of 50, which the SDK does
//     not offer: its ListCustomers fetches pages of 1,000) and the ceiling's
//     trivial calls go through generated stubs on one shared extra channel.
//     Each thread picks its next call from this weighted mix (per mille):
//       unary reads, 800: GetCustomer 200, GetAccountScore 140,
//         ListTopAccounts (20) 100, ListCustomers (50) 80, GetRun 80,
//         ListOpportunities (50) 80, ListRuns (10) 60, GetPipelineSummary 60
//       writes, 190: RecordTransactions (5 new rows, unique ids) 100,
//         LogActivity (unique request id) 85, ImportTransactions (a stream
//         of 100 new rows in 2 batches) 5
//       heavy, 10: RunSegmentation RFM 5, ScoreAccounts 5
//     Latencies (std::chrono::steady_clock, OK calls only) go to per-thread
//     vectors, merged after the threads are joined: no lock on the hot
//     path. The server's VmRSS and open fds are read from /proc before the
//     warm-up, after it, every 5 s and at the end.
//     Beside the clients, two reference threads (--reference-rate calls/s
//     each, Poisson, latency from send) call grpc.health.v1.Health/Check and
//     GetCustomer without a key on the extra channel: what a trivial call
//     waits for under the same load, in the same run, against which the
//     reads' tail is read.
//     A gauge thread times a fixed register-only loop in CPU time every
//     50 ms (flat however busy the machine's run queue is, it rises when
//     the virtual CPU itself delivers less: a shared or slowed host core)
//     and how late it wakes from each 50 ms sleep (the wait for a core of
//     a thread that wakes up); with the cores used per 5 s, they tell
//     whether a slow period, in which every call's latency grows, is the
//     machine's. Per 5 s, the threads of the server (normal priority and
//     SCHED_IDLE apart) and of the driver that wait on a run queue for a
//     core, on average (from /proc/<pid>/task/<tid>/schedstat).
//  4. Ceiling (--ceiling-seconds > 0): --ceiling-threads threads (default
//     --tenants) calling a trivial handler of the same server, then as many
//     threads calling GetCustomer over the tenants, for the same time each,
//     in this run. The trivial handler (--ceiling-handler) is by default
//     grpc.health.v1.Health/Check, answered by gRPC itself; 'reject' uses
//     GetCustomer without a key instead, which passes the interceptor and
//     is refused by the CallGate (UNAUTHENTICATED, no database): all a
//     unary read pays except its handler.
//  5. Hammer (--hammer): --victim-clients readers on tenant 1 (the read mix,
//     an open loop of --victim-rate reads/s) alone, then again while
//     --hammer-clients closed-loop threads on tenant 0 flood RunSegmentation
//     / ScoreAccounts. After a RESOURCE_EXHAUSTED every thread waits the
//     retry delay the server sent (RetryInfo; at most 1 s), or, without
//     one, --hammer-backoff-ms. Reports both tenants.
//  6. Health probe (--health-probe): one grpc.health.v1.Health/Check after
//     the load phases, then whether the server is still alive (a server
//     whose interceptor took the health service's messages for protobuf
//     Messages died on it with SIGSEGV).
//  7. Touch (--touch-tenants N): on a second, fresh server with the same
//     flags, creates N tenants in turn (CreateTenant + IssueApiKey + one
//     RecordTransactions each), then reads each once more in turn
//     (GetCustomer, reopening the databases the LRU closed); prints RSS and
//     open fds every 1,000 tenants.
// A "targets" block at the end compares each figure with its target.
//
// The server gets --tenant-concurrency, --max-open-tenants and
// --max-message-bytes from the driver's flags of the same names, plus any
// --server-arg (e.g. --server-arg=--sqlite-synchronous=normal); the command
// line is printed. The server of the load phases also gets the driver's
// --sqlite-memory-mib (default 32): with the server's default budget
// (256 MiB) the page caches keep growing, within that bound, as the
// workload's writes grow the databases by a few MB/s, and the RSS measured
// after a short warm-up would show that filling rather than a leak.
//
// Error accounting: RESOURCE_EXHAUSTED is counted apart as deliberate (the
// per-tenant limit); UNKNOWN is used only by the driver's own checks (a
// write whose rows were not all accepted).
//
// Usage: load_driver [--clients 64] [--tenants 8] [--seconds 60]
//                    [--warmup 10] [--max-requests N] [--rate R] [--hammer]
//                    [--touch-tenants 10000] [--help for the rest]

#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custra/client.h"
#include "custra/v1/ingestion.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/synthetic_data.h"
#include "tests/testing/server_process.h"
#include "tests/testing/temp_dir.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = custra::v1;
using custra::testing::AllowedCpus;
using custra::testing::ServerProcess;
using custra::testing::TempDir;
using Clock = std::chrono::steady_clock;

// The as-of date of runs and scorings: the synthetic year's last day.
constexpr int kAsOfYear = 2023, kAsOfMonth = 12, kAsOfDay = 31;
constexpr double kReadP99TargetMs = 10.0;
constexpr double kRssGrowthTargetPercent = 10.0;
constexpr double kTouchRssTargetMb = 300.0;
// Deadline of every call: nothing waits longer than this.
constexpr absl::Duration kCallDeadline = absl::Seconds(20);

// ---------------------------------------------------------------------------
// Methods, mixes and per-thread statistics
// ---------------------------------------------------------------------------

enum Method : int {
  kGetCustomer,
  kGetAccountScore,
  kListTopAccounts,
  kListCustomers,
  kGetRun,
  kListOpportunities,
  kListRuns,
  kGetPipelineSummary,
  kRecordTransactions,
  kLogActivity,
  kImportTransactions,
  kRunSegmentation,
  kScoreAccounts,
  kHealthCheck,
  kUnauthenticatedCall,
  kCreateTenant,
  kIssueApiKey,
  kNumMethods
};

struct MethodInfo {
  const char* name;
  bool unary_read;
};

constexpr std::array<MethodInfo, kNumMethods> kMethods = {{
    {"GetCustomer", true},
    {"GetAccountScore", true},
    {"ListTopAccounts", true},
    {"ListCustomers", true},
    {"GetRun", true},
    {"ListOpportunities", true},
    {"ListRuns", true},
    {"GetPipelineSummary", true},
    {"RecordTransactions", false},
    {"LogActivity", false},
    {"ImportTransactions", false},
    {"RunSegmentation", false},
    {"ScoreAccounts", false},
    {"Health/Check", false},
    {"GetCustomer(no key)", false},
    {"CreateTenant", false},
    {"IssueApiKey", false},
}};

// A weighted choice of methods.
class Mix {
 public:
  explicit Mix(std::vector<std::pair<Method, int>> weights)
      : weights_(std::move(weights)) {
    for (const auto& [method, weight] : weights_) total_ += weight;
  }
  Method Pick(std::mt19937_64& rng) const {
    int r = std::uniform_int_distribution<int>(0, total_ - 1)(rng);
    for (const auto& [method, weight] : weights_) {
      if (r < weight) return method;
      r -= weight;
    }
    return weights_.back().first;
  }

 private:
  std::vector<std::pair<Method, int>> weights_;
  int total_ = 0;
};

const Mix& MainMix() {
  static const Mix* mix = new Mix({{kGetCustomer, 200},
                                   {kGetAccountScore, 140},
                                   {kListTopAccounts, 100},
                                   {kListCustomers, 80},
                                   {kGetRun, 80},
                                   {kListOpportunities, 80},
                                   {kListRuns, 60},
                                   {kGetPipelineSummary, 60},
                                   {kRecordTransactions, 100},
                                   {kLogActivity, 85},
                                   {kImportTransactions, 5},
                                   {kRunSegmentation, 5},
                                   {kScoreAccounts, 5}});
  return *mix;
}

const Mix& ReadMix() {
  static const Mix* mix = new Mix({{kGetCustomer, 200},
                                   {kGetAccountScore, 140},
                                   {kListTopAccounts, 100},
                                   {kListCustomers, 80},
                                   {kGetRun, 80},
                                   {kListOpportunities, 80},
                                   {kListRuns, 60},
                                   {kGetPipelineSummary, 60}});
  return *mix;
}

const Mix& HammerMix() {
  static const Mix* mix = new Mix({{kRunSegmentation, 1}, {kScoreAccounts, 1}});
  return *mix;
}

const Mix& HealthMix() {
  static const Mix* mix = new Mix({{kHealthCheck, 1}});
  return *mix;
}

const Mix& UnauthenticatedMix() {
  static const Mix* mix = new Mix({{kUnauthenticatedCall, 1}});
  return *mix;
}

const Mix& GetCustomerMix() {
  static const Mix* mix = new Mix({{kGetCustomer, 1}});
  return *mix;
}

constexpr int kNumCodes = 17;

// What one thread saw in one phase. Written by that thread only.
struct CallStats {
  std::array<std::vector<int64_t>, kNumMethods> latency_ns;  // OK calls.
  std::array<std::array<int64_t, kNumCodes>, kNumMethods> by_code{};
  std::map<std::string, int64_t> exhausted_reasons;   // ErrorInfo.reason.
  std::map<std::string, std::string> error_examples;  // method+code: message
  // OK unary reads by the 5-second slice of the window they started in.
  struct Slice {
    int64_t reads = 0;
    int64_t slow = 0;  // Above the 10 ms target.
    int64_t max_ns = 0;
  };
  static constexpr double kSliceSeconds = 5;
  std::vector<Slice> read_slices;

  void RecordSlice(double seconds_into_window, int64_t ns) {
    const size_t i =
        static_cast<size_t>(std::max(0.0, seconds_into_window) / kSliceSeconds);
    if (i >= read_slices.size()) read_slices.resize(i + 1);
    Slice& slice = read_slices[i];
    ++slice.reads;
    if (ns > 10'000'000) ++slice.slow;
    slice.max_ns = std::max(slice.max_ns, ns);
  }

  void Record(Method method, const absl::Status& status, int64_t ns) {
    int code = static_cast<int>(status.code());
    if (code < 0 || code >= kNumCodes) code = kNumCodes - 1;
    ++by_code[method][code];
    if (status.ok()) {
      latency_ns[method].push_back(ns);
      return;
    }
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      const std::string reason = custra::ErrorDetailsOf(status).reason;
      ++exhausted_reasons[reason.empty() ? "(no details)" : reason];
    }
    error_examples.emplace(
        absl::StrCat(kMethods[method].name, " ",
                     absl::StatusCodeToString(status.code())),
        std::string(status.message().substr(0, 200)));
  }

  void Merge(const CallStats& other) {
    for (int m = 0; m < kNumMethods; ++m) {
      latency_ns[m].insert(latency_ns[m].end(), other.latency_ns[m].begin(),
                           other.latency_ns[m].end());
      for (int c = 0; c < kNumCodes; ++c) by_code[m][c] += other.by_code[m][c];
    }
    for (const auto& [reason, n] : other.exhausted_reasons) {
      exhausted_reasons[reason] += n;
    }
    error_examples.insert(other.error_examples.begin(),
                          other.error_examples.end());
    if (other.read_slices.size() > read_slices.size()) {
      read_slices.resize(other.read_slices.size());
    }
    for (size_t i = 0; i < other.read_slices.size(); ++i) {
      read_slices[i].reads += other.read_slices[i].reads;
      read_slices[i].slow += other.read_slices[i].slow;
      read_slices[i].max_ns =
          std::max(read_slices[i].max_ns, other.read_slices[i].max_ns);
    }
  }

  int64_t Calls(int m) const {
    int64_t n = 0;
    for (int64_t c : by_code[m]) n += c;
    return n;
  }
  int64_t Count(int m, absl::StatusCode code) const {
    return by_code[m][static_cast<int>(code)];
  }
  // Non-OK calls other than RESOURCE_EXHAUSTED.
  int64_t UnexpectedErrors(int m) const {
    return Calls(m) - Count(m, absl::StatusCode::kOk) -
           Count(m, absl::StatusCode::kResourceExhausted);
  }
  int64_t TotalCalls() const {
    int64_t n = 0;
    for (int m = 0; m < kNumMethods; ++m) n += Calls(m);
    return n;
  }
  int64_t TotalUnexpectedErrors() const {
    int64_t n = 0;
    for (int m = 0; m < kNumMethods; ++m) n += UnexpectedErrors(m);
    return n;
  }
  int64_t TotalExhausted() const {
    int64_t n = 0;
    for (int m = 0; m < kNumMethods; ++m) {
      n += Count(m, absl::StatusCode::kResourceExhausted);
    }
    return n;
  }
  // All OK latencies of unary reads, and their call count.
  std::vector<int64_t> ReadLatencies() const {
    std::vector<int64_t> all;
    for (int m = 0; m < kNumMethods; ++m) {
      if (kMethods[m].unary_read) {
        all.insert(all.end(), latency_ns[m].begin(), latency_ns[m].end());
      }
    }
    return all;
  }
  int64_t ReadCalls() const {
    int64_t n = 0;
    for (int m = 0; m < kNumMethods; ++m) {
      if (kMethods[m].unary_read) n += Calls(m);
    }
    return n;
  }
};

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // Milliseconds.
};

Percentiles PercentilesOf(std::vector<int64_t> ns) {
  Percentiles p;
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * ns.size()));
    rank = std::clamp<size_t>(rank, 1, ns.size());
    return ns[rank - 1] / 1e6;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = ns.back() / 1e6;
  return p;
}

void PrintStats(const std::string& title, const CallStats& s, double seconds) {
  std::cout << "  " << title << " (" << absl::StrFormat("%.1f", seconds)
            << " s)\n";
  std::cout << absl::StrFormat("    %-20s %9s %9s %8s %8s %8s %8s %7s %7s\n",
                               "method", "calls", "QPS", "p50 ms", "p99 ms",
                               "p999 ms", "max ms", "errors", "exhau.");
  auto row = [&](const std::string& name, int64_t calls, int64_t errors,
                 int64_t exhausted, const std::vector<int64_t>& ns) {
    const Percentiles p = PercentilesOf(ns);
    std::cout << absl::StrFormat(
        "    %-20s %9d %9.1f %8.2f %8.2f %8.2f %8.2f %7d %7d\n", name, calls,
        seconds > 0 ? calls / seconds : 0.0, p.p50, p.p99, p.p999, p.max,
        errors, exhausted);
  };
  int64_t read_errors = 0, read_exhausted = 0;
  for (int m = 0; m < kNumMethods; ++m) {
    if (s.Calls(m) == 0) continue;
    row(kMethods[m].name, s.Calls(m), s.UnexpectedErrors(m),
        s.Count(m, absl::StatusCode::kResourceExhausted), s.latency_ns[m]);
    if (kMethods[m].unary_read) {
      read_errors += s.UnexpectedErrors(m);
      read_exhausted += s.Count(m, absl::StatusCode::kResourceExhausted);
    }
  }
  if (s.ReadCalls() > 0) {
    row("= unary reads", s.ReadCalls(), read_errors, read_exhausted,
        s.ReadLatencies());
  }
  std::vector<int64_t> all;
  for (const auto& v : s.latency_ns) all.insert(all.end(), v.begin(), v.end());
  row("= all", s.TotalCalls(), s.TotalUnexpectedErrors(), s.TotalExhausted(),
      all);
  std::cout << "    errors by code:";
  bool any = false;
  for (int c = 1; c < kNumCodes; ++c) {
    int64_t n = 0;
    for (int m = 0; m < kNumMethods; ++m) n += s.by_code[m][c];
    if (n == 0) continue;
    any = true;
    std::cout << " "
              << absl::StatusCodeToString(static_cast<absl::StatusCode>(c))
              << "=" << n
              << (c == static_cast<int>(absl::StatusCode::kResourceExhausted)
                      ? " (deliberate)"
                      : "");
  }
  std::cout << (any ? "" : " none") << "\n";
  if (!s.read_slices.empty()) {
    std::cout
        << "    unary reads by 5 s of the window (share > 10 ms, max ms):";
    for (size_t i = 0; i < s.read_slices.size(); ++i) {
      const CallStats::Slice& slice = s.read_slices[i];
      std::cout << absl::StrFormat(
          " %.0fs:%.1f%%/%.0f", i * CallStats::kSliceSeconds,
          slice.reads > 0 ? 100.0 * slice.slow / slice.reads : 0.0,
          slice.max_ns / 1e6);
    }
    std::cout << "\n";
  }
  for (const auto& [reason, n] : s.exhausted_reasons) {
    std::cout << "    RESOURCE_EXHAUSTED reason " << reason << ": " << n
              << "\n";
  }
  int shown = 0;
  for (const auto& [key, message] : s.error_examples) {
    if (++shown > 8) break;
    std::cout << "    e.g. " << key << ": " << message << "\n";
  }
}

// ---------------------------------------------------------------------------
// The server process, seen from /proc
// ---------------------------------------------------------------------------

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// The fields of a /proc/<pid>[/task/<tid>]/stat file after the command
// (which may hold spaces and parentheses): field n of proc(5) is at n - 3,
// the state first. Empty if the file is gone.
std::vector<std::string> StatFields(const fs::path& stat_file) {
  const std::string stat = ReadFile(stat_file);
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  return absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
}

struct ProcSample {
  double rss_mb = 0;
  double anon_mb = 0;  // RssAnon: heap, stacks.
  double file_mb = 0;  // RssFile + RssShmem: mapped files (SQLite mmap, WAL
                       // index), the binary and its libraries.
  double hwm_mb = 0;   // Peak RSS.
  int64_t fds = 0;
  double cpu_seconds = 0;  // User + system.
};

double StatusFieldMb(const std::string& status, absl::string_view field) {
  const size_t pos = status.find(absl::StrCat(field, ":"));
  if (pos == std::string::npos) return 0;
  int64_t kb = 0;
  std::sscanf(status.c_str() + pos + field.size() + 1, " %ld", &kb);
  return kb / 1024.0;
}

ProcSample SampleProc(pid_t pid) {
  ProcSample s;
  if (pid <= 0) return s;
  const fs::path dir = fs::path("/proc") / std::to_string(pid);
  const std::string status = ReadFile(dir / "status");
  s.rss_mb = StatusFieldMb(status, "VmRSS");
  s.hwm_mb = StatusFieldMb(status, "VmHWM");
  s.anon_mb = StatusFieldMb(status, "RssAnon");
  s.file_mb =
      StatusFieldMb(status, "RssFile") + StatusFieldMb(status, "RssShmem");
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir / "fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++s.fds;
  }
  // utime and stime are fields 14 and 15.
  const std::vector<std::string> stat = StatFields(dir / "stat");
  int64_t utime = 0, stime = 0;
  if (stat.size() > 12 && absl::SimpleAtoi(stat[11], &utime) &&
      absl::SimpleAtoi(stat[12], &stime)) {
    s.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
  }
  return s;
}

// Busy CPU seconds of the whole machine, all processes (from /proc/stat).
double MachineBusySeconds() {
  std::istringstream line(ReadFile("/proc/stat"));
  std::string cpu;
  line >> cpu;
  int64_t total = 0, idle = 0, value = 0;
  for (int i = 0; i < 8 && (line >> value); ++i) {
    total += value;
    if (i == 3 || i == 4) idle += value;  // idle, iowait
  }
  return static_cast<double>(total - idle) / sysconf(_SC_CLK_TCK);
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

// Megabytes of the tenant databases under `data_dir`: the database files
// and their write-ahead logs.
struct DataSize {
  double db_mb = 0;
  double wal_mb = 0;
  double total() const { return db_mb + wal_mb; }
  std::string ToString() const {
    return absl::StrFormat("tenant databases %.1f MB + WAL %.1f MB", db_mb,
                           wal_mb);
  }
};

DataSize DataSizeOf(const fs::path& data_dir) {
  std::error_code ec;
  DataSize size;
  for (auto it = fs::recursive_directory_iterator(data_dir / "tenants", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec) || size_ec) continue;
    const double mb = static_cast<double>(it->file_size(size_ec)) / (1 << 20);
    if (size_ec) continue;
    const std::string name = it->path().filename().string();
    if (absl::EndsWith(name, "-wal")) {
      size.wal_mb += mb;
    } else if (absl::EndsWith(name, ".db")) {
      size.db_mb += mb;
    }
  }
  return size;
}

// Time on a CPU and waiting on a run queue, summed over a process's
// threads (from /proc/<pid>/task/<tid>/schedstat, in ns), split by whether
// a thread runs under SCHED_IDLE (the server's write, heavy and import
// threads) or at normal priority.
struct ThreadTimes {
  int64_t cpu_ns = 0;
  int64_t wait_ns = 0;
};
struct SchedSample {
  // By thread id, so that a delta counts only threads alive at both ends.
  std::map<int64_t, ThreadTimes> normal;
  std::map<int64_t, ThreadTimes> idle;
};

SchedSample SampleSched(pid_t pid) {
  SchedSample sample;
  std::error_code ec;
  const fs::path tasks = fs::path("/proc") / std::to_string(pid) / "task";
  for (auto it = fs::directory_iterator(tasks, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int64_t tid = 0;
    if (!absl::SimpleAtoi(it->path().filename().string(), &tid)) continue;
    std::istringstream times(ReadFile(it->path() / "schedstat"));
    ThreadTimes t;
    if (!(times >> t.cpu_ns >> t.wait_ns)) continue;  // The thread ended.
    // The scheduling policy is field 41.
    const std::vector<std::string> stat = StatFields(it->path() / "stat");
    int policy = 0;
    if (stat.size() <= 38 || !absl::SimpleAtoi(stat[38], &policy)) continue;
    (policy == SCHED_IDLE ? sample.idle : sample.normal)[tid] = t;
  }
  return sample;
}

// What the threads of `to` that were alive in `from` too used between the
// two samples, in ns.
ThreadTimes Delta(const std::map<int64_t, ThreadTimes>& from,
                  const std::map<int64_t, ThreadTimes>& to) {
  ThreadTimes d;
  for (const auto& [tid, t] : to) {
    auto it = from.find(tid);
    if (it == from.end()) continue;
    d.cpu_ns += t.cpu_ns - it->second.cpu_ns;
    d.wait_ns += t.wait_ns - it->second.wait_ns;
  }
  return d;
}

std::string Describe(const ProcSample& s) {
  return absl::StrFormat("RSS %.1f MB (anon %.1f, file %.1f), open fds %d",
                         s.rss_mb, s.anon_mb, s.file_mb, s.fds);
}

// ---------------------------------------------------------------------------
// Where the driver runs
// ---------------------------------------------------------------------------

std::string CpuList(const std::vector<int>& cpus) {
  return absl::StrJoin(cpus, ",");
}

// The CPUs --driver-cpus names, among `allowed`: 'all' (empty: no
// pinning), 'last' (the highest-numbered, if there are two or more) or a
// list such as "1" or "0,2-3".
absl::StatusOr<std::vector<int>> DriverCpus(absl::string_view spec,
                                            const std::vector<int>& allowed) {
  if (spec == "all") return std::vector<int>();
  if (spec == "last") {
    if (allowed.size() < 2) return std::vector<int>();
    return std::vector<int>{allowed.back()};
  }
  std::vector<int> cpus;
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    std::pair<absl::string_view, absl::string_view> range =
        absl::StrSplit(part, absl::MaxSplits('-', 1));
    if (range.second.empty()) range.second = range.first;
    int first = 0, last = 0;
    if (!absl::SimpleAtoi(range.first, &first) ||
        !absl::SimpleAtoi(range.second, &last) || first > last) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--driver-cpus: '", part,
          "' is not a CPU or a range of CPUs (use all, last, or e.g. 1 or "
          "0,2-3)"));
    }
    for (int cpu = first; cpu <= last; ++cpu) {
      if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--driver-cpus: CPU ", cpu, " is not one this process may use (",
            CpuList(allowed), ")"));
      }
      cpus.push_back(cpu);
    }
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

// Confines every thread of this process (and so the threads it starts
// later) to `cpus`.
absl::Status PinProcess(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    int tid = 0;
    if (!absl::SimpleAtoi(task.path().filename().string(), &tid)) continue;
    if (sched_setaffinity(tid, sizeof(set), &set) != 0) {
      return absl::InternalError(absl::StrCat(
          "sched_setaffinity to CPUs ", CpuList(cpus), ": ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Tenants, workers and the load loop
// ---------------------------------------------------------------------------

struct Flags {
  int clients = 64;
  int tenants = 8;
  double rate = 0;  // Offered calls per second over all clients; 0: closed.
  double reference_rate = 50;  // Per reference thread of the mixed load.
  std::string mix = "full";
  std::string connections = "tenant";
  double seconds = 60;
  double warmup = 10;
  int64_t max_requests = 2'000'000;
  int tenant_concurrency = 8;
  int max_open_tenants = 128;
  int max_message_bytes = 4 << 20;
  int64_t sqlite_memory_mib = 32;
  int64_t seed_rows = 5000;
  int64_t seed_customers = 300;
  int seed_opportunities = 20;
  bool probe_limits = true;
  double ceiling_seconds = 5;
  int ceiling_threads = 0;
  std::string ceiling_handler = "health";
  bool health_probe = true;
  bool hammer = false;
  double hammer_seconds = 15;
  int hammer_clients = 0;
  int victim_clients = 0;
  int hammer_backoff_ms = 5;
  double victim_rate = 200;
  int64_t touch_tenants = 0;
  int touch_threads = 4;
  double touch_seconds = 1200;
  double max_total_seconds = 3600;
  std::vector<std::string> server_args;
  std::string driver_cpus = "last";
  // The CPUs of the server it starts (empty: the driver's own).
  std::vector<int> server_cpus;
};

struct Tenant {
  std::string id;
  std::string key;
  std::string run_id;
  // Accounts of the seed scoring run (customers with only returns are not
  // scored, so GetAccountScore picks from these).
  std::vector<std::string> scored;
  int64_t customers = 0;
  int opportunities = 0;
};

std::string CustomerId(int64_t k) { return absl::StrCat("c", k); }
std::string OpportunityId(int k) { return absl::StrCat("opp-", k); }

// What every worker shares: the server and one extra channel with the
// generated stubs (thread-safe).
struct Env {
  std::string address;
  pid_t server_pid = -1;
  fs::path data_dir;
  std::shared_ptr<grpc::Channel> raw_channel;
  std::unique_ptr<v1::IngestionService::Stub> ingestion;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::atomic<int> phase_tag{0};  // Keeps write ids unique across phases.
  // How the workers' clients connect: "shared", "tenant" or "client" (see
  // --connections).
  std::string connections = "tenant";
};

std::unique_ptr<Env> MakeEnv(const ServerProcess& server, pid_t pid,
                             const fs::path& data_dir) {
  auto env = std::make_unique<Env>();
  env->address = server.address();
  env->server_pid = pid;
  env->data_dir = data_dir;
  env->raw_channel =
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  env->ingestion = v1::IngestionService::NewStub(env->raw_channel);
  env->health = grpc::health::v1::Health::NewStub(env->raw_channel);
  return env;
}

// Exits at once: the server dies with us (PR_SET_PDEATHSIG); its temporary
// data directory stays, for a post-mortem.
[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::cerr << "load_driver: " << what << ": " << status << "\n";
  std::exit(1);
}

std::unique_ptr<custra::Client> MakeClient(
    const std::string& address, const std::string& tenant,
    const std::string& key, const std::string& connection_group = "") {
  custra::ClientOptions options;
  options.target = address;
  options.connection_group = connection_group;
  options.tenant_id = tenant;
  options.api_key = key;
  options.default_deadline = kCallDeadline;
  auto client = custra::Client::Create(options);
  if (!client.ok()) Die("Client::Create", client.status());
  return *std::move(client);
}

// As the SDK converts statuses, so that custra::ErrorDetailsOf() reads the
// details of calls made through the generated stubs too.
absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload("type.googleapis.com/google.rpc.Status",
                   absl::Cord(status.error_details()));
  }
  return out;
}

void PrepareRawContext(grpc::ClientContext* context, const std::string& tenant,
                       const std::string& key) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
  if (!tenant.empty()) context->AddMetadata("x-tenant-id", tenant);
}

void SetAsOf(v1::Date* date) {
  date->set_year(kAsOfYear);
  date->set_month(kAsOfMonth);
  date->set_day(kAsOfDay);
}

// One load thread: its own Client, random source and id sequence.
class Worker {
 public:
  Worker(const Env& env, const Tenant* tenant, const Mix* mix, int index,
         int phase_tag)
      : env_(env),
        tenant_(tenant),
        mix_(mix),
        rng_(0x5eed'0000ULL + static_cast<uint64_t>(phase_tag) * 100'000 +
             index),
        prefix_(absl::StrCat("p", phase_tag, "-w", index)) {
    if (tenant_ != nullptr) {
      const std::string group = env.connections == "client"   ? prefix_
                                : env.connections == "tenant" ? tenant_->id
                                                              : "";
      client_ = MakeClient(env.address, tenant_->id, tenant_->key, group);
    }
  }

  Method Pick() { return mix_->Pick(rng_); }

  absl::Status Call(Method method) {
    switch (method) {
      case kGetCustomer:
        return client_->GetCustomer(RandomCustomer()).status();
      case kGetAccountScore:
        return client_
            ->GetAccountScore(
                tenant_->scored[std::uniform_int_distribution<size_t>(
                    0, tenant_->scored.size() - 1)(rng_)])
            .status();
      case kListTopAccounts: {
        v1::ListTopAccountsRequest request;
        request.set_page_size(20);
        return client_->ListTopAccounts(request).status();
      }
      case kListCustomers: {
        grpc::ClientContext context;
        PrepareRawContext(&context, tenant_->id, tenant_->key);
        v1::ListCustomersRequest request;
        request.set_page_size(50);
        v1::ListCustomersResponse response;
        return FromGrpc(
            env_.ingestion->ListCustomers(&context, request, &response));
      }
      case kGetRun:
        return client_->GetRun(tenant_->run_id).status();
      case kListOpportunities: {
        v1::ListOpportunitiesRequest request;
        request.set_page_size(50);
        return client_->ListOpportunities(request).status();
      }
      case kListRuns: {
        v1::ListRunsRequest request;
        request.set_page_size(10);
        return client_->ListRuns(request).status();
      }
      case kGetPipelineSummary:
        return client_->GetPipelineSummary(v1::GetPipelineSummaryRequest())
            .status();
      case kRecordTransactions: {
        std::vector<v1::Transaction> rows(5);
        const std::string order = absl::StrCat(prefix_, "-o", seq_);
        for (size_t k = 0; k < rows.size(); ++k) {
          FillTransaction(absl::StrCat(prefix_, "-", seq_, "-", k), order,
                          &rows[k]);
        }
        auto result = client_->RecordTransactions(
            rows, absl::StrCat(prefix_, "-r", seq_++));
        if (!result.ok()) return result.status();
        if (result->accepted_count() != static_cast<int>(rows.size())) {
          return absl::UnknownError(
              absl::StrCat("driver check: RecordTransactions accepted ",
                           result->accepted_count(), " of ", rows.size()));
        }
        return absl::OkStatus();
      }
      case kLogActivity: {
        v1::LogActivityRequest request;
        v1::SalesActivity& a = *request.mutable_activity();
        const int k = std::uniform_int_distribution<int>(
            0, tenant_->opportunities - 1)(rng_);
        a.set_customer_id(CustomerId(k % tenant_->customers));
        a.set_opportunity_id(OpportunityId(k));
        a.set_kind(v1::SALES_ACTIVITY_KIND_CALL);
        a.mutable_occur_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                            3600);
        a.set_owner("load-driver");
        a.set_summary("load driver call");
        request.set_request_id(absl::StrCat(prefix_, "-a", seq_++));
        return client_->LogActivity(request).status();
      }
      case kImportTransactions: {
        constexpr int kRows = 100;
        const std::string base = absl::StrCat(prefix_, "-i", seq_++);
        int next = 0;
        auto source = [&](v1::Transaction* t) {
          if (next >= kRows) return false;
          FillTransaction(absl::StrCat(base, "-", next),
                          absl::StrCat(base, "-o", next / 4), t);
          ++next;
          return true;
        };
        custra::ImportOptions options;
        options.batch_size = kRows / 2;
        options.max_batches_in_flight = 2;
        options.request_id_prefix = base;
        auto summary = client_->ImportTransactions(source, options);
        if (!summary.ok()) return summary.status();
        if (summary->accepted != kRows) {
          return absl::UnknownError(
              absl::StrCat("driver check: ImportTransactions accepted ",
                           summary->accepted, " of ", kRows));
        }
        return absl::OkStatus();
      }
      case kRunSegmentation: {
        v1::RunSegmentationRequest request;
        SetAsOf(request.mutable_as_of_date());
        request.mutable_parameters()->mutable_rfm();
        return client_->RunSegmentation(request).status();
      }
      case kScoreAccounts: {
        v1::ScoreAccountsRequest request;
        SetAsOf(request.mutable_as_of_date());
        return client_->ScoreAccounts(request).status();
      }
      case kHealthCheck: {
        grpc::ClientContext context;
        PrepareRawContext(&context, "", "");
        grpc::health::v1::HealthCheckRequest request;
        grpc::health::v1::HealthCheckResponse response;
        return FromGrpc(env_.health->Check(&context, request, &response));
      }
      case kUnauthenticatedCall: {
        // The cheapest path through the custra services: the interceptor,
        // then the CallGate refuses the call for its missing key (no
        // database). UNAUTHENTICATED is this call's success.
        grpc::ClientContext context;
        PrepareRawContext(&context, tenant_ != nullptr ? tenant_->id : "", "");
        v1::GetCustomerRequest request;
        request.set_id("c0");
        v1::GetCustomerResponse response;
        const absl::Status status =
            FromGrpc(env_.ingestion->GetCustomer(&context, request, &response));
        if (status.code() == absl::StatusCode::kUnauthenticated) {
          return absl::OkStatus();
        }
        return status.ok()
                   ? absl::UnknownError("driver check: served without a key")
                   : status;
      }
      default:
        return absl::InternalError("not a load method");
    }
  }

 private:
  std::string RandomCustomer() {
    return CustomerId(std::uniform_int_distribution<int64_t>(
        0, tenant_->customers - 1)(rng_));
  }

  void FillTransaction(const std::string& id, const std::string& order,
                       v1::Transaction* t) {
    t->set_id(id);
    t->set_customer_id(RandomCustomer());
    t->mutable_time()->set_seconds(
        custra::bench::kJan1 +
        std::uniform_int_distribution<int64_t>(0, 365 * 86400 - 1)(rng_));
    t->mutable_amount()->set_currency_code("USD");
    t->mutable_amount()->set_amount_micros(
        std::uniform_int_distribution<int64_t>(1'000'000, 90'000'000)(rng_));
    t->set_quantity(1);
    t->set_order_id(order);
    t->set_product("p-load");
  }

  const Env& env_;
  const Tenant* tenant_;
  const Mix* mix_;
  std::mt19937_64 rng_;
  const std::string prefix_;
  int64_t seq_ = 0;
  std::unique_ptr<custra::Client> client_;
};

struct ThreadSpec {
  const Tenant* tenant = nullptr;  // Null: no tenant calls (health only).
  const Mix* mix = nullptr;
  int group = 0;  // Results are merged per group.
  int exhausted_backoff_ms = 0;
  // Open loop: calls are scheduled at exponentially distributed intervals
  // of this mean (Poisson arrivals), and a call's latency counts from its
  // scheduled time, so time spent behind schedule is not hidden
  // (coordinated omission). 0: closed loop, the next call as soon as the
  // previous one returned.
  double mean_interval_seconds = 0;
  // Open loop only: latency counts from the moment the call is sent, not
  // from its scheduled time (for a reference measured like the closed-loop
  // calls beside it).
  bool latency_from_send = false;
};

struct LoadResult {
  std::vector<CallStats> warmup;    // Per group.
  std::vector<CallStats> measured;  // Per group.
  double seconds = 0;               // The measured window.
  double server_cpu_seconds = 0;    // Over the measured window.
  double driver_cpu_seconds = 0;
  double machine_cpu_seconds = 0;  // All processes.
};

enum Phase : int { kWarmupPhase = 0, kMeasurePhase = 1, kStopPhase = 2 };
enum class Moment { kBeforeWarmup, kAfterWarmup, kTick, kEnd };

// Runs the threads for `warmup` seconds (not recorded) and then `measure`
// seconds (recorded), each thread making at most `quota` calls per part.
// `hook` is called from this thread at the moments of the run (kTick once
// a second of the measured part, with the seconds elapsed).
LoadResult RunLoad(Env& env, const std::vector<ThreadSpec>& specs, int groups,
                   double warmup, double measure, int64_t quota,
                   const std::function<void(Moment, double)>& hook) {
  const int phase_tag = ++env.phase_tag;
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < specs.size(); ++i) {
    workers.push_back(std::make_unique<Worker>(
        env, specs[i].tenant, specs[i].mix, static_cast<int>(i), phase_tag));
  }
  std::atomic<int> phase{kWarmupPhase};
  std::atomic<Clock::rep> measure_start_ticks{0};
  std::atomic<int> finished{0};
  std::vector<std::array<CallStats, 2>> stats(specs.size());
  if (hook) hook(Moment::kBeforeWarmup, 0);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < specs.size(); ++i) {
    threads.emplace_back([&, i] {
      Worker& worker = *workers[i];
      std::array<int64_t, 2> calls = {0, 0};
      const double interval = specs[i].mean_interval_seconds;
      std::mt19937_64 pacing(0xface'0000ULL + i);
      std::exponential_distribution<double> gap(interval > 0 ? 1 / interval
                                                             : 1.0);
      Clock::time_point scheduled = Clock::now();
      while (true) {
        int p = phase.load(std::memory_order_acquire);
        if (p == kStopPhase) break;
        if (calls[p] >= quota) {
          if (p == kMeasurePhase) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        Clock::time_point start;
        if (interval > 0) {
          scheduled += std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(gap(pacing)));
          // Sleep in slices so that a stop is seen within 100 ms.
          while (Clock::now() < scheduled &&
                 phase.load(std::memory_order_acquire) != kStopPhase) {
            std::this_thread::sleep_until(std::min(
                scheduled, Clock::now() + std::chrono::milliseconds(100)));
          }
          p = phase.load(std::memory_order_acquire);
          if (p == kStopPhase) break;
          start = specs[i].latency_from_send ? Clock::now() : scheduled;
        } else {
          start = Clock::now();
        }
        const Method method = worker.Pick();
        const absl::Status status = worker.Call(method);
        const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               Clock::now() - start)
                               .count();
        stats[i][p].Record(method, status, ns);
        if (p == kMeasurePhase && status.ok() && kMethods[method].unary_read) {
          stats[i][p].RecordSlice(
              std::chrono::duration<double>(
                  start -
                  Clock::time_point(Clock::duration(
                      measure_start_ticks.load(std::memory_order_relaxed))))
                  .count(),
              ns);
        }
        ++calls[p];
        if (status.code() == absl::StatusCode::kResourceExhausted) {
          // Wait as the server asks (RetryInfo, at most 1 s so that a phase
          // still ends on time), else the thread's own backoff.
          const std::optional<absl::Duration> asked =
              custra::ErrorDetailsOf(status).retry_delay;
          const absl::Duration wait =
              asked ? std::min(*asked, absl::Seconds(1))
                    : absl::Milliseconds(specs[i].exhausted_backoff_ms);
          if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
        }
      }
      finished.fetch_add(1);
    });
  }
  const int n = static_cast<int>(specs.size());
  auto wait_until = [&](Clock::time_point end, bool ticks,
                        Clock::time_point origin) {
    int next_tick = 1;
    while (Clock::now() < end && finished.load() < n) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const double elapsed =
          std::chrono::duration<double>(Clock::now() - origin).count();
      if (ticks && hook && elapsed >= next_tick) {
        hook(Moment::kTick, elapsed);
        ++next_tick;
      }
    }
  };
  const Clock::time_point warmup_start = Clock::now();
  wait_until(warmup_start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(warmup)),
             false, warmup_start);
  if (hook) hook(Moment::kAfterWarmup, 0);
  const double server_cpu0 = SampleProc(env.server_pid).cpu_seconds;
  const double driver_cpu0 = SelfCpuSeconds();
  const double machine_cpu0 = MachineBusySeconds();
  const Clock::time_point measure_start = Clock::now();
  measure_start_ticks.store(measure_start.time_since_epoch().count());
  phase.store(kMeasurePhase);
  wait_until(measure_start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(measure)),
             true, measure_start);
  LoadResult result;
  result.seconds =
      std::chrono::duration<double>(Clock::now() - measure_start).count();
  phase.store(kStopPhase);
  result.server_cpu_seconds =
      SampleProc(env.server_pid).cpu_seconds - server_cpu0;
  result.driver_cpu_seconds = SelfCpuSeconds() - driver_cpu0;
  result.machine_cpu_seconds = MachineBusySeconds() - machine_cpu0;
  if (hook) hook(Moment::kEnd, result.seconds);
  for (std::thread& t : threads) t.join();
  result.warmup.resize(groups);
  result.measured.resize(groups);
  for (size_t i = 0; i < specs.size(); ++i) {
    result.warmup[specs[i].group].Merge(stats[i][0]);
    result.measured[specs[i].group].Merge(stats[i][1]);
  }
  return result;
}

void PrintCpu(const LoadResult& r) {
  if (r.seconds <= 0) return;
  const double others = std::max(
      0.0, r.machine_cpu_seconds - r.server_cpu_seconds - r.driver_cpu_seconds);
  std::cout << absl::StrFormat(
      "  CPU over the window: server %.2f cores, driver %.2f, other "
      "processes and kernel threads %.2f (of %d)\n",
      r.server_cpu_seconds / r.seconds, r.driver_cpu_seconds / r.seconds,
      others / r.seconds,
      static_cast<int>(std::thread::hardware_concurrency()));
}

int64_t Quota(int64_t max_requests, size_t threads) {
  const int64_t n = static_cast<int64_t>(std::max<size_t>(threads, 1));
  return std::max<int64_t>(1, (max_requests + n - 1) / n);
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

struct Target {
  std::string what;
  std::string value;
  std::string target;
  bool met;
};

std::vector<Target>& Targets() {
  static auto* targets = new std::vector<Target>();
  return *targets;
}

void AddTarget(std::string what, std::string value, std::string target,
               bool met) {
  Targets().push_back(
      {std::move(what), std::move(value), std::move(target), met});
}

// ---------------------------------------------------------------------------
// Server start and seeding
// ---------------------------------------------------------------------------

std::vector<std::string> ServerArgs(const Flags& f) {
  std::vector<std::string> args = {
      absl::StrCat("--tenant-concurrency=", f.tenant_concurrency),
      absl::StrCat("--max-open-tenants=", f.max_open_tenants),
      absl::StrCat("--max-message-bytes=", f.max_message_bytes)};
  args.insert(args.end(), f.server_args.begin(), f.server_args.end());
  return args;
}

// `extra_args` come before the --server-arg flags (which may override them).
std::unique_ptr<ServerProcess> StartServer(
    const Flags& f, const fs::path& dir, pid_t* pid,
    std::vector<std::string> extra_args = {}) {
  ServerProcess::Options options;
  options.data_dir = dir / "data";
  options.extra_args = std::move(extra_args);
  options.cpus = f.server_cpus;
  for (std::string& arg : ServerArgs(f)) {
    options.extra_args.push_back(std::move(arg));
  }
  auto server = ServerProcess::Start(options);
  if (!server.ok()) Die("starting custra-server", server.status());
  *pid = (*server)->pid();
  std::cout << "server: " << custra::testing::ServerBinaryPath() << " "
            << absl::StrJoin(options.extra_args, " ") << "\n        at "
            << (*server)->address() << ", pid " << *pid << ", data "
            << options.data_dir.string() << "\n";
  if (*pid <= 0) {
    std::cout << "        (server pid not found: no RSS / fd figures)\n";
  }
  return *std::move(server);
}

Tenant SeedTenant(const Flags& f, const std::string& address,
                  custra::Client& admin, const std::string& id) {
  Tenant tenant;
  tenant.id = id;
  tenant.customers = f.seed_customers;
  tenant.opportunities = f.seed_opportunities;
  if (auto t = admin.CreateTenant(id, "load " + id); !t.ok()) {
    Die("CreateTenant " + id, t.status());
  }
  auto key = admin.IssueApiKey(id, "load-driver");
  if (!key.ok()) Die("IssueApiKey " + id, key.status());
  tenant.key = key->secret();
  auto client = MakeClient(address, id, tenant.key);

  int64_t next = 0;
  auto source = [&](v1::Transaction* t) {
    if (next >= f.seed_rows) return false;
    custra::bench::MakeRow(next++, f.seed_customers, t);
    return true;
  };
  custra::ImportOptions import_options;
  import_options.batch_size = 1000;
  auto imported = client->ImportTransactions(source, import_options);
  if (!imported.ok()) Die("ImportTransactions " + id, imported.status());
  if (imported->accepted != f.seed_rows) {
    Die("ImportTransactions " + id,
        absl::InternalError(absl::StrCat("accepted ", imported->accepted)));
  }

  std::vector<v1::Customer> customers;
  for (int64_t k = 0; k < std::min<int64_t>(20, f.seed_customers); ++k) {
    v1::Customer c;
    c.set_id(CustomerId(k));
    c.set_kind(v1::CUSTOMER_KIND_ENTERPRISE);
    c.set_display_name(absl::StrCat("Account ", k));
    c.set_industry(k % 2 ? "manufacturing" : "retail");
    c.set_region(k % 3 ? "east" : "north");
    c.set_size(v1::CUSTOMER_SIZE_MEDIUM);
    (*c.mutable_attributes())["source"] = "load-driver";
    (*c.mutable_attributes())["segment"] = absl::StrCat("s", k % 4);
    customers.push_back(std::move(c));
  }
  if (auto r = client->UpsertCustomers(customers); !r.ok()) {
    Die("UpsertCustomers " + id, r.status());
  }

  for (v1::ValueModelType type :
       {v1::VALUE_MODEL_TYPE_BG_NBD, v1::VALUE_MODEL_TYPE_GAMMA_GAMMA}) {
    v1::FitValueModelRequest fit;
    fit.set_model_type(type);
    auto model = client->FitValueModel(fit);
    if (!model.ok()) Die("FitValueModel " + id, model.status());
    if (!model->diagnostics().converged()) {
      std::cout << "  note: " << id << " " << v1::ValueModelType_Name(type)
                << " fit did not converge\n";
    }
  }
  v1::ScoreAccountsRequest score;
  SetAsOf(score.mutable_as_of_date());
  auto scoring = client->ScoreAccounts(score);
  if (!scoring.ok()) Die("ScoreAccounts " + id, scoring.status());
  v1::ListTopAccountsRequest top;
  top.set_scoring_run_id(scoring->id());
  top.set_page_size(1000);
  do {
    auto page = client->ListTopAccounts(top);
    if (!page.ok()) Die("ListTopAccounts " + id, page.status());
    for (const v1::AccountScore& a : page->account_scores()) {
      tenant.scored.push_back(a.customer_id());
    }
    top.set_page_token(page->next_page_token());
  } while (!top.page_token().empty());
  if (tenant.scored.empty()) {
    Die("ScoreAccounts " + id, absl::InternalError("no account scored"));
  }
  v1::RunSegmentationRequest rfm;
  SetAsOf(rfm.mutable_as_of_date());
  rfm.mutable_parameters()->mutable_rfm();
  auto run = client->RunSegmentation(rfm);
  if (!run.ok()) Die("RunSegmentation " + id, run.status());
  tenant.run_id = run->id();

  for (int k = 0; k < f.seed_opportunities; ++k) {
    v1::CreateOpportunityRequest request;
    v1::Opportunity& o = *request.mutable_opportunity();
    o.set_id(OpportunityId(k));
    o.set_customer_id(CustomerId(k % f.seed_customers));
    o.set_title(absl::StrCat("Deal ", k));
    o.mutable_amount()->set_currency_code("USD");
    o.mutable_amount()->set_amount_micros((10 + k) * 1'000'000'000LL);
    o.mutable_expected_close_date()->set_year(2026);
    o.mutable_expected_close_date()->set_month(1 + k % 12);
    o.mutable_expected_close_date()->set_day(15);
    o.set_owner(absl::StrCat("owner-", k % 3));
    o.mutable_open_time()->set_seconds(absl::ToUnixSeconds(absl::Now()) -
                                       (k + 1) * 86400);
    if (auto r = client->CreateOpportunity(request); !r.ok()) {
      Die("CreateOpportunity " + id, r.status());
    }
  }
  return tenant;
}

// ---------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------

std::string Details(const absl::Status& status) {
  const custra::ErrorDetails d = custra::ErrorDetailsOf(status);
  std::vector<std::string> parts;
  if (!d.reason.empty()) parts.push_back("reason " + d.reason);
  for (const auto& [key, value] : d.metadata) {
    parts.push_back(absl::StrCat(key, " ", value));
  }
  for (const auto& v : d.field_violations) {
    parts.push_back(absl::StrCat("violation ", v.field, ": ", v.description));
  }
  return parts.empty() ? "no details" : absl::StrJoin(parts, "; ");
}

void ProbeLimits(const Flags& f, const Env& env, const Tenant& tenant) {
  std::cout << "\n== limits probe (tenant " << tenant.id << ")\n";
  auto client = MakeClient(env.address, tenant.id, tenant.key);
  v1::Transaction row;
  custra::bench::MakeRow(0, 10, &row);
  row.set_id("probe");

  // 1. A batch above the 10,000-row limit.
  {
    std::vector<v1::Transaction> rows(10001, row);
    const absl::Status s = client->RecordTransactions(rows).status();
    const bool met = s.code() == absl::StatusCode::kInvalidArgument &&
                     !custra::ErrorDetailsOf(s).field_violations.empty();
    std::cout << "  oversize batch (10,001 rows): "
              << absl::StatusCodeToString(s.code()) << ", " << Details(s)
              << "\n";
    AddTarget("limits: oversize batch -> INVALID_ARGUMENT with details",
              absl::StrCat(absl::StatusCodeToString(s.code()), ", ",
                           Details(s).substr(0, 60)),
              "INVALID_ARGUMENT + field violation", met);
  }
  // 2. A message above --max-message-bytes (below the transport ceiling of
  // twice that, so custra answers, not gRPC).
  {
    v1::Transaction big = row;
    big.set_product(std::string(1000, 'x'));
    const size_t n = static_cast<size_t>(f.max_message_bytes) / 1000 + 16;
    std::vector<v1::Transaction> rows(std::min<size_t>(n, 10000), big);
    const absl::Status s = client->RecordTransactions(rows).status();
    const bool code_met = s.code() == absl::StatusCode::kResourceExhausted;
    std::cout << "  oversize message (> " << f.max_message_bytes
              << " bytes): " << absl::StatusCodeToString(s.code()) << ", "
              << Details(s) << " (" << s.message().substr(0, 80) << ")\n";
    AddTarget("limits: oversize message -> RESOURCE_EXHAUSTED",
              std::string(absl::StatusCodeToString(s.code())),
              "RESOURCE_EXHAUSTED", code_met);
    const custra::ErrorDetails details = custra::ErrorDetailsOf(s);
    AddTarget("limits: oversize message error carries details",
              Details(s).substr(0, 60),
              "TOO_LARGE, limit_bytes, field transactions",
              details.reason == "TOO_LARGE" &&
                  details.metadata.count("limit_bytes") > 0 &&
                  details.metadata.count("field") > 0 &&
                  details.metadata.at("field") == "transactions");
  }
  // 3. More concurrent heavy calls than the tenant's limit, at once.
  {
    const int n = f.tenant_concurrency + 8;
    std::vector<std::unique_ptr<custra::Client>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(MakeClient(env.address, tenant.id, tenant.key));
    }
    std::vector<absl::Status> results(n);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < n) std::this_thread::yield();
        v1::ScoreAccountsRequest request;
        SetAsOf(request.mutable_as_of_date());
        results[i] = clients[i]->ScoreAccounts(request).status();
      });
    }
    for (std::thread& t : threads) t.join();
    int ok = 0, exhausted = 0, other = 0;
    std::string example;
    for (const absl::Status& s : results) {
      if (s.ok()) {
        ++ok;
      } else if (s.code() == absl::StatusCode::kResourceExhausted) {
        ++exhausted;
        if (example.empty()) example = Details(s);
      } else {
        ++other;
        if (example.empty()) example = s.ToString();
      }
    }
    std::cout << "  burst of " << n << " concurrent ScoreAccounts (limit "
              << f.tenant_concurrency << "): OK " << ok
              << ", RESOURCE_EXHAUSTED " << exhausted << ", other " << other
              << (example.empty() ? "" : "; " + example) << "\n";
    AddTarget(
        "limits: burst above tenant limit -> RESOURCE_EXHAUSTED + details",
        absl::StrCat(exhausted, " of ", n, ", ", example.substr(0, 40)),
        "> 0, with reason",
        exhausted > 0 && other == 0 && absl::StrContains(example, "reason"));
  }
}

// Whether the process is gone (exited, or a zombie not yet reaped).
bool ProcessGone(pid_t pid) {
  const std::vector<std::string> stat =
      StatFields(fs::path("/proc") / std::to_string(pid) / "stat");
  return stat.empty() || stat[0] == "Z";
}

// One grpc.health.v1.Health/Check (what Client::WaitForServing and load
// balancers send), then whether the server survived it. Run last, in case
// it does not.
void ProbeHealth(const Env& env, ServerProcess& server) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const absl::Status status =
      FromGrpc(env.health->Check(&context, request, &response));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::string outcome = absl::StrCat(
      absl::StatusCodeToString(status.code()),
      status.ok()
          ? absl::StrCat(
                " ", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                         response.status()))
          : "");
  const bool survived = env.server_pid > 0 && !ProcessGone(env.server_pid);
  if (env.server_pid > 0 && !survived) {
    const int wait_status = server.Wait();
    outcome +=
        WIFSIGNALED(wait_status)
            ? absl::StrCat("; server killed by signal ", WTERMSIG(wait_status),
                           " (", strsignal(WTERMSIG(wait_status)), ")")
            : absl::StrCat("; server exited with status ",
                           WEXITSTATUS(wait_status));
  }
  std::cout << "\n== health probe: one grpc.health.v1.Health/Check: " << outcome
            << "\n";
  AddTarget(
      "server answers grpc.health.v1.Health/Check and survives", outcome,
      "OK SERVING, server alive",
      survived && status.ok() &&
          response.status() == grpc::health::v1::HealthCheckResponse::SERVING);
}

// The machine's own speed through a load phase: a thread that, every
// 50 ms, runs a fixed register-only loop (no memory traffic, so the load
// beside it cannot slow it through caches) and takes the CPU time the
// kernel charged it for the loop. Waiting for a core in this machine's run
// queue is not CPU time, so the figure stays flat however busy the guest is;
// it grows when the core itself delivers less per second of CPU time (a
// host that shares the physical core or lowers its clock, time stolen from
// the virtual CPU that the guest cannot see: a loop it interrupts takes
// several times the usual CPU time). Slow periods in which every call's
// latency grows, a trivial one's too, would show here.
class MachineGauge {
 public:
  MachineGauge() : thread_([this] { Loop(); }) {}
  ~MachineGauge() {
    stop_.store(true);
    thread_.join();
  }
  MachineGauge(const MachineGauge&) = delete;
  MachineGauge& operator=(const MachineGauge&) = delete;

  // Samples are kept from now on, timed from now.
  void Start() {
    absl::MutexLock lock(&mu_);
    origin_ = Clock::now();
    started_ = true;
  }

  // What the loops took over the first `seconds` of the window.
  struct Summary {
    double median_us = 0;          // Over the whole window.
    double interrupted_share = 0;  // Loops over twice that median.
    double worst_slice_share = 0;  // The same in the worst 5 s.
    std::string by_slice;          // "0s:<median us>/<interrupted %>" per 5 s.
    // How late the thread woke from its 50 ms sleeps: the wait for a core
    // (this machine's run queue, or the host's) of a thread that wakes up.
    double late_p99_ms = 0;
    std::string late_by_slice;  // "0s:<p90 ms>/<max ms>" per 5 s.
  };
  Summary Summarize(double seconds) {
    absl::MutexLock lock(&mu_);
    const size_t n = std::min(
        slices_.size(),
        static_cast<size_t>((seconds + 0.5) / CallStats::kSliceSeconds));
    std::vector<double> all;
    for (size_t i = 0; i < n; ++i) {
      all.insert(all.end(), slices_[i].begin(), slices_[i].end());
    }
    Summary summary;
    if (all.empty()) return summary;
    std::sort(all.begin(), all.end());
    summary.median_us = all[all.size() / 2];
    const double limit = 2 * summary.median_us;
    auto over = [limit](const std::vector<double>& v) {
      return std::count_if(v.begin(), v.end(),
                           [limit](double us) { return us > limit; });
    };
    summary.interrupted_share =
        static_cast<double>(over(all)) / static_cast<double>(all.size());
    std::vector<std::string> text;
    for (size_t i = 0; i < n; ++i) {
      std::vector<double> slice = slices_[i];
      if (slice.empty()) continue;
      std::sort(slice.begin(), slice.end());
      const double share =
          static_cast<double>(over(slice)) / static_cast<double>(slice.size());
      summary.worst_slice_share = std::max(summary.worst_slice_share, share);
      text.push_back(absl::StrFormat("%.0fs:%.0f/%.1f%%",
                                     i * CallStats::kSliceSeconds,
                                     slice[slice.size() / 2], 100 * share));
    }
    summary.by_slice = absl::StrJoin(text, " ");
    std::vector<double> late_all;
    std::vector<std::string> late_text;
    for (size_t i = 0; i < n && i < late_slices_.size(); ++i) {
      std::vector<double> slice = late_slices_[i];
      if (slice.empty()) continue;
      std::sort(slice.begin(), slice.end());
      late_all.insert(late_all.end(), slice.begin(), slice.end());
      late_text.push_back(absl::StrFormat(
          "%.0fs:%.1f/%.1f", i * CallStats::kSliceSeconds,
          slice[slice.size() * 9 / 10] / 1e3, slice.back() / 1e3));
    }
    if (!late_all.empty()) {
      std::sort(late_all.begin(), late_all.end());
      summary.late_p99_ms = late_all[late_all.size() * 99 / 100] / 1e3;
    }
    summary.late_by_slice = absl::StrJoin(late_text, " ");
    return summary;
  }

 private:
  static int64_t ThreadCpuNanos() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

  void Loop() {
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    while (!stop_.load()) {
      const int64_t cpu0 = ThreadCpuNanos();
      // xorshift64: a dependent chain of shifts and xors (about 0.7 ms of
      // CPU on the 2-core machine the figures in the issue notes come from).
      for (int i = 0; i < 400'000; ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
      }
      const int64_t cpu = ThreadCpuNanos() - cpu0;
      sink_.store(state, std::memory_order_relaxed);
      {
        absl::MutexLock lock(&mu_);
        AddToSlice(slices_, Clock::now(), cpu / 1e3);
      }
      const Clock::time_point asleep = Clock::now();
      std::this_thread::sleep_for(kSleep);
      const Clock::time_point awake = Clock::now();
      absl::MutexLock lock(&mu_);
      AddToSlice(
          late_slices_, awake,
          std::chrono::duration<double, std::micro>(awake - asleep - kSleep)
              .count());
    }
  }

  // Once started, adds `value` to the 5 s slice of the window `at` falls in.
  void AddToSlice(std::vector<std::vector<double>>& slices,
                  Clock::time_point at, double value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!started_) return;
    const double seconds = std::chrono::duration<double>(at - origin_).count();
    const size_t i =
        static_cast<size_t>(std::max(0.0, seconds) / CallStats::kSliceSeconds);
    if (i >= slices.size()) slices.resize(i + 1);
    slices[i].push_back(value);
  }

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  Clock::time_point origin_ ABSL_GUARDED_BY(mu_);
  static constexpr std::chrono::milliseconds kSleep{50};
  std::vector<std::vector<double>> slices_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<double>> late_slices_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sink_{0};
  std::thread thread_;
};

void RunMain(const Flags& f, Env& env, const std::vector<Tenant>& tenants) {
  const std::string loop =
      f.rate > 0 ? absl::StrFormat("open loop at %.0f calls/s", f.rate)
                 : std::string("closed loop");
  std::cout << "\n== mixed load: " << f.clients << " clients over " << f.tenants
            << " tenants, " << f.mix << " mix, " << loop << ", warm-up "
            << f.warmup << " s, measured " << f.seconds << " s, at most "
            << f.max_requests << " requests\n";
  std::vector<ThreadSpec> specs;
  for (int i = 0; i < f.clients; ++i) {
    specs.push_back({&tenants[i % tenants.size()],
                     f.mix == "reads" ? &ReadMix() : &MainMix(), 0, 0,
                     f.rate > 0 ? f.clients / f.rate : 0});
  }
  ProcSample before, after_warmup, end;
  DataSize data_after_warmup, data_end;
  MachineGauge gauge;
  std::vector<std::string> timeline;
  // CPU seconds (server, driver, machine) at the start of the current 5 s.
  std::array<double, 3> cpu_mark{};
  std::vector<std::string> cpu_timeline;
  // Threads' CPU and run-queue wait (server, driver) at the start of the
  // current 5 s, and the window's sums of the deltas.
  std::array<SchedSample, 2> sched_mark;
  std::array<ThreadTimes, 3> sched_sum{};  // Server normal, idle; driver.
  std::vector<std::string> wait_timeline;
  auto hook = [&](Moment moment, double elapsed) {
    const ProcSample s = SampleProc(env.server_pid);
    const DataSize data = DataSizeOf(env.data_dir);
    const std::string data_text = "; " + data.ToString();
    switch (moment) {
      case Moment::kBeforeWarmup:
        before = s;
        std::cout << "  server before warm-up: " << Describe(s) << data_text
                  << "\n";
        break;
      case Moment::kAfterWarmup:
        gauge.Start();
        cpu_mark = {s.cpu_seconds, SelfCpuSeconds(), MachineBusySeconds()};
        sched_mark = {SampleSched(env.server_pid), SampleSched(getpid())};
        after_warmup = s;
        data_after_warmup = data;
        std::cout << "  server after warm-up:  " << Describe(s) << data_text
                  << "\n";
        break;
      case Moment::kTick:
        if (static_cast<int>(elapsed) % 5 == 0) {
          timeline.push_back(absl::StrFormat("%.0fs:%.1f/%.1f/%d", elapsed,
                                             s.rss_mb, data.total(), s.fds));
          const std::array<double, 3> now = {s.cpu_seconds, SelfCpuSeconds(),
                                             MachineBusySeconds()};
          cpu_timeline.push_back(absl::StrFormat(
              "%.0fs:%.2f/%.2f/%.2f", elapsed - CallStats::kSliceSeconds,
              (now[0] - cpu_mark[0]) / CallStats::kSliceSeconds,
              (now[1] - cpu_mark[1]) / CallStats::kSliceSeconds,
              (now[2] - cpu_mark[2]) / CallStats::kSliceSeconds));
          cpu_mark = now;
          const std::array<SchedSample, 2> sched = {SampleSched(env.server_pid),
                                                    SampleSched(getpid())};
          const std::array<ThreadTimes, 3> d = {
              Delta(sched_mark[0].normal, sched[0].normal),
              Delta(sched_mark[0].idle, sched[0].idle),
              Delta(sched_mark[1].normal, sched[1].normal)};
          for (size_t i = 0; i < d.size(); ++i) {
            sched_sum[i].cpu_ns += d[i].cpu_ns;
            sched_sum[i].wait_ns += d[i].wait_ns;
          }
          constexpr double kNsPerSlice = 1e9 * CallStats::kSliceSeconds;
          wait_timeline.push_back(absl::StrFormat(
              "%.0fs:%.2f/%.2f/%.2f", elapsed - CallStats::kSliceSeconds,
              d[0].wait_ns / kNsPerSlice, d[1].wait_ns / kNsPerSlice,
              d[2].wait_ns / kNsPerSlice));
          sched_mark = sched;
        }
        break;
      case Moment::kEnd:
        end = s;
        data_end = data;
        std::cout << "  server at the end:     " << Describe(s) << data_text
                  << absl::StrFormat(" (peak VmHWM %.1f MB)", s.hwm_mb) << "\n";
        break;
    }
  };
  // The reference (group 1): trivial calls at a low rate on the driver's
  // extra channel, through the same transport, threads and cores as the
  // reads.
  const int groups = f.reference_rate > 0 ? 2 : 1;
  if (f.reference_rate > 0) {
    for (const Mix* mix : {&HealthMix(), &UnauthenticatedMix()}) {
      ThreadSpec reference;
      reference.tenant = mix == &HealthMix() ? nullptr : &tenants[0];
      reference.mix = mix;
      reference.group = 1;
      reference.mean_interval_seconds = 1 / f.reference_rate;
      reference.latency_from_send = true;
      specs.push_back(reference);
    }
  }
  const LoadResult r = RunLoad(env, specs, groups, f.warmup, f.seconds,
                               Quota(f.max_requests, specs.size()), hook);
  std::cout << "  every 5 s, RSS MB / tenant databases + WAL MB / fds: "
            << absl::StrJoin(timeline, " ") << "\n";
  const double growth =
      after_warmup.rss_mb > 0
          ? 100.0 * (end.rss_mb - after_warmup.rss_mb) / after_warmup.rss_mb
          : 0;
  std::cout << absl::StrFormat(
      "  RSS growth after warm-up: %.1f MB -> %.1f MB = %+.1f %% (before "
      "warm-up %.1f MB); anon %+.1f MB, file %+.1f MB; tenant databases "
      "grew %+.1f MB, their WAL %+.1f MB\n",
      after_warmup.rss_mb, end.rss_mb, growth, before.rss_mb,
      end.anon_mb - after_warmup.anon_mb, end.file_mb - after_warmup.file_mb,
      data_end.db_mb - data_after_warmup.db_mb,
      data_end.wal_mb - data_after_warmup.wal_mb);
  PrintCpu(r);
  PrintStats("warm-up (not in the figures)", r.warmup[0], f.warmup);
  PrintStats("measured", r.measured[0], r.seconds);
  const MachineGauge::Summary loops = gauge.Summarize(r.seconds);
  std::cout << "    machine speed by 5 s of the window (CPU us of a fixed "
               "loop: median / share of loops over twice the run's median): "
            << loops.by_slice << "\n";
  std::cout << "    wake-up lateness by 5 s of the window (the gauge's 50 ms "
               "sleeps, p90 / max ms): "
            << loops.late_by_slice << "\n";
  std::cout << "    cores by 5 s of the window (server / driver / machine): "
            << absl::StrJoin(cpu_timeline, " ") << "\n";
  std::cout << "    run-queue wait by 5 s of the window (threads waiting "
               "for a core, on average: server normal priority / server "
               "SCHED_IDLE / driver): "
            << absl::StrJoin(wait_timeline, " ") << "\n";
  if (groups > 1) {
    PrintStats("reference: trivial calls under the same load, from send",
               r.measured[1], r.seconds);
  }

  const CallStats& s = r.measured[0];
  const Percentiles reads = PercentilesOf(s.ReadLatencies());
  const double qps = s.TotalCalls() / r.seconds;
  const std::string load = absl::StrFormat("%dx%dx%.0fs, %s mix, %s", f.clients,
                                           f.tenants, f.seconds, f.mix, loop);
  AddTarget("main: load (clients x tenants x seconds)", load, "64x8x60s",
            f.clients >= 64 && f.tenants >= 8 && f.seconds >= 60 &&
                r.seconds >= 0.99 * f.seconds);
  if (f.rate > 0) {
    AddTarget("main: achieved QPS vs offered (open loop keeps up)",
              absl::StrFormat("%.0f of %.0f", qps, f.rate), ">= 95 %",
              qps >= 0.95 * f.rate);
  } else {
    AddTarget("main: total QPS", absl::StrFormat("%.0f", qps), "(info)", true);
  }
  const int64_t errors =
      s.TotalUnexpectedErrors() + r.warmup[0].TotalUnexpectedErrors();
  AddTarget(
      "main: errors other than RESOURCE_EXHAUSTED (warm-up + run)",
      absl::StrCat(errors, " (RESOURCE_EXHAUSTED ", s.TotalExhausted(), ")"),
      "0", errors == 0);
  AddTarget("main: p99 of unary reads (all read methods merged)",
            absl::StrFormat("%.2f ms (p50 %.2f, p999 %.2f)", reads.p99,
                            reads.p50, reads.p999),
            "<= 10 ms", reads.p99 <= kReadP99TargetMs);
  std::vector<std::string> slow;
  for (int m = 0; m < kNumMethods; ++m) {
    if (!kMethods[m].unary_read || s.latency_ns[m].empty()) continue;
    const double p99 = PercentilesOf(s.latency_ns[m]).p99;
    if (p99 > kReadP99TargetMs) {
      slow.push_back(absl::StrFormat("%s %.1f", kMethods[m].name, p99));
    }
  }
  AddTarget("main: p99 of each unary read method",
            slow.empty() ? "all <= 10 ms" : absl::StrJoin(slow, ", "),
            "<= 10 ms", slow.empty());
  AddTarget("main: server RSS growth after warm-up",
            absl::StrFormat("%+.1f %% (%.1f -> %.1f MB)", growth,
                            after_warmup.rss_mb, end.rss_mb),
            "<= 10 %", growth <= kRssGrowthTargetPercent);
  AddTarget("main: unary-read QPS in the mix",
            absl::StrFormat("%.0f", s.ReadCalls() / r.seconds), "(info)", true);
  if (loops.median_us > 0) {
    AddTarget("main: machine speed (CPU time of a fixed loop every 50 ms)",
              absl::StrFormat("median %.0f us; over twice that: %.1f %% of "
                              "loops, %.1f %% in the worst 5 s; wake-ups "
                              "p99 %.2f ms late",
                              loops.median_us, 100 * loops.interrupted_share,
                              100 * loops.worst_slice_share, loops.late_p99_ms),
              "(info)", true);
  }
  if (!wait_timeline.empty()) {
    const double ns = 1e9 * CallStats::kSliceSeconds * wait_timeline.size();
    AddTarget(
        "main: threads waiting for a core (run queue, mean over the window)",
        absl::StrFormat("server normal priority %.2f (using %.2f cores), "
                        "SCHED_IDLE %.2f (%.2f cores); driver %.2f (%.2f "
                        "cores)",
                        sched_sum[0].wait_ns / ns, sched_sum[0].cpu_ns / ns,
                        sched_sum[1].wait_ns / ns, sched_sum[1].cpu_ns / ns,
                        sched_sum[2].wait_ns / ns, sched_sum[2].cpu_ns / ns),
        "(info)", true);
  }
  if (groups > 1) {
    const CallStats& ref = r.measured[1];
    const Percentiles health = PercentilesOf(ref.latency_ns[kHealthCheck]);
    const Percentiles rejected =
        PercentilesOf(ref.latency_ns[kUnauthenticatedCall]);
    AddTarget("main: p99 of trivial calls under the same load (reference)",
              absl::StrFormat("Health/Check %.2f ms (p50 %.2f), GetCustomer "
                              "without a key %.2f ms (p50 %.2f); reads %.2f ms",
                              health.p99, health.p50, rejected.p99,
                              rejected.p50, reads.p99),
              "(info)", ref.TotalUnexpectedErrors() == 0);
  }
}

void RunCeiling(const Flags& f, Env& env, const std::vector<Tenant>& tenants) {
  const int n = f.ceiling_threads > 0 ? f.ceiling_threads : f.tenants;
  const bool health = f.ceiling_handler == "health";
  const Method trivial = health ? kHealthCheck : kUnauthenticatedCall;
  const std::string trivial_name =
      health ? "grpc.health.v1.Health/Check"
             : "GetCustomer without a key (UNAUTHENTICATED at the CallGate)";
  std::cout << "\n== ceiling: " << n << " threads, " << f.ceiling_seconds
            << " s each (1 s warm-up); trivial handler: " << trivial_name
            << "\n";
  std::vector<ThreadSpec> trivial_specs, reads;
  for (int i = 0; i < n; ++i) {
    const Tenant* tenant = &tenants[i % tenants.size()];
    trivial_specs.push_back({health ? nullptr : tenant,
                             health ? &HealthMix() : &UnauthenticatedMix(), 0,
                             0});
    reads.push_back({tenant, &GetCustomerMix(), 0, 0});
  }
  const int64_t quota = Quota(f.max_requests, n);
  const LoadResult h =
      RunLoad(env, trivial_specs, 1, 1, f.ceiling_seconds, quota, nullptr);
  PrintCpu(h);
  PrintStats("trivial handler: " + trivial_name, h.measured[0], h.seconds);
  const LoadResult g =
      RunLoad(env, reads, 1, 1, f.ceiling_seconds, quota, nullptr);
  PrintCpu(g);
  PrintStats("GetCustomer (unary read)", g.measured[0], g.seconds);
  const double health_qps =
      h.measured[0].Count(trivial, absl::StatusCode::kOk) / h.seconds;
  const double read_qps =
      g.measured[0].Count(kGetCustomer, absl::StatusCode::kOk) / g.seconds;
  std::cout << absl::StrFormat(
      "  unary-read QPS %.0f vs trivial-handler QPS %.0f = %.0f %% of the "
      "ceiling\n",
      read_qps, health_qps, health_qps > 0 ? 100 * read_qps / health_qps : 0);
  AddTarget(health ? "ceiling: GetCustomer QPS vs Health/Check QPS"
                   : "ceiling: GetCustomer QPS vs no-key GetCustomer QPS",
            absl::StrFormat("%.0f vs %.0f (%.0f %%)", read_qps, health_qps,
                            health_qps > 0 ? 100 * read_qps / health_qps : 0),
            "(info)", true);
  const int64_t errors = h.measured[0].TotalUnexpectedErrors() +
                         g.measured[0].TotalUnexpectedErrors();
  AddTarget("ceiling: errors", absl::StrCat(errors), "0", errors == 0);
}

void RunHammer(const Flags& f, Env& env, const std::vector<Tenant>& tenants) {
  const int hammers =
      f.hammer_clients > 0 ? f.hammer_clients : 4 * f.tenant_concurrency;
  const int victims = f.victim_clients > 0 ? f.victim_clients
                                           : std::max(1, f.clients / f.tenants);
  const Tenant& hammer = tenants[0];
  const Tenant& victim = tenants[1];
  const double victim_interval =
      f.victim_rate > 0 ? victims / f.victim_rate : 0;
  std::cout << "\n== hammer: " << hammers << " clients on " << hammer.id
            << " flood RunSegmentation/ScoreAccounts (closed loop; after "
               "RESOURCE_EXHAUSTED, wait its RetryInfo delay, else "
            << f.hammer_backoff_ms << " ms); " << victims << " readers on "
            << victim.id << " ("
            << (f.victim_rate > 0 ? absl::StrFormat("open loop at %.0f reads/s",
                                                    f.victim_rate)
                                  : std::string("closed loop"))
            << "), " << f.hammer_seconds << " s each\n";
  std::vector<ThreadSpec> alone;
  for (int i = 0; i < victims; ++i) {
    alone.push_back({&victim, &ReadMix(), 0, 0, victim_interval});
  }
  const LoadResult a = RunLoad(env, alone, 1, 1, f.hammer_seconds,
                               Quota(f.max_requests, alone.size()), nullptr);
  PrintCpu(a);
  PrintStats("victim " + victim.id + " alone", a.measured[0], a.seconds);

  std::vector<ThreadSpec> both;
  for (int i = 0; i < hammers; ++i) {
    both.push_back({&hammer, &HammerMix(), 0, f.hammer_backoff_ms});
  }
  for (int i = 0; i < victims; ++i) {
    both.push_back({&victim, &ReadMix(), 1, 0, victim_interval});
  }
  const LoadResult b = RunLoad(env, both, 2, 2, f.hammer_seconds,
                               Quota(f.max_requests, both.size()), nullptr);
  PrintCpu(b);
  PrintStats("hammer " + hammer.id, b.measured[0], b.seconds);
  PrintStats("victim " + victim.id + " under the hammer", b.measured[1],
             b.seconds);

  const Percentiles pa = PercentilesOf(a.measured[0].ReadLatencies());
  const Percentiles pb = PercentilesOf(b.measured[1].ReadLatencies());
  AddTarget("hammer: victim read p99 alone", absl::StrFormat("%.2f ms", pa.p99),
            "<= 10 ms", pa.p99 <= kReadP99TargetMs);
  AddTarget(
      "hammer: victim read p99 under the hammer",
      absl::StrFormat("%.2f ms (p50 %.2f, p999 %.2f)", pb.p99, pb.p50, pb.p999),
      "<= 10 ms", pb.p99 <= kReadP99TargetMs);
  const int64_t exhausted =
      b.measured[0].TotalExhausted() + b.warmup[0].TotalExhausted();
  AddTarget("hammer: RESOURCE_EXHAUSTED answered to the hammering tenant",
            absl::StrCat(exhausted), "> 0 (deliberate)", exhausted > 0);
  const int64_t victim_exhausted = b.measured[1].TotalExhausted();
  AddTarget("hammer: RESOURCE_EXHAUSTED answered to the victim",
            absl::StrCat(victim_exhausted), "0", victim_exhausted == 0);
  int64_t errors = 0;
  for (const LoadResult* r : {&a, &b}) {
    for (const auto& s : r->measured) errors += s.TotalUnexpectedErrors();
    for (const auto& s : r->warmup) errors += s.TotalUnexpectedErrors();
  }
  AddTarget("hammer: errors other than RESOURCE_EXHAUSTED",
            absl::StrCat(errors), "0", errors == 0);
}

void RunTouch(const Flags& f) {
  std::cout << "\n== touch: " << f.touch_tenants
            << " tenants in turn on a fresh server (" << f.touch_threads
            << " threads, at most " << f.touch_seconds << " s)\n";
  TempDir dir;
  pid_t pid = -1;
  std::unique_ptr<ServerProcess> server = StartServer(f, dir.path(), &pid);
  Env env;
  env.address = server->address();
  env.server_pid = pid;
  env.raw_channel = grpc::CreateChannel(server->address(),
                                        grpc::InsecureChannelCredentials());
  env.ingestion = v1::IngestionService::NewStub(env.raw_channel);
  // Start() returned after the "listening" line: no WaitForServing needed.
  auto admin = MakeClient(server->address(), "", server->admin_key());
  const ProcSample base = SampleProc(pid);
  std::cout << "  server at start: " << Describe(base) << "\n";
  const int64_t fd_bound = base.fds + 3LL * f.max_open_tenants + 32;

  const int64_t n = f.touch_tenants;
  std::vector<std::string> keys(n);
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(f.touch_seconds));
  double max_rss = base.rss_mb;
  int64_t max_fds = base.fds;
  CallStats total;
  int64_t completed[2] = {0, 0};

  for (int pass = 0; pass < 2; ++pass) {
    std::atomic<int64_t> next{0}, done{0};
    std::vector<CallStats> stats(f.touch_threads);
    std::vector<std::thread> threads;
    const int64_t count = pass == 0 ? n : completed[0];
    for (int t = 0; t < f.touch_threads; ++t) {
      threads.emplace_back([&, t] {
        while (Clock::now() < deadline) {
          const int64_t i = next.fetch_add(1);
          if (i >= count) break;
          const std::string id = absl::StrFormat("touch-%05d", i);
          auto timed = [&](Method m, const std::function<absl::Status()>& fn) {
            const Clock::time_point t0 = Clock::now();
            const absl::Status s = fn();
            stats[t].Record(
                m, s,
                std::chrono::duration_cast<std::chrono::nanoseconds>(
                    Clock::now() - t0)
                    .count());
            return s.ok();
          };
          bool ok = true;
          if (pass == 0) {
            ok = timed(kCreateTenant,
                       [&] { return admin->CreateTenant(id).status(); }) &&
                 timed(kIssueApiKey, [&] {
                   auto key = admin->IssueApiKey(id, "touch");
                   if (key.ok()) keys[i] = key->secret();
                   return key.status();
                 });
            ok = ok && timed(kRecordTransactions, [&] {
                   grpc::ClientContext context;
                   PrepareRawContext(&context, id, keys[i]);
                   v1::RecordTransactionsRequest request;
                   custra::bench::MakeRow(i, 1, request.add_transactions());
                   v1::RecordTransactionsResponse response;
                   return FromGrpc(env.ingestion->RecordTransactions(
                       &context, request, &response));
                 });
          } else {
            ok = timed(kGetCustomer, [&] {
              grpc::ClientContext context;
              PrepareRawContext(&context, id, keys[i]);
              v1::GetCustomerRequest request;
              request.set_id("c0");
              v1::GetCustomerResponse response;
              return FromGrpc(
                  env.ingestion->GetCustomer(&context, request, &response));
            });
          }
          (void)ok;
          done.fetch_add(1);
        }
      });
    }
    int64_t next_checkpoint = 1000;
    auto checkpoint = [&](int64_t at) {
      const ProcSample s = SampleProc(pid);
      max_rss = std::max(max_rss, s.rss_mb);
      max_fds = std::max(max_fds, s.fds);
      std::cout << absl::StrFormat(
          "  %s %6d tenants: %s, %.0f s\n",
          pass == 0 ? "created+written" : "re-read        ", at, Describe(s),
          std::chrono::duration<double>(Clock::now() - start).count());
    };
    while (true) {
      const int64_t d = done.load();
      while (d >= next_checkpoint && next_checkpoint <= count) {
        checkpoint(next_checkpoint);
        next_checkpoint += 1000;
      }
      if (d >= count || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      // Between checkpoints, still track the peak.
      const ProcSample s = SampleProc(pid);
      max_rss = std::max(max_rss, s.rss_mb);
      max_fds = std::max(max_fds, s.fds);
    }
    for (std::thread& t : threads) t.join();
    completed[pass] = done.load();
    if (completed[pass] % 1000 != 0) checkpoint(completed[pass]);
    for (const CallStats& s : stats) total.Merge(s);
    if (Clock::now() >= deadline) {
      std::cout << "  stopped by --touch-seconds\n";
      break;
    }
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  const ProcSample end = SampleProc(pid);
  max_rss = std::max(max_rss, end.rss_mb);
  max_fds = std::max(max_fds, end.fds);
  std::cout << "  server at the end: " << Describe(end)
            << absl::StrFormat(" (peak VmHWM %.1f MB)", end.hwm_mb) << "\n";
  PrintStats("touch calls", total, seconds);
  AddTarget("touch: tenants created+written / re-read",
            absl::StrCat(completed[0], " / ", completed[1]),
            absl::StrCat(n, " / ", n), completed[0] == n && completed[1] == n);
  AddTarget("touch: server RSS (max sampled; peak VmHWM)",
            absl::StrFormat("%.1f MB; %.1f MB", max_rss, end.hwm_mb),
            "< 300 MB",
            max_rss < kTouchRssTargetMb && end.hwm_mb < kTouchRssTargetMb);
  AddTarget("touch: server open fds (max sampled)",
            absl::StrFormat("%d (at start %d)", max_fds, base.fds),
            absl::StrFormat("<= %d (start + 3 x %d open + 32)", fd_bound,
                            f.max_open_tenants),
            max_fds <= fd_bound);
  const int64_t errors = total.TotalUnexpectedErrors() + total.TotalExhausted();
  AddTarget("touch: errors", absl::StrCat(errors), "0", errors == 0);
}

}  // namespace

int main(int argc, char** argv) {
  // As in the server (server/main.cc): no deadlock graph behind a global
  // lock on every absl::Mutex acquisition (Debian's Abseil has it on).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags f;
  CLI::App app{"custra load driver: N clients over M tenants on loopback"};
  app.add_option("--clients", f.clients, "Concurrent client threads")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--tenants", f.tenants, "Tenants the clients spread over")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  app.add_option(
         "--reference-rate", f.reference_rate,
         "Calls per second of each of the mixed load's two reference "
         "threads (open loop, latency from send): one calls "
         "grpc.health.v1.Health/Check, answered by gRPC itself, the other "
         "GetCustomer without a key, refused by the CallGate before any "
         "database. Their tail, next to the reads', is what the transport, "
         "the threads and the machine add under the same load (0: none)")
      ->check(CLI::Range(0.0, 1e4))
      ->capture_default_str();
  app.add_option("--rate", f.rate,
                 "Open loop: offered calls per second over all clients, "
                 "Poisson arrivals, latency from the scheduled time (0: closed "
                 "loop, each client calls again as soon as it has an answer)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--mix", f.mix,
                 "Workload of the mixed load: 'full' (reads, writes, heavy "
                 "calls) or 'reads' (its unary reads only: no data growth)")
      ->check(CLI::IsMember({"full", "reads"}))
      ->capture_default_str();
  app.add_option(
         "--connections", f.connections,
         "How the load threads connect: 'tenant' (the threads of a tenant "
         "share one HTTP/2 connection, like the workers of that company's "
         "application; tenants do not share one), 'client' (one connection "
         "per thread) or 'shared' (all threads on one connection)")
      ->check(CLI::IsMember({"tenant", "client", "shared"}))
      ->capture_default_str();
  app.add_option("--seconds", f.seconds, "Measured seconds (0: no mixed load)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", f.warmup, "Warm-up seconds, not recorded")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--max-requests", f.max_requests,
                 "At most this many requests per load phase (and as many in "
                 "its warm-up), split over its threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--tenant-concurrency", f.tenant_concurrency,
                 "Passed to the server: calls in flight per tenant")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-open-tenants", f.max_open_tenants,
                 "Passed to the server: tenant databases kept open (LRU)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--max-message-bytes", f.max_message_bytes,
                 "Passed to the server: largest message")
      ->check(CLI::Range(1 << 16, 1 << 26))
      ->capture_default_str();
  app.add_option(
         "--sqlite-memory-mib", f.sqlite_memory_mib,
         "Passed to the server of the load phases (not the touch phase's): "
         "its page-cache budget, small enough for the caches to fill it "
         "during the warm-up, so that the RSS growth measured after it is "
         "what is not bounded (0: the server's default, 256, which the "
         "caches fill only as the databases grow past it)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--seed-rows", f.seed_rows, "Transactions per tenant")
      ->check(CLI::Range(int64_t{100}, int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--seed-customers", f.seed_customers, "Customers per tenant")
      ->check(CLI::Range(int64_t{20}, int64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--seed-opportunities", f.seed_opportunities,
                 "Opportunities per tenant")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--probe-limits", f.probe_limits,
                 "Probe the size and concurrency limits once")
      ->capture_default_str();
  app.add_option("--ceiling-seconds", f.ceiling_seconds,
                 "Seconds of Health/Check and of GetCustomer (0: skip)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--ceiling-threads", f.ceiling_threads,
                 "Threads of the ceiling measurement (0: --tenants)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--ceiling-handler", f.ceiling_handler,
                 "The trivial handler: 'reject' (GetCustomer without a key, "
                 "refused by the CallGate) or 'health' "
                 "(grpc.health.v1.Health/Check)")
      ->check(CLI::IsMember({"reject", "health"}))
      ->capture_default_str();
  app.add_option("--health-probe", f.health_probe,
                 "Send one Health/Check after the load phases and report "
                 "whether the server survived it")
      ->capture_default_str();
  app.add_flag("--hammer", f.hammer,
               "Also run the noisy-neighbour phase (tenant 0 floods heavy "
               "calls, tenant 1 reads)");
  app.add_option("--hammer-seconds", f.hammer_seconds,
                 "Seconds of the victim alone and under the hammer")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  app.add_option("--hammer-clients", f.hammer_clients,
                 "Flooding threads (0: 4 x --tenant-concurrency)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--victim-clients", f.victim_clients,
                 "Reading threads on the victim (0: clients / tenants)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--victim-rate", f.victim_rate,
                 "Offered reads per second of the victim tenant (open loop; "
                 "0: closed loop)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--hammer-backoff-ms", f.hammer_backoff_ms,
                 "Pause of a flooding thread after a RESOURCE_EXHAUSTED "
                 "that carries no retry delay (RetryInfo)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--touch-tenants", f.touch_tenants,
                 "Tenants to create and touch in turn on a fresh server (0: "
                 "skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--touch-threads", f.touch_threads,
                 "Threads creating / touching tenants")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--touch-seconds", f.touch_seconds,
                 "Time bound of the touch phase")
      ->check(CLI::Range(1.0, 36000.0))
      ->capture_default_str();
  app.add_option("--max-total-seconds", f.max_total_seconds,
                 "Watchdog: exit (killing the server) after this long")
      ->check(CLI::Range(10.0, 86400.0))
      ->capture_default_str();
  app.add_option("--server-arg", f.server_args,
                 "Extra custra-server flag, e.g. "
                 "--server-arg=--sqlite-synchronous=normal (repeatable)");
  app.add_option(
         "--driver-cpus", f.driver_cpus,
         "CPUs the driver's own threads run on: 'last' (the highest-numbered "
         "CPU it may use, when it may use two or more), 'all' (no pinning) "
         "or a list such as 1 or 0,2-3. The server it starts may use every "
         "CPU the driver was started with. The driver stands in for clients "
         "that run on other machines; confined to one core, its threads "
         "stop queueing for a core behind the server's")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Before any other thread starts, so that all of them inherit it.
  const std::vector<int> allowed = AllowedCpus();
  absl::StatusOr<std::vector<int>> driver_cpus =
      DriverCpus(f.driver_cpus, allowed);
  if (!driver_cpus.ok()) {
    std::cerr << "load_driver: " << driver_cpus.status().message() << "\n";
    return 2;
  }
  std::string placement = "driver and server on CPUs " + CpuList(allowed);
  if (!driver_cpus->empty() && *driver_cpus != allowed) {
    if (absl::Status pinned = PinProcess(*driver_cpus); !pinned.ok()) {
      Die("--driver-cpus", pinned);
    }
    f.server_cpus = allowed;
    placement = absl::StrCat(
        "driver on CPU", driver_cpus->size() > 1 ? "s " : " ",
        CpuList(*driver_cpus), ", server on CPUs ", CpuList(allowed));
  }

  std::thread([seconds = f.max_total_seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::cerr << "load_driver: watchdog: still running after " << seconds
              << " s, exiting\n";
    std::_Exit(3);
  }).detach();

  std::cout << "load_driver: " << std::thread::hardware_concurrency()
            << " cores; " << placement << " (--driver-cpus)\n"
            << "             server flags --tenant-concurrency="
            << f.tenant_concurrency
            << " --max-open-tenants=" << f.max_open_tenants
            << " --max-message-bytes=" << f.max_message_bytes << " "
            << absl::StrJoin(f.server_args, " ") << "\n";

  const bool needs_tenants =
      f.seconds > 0 || f.ceiling_seconds > 0 || f.hammer || f.probe_limits;
  if (needs_tenants) {
    TempDir dir;
    pid_t pid = -1;
    std::vector<std::string> budget;
    if (f.sqlite_memory_mib > 0) {
      budget.push_back(
          absl::StrCat("--sqlite-memory-mib=", f.sqlite_memory_mib));
    }
    std::unique_ptr<ServerProcess> server =
        StartServer(f, dir.path(), &pid, std::move(budget));
    std::unique_ptr<Env> env = MakeEnv(*server, pid, dir.path() / "data");
    env->connections = f.connections;
    auto admin = MakeClient(server->address(), "", server->admin_key());
    std::cout << "server at start: " << Describe(SampleProc(pid)) << "\n";
    const Clock::time_point seed_start = Clock::now();
    std::vector<Tenant> tenants;
    for (int t = 0; t < f.tenants; ++t) {
      tenants.push_back(
          SeedTenant(f, server->address(), *admin, absl::StrCat("load-t", t)));
    }
    std::cout << absl::StrFormat(
        "seeded %d tenants x (%d transactions over %d customers, 20 with "
        "attributes, BG/NBD + Gamma-Gamma, 1 scoring, 1 RFM run, %d "
        "opportunities) in %.1f s; server: %s\n",
        f.tenants, f.seed_rows, f.seed_customers, f.seed_opportunities,
        std::chrono::duration<double>(Clock::now() - seed_start).count(),
        Describe(SampleProc(pid)));
    if (f.probe_limits) ProbeLimits(f, *env, tenants[0]);
    if (f.seconds > 0) RunMain(f, *env, tenants);
    if (f.ceiling_seconds > 0) RunCeiling(f, *env, tenants);
    if (f.hammer) RunHammer(f, *env, tenants);
    std::cout << "\nserver after all load phases: " << Describe(SampleProc(pid))
              << "\n";
    if (f.health_probe) ProbeHealth(*env, *server);
  }
  if (f.touch_tenants > 0) RunTouch(f);

  std::cout << "\n== targets\n";
  int missed = 0;
  for (const Target& t : Targets()) {
    const bool info = t.target == "(info)";
    std::cout << absl::StrFormat(
        "  %-66s %-6s %s%s\n", t.what,
        info ? "info" : (t.met ? "met" : "MISSED"), t.value,
        info ? "" : absl::StrCat("  (target ", t.target, ")"));
    if (!t.met) ++missed;
  }
  std::cout << "  " << missed << " missed\n";
  return 0;
}
