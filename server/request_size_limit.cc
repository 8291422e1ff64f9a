#include "server/request_size_limit.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace custra::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedOutputStream;

// The top-level field of a message that takes the most bytes on the wire.
struct LargestField {
  std::string name;
  int64_t bytes = 0;
  int items = -1;  // Elements of a repeated field; -1 for a singular one.
};

// Wire bytes of one length-delimited value of `length` bytes in `field`.
int64_t DelimitedBytes(const FieldDescriptor* field, size_t length) {
  return CodedOutputStream::VarintSize32(static_cast<uint32_t>(field->number())
                                         << 3) +
         CodedOutputStream::VarintSize64(length) + static_cast<int64_t>(length);
}

LargestField FindLargestField(const google::protobuf::Message& message) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  LargestField largest;
  std::string scratch;
  for (const FieldDescriptor* field : fields) {
    int64_t bytes = 0;
    int items = -1;
    if (field->is_repeated()) {
      items = reflection->FieldSize(message, field);
      for (int i = 0; i < items; ++i) {
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          bytes += DelimitedBytes(
              field,
              reflection->GetRepeatedMessage(message, field, i).ByteSizeLong());
        } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          bytes += DelimitedBytes(field, reflection
                                             ->GetRepeatedStringReference(
                                                 message, field, i, &scratch)
                                             .size());
        } else {
          bytes += 8;  // At most, for a scalar; only an estimate.
        }
      }
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      bytes = DelimitedBytes(
          field, reflection->GetMessage(message, field).ByteSizeLong());
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      bytes = DelimitedBytes(
          field,
          reflection->GetStringReference(message, field, &scratch).size());
    } else {
      bytes = 8;
    }
    if (bytes > largest.bytes) largest = {field->name(), bytes, items};
  }
  return largest;
}

class SizeInterceptor final : public grpc::experimental::Interceptor {
 public:
  SizeInterceptor(RequestSizeLimit* limit,
                  grpc::experimental::ServerRpcInfo* info)
      : limit_(limit),
        call_(info->server_context()),
        // Only custra's own services are known to carry generated protobuf
        // messages; gRPC's health service, for one, passes other types.
        check_(absl::StartsWith(info->method(), "/custra.v1.")) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (check_ && !refused_ &&
        methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE)) {
      if (const void* received = methods->GetRecvMessage()) {
        const auto& request =
            *static_cast<const google::protobuf::Message*>(received);
        const int64_t bytes = static_cast<int64_t>(request.ByteSizeLong());
        if (bytes > limit_->max_bytes()) {
          limit_->Refuse(call_, limit_->Check(request, bytes));
          refused_ = true;
        }
      }
    }
    methods->Proceed();
  }

  ~SizeInterceptor() override {
    if (refused_) limit_->Forget(call_);
  }

 private:
  RequestSizeLimit* limit_;
  const grpc::ServerContextBase* call_;
  const bool check_;
  bool refused_ = false;
};

class SizeInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit SizeInterceptorFactory(RequestSizeLimit* limit) : limit_(limit) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new SizeInterceptor(limit_, info);
  }

 private:
  RequestSizeLimit* limit_;
};

}  // namespace

int RequestSizeLimit::TransportCeiling(int max_message_bytes) {
  return static_cast<int>(
      std::min<int64_t>(2 * static_cast<int64_t>(max_message_bytes), INT_MAX));
}

absl::Status RequestSizeLimit::Check(const google::protobuf::Message& request,
                                     int64_t bytes) const {
  if (bytes <= max_bytes_) return absl::OkStatus();
  LargestField field = FindLargestField(request);
  // A field counts as the cause when it holds most of the request.
  const bool field_is_cause = field.bytes * 2 > bytes;
  const std::string name = field_is_cause ? field.name : "request";
  std::string description =
      absl::StrCat("the request is ", bytes, " bytes, above the limit of ",
                   max_bytes_, " bytes per message");
  int64_t fit = -1;
  if (field_is_cause && field.items > 0) {
    // Items of the average size that fit beside the rest of the request.
    const int64_t rest = bytes - field.bytes;
    fit = rest >= max_bytes_ ? 0
                             : (max_bytes_ - rest) * field.items / field.bytes;
    absl::StrAppend(&description, "; its ", field.items, " ", name, " take ",
                    field.bytes, " bytes: send about ", fit,
                    " or fewer per request");
  }
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat(description, " (the server's --max-message-bytes)"));
  status = WithReason(std::move(status), reason::kTooLarge);
  status = WithFieldViolations(std::move(status), {{name, description}});
  status =
      WithMetadata(std::move(status), "limit_bytes", absl::StrCat(max_bytes_));
  status =
      WithMetadata(std::move(status), "request_bytes", absl::StrCat(bytes));
  status = WithMetadata(std::move(status), "field", name);
  if (field_is_cause) {
    status = WithMetadata(std::move(status), "field_bytes",
                          absl::StrCat(field.bytes));
  }
  if (fit >= 0) {
    status = WithMetadata(std::move(status), "field_items",
                          absl::StrCat(field.items));
    status =
        WithMetadata(std::move(status), "items_that_fit", absl::StrCat(fit));
  }
  return status;
}

absl::Status RequestSizeLimit::RefusalFor(
    const grpc::ServerContextBase& call) const {
  if (refused_calls_.load(std::memory_order_acquire) == 0) {
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  auto it = refusals_.find(&call);
  return it == refusals_.end() ? absl::OkStatus() : it->second;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RequestSizeLimit::InterceptorFactory() {
  return std::make_unique<SizeInterceptorFactory>(this);
}

void RequestSizeLimit::Refuse(const grpc::ServerContextBase* call,
                              absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (refusals_.try_emplace(call, std::move(status)).second) {
    refused_calls_.fetch_add(1, std::memory_order_release);
  }
}

void RequestSizeLimit::Forget(const grpc::ServerContextBase* call) {
  absl::MutexLock lock(&mu_);
  if (refusals_.erase(call) > 0) {
    refused_calls_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace custra::server
