#include "server/shard_peers.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"

namespace custra::server {

absl::StatusOr<std::unique_ptr<ShardPeers>> ShardPeers::Create(
    Options options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.ca_pem.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.ca_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<Peer> peers;
  for (std::string& address : options.addresses) {
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(absl::string_view(address).substr(colon + 1),
                          &port) ||
        port <= 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--peer ", address, ": expected host:port with a port 1-65535"));
    }
    auto channel = grpc::CreateChannel(address, credentials);
    peers.push_back({std::move(address),
                     v1::TenantAdminService::NewStub(std::move(channel))});
  }
  return std::unique_ptr<ShardPeers>(new ShardPeers(std::move(peers)));
}

const std::string& ShardPeers::ThisServerId() {
  static const std::string* id = [] {
    std::random_device device;
    const uint64_t high = device(), low = device();
    return new std::string(
        absl::StrCat(absl::Hex((high << 32) ^ low, absl::kZeroPad16)));
  }();
  return *id;
}

absl::Status ShardPeers::PeerFailure(absl::string_view address,
                                     const grpc::Status& status,
                                     bool caller_deadline_passed) {
  absl::StatusCode code = static_cast<absl::StatusCode>(status.error_code());
  std::string hint;
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      // The caller's key is good here: the deployment is misconfigured.
      code = absl::StatusCode::kFailedPrecondition;
      hint = " (every shard needs the same admin key)";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      // The peer, not the caller's deadline, took too long.
      if (!caller_deadline_passed) code = absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  return absl::Status(code, absl::StrCat("shard peer ", address, ": ",
                                         status.error_message(), hint));
}

absl::StatusOr<ShardPeers::Page> ShardPeers::ListTenants(
    absl::string_view authorization, absl::string_view page_token,
    int page_size, absl::Time deadline) {
  struct Call {
    grpc::ClientContext context;
    v1::ListTenantsResponse response;
    grpc::Status status;
  };
  v1::ListTenantsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(std::string(page_token));
  const absl::Time caller_deadline = deadline;
  deadline = std::min(deadline, absl::Now() + kPeerTimeout);
  const int self = self_.load(std::memory_order_relaxed);
  // All peers at once: the listing waits for the slowest, not their sum.
  std::vector<Call> calls(peers_.size());
  absl::BlockingCounter pending(static_cast<int>(peers_.size()) -
                                (self >= 0 ? 1 : 0));
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (static_cast<int>(i) == self) continue;
    Call& call = calls[i];
    call.context.set_deadline(absl::ToChronoTime(deadline));
    call.context.AddMetadata("authorization", std::string(authorization));
    call.context.AddMetadata(std::string(kScopeHeader),
                             std::string(kLocalScope));
    peers_[i].stub->async()->ListTenants(&call.context, &request,
                                         &call.response,
                                         [&call, &pending](grpc::Status s) {
                                           call.status = std::move(s);
                                           pending.DecrementCount();
                                         });
  }
  pending.Wait();

  Page page;
  for (size_t i = 0; i < peers_.size(); ++i) {
    if (static_cast<int>(i) == self) continue;
    Call& call = calls[i];
    const auto& metadata = call.context.GetServerInitialMetadata();
    const auto id = metadata.find(std::string(kServerIdHeader));
    if (id != metadata.end() &&
        absl::string_view(id->second.data(), id->second.size()) ==
            ThisServerId()) {
      // This server, listed among its own peers: not asked again.
      self_.store(static_cast<int>(i), std::memory_order_relaxed);
      continue;
    }
    if (!call.status.ok()) {
      return PeerFailure(peers_[i].address, call.status,
                         absl::Now() >= caller_deadline);
    }
    if (!call.response.next_page_token().empty()) page.more = true;
    for (v1::Tenant& tenant : *call.response.mutable_tenants()) {
      page.tenants.push_back(std::move(tenant));
    }
  }
  return page;
}

}  // namespace custra::server
