#ifndef CUSTRA_SERVER_KEY_ACCOUNT_SERVICE_H_
#define CUSTRA_SERVER_KEY_ACCOUNT_SERVICE_H_

#include "custra/v1/key_account.grpc.pb.h"
#include "server/call_context.h"

namespace custra::server {

// custra.v1.KeyAccountService over KeyAccountStore, the customer-value
// models of common/clv_models.h and the scoring of common/account_scoring.h.
// Thread-safe; a call holds its tenant's database session while it reads
// its inputs and while it stores its result, not while it fits or scores.
class KeyAccountServiceImpl final
    : public v1::KeyAccountService::WithCallbackMethod_GetAccountScore<
          v1::KeyAccountService::WithCallbackMethod_ListTopAccounts<
              v1::KeyAccountService::Service>> {
 public:
  explicit KeyAccountServiceImpl(CallGate* gate) : gate_(gate) {}

  grpc::Status FitValueModel(grpc::ServerContext* context,
                             const v1::FitValueModelRequest* request,
                             v1::FitValueModelResponse* response) override;
  grpc::Status GetValueModel(grpc::ServerContext* context,
                             const v1::GetValueModelRequest* request,
                             v1::GetValueModelResponse* response) override;
  grpc::Status ListValueModels(grpc::ServerContext* context,
                               const v1::ListValueModelsRequest* request,
                               v1::ListValueModelsResponse* response) override;
  grpc::Status PredictCustomerValue(
      grpc::ServerContext* context,
      const v1::PredictCustomerValueRequest* request,
      v1::PredictCustomerValueResponse* response) override;
  grpc::Status PredictCumulativePurchases(
      grpc::ServerContext* context,
      const v1::PredictCumulativePurchasesRequest* request,
      v1::PredictCumulativePurchasesResponse* response) override;
  grpc::Status EvaluateValueModel(
      grpc::ServerContext* context,
      const v1::EvaluateValueModelRequest* request,
      v1::EvaluateValueModelResponse* response) override;
  grpc::Status GetScoringProfile(
      grpc::ServerContext* context, const v1::GetScoringProfileRequest* request,
      v1::GetScoringProfileResponse* response) override;
  grpc::Status ListScoringProfiles(
      grpc::ServerContext* context,
      const v1::ListScoringProfilesRequest* request,
      v1::ListScoringProfilesResponse* response) override;
  grpc::Status CreateScoringProfile(
      grpc::ServerContext* context,
      const v1::CreateScoringProfileRequest* request,
      v1::CreateScoringProfileResponse* response) override;
  grpc::Status UpdateScoringProfile(
      grpc::ServerContext* context,
      const v1::UpdateScoringProfileRequest* request,
      v1::UpdateScoringProfileResponse* response) override;
  grpc::Status DeleteScoringProfile(
      grpc::ServerContext* context,
      const v1::DeleteScoringProfileRequest* request,
      v1::DeleteScoringProfileResponse* response) override;
  grpc::Status SetAccountAssessments(
      grpc::ServerContext* context,
      const v1::SetAccountAssessmentsRequest* request,
      v1::SetAccountAssessmentsResponse* response) override;
  grpc::Status ListAccountAssessments(
      grpc::ServerContext* context,
      const v1::ListAccountAssessmentsRequest* request,
      v1::ListAccountAssessmentsResponse* response) override;
  grpc::Status ScoreAccounts(grpc::ServerContext* context,
                             const v1::ScoreAccountsRequest* request,
                             v1::ScoreAccountsResponse* response) override;
  grpc::Status GetAccountScoringRun(
      grpc::ServerContext* context,
      const v1::GetAccountScoringRunRequest* request,
      v1::GetAccountScoringRunResponse* response) override;
  grpc::Status ListAccountScoringRuns(
      grpc::ServerContext* context,
      const v1::ListAccountScoringRunsRequest* request,
      v1::ListAccountScoringRunsResponse* response) override;
  grpc::ServerUnaryReactor* GetAccountScore(
      grpc::CallbackServerContext* context,
      const v1::GetAccountScoreRequest* request,
      v1::GetAccountScoreResponse* response) override;
  grpc::ServerUnaryReactor* ListTopAccounts(
      grpc::CallbackServerContext* context,
      const v1::ListTopAccountsRequest* request,
      v1::ListTopAccountsResponse* response) override;
  grpc::Status ListAccountScoreHistory(
      grpc::ServerContext* context,
      const v1::ListAccountScoreHistoryRequest* request,
      v1::ListAccountScoreHistoryResponse* response) override;
  grpc::Status CompareScorings(grpc::ServerContext* context,
                               const v1::CompareScoringsRequest* request,
                               v1::CompareScoringsResponse* response) override;

 private:
  CallGate* gate_;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_KEY_ACCOUNT_SERVICE_H_
