#ifndef CUSTRA_SERVER_OPPORTUNITY_SERVICE_H_
#define CUSTRA_SERVER_OPPORTUNITY_SERVICE_H_

#include "custra/v1/opportunity.grpc.pb.h"
#include "server/call_context.h"

namespace custra::server {

// custra.v1.OpportunityService over OpportunityStore and the analytics of
// common/pipeline_analytics.h. Thread-safe; a call holds its tenant's
// database session for its reads and writes (writes of one call are one
// transaction).
class OpportunityServiceImpl final
    : public v1::OpportunityService::WithCallbackMethod_ListOpportunities<
          v1::OpportunityService::WithCallbackMethod_GetPipelineSummary<
              v1::OpportunityService::Service>> {
 public:
  explicit OpportunityServiceImpl(CallGate* gate) : gate_(gate) {}

  grpc::Status GetPipeline(grpc::ServerContext* context,
                           const v1::GetPipelineRequest* request,
                           v1::GetPipelineResponse* response) override;
  grpc::Status UpdatePipeline(grpc::ServerContext* context,
                              const v1::UpdatePipelineRequest* request,
                              v1::UpdatePipelineResponse* response) override;
  grpc::Status CreateOpportunity(
      grpc::ServerContext* context, const v1::CreateOpportunityRequest* request,
      v1::CreateOpportunityResponse* response) override;
  grpc::Status GetOpportunity(grpc::ServerContext* context,
                              const v1::GetOpportunityRequest* request,
                              v1::GetOpportunityResponse* response) override;
  grpc::ServerUnaryReactor* ListOpportunities(
      grpc::CallbackServerContext* context,
      const v1::ListOpportunitiesRequest* request,
      v1::ListOpportunitiesResponse* response) override;
  grpc::Status UpdateOpportunity(
      grpc::ServerContext* context, const v1::UpdateOpportunityRequest* request,
      v1::UpdateOpportunityResponse* response) override;
  grpc::Status DeleteOpportunity(
      grpc::ServerContext* context, const v1::DeleteOpportunityRequest* request,
      v1::DeleteOpportunityResponse* response) override;
  grpc::Status ChangeOpportunityStage(
      grpc::ServerContext* context,
      const v1::ChangeOpportunityStageRequest* request,
      v1::ChangeOpportunityStageResponse* response) override;
  grpc::Status ListStageChanges(
      grpc::ServerContext* context, const v1::ListStageChangesRequest* request,
      v1::ListStageChangesResponse* response) override;
  grpc::Status CreateContact(grpc::ServerContext* context,
                             const v1::CreateContactRequest* request,
                             v1::CreateContactResponse* response) override;
  grpc::Status GetContact(grpc::ServerContext* context,
                          const v1::GetContactRequest* request,
                          v1::GetContactResponse* response) override;
  grpc::Status ListContacts(grpc::ServerContext* context,
                            const v1::ListContactsRequest* request,
                            v1::ListContactsResponse* response) override;
  grpc::Status UpdateContact(grpc::ServerContext* context,
                             const v1::UpdateContactRequest* request,
                             v1::UpdateContactResponse* response) override;
  grpc::Status DeleteContact(grpc::ServerContext* context,
                             const v1::DeleteContactRequest* request,
                             v1::DeleteContactResponse* response) override;
  grpc::Status LinkOpportunityContact(
      grpc::ServerContext* context,
      const v1::LinkOpportunityContactRequest* request,
      v1::LinkOpportunityContactResponse* response) override;
  grpc::Status UnlinkOpportunityContact(
      grpc::ServerContext* context,
      const v1::UnlinkOpportunityContactRequest* request,
      v1::UnlinkOpportunityContactResponse* response) override;
  grpc::Status GetAccountTrust(grpc::ServerContext* context,
                               const v1::GetAccountTrustRequest* request,
                               v1::GetAccountTrustResponse* response) override;
  grpc::Status SetAccountTrust(grpc::ServerContext* context,
                               const v1::SetAccountTrustRequest* request,
                               v1::SetAccountTrustResponse* response) override;
  grpc::Status LogActivity(grpc::ServerContext* context,
                           const v1::LogActivityRequest* request,
                           v1::LogActivityResponse* response) override;
  grpc::Status ListActivities(grpc::ServerContext* context,
                              const v1::ListActivitiesRequest* request,
                              v1::ListActivitiesResponse* response) override;
  grpc::ServerUnaryReactor* GetPipelineSummary(
      grpc::CallbackServerContext* context,
      const v1::GetPipelineSummaryRequest* request,
      v1::GetPipelineSummaryResponse* response) override;
  grpc::Status GetForecast(grpc::ServerContext* context,
                           const v1::GetForecastRequest* request,
                           v1::GetForecastResponse* response) override;
  grpc::Status ListStaleOpportunities(
      grpc::ServerContext* context,
      const v1::ListStaleOpportunitiesRequest* request,
      v1::ListStaleOpportunitiesResponse* response) override;
  grpc::Status GetDecisionMakerCoverage(
      grpc::ServerContext* context,
      const v1::GetDecisionMakerCoverageRequest* request,
      v1::GetDecisionMakerCoverageResponse* response) override;
  grpc::Status GetCalibratedProbabilities(
      grpc::ServerContext* context,
      const v1::GetCalibratedProbabilitiesRequest* request,
      v1::GetCalibratedProbabilitiesResponse* response) override;

 private:
  CallGate* gate_;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_OPPORTUNITY_SERVICE_H_
