#ifndef CUSTRA_SERVER_INGESTION_SERVICE_H_
#define CUSTRA_SERVER_INGESTION_SERVICE_H_

#include "custra/v1/ingestion.grpc.pb.h"
#include "server/call_context.h"

namespace custra::server {

// custra.v1.IngestionService over IngestionStore. Thread-safe; each call
// holds its tenant's database session only while it writes or reads.
// ImportTransactions is a callback-API method (a pipelined reactor); the
// unary reads are callback-API methods served on the read pool
// (CallGate::ServeTenantRead); the others are synchronous.
class IngestionServiceImpl final
    : public v1::IngestionService::WithCallbackMethod_ImportTransactions<
          v1::IngestionService::WithCallbackMethod_GetCustomer<
              v1::IngestionService::WithCallbackMethod_ListCustomers<
                  v1::IngestionService::WithCallbackMethod_ListInteractions<
                      v1::IngestionService::Service>>>> {
 public:
  explicit IngestionServiceImpl(CallGate* gate) : gate_(gate) {}

  grpc::Status UpsertCustomers(grpc::ServerContext* context,
                               const v1::UpsertCustomersRequest* request,
                               v1::UpsertCustomersResponse* response) override;
  grpc::Status ImportCustomers(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ImportCustomersResponse,
                               v1::ImportCustomersRequest>* stream) override;
  grpc::ServerUnaryReactor* GetCustomer(
      grpc::CallbackServerContext* context,
      const v1::GetCustomerRequest* request,
      v1::GetCustomerResponse* response) override;
  grpc::ServerUnaryReactor* ListCustomers(
      grpc::CallbackServerContext* context,
      const v1::ListCustomersRequest* request,
      v1::ListCustomersResponse* response) override;
  grpc::Status DeleteCustomer(grpc::ServerContext* context,
                              const v1::DeleteCustomerRequest* request,
                              v1::DeleteCustomerResponse* response) override;
  grpc::ServerBidiReactor<v1::ImportTransactionsRequest,
                          v1::ImportTransactionsResponse>*
  ImportTransactions(grpc::CallbackServerContext* context) override;
  grpc::Status RecordTransactions(
      grpc::ServerContext* context,
      const v1::RecordTransactionsRequest* request,
      v1::RecordTransactionsResponse* response) override;
  grpc::Status RecordInteractions(
      grpc::ServerContext* context,
      const v1::RecordInteractionsRequest* request,
      v1::RecordInteractionsResponse* response) override;
  grpc::ServerUnaryReactor* ListInteractions(
      grpc::CallbackServerContext* context,
      const v1::ListInteractionsRequest* request,
      v1::ListInteractionsResponse* response) override;

 private:
  CallGate* gate_;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_INGESTION_SERVICE_H_
