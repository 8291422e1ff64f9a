#ifndef CUSTRA_SERVER_TRANSACTION_IMPORT_H_
#define CUSTRA_SERVER_TRANSACTION_IMPORT_H_

// The ImportTransactions stream as a pipeline of three stages, so that an
// import uses two cores: while one batch commits (id claims, the log
// append, the fsync), the next is converted, checked and encoded on
// another thread, and the one after that is being received. Each batch is
// acknowledged, in order, once durable. The first failure (a refused or
// out-of-sequence batch, a storage error) ends the stream with its status
// once the batches before it are acknowledged; nothing of the failed batch
// or of later ones is written.

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/ingestion_store.h"
#include "custra/v1/ingestion.grpc.pb.h"
#include "server/call_context.h"

namespace custra::server {

class TransactionImportReactor final
    : public grpc::ServerBidiReactor<v1::ImportTransactionsRequest,
                                     v1::ImportTransactionsResponse> {
 public:
  // Starts the stream: the first read and the two worker threads. Deletes
  // itself when the stream is done.
  TransactionImportReactor(grpc::CallbackServerContext* context,
                           CallGate* gate);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Batches received, being prepared, prepared, committing or awaiting
  // their acknowledgement's write, at most: bounds a stream's memory to
  // about this many maximum-size messages.
  static constexpr int kMaxBatchesHeld = 3;

  // A batch's request lives in an arena: parsing 10,000 rows then costs a
  // few block allocations instead of several per row.
  struct Batch {
    Batch();
    google::protobuf::Arena arena;
    v1::ImportTransactionsRequest& request;  // On `arena`.
    absl::Status status;  // Why the batch is refused; OK if it is not.
    std::vector<TransactionRow> rows;
    std::optional<PreparedTransactions> prepared;
  };

  // Starts the next read if the stream wants one; call without mu_ held.
  void MaybeStartRead() ABSL_LOCKS_EXCLUDED(mu_);
  // Stage 2: converts, checks and encodes received batches in order.
  void PrepareBatches() ABSL_LOCKS_EXCLUDED(mu_);
  // Stage 3: admits the call, commits prepared batches in order and
  // acknowledges them; finishes the stream.
  void CommitBatches() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CommitLoop(CallGate::Admission& admission)
      ABSL_LOCKS_EXCLUDED(mu_);

  grpc::CallbackServerContext* const context_;
  CallGate* const gate_;

  absl::Mutex mu_;
  std::unique_ptr<Batch> reading_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<Batch>> received_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<Batch>> prepared_ ABSL_GUARDED_BY(mu_);
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_pending_ ABSL_GUARDED_BY(mu_) = false;
  int reads_starting_ ABSL_GUARDED_BY(mu_) = 0;  // Between decision and call.
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool preparing_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  // The stream is ending (failure, cancellation): stop reading, preparing
  // and committing.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The call is admitted: preparing may start, checked against `currency_`
  // (the tenant's currency as last committed; empty while it has none).
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;
  std::string currency_ ABSL_GUARDED_BY(mu_);

  v1::ImportTransactionsResponse ack_;  // Written by the committer only.
  std::thread preparer_;
  std::thread committer_;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_TRANSACTION_IMPORT_H_
