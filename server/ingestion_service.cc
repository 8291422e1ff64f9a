#include "server/ingestion_service.h"

#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/ingestion_store.h"
#include "common/ingestion_validation.h"
#include "common/status_macros.h"
#include "server/batch_checks.h"
#include "server/ingestion_convert.h"
#include "server/paging.h"
#include "server/transaction_import.h"

namespace custra::server {
namespace {

absl::StatusOr<IngestResult> RecordTransactionBatch(
    TenantCall& call, absl::string_view request_id,
    const google::protobuf::RepeatedPtrField<v1::Transaction>& transactions) {
  CUSTRA_RETURN_IF_ERROR(CheckRequestId(request_id));
  CUSTRA_RETURN_IF_ERROR(CheckBatchSize(transactions.size(), "transactions"));
  std::vector<TransactionRow> rows;
  rows.reserve(transactions.size());
  for (const v1::Transaction& t : transactions) rows.push_back(FromProto(t));
  TenantDatabase::Session session(call.database.get(),
                                  TenantDatabase::Purpose::kAsIs);
  absl::StatusOr<IngestResult> result =
      IngestionStore(&session.db(), absl::Now(), session.ingestion_state())
          .RecordTransactions(request_id, rows);
  // A small write is folded at once (a few milliseconds at most), so that
  // reads do not have to wait for the connection to fold it.
  if (result.ok() && rows.size() <= kEagerFoldRows) session.FoldPending();
  return result;
}

absl::StatusOr<CustomerBatchResult> UpsertCustomerBatch(
    TenantCall& call, absl::string_view request_id,
    const google::protobuf::RepeatedPtrField<v1::Customer>& customers,
    const google::protobuf::FieldMask& update_mask) {
  CUSTRA_RETURN_IF_ERROR(CheckRequestId(request_id));
  CUSTRA_RETURN_IF_ERROR(CheckBatchSize(customers.size(), "customers"));
  CUSTRA_ASSIGN_OR_RETURN(auto mask, CustomerMask(update_mask));
  std::vector<CustomerRecord> records;
  records.reserve(customers.size());
  for (const v1::Customer& c : customers) records.push_back(FromProto(c));
  TenantDatabase::Session session(call.database.get());
  return IngestionStore(&session.db())
      .UpsertCustomers(request_id, records, mask ? &*mask : nullptr);
}

// The shape of the customer import stream (transactions have their own,
// pipelined: server/transaction_import.h): read a batch, check its size
// (against
// --max-message-bytes, with details) and sequence number, write it
// (`process` fills the response's result), acknowledge it with its sequence
// number and request id once durable, repeat.
template <typename Request, typename Response, typename Process>
absl::Status ServeBatchStream(
    const CallGate& gate, const grpc::ServerContext& context,
    grpc::ServerReaderWriter<Response, Request>* stream, Process process) {
  Request request;
  std::optional<int64_t> last_sequence;
  while (stream->Read(&request)) {
    CUSTRA_RETURN_IF_ERROR(gate.RequestSizeRefusal(context));
    CUSTRA_RETURN_IF_ERROR(
        CheckSequence(request.sequence_number(), &last_sequence));
    Response response;
    CUSTRA_RETURN_IF_ERROR(process(request, response));
    response.set_sequence_number(request.sequence_number());
    response.set_request_id(request.request_id());
    if (!stream->Write(response)) {
      return absl::CancelledError("the client went away");
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status IngestionServiceImpl::UpsertCustomers(
    grpc::ServerContext* context, const v1::UpsertCustomersRequest* request,
    v1::UpsertCustomersResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            CustomerBatchResult result,
            UpsertCustomerBatch(call, request->request_id(),
                                request->customers(), request->update_mask()));
        ToProto(result, response->mutable_result());
        return absl::OkStatus();
      });
}

grpc::Status IngestionServiceImpl::ImportCustomers(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ImportCustomersResponse,
                             v1::ImportCustomersRequest>* stream) {
  return gate_->ServeTenantCall(*context, [&](TenantCall& call) {
    return ServeBatchStream(
        *gate_, *context, stream,
        [&](const v1::ImportCustomersRequest& request,
            v1::ImportCustomersResponse& response) -> absl::Status {
          CUSTRA_ASSIGN_OR_RETURN(
              CustomerBatchResult result,
              UpsertCustomerBatch(call, request.request_id(),
                                  request.customers(), request.update_mask()));
          ToProto(result, response.mutable_result());
          return absl::OkStatus();
        });
  });
}

grpc::ServerUnaryReactor* IngestionServiceImpl::GetCustomer(
    grpc::CallbackServerContext* context, const v1::GetCustomerRequest* request,
    v1::GetCustomerResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        if (request->id().empty())
          return InvalidFieldError("id", "is required");
        TenantDatabase::ReadSession session(call.database.get());
        IngestionStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(CustomerRecord customer,
                                store.GetCustomer(request->id()));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, store.TenantCurrency());
        ToProto(customer, currency, response->mutable_customer());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* IngestionServiceImpl::ListCustomers(
    grpc::CallbackServerContext* context,
    const v1::ListCustomersRequest* request,
    v1::ListCustomersResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 100, 1000));
        CUSTRA_ASSIGN_OR_RETURN(CustomerFilter filter,
                                ParseCustomerFilter(request->filter()));
        std::string after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              after, DecodePageToken("customers", "", request->page_token()));
        }
        TenantDatabase::ReadSession session(call.database.get());
        IngestionStore store(&session.db());
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<CustomerRecord> customers,
            store.ListCustomers(filter, after, page_size + 1));
        CUSTRA_ASSIGN_OR_RETURN(std::string currency, store.TenantCurrency());
        const bool more = static_cast<int>(customers.size()) > page_size;
        if (more) customers.pop_back();
        for (const CustomerRecord& c : customers) {
          ToProto(c, currency, response->add_customers());
        }
        if (more) {
          response->set_next_page_token(
              EncodePageToken("customers", "", customers.back().id));
        }
        return absl::OkStatus();
      });
}

grpc::Status IngestionServiceImpl::DeleteCustomer(
    grpc::ServerContext* context, const v1::DeleteCustomerRequest* request,
    v1::DeleteCustomerResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        if (request->id().empty())
          return InvalidFieldError("id", "is required");
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(IngestionStore::DeleteCounts counts,
                                IngestionStore(&session.db(), absl::Now(),
                                               session.ingestion_state())
                                    .DeleteCustomer(request->id()));
        response->set_deleted_transaction_count(counts.transactions);
        response->set_deleted_interaction_count(counts.interactions);
        return absl::OkStatus();
      });
}

grpc::ServerBidiReactor<v1::ImportTransactionsRequest,
                        v1::ImportTransactionsResponse>*
IngestionServiceImpl::ImportTransactions(grpc::CallbackServerContext* context) {
  return new TransactionImportReactor(context, gate_);
}

grpc::Status IngestionServiceImpl::RecordTransactions(
    grpc::ServerContext* context, const v1::RecordTransactionsRequest* request,
    v1::RecordTransactionsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(
            IngestResult result,
            RecordTransactionBatch(call, request->request_id(),
                                   request->transactions()));
        gate_->CountRows(call, result.accepted);
        ToProto(result, response->mutable_result());
        return absl::OkStatus();
      });
}

grpc::Status IngestionServiceImpl::RecordInteractions(
    grpc::ServerContext* context, const v1::RecordInteractionsRequest* request,
    v1::RecordInteractionsResponse* response) {
  return gate_->ServeTenantCall(
      *context, [&](TenantCall& call) -> absl::Status {
        CUSTRA_RETURN_IF_ERROR(CheckRequestId(request->request_id()));
        CUSTRA_RETURN_IF_ERROR(
            CheckBatchSize(request->interactions_size(), "interactions"));
        std::vector<InteractionRow> rows;
        rows.reserve(request->interactions_size());
        for (const v1::Interaction& i : request->interactions()) {
          rows.push_back(FromProto(i));
        }
        TenantDatabase::Session session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            IngestResult result,
            IngestionStore(&session.db())
                .RecordInteractions(request->request_id(), rows));
        gate_->CountRows(call, result.accepted);
        ToProto(result, response->mutable_result());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* IngestionServiceImpl::ListInteractions(
    grpc::CallbackServerContext* context,
    const v1::ListInteractionsRequest* request,
    v1::ListInteractionsResponse* response) {
  return gate_->ServeTenantRead(
      context, [this, request, response](TenantCall& call) -> absl::Status {
        CUSTRA_ASSIGN_OR_RETURN(int page_size,
                                PageSize(request->page_size(), 100, 1000));
        CUSTRA_ASSIGN_OR_RETURN(InteractionFilter filter,
                                ParseInteractionFilter(request->filter()));
        std::optional<IngestionStore::InteractionCursor> after;
        if (!request->page_token().empty()) {
          CUSTRA_ASSIGN_OR_RETURN(
              std::string token,
              DecodePageToken("interactions", "", request->page_token()));
          const size_t colon = token.find(':');
          IngestionStore::InteractionCursor cursor;
          if (colon == std::string::npos ||
              !absl::SimpleAtoi(token.substr(0, colon), &cursor.time_us)) {
            return WithReason(InvalidFieldError("page_token", "is malformed"),
                              reason::kInvalidPageToken);
          }
          cursor.id = token.substr(colon + 1);
          after = cursor;
        }
        TenantDatabase::ReadSession session(call.database.get());
        CUSTRA_ASSIGN_OR_RETURN(
            std::vector<InteractionRow> rows,
            IngestionStore(&session.db())
                .ListInteractions(request->customer_id(), filter, after,
                                  page_size + 1));
        const bool more = static_cast<int>(rows.size()) > page_size;
        if (more) rows.pop_back();
        for (const InteractionRow& row : rows) {
          ToProto(row, response->add_interactions());
        }
        if (more) {
          response->set_next_page_token(EncodePageToken(
              "interactions", "",
              absl::StrCat(absl::ToUnixMicros(*rows.back().time), ":",
                           rows.back().id)));
        }
        return absl::OkStatus();
      });
}

}  // namespace custra::server
