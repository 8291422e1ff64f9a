#ifndef CUSTRA_SERVER_SHARD_PEERS_H_
#define CUSTRA_SERVER_SHARD_PEERS_H_

// The other shards of a deployment behind a proxy that routes calls by
// their tenant (DESIGN §5, deploy/nginx). A call that names no tenant
// reaches one shard only; for ListTenants that shard asks its peers for
// their own tenants and merges them with its own, so that the listing
// through the proxy is the deployment's.

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "custra/v1/tenant_admin.grpc.pb.h"

namespace custra::server {

class ShardPeers {
 public:
  // A call with this header set to kLocalScope lists the tenants of the
  // server it reaches only (peers are asked with it, so they do not ask
  // theirs in turn).
  static constexpr absl::string_view kScopeHeader = "x-custra-scope";
  static constexpr absl::string_view kLocalScope = "local";
  // Every ListTenants response carries this server's id in this header, so
  // that a server finds itself among its peers (a StatefulSet gives each
  // replica the same list, itself included) and skips itself.
  static constexpr absl::string_view kServerIdHeader = "x-custra-server-id";
  // The longest a peer is waited for (less if the caller's deadline is
  // nearer).
  static constexpr absl::Duration kPeerTimeout = absl::Seconds(10);

  struct Options {
    std::vector<std::string> addresses;  // host:port each.
    // PEM root certificates for TLS to the peers; empty: plaintext.
    std::string ca_pem;
  };
  // INVALID_ARGUMENT for an address without a port.
  static absl::StatusOr<std::unique_ptr<ShardPeers>> Create(Options options);

  // A random id for this server process (hex).
  static const std::string& ThisServerId();

  // The tenants each peer holds itself, after the page token `page_token`
  // (a ListTenants token; empty: from the start), at most `page_size` of
  // them per peer, asked with the caller's `authorization` header. `more`
  // tells whether some peer has tenants beyond those it returned. Fails
  // with the first peer's failure, naming the peer: its code, except that a
  // refused key is FAILED_PRECONDITION (the caller's key is good here) and
  // a peer slower than kPeerTimeout is UNAVAILABLE.
  struct Page {
    std::vector<v1::Tenant> tenants;
    bool more = false;
  };
  absl::StatusOr<Page> ListTenants(absl::string_view authorization,
                                   absl::string_view page_token, int page_size,
                                   absl::Time deadline);

 private:
  struct Peer {
    std::string address;
    std::unique_ptr<v1::TenantAdminService::Stub> stub;
  };
  explicit ShardPeers(std::vector<Peer> peers) : peers_(std::move(peers)) {}
  static absl::Status PeerFailure(absl::string_view address,
                                  const grpc::Status& status,
                                  bool caller_deadline_passed);

  const std::vector<Peer> peers_;
  // The index of this server among peers_, once a call found it; -1 before.
  std::atomic<int> self_{-1};
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_SHARD_PEERS_H_
