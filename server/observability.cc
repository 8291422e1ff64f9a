#include "server/observability.h"

#include <google/protobuf/message.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/tenant_id.h"
#include "server/status_conversion.h"

namespace custra::server {
namespace {

// Latency buckets in seconds: 0.5 ms to 30 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30};
  return *buckets;
}

// A JSON string literal: quotes, backslashes and control characters
// escaped; other bytes (UTF-8) as they are.
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : absl::StrCat(i);
}

// The size and request id of a message the interceptor sees. Every message
// of custra's services is a generated protobuf message, whose address is
// that of its google::protobuf::Message base.
void Inspect(const void* message, int64_t* bytes, std::string* request_id) {
  if (message == nullptr) return;
  const auto* m = static_cast<const google::protobuf::Message*>(message);
  *bytes += static_cast<int64_t>(m->ByteSizeLong());
  if (request_id == nullptr || !request_id->empty()) return;
  const auto* field = m->GetDescriptor()->FindFieldByName("request_id");
  if (field != nullptr &&
      field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated()) {
    *request_id = m->GetReflection()->GetString(*m, field);
  }
}

class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(Observability* owner, grpc::experimental::ServerRpcInfo* info)
      : owner_(owner), start_(absl::Now()) {
    record_.method = info->method();
    // Only custra's own services are known to carry generated protobuf
    // messages; gRPC's health service, for one, passes other types.
    inspect_messages_ = absl::StartsWith(record_.method, "/custra.v1.");
    owner_->CallStarted();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_INITIAL_METADATA)) {
      for (const auto& [key, value] : *methods->GetRecvInitialMetadata()) {
        if (key == "x-tenant-id") {
          const std::string tenant(value.data(), value.size());
          // Only well-formed ids reach logs and labels.
          if (IsValidTenantId(tenant)) record_.tenant = tenant;
        } else if (key == "x-request-id" && record_.request_id.empty()) {
          record_.request_id =
              std::string(value.data(), std::min<size_t>(value.size(), 128));
        }
      }
    }
    if (inspect_messages_ &&
        methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE)) {
      Inspect(methods->GetRecvMessage(), &record_.request_bytes,
              &record_.request_id);
    }
    if (inspect_messages_ &&
        methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      Inspect(methods->GetSendMessage(), &record_.response_bytes, nullptr);
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      record_.code = CodeName(methods->GetSendStatus().error_code());
    }
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_CLOSE)) {
      if (record_.code.empty()) record_.code = "CANCELLED";
      record_.seconds = absl::ToDoubleSeconds(absl::Now() - start_);
      owner_->CallFinished(record_);
      finished_ = true;
    }
    methods->Proceed();
  }

  ~CallInterceptor() override {
    if (!finished_) {
      if (record_.code.empty()) record_.code = "CANCELLED";
      record_.seconds = absl::ToDoubleSeconds(absl::Now() - start_);
      owner_->CallFinished(record_);
    }
  }

 private:
  Observability* owner_;
  absl::Time start_;
  Observability::CallRecord record_;
  bool inspect_messages_ = false;
  bool finished_ = false;
};

class InterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InterceptorFactory(Observability* owner) : owner_(owner) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(owner_, info);
  }

 private:
  Observability* owner_;
};

}  // namespace

Observability::Observability(Options options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("custra_rpc_requests_total")
                   .Help("RPCs handled, by method and status code")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("custra_rpc_latency_seconds")
                  .Help("RPC latency, by method")
                  .Register(*registry_);
  in_flight_ = &prometheus::BuildGauge()
                    .Name("custra_rpc_in_flight")
                    .Help("RPCs being handled now")
                    .Register(*registry_)
                    .Add({});
  tenant_requests_ = &prometheus::BuildCounter()
                          .Name("custra_tenant_requests_total")
                          .Help("RPCs handled, by tenant")
                          .Register(*registry_);
  tenant_rows_ = &prometheus::BuildCounter()
                      .Name("custra_tenant_rows_total")
                      .Help("Rows written (accepted), by tenant")
                      .Register(*registry_);
  rows_ = &prometheus::BuildCounter()
               .Name("custra_import_rows_total")
               .Help(
                   "Rows written (accepted) by all tenants; rate() gives "
                   "the import rows per second")
               .Register(*registry_)
               .Add({});
  open_tenants_ = &prometheus::BuildGauge()
                       .Name("custra_open_tenant_databases")
                       .Help(
                           "Tenant databases open now (bounded by "
                           "--max-open-tenants)")
                       .Register(*registry_)
                       .Add({});
  if (options_.pools) {
    auto& threads = prometheus::BuildGauge()
                        .Name("custra_worker_threads")
                        .Help(
                            "Threads of a worker pool (read, write, heavy); "
                            "bounded by --read-threads, --write-threads, "
                            "--heavy-threads")
                        .Register(*registry_);
    auto& queued = prometheus::BuildGauge()
                       .Name("custra_worker_queued_calls")
                       .Help("Calls waiting for a thread of a worker pool")
                       .Register(*registry_);
    for (const Options::PoolLoad& p : options_.pools()) {
      pool_gauges_.emplace_back(&threads.Add({{"pool", p.pool}}),
                                &queued.Add({{"pool", p.pool}}));
    }
  }
  fit_seconds_ = &prometheus::BuildHistogram()
                      .Name("custra_model_fit_seconds")
                      .Help("Customer-value model fit durations, by model")
                      .Register(*registry_);
}

Observability::~Observability() = default;

// The registry as the endpoint serves it: the sampled gauges are set just
// before each scrape, so no call pays for reading them (the pools' counts
// take each pool's lock).
class Observability::ScrapeView : public prometheus::Collectable {
 public:
  explicit ScrapeView(const Observability* owner) : owner_(owner) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    owner_->RefreshGauges();
    return owner_->registry_->Collect();
  }

 private:
  const Observability* owner_;
};

absl::StatusOr<std::unique_ptr<Observability>> Observability::Create(
    Options options) {
  std::unique_ptr<Observability> o(new Observability(std::move(options)));
  if (o->options_.access_log == "-") {
    o->log_to_stderr_ = true;
  } else if (!o->options_.access_log.empty()) {
    absl::MutexLock lock(&o->log_mu_);
    o->log_file_.open(o->options_.access_log, std::ios::app);
    if (!o->log_file_) {
      return absl::InvalidArgumentError(
          absl::StrCat("--access-log: cannot open ", o->options_.access_log));
    }
  }
  if (!o->options_.metrics_listen.empty()) {
    try {
      o->exposer_ =
          std::make_unique<prometheus::Exposer>(o->options_.metrics_listen);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("--metrics-listen ", o->options_.metrics_listen,
                       ": cannot listen: ", e.what()));
    }
    o->scrape_view_ = std::make_shared<ScrapeView>(o.get());
    o->exposer_->RegisterCollectable(o->scrape_view_);
  }
  return o;
}

void Observability::RefreshGauges() const {
  if (options_.open_tenants) {
    open_tenants_->Set(static_cast<double>(options_.open_tenants()));
  }
  if (options_.pools) {
    const std::vector<Options::PoolLoad> pools = options_.pools();
    for (size_t i = 0; i < pools.size() && i < pool_gauges_.size(); ++i) {
      pool_gauges_[i].first->Set(pools[i].threads);
      pool_gauges_[i].second->Set(static_cast<double>(pools[i].queued));
    }
  }
}

int Observability::metrics_port() const {
  if (!exposer_) return 0;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Observability::InterceptorFactory() {
  return std::make_unique<custra::server::InterceptorFactory>(this);
}

void Observability::AddRows(const std::string& tenant, int64_t rows) {
  if (rows <= 0) return;
  tenant_rows_->Add({{"tenant", tenant}}).Increment(static_cast<double>(rows));
  rows_->Increment(static_cast<double>(rows));
}

void Observability::ObserveFit(const std::string& model_type, double seconds) {
  fit_seconds_->Add({{"model", model_type}}, LatencyBuckets()).Observe(seconds);
}

void Observability::CallStarted() { in_flight_->Increment(); }

void Observability::CallFinished(const CallRecord& r) {
  in_flight_->Decrement();
  requests_->Add({{"method", r.method}, {"code", r.code}}).Increment();
  latency_->Add({{"method", r.method}}, LatencyBuckets()).Observe(r.seconds);
  if (!r.tenant.empty()) {
    tenant_requests_->Add({{"tenant", r.tenant}}).Increment();
  }
  if (!log_to_stderr_ && options_.access_log.empty()) return;
  const std::string line = absl::StrCat(
      "{\"time\":",
      JsonString(absl::FormatTime(absl::RFC3339_full, absl::Now(),
                                  absl::UTCTimeZone())),
      ",\"method\":", JsonString(r.method),
      ",\"tenant\":", JsonString(r.tenant), ",\"code\":", JsonString(r.code),
      ",\"latency_ms\":", absl::StrFormat("%.3f", r.seconds * 1e3),
      ",\"request_bytes\":", r.request_bytes,
      ",\"response_bytes\":", r.response_bytes,
      ",\"request_id\":", JsonString(r.request_id), "}\n");
  absl::MutexLock lock(&log_mu_);
  if (log_to_stderr_) {
    std::cerr << line;
  } else {
    log_file_ << line;
    log_file_.flush();
  }
}

}  // namespace custra::server
