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
  grpc::Status ImportHashList(grpc::ServerContext* context, const v1::ImportHashListRequest* request,
                              v1::ImportHashListResponse* response) override;
  grpc::Status ListHashLists(grpc::ServerContext* context, const v1::ListHashListsRequest* request,
                             v1::ListHashListsResponse* response) override;
  grpc::Status ListCases(grpc::ServerContext* context, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response) override;
  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;

 private:
  Daemon& daemon_;
};

}  // namespace takedown
