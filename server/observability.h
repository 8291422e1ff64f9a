#ifndef CUSTRA_SERVER_OBSERVABILITY_H_
#define CUSTRA_SERVER_OBSERVABILITY_H_

// What an operator watches: Prometheus metrics over HTTP on their own port
// (prometheus-cpp's exposer) and a structured JSON access log, one line per
// RPC. Both are fed by one gRPC server interceptor, so no handler carries
// timing or logging code; services add only what only they know (rows
// ingested, model fit durations).

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace custra::server {

// Metrics and access log of one server. Thread-safe.
class Observability {
 public:
  struct Options {
    // host:port of the metrics HTTP endpoint (GET /metrics); empty: none.
    std::string metrics_listen;
    // "-" for stderr, a file path to append to, or empty for no access log.
    std::string access_log;
    // Reports the number of open tenant databases at each scrape.
    std::function<int64_t()> open_tenants;
    // Reports the worker pools' threads and queued calls: the same pools,
    // in the same order, every time (read at each scrape).
    struct PoolLoad {
      std::string pool;
      int threads = 0;
      int64_t queued = 0;
    };
    std::function<std::vector<PoolLoad>()> pools;
  };

  // INVALID_ARGUMENT / UNAVAILABLE when the endpoint cannot listen or the
  // log cannot be opened.
  static absl::StatusOr<std::unique_ptr<Observability>> Create(Options options);
  ~Observability();
  Observability(const Observability&) = delete;
  Observability& operator=(const Observability&) = delete;

  // The port the metrics endpoint listens on (0 without one).
  int metrics_port() const;

  // The interceptor factory to register with the server builder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // Rows a tenant wrote (accepted by an import or record call).
  void AddRows(const std::string& tenant, int64_t rows);
  // A customer-value model fit that took `seconds`.
  void ObserveFit(const std::string& model_type, double seconds);

  // Called by the interceptor.
  void CallStarted();
  struct CallRecord {
    std::string method;
    std::string tenant;
    std::string code;
    double seconds = 0;
    int64_t request_bytes = 0;
    int64_t response_bytes = 0;
    std::string request_id;
  };
  void CallFinished(const CallRecord& record);

 private:
  explicit Observability(Options options);

  class ScrapeView;
  // Sets the gauges sampled from Options (open tenants, worker pools); at
  // each scrape, not on every call.
  void RefreshGauges() const;

  Options options_;
  std::shared_ptr<prometheus::Registry> registry_;
  // What the endpoint serves; declared before exposer_, which is destroyed
  // (its threads joined) first.
  std::shared_ptr<ScrapeView> scrape_view_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Family<prometheus::Counter>* tenant_requests_ = nullptr;
  prometheus::Family<prometheus::Counter>* tenant_rows_ = nullptr;
  prometheus::Counter* rows_ = nullptr;
  prometheus::Gauge* open_tenants_ = nullptr;
  // One pair (threads, queued calls) per pool of Options::pools, in its
  // order: the labelled series are looked up once, not per call.
  std::vector<std::pair<prometheus::Gauge*, prometheus::Gauge*>> pool_gauges_;
  prometheus::Family<prometheus::Histogram>* fit_seconds_ = nullptr;

  absl::Mutex log_mu_;
  std::ofstream log_file_ ABSL_GUARDED_BY(log_mu_);
  bool log_to_stderr_ = false;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_OBSERVABILITY_H_
