#ifndef CUSTRA_SERVER_SEGMENTATION_SERVICE_H_
#define CUSTRA_SERVER_SEGMENTATION_SERVICE_H_

#include "custra/v1/segmentation.grpc.pb.h"
#include "server/call_context.h"

namespace custra::server {

// custra.v1.SegmentationService over SegmentationStore and the models of
// common/segmentation_models.h. Thread-safe; a call holds its tenant's
// database session while it reads inputs and stores a run, and computes
// models on data it has read.
class SegmentationServiceImpl final
    : public v1::SegmentationService::WithCallbackMethod_GetRun<
          v1::SegmentationService::WithCallbackMethod_ListRuns<
              v1::SegmentationService::Service>> {
 public:
  explicit SegmentationServiceImpl(CallGate* gate) : gate_(gate) {}

  grpc::Status RunSegmentation(grpc::ServerContext* context,
                               const v1::RunSegmentationRequest* request,
                               v1::RunSegmentationResponse* response) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* context,
                                   const v1::GetRunRequest* request,
                                   v1::GetRunResponse* response) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const v1::ListRunsRequest* request,
                                     v1::ListRunsResponse* response) override;
  grpc::Status ListSegmentMembers(
      grpc::ServerContext* context,
      const v1::ListSegmentMembersRequest* request,
      v1::ListSegmentMembersResponse* response) override;
  grpc::Status GetCustomerSegments(
      grpc::ServerContext* context,
      const v1::GetCustomerSegmentsRequest* request,
      v1::GetCustomerSegmentsResponse* response) override;
  grpc::Status CompareRuns(grpc::ServerContext* context,
                           const v1::CompareRunsRequest* request,
                           v1::CompareRunsResponse* response) override;
  grpc::Status ListSegmentTransitionMembers(
      grpc::ServerContext* context,
      const v1::ListSegmentTransitionMembersRequest* request,
      v1::ListSegmentTransitionMembersResponse* response) override;
  grpc::Status DeleteRun(grpc::ServerContext* context,
                         const v1::DeleteRunRequest* request,
                         v1::DeleteRunResponse* response) override;
  grpc::Status GetStructureReport(
      grpc::ServerContext* context,
      const v1::GetStructureReportRequest* request,
      v1::GetStructureReportResponse* response) override;

 private:
  CallGate* gate_;
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_SEGMENTATION_SERVICE_H_
