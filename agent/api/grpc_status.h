#ifndef BALLOOND_AGENT_API_GRPC_STATUS_H_
#define BALLOOND_AGENT_API_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace balloond {

// absl and gRPC share their numeric codes; this is the service edge where one becomes the other.
// The gRPC status of `status`, with a google.rpc.Status in its details carrying one
// google.rpc.ErrorInfo: the reason set by WithReason (agent/base/error_reason.h), or the code's
// name when none was, in the domain kErrorDomain.
grpc::Status ToGrpcStatus(const absl::Status& status);
inline constexpr absl::string_view kErrorDomain = "balloond";

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_GRPC_STATUS_H_
