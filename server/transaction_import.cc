#include "server/transaction_import.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/batch_checks.h"
#include "server/ingestion_convert.h"
#include "server/worker_pool.h"

namespace custra::server {

namespace {

google::protobuf::ArenaOptions BatchArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 256 << 10;
  options.max_block_size = 4 << 20;
  return options;
}

}  // namespace

TransactionImportReactor::Batch::Batch()
    : arena(BatchArenaOptions()),
      request(*google::protobuf::Arena::CreateMessage<
              v1::ImportTransactionsRequest>(&arena)) {}

TransactionImportReactor::TransactionImportReactor(
    grpc::CallbackServerContext* context, CallGate* gate)
    : context_(context), gate_(gate) {
  MaybeStartRead();
  // An import is background work (see server/worker_pool.h): its two
  // threads run at the write pool's lower priority (threads of their own:
  // a long import must not hold a write-pool thread).
  const BackgroundPriority priority = gate_->write_priority();
  preparer_ = StartLoweredThread("custra-import", priority,
                                 [this] { PrepareBatches(); });
  committer_ = StartLoweredThread("custra-import", priority,
                                  [this] { CommitBatches(); });
}

void TransactionImportReactor::MaybeStartRead() {
  v1::ImportTransactionsRequest* into = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (read_pending_ || reads_done_ || stopping_ || held_ >= kMaxBatchesHeld)
      return;
    reading_ = std::make_unique<Batch>();
    into = &reading_->request;
    read_pending_ = true;
    ++held_;
    ++reads_starting_;
  }
  // Outside the lock: a reaction may run before StartRead returns. The
  // stream is not finished (and the reactor not deleted) until this read
  // has been started: see CommitBatches.
  StartRead(into);
  absl::MutexLock lock(&mu_);
  --reads_starting_;
}

void TransactionImportReactor::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    read_pending_ = false;
    std::unique_ptr<Batch> batch = std::move(reading_);
    if (!ok) {
      // The client half-closed (or the call ended): no more batches.
      reads_done_ = true;
      --held_;
    } else {
      // An oversize message was recorded when it arrived, which is now.
      batch->status = gate_->RequestSizeRefusal(*context_);
      received_.push_back(std::move(batch));
    }
  }
  MaybeStartRead();
}

void TransactionImportReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  write_pending_ = false;
  if (!ok) write_failed_ = true;
}

void TransactionImportReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void TransactionImportReactor::OnDone() {
  // The committer finished the stream and the preparer was told to stop;
  // both are about to return.
  preparer_.join();
  committer_.join();
  delete this;
}

void TransactionImportReactor::PrepareBatches() {
  std::optional<int64_t> last_sequence;
  // The tenant currency as this stage sees it: the committed one, else the
  // one the batches prepared so far will set.
  std::string currency;
  while (true) {
    std::unique_ptr<Batch> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || (admitted_ && (!received_.empty() || reads_done_));
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_ || received_.empty()) break;
      batch = std::move(received_.front());
      received_.pop_front();
      if (!currency_.empty()) currency = currency_;
    }
    const v1::ImportTransactionsRequest& request = batch->request;
    absl::Status status = batch->status;
    if (status.ok()) {
      status = CheckSequence(request.sequence_number(), &last_sequence);
    }
    if (status.ok()) status = CheckRequestId(request.request_id());
    if (status.ok()) {
      status = CheckBatchSize(request.transactions_size(), "transactions");
    }
    if (status.ok()) {
      batch->rows.reserve(request.transactions_size());
      for (const v1::Transaction& t : request.transactions()) {
        batch->rows.push_back(FromProto(t));
      }
      batch->prepared = PrepareTransactions(request.request_id(), batch->rows,
                                            currency, absl::Now());
      currency = batch->prepared->currency;
    }
    batch->status = status;
    absl::MutexLock lock(&mu_);
    prepared_.push_back(std::move(batch));
    // Nothing after a refused batch is prepared: the stream ends there.
    if (!status.ok()) break;
  }
  absl::MutexLock lock(&mu_);
  preparing_done_ = true;
}

void TransactionImportReactor::CommitBatches() {
  absl::Status status;
  {
    // Holds the tenant's concurrency slot until the last commit.
    absl::StatusOr<CallGate::Admission> admission =
        gate_->AdmitTenantCall(*context_);
    status = admission.ok() ? CommitLoop(*admission) : admission.status();
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Finish only once the last acknowledgement's write is done and no read
    // is being started (after stopping_, none will be): an operation
    // started after Finish could outlive the reactor.
    auto written = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !write_pending_ && reads_starting_ == 0;
    };
    mu_.Await(absl::Condition(&written));
  }
  Finish(ToGrpcStatus(status));
}

absl::Status TransactionImportReactor::CommitLoop(
    CallGate::Admission& admission) {
  TenantCall& call = admission.call;
  {
    TenantDatabase::Session session(call.database.get(),
                                    TenantDatabase::Purpose::kAsIs);
    CUSTRA_ASSIGN_OR_RETURN(std::string currency,
                            IngestionStore(&session.db()).TenantCurrency());
    absl::MutexLock lock(&mu_);
    currency_ = std::move(currency);
    admitted_ = true;
  }
  while (true) {
    std::unique_ptr<Batch> batch;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !prepared_.empty() || preparing_done_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return absl::CancelledError("the import was cancelled");
      if (prepared_.empty()) return absl::OkStatus();  // All committed.
      batch = std::move(prepared_.front());
      prepared_.pop_front();
    }
    CUSTRA_RETURN_IF_ERROR(batch->status);
    absl::StatusOr<IngestResult> result;
    {
      TenantDatabase::Session session(call.database.get(),
                                      TenantDatabase::Purpose::kAsIs);
      result =
          IngestionStore(&session.db(), absl::Now(), session.ingestion_state())
              .RecordPrepared(&*batch->prepared);
      if (result.ok() && batch->request.transactions_size() <=
                             static_cast<int>(kEagerFoldRows)) {
        session.FoldPending();
      }
    }
    CUSTRA_RETURN_IF_ERROR(result.status());
    gate_->CountRows(call, result->accepted);
    {
      absl::MutexLock lock(&mu_);
      currency_ = batch->prepared->currency;
      auto writable = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !write_pending_ || stopping_;
      };
      mu_.Await(absl::Condition(&writable));
      if (write_failed_) return absl::CancelledError("the client went away");
      if (stopping_) return absl::CancelledError("the import was cancelled");
      ack_.Clear();
      ToProto(*result, ack_.mutable_result());
      ack_.set_sequence_number(batch->request.sequence_number());
      ack_.set_request_id(batch->request.request_id());
      write_pending_ = true;
      --held_;
    }
    StartWrite(&ack_);
    MaybeStartRead();
  }
}

}  // namespace custra::server
