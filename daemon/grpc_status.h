// Maps absl::Status to grpc::Status (same canonical codes and message).
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace takedown {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace takedown
