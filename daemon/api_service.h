// ApiService: the gRPC service takedown.v1.Takedown, a thin mapping between
// protobuf messages and Daemon operations. Calls that change something are
// audited by the operations themselves, with the caller's peer address as
// actor ("api:<peer>").
#pragma once

#include "proto/takedown/v1/takedown.grpc.pb.h"

namespace takedown {

class Daemon;

class ApiService final : public v1::Takedown::Service {
 public:
  explicit ApiService(Daemon& daemon) : daemon_(daemon) {}

  grpc::Status StartSweep(grpc::ServerContext* context, const v1::StartSweepRequest* request,
                          v1::StartSweepResponse* response) override;
  grpc::Status SweepStatus(grpc::ServerContext* context, const v1::SweepStatusRequest* request,
                           v1::SweepStatusResponse* response) override;
  grpc::Status PauseSweep(grpc::ServerContext* context, const v1::PauseSweepRequest* request,
                          v1::PauseSweepResponse* response) override;
  grpc::Status ResumeSweep(grpc::ServerContext* context, const v1::ResumeSweepRequest* request,
                           v1::ResumeSweepResponse* response) override;
  grpc::Status ListSources(grpc::ServerContext* context, const v1::ListSourcesRequest* request,
                           v1::ListSourcesResponse* response) override;
  grpc::Status ScanObjects(grpc::ServerContext* context, const v1::ScanObjectsRequest* request,
                           v1::ScanObjectsResponse* response) override;
  grpc::Status Recheck(grpc::ServerContext* context, const v1::RecheckRequest* request,
                       v1::RecheckResponse* response) override;
  grpc::Status ImportHashList(grpc::ServerContext* context, const v1::ImportHashListRequest* request,
                              v1::ImportHashListResponse* response) override;
  grpc::Status ListHashLists(grpc::ServerContext* context, const v1::ListHashListsRequest* request,
                             v1::ListHashListsResponse* response) override;
  grpc::Status ListCases(grpc::ServerContext* context, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response) override;
  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;
  grpc::Status ReviewCase(grpc::ServerContext* context, const v1::ReviewCaseRequest* request,
                          v1::ReviewCaseResponse* response) override;
  grpc::Status TransitionCase(grpc::ServerContext* context, const v1::TransitionCaseRequest* request,
                              v1::TransitionCaseResponse* response) override;
  grpc::Status RecordRemoval(grpc::ServerContext* context, const v1::RecordRemovalRequest* request,
                             v1::RecordRemovalResponse* response) override;
  grpc::Status SubmitRemovalOrder(grpc::ServerContext* context, const v1::SubmitRemovalOrderRequest* request,
                                  v1::SubmitRemovalOrderResponse* response) override;
  grpc::Status ExecuteRemovalOrder(grpc::ServerContext* context,
                                   const v1::ExecuteRemovalOrderRequest* request,
                                   v1::ExecuteRemovalOrderResponse* response) override;
  grpc::Status RecheckCase(grpc::ServerContext* context, const v1::RecheckCaseRequest* request,
                           v1::RecheckCaseResponse* response) override;
  grpc::Status RecordInability(grpc::ServerContext* context, const v1::RecordInabilityRequest* request,
                               v1::RecordInabilityResponse* response) override;
  grpc::Status ComplianceStats(grpc::ServerContext* context, const v1::ComplianceStatsRequest* request,
                               v1::ComplianceStatsResponse* response) override;

 private:
  Daemon& daemon_;
};

}  // namespace takedown
