#ifndef BALLOOND_AGENT_API_CONTROL_SERVICE_H_
#define BALLOOND_AGENT_API_CONTROL_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>

#include "absl/time/time.h"
#include "agent/api/request_ledger.h"
#include "agent/api/service_context.h"
#include "agent/base/clock.h"
#include "agent/steering/operator.h"
#include "balloon/v1/balloon.grpc.pb.h"

namespace balloond {

// The control service, for operators: the read-write socket. It turns requests into the operator's
// actions (agent/steering/operator.h) and their results into answers; every call waits on QEMU or
// the disk, so it runs on the listener's own workers, never on gRPC's threads.
class ControlService final : public balloon::v1::BalloonControlService::CallbackService {
 public:
  struct Parts {
    Clock& clock;
    // Changes made by request_id, so that a client's retry does not act twice.
    RequestLedger& requests;
    Operator& operations;
  };
  ControlService(Parts parts, ListenerContext& listener,
                 absl::Duration default_qmp_timeout = absl::Seconds(5));

  grpc::ServerUnaryReactor* SetBalloonTarget(grpc::CallbackServerContext* ctx,
                                             const balloon::v1::SetBalloonTargetRequest* req,
                                             balloon::v1::SetBalloonTargetResponse* resp) override;
  grpc::ServerUnaryReactor* UpdatePolicy(grpc::CallbackServerContext* ctx,
                                         const balloon::v1::UpdatePolicyRequest* req,
                                         balloon::v1::Policy* resp) override;
  grpc::ServerUnaryReactor* UpdateDomainPolicy(grpc::CallbackServerContext* ctx,
                                               const balloon::v1::UpdateDomainPolicyRequest* req,
                                               balloon::v1::Policy* resp) override;
  grpc::ServerUnaryReactor* ReleaseHold(grpc::CallbackServerContext* ctx,
                                        const balloon::v1::ReleaseHoldRequest* req,
                                        balloon::v1::ReleaseHoldResponse* resp) override;
  grpc::ServerUnaryReactor* ReserveMemory(grpc::CallbackServerContext* ctx,
                                          const balloon::v1::ReserveMemoryRequest* req,
                                          balloon::v1::Reservation* resp) override;
  grpc::ServerUnaryReactor* ReleaseReservation(grpc::CallbackServerContext* ctx,
                                               const balloon::v1::ReleaseReservationRequest* req,
                                               balloon::v1::Reservation* resp) override;

 private:
  // Runs `work` on the listener's workers within the call limits, and finishes with its status. A
  // request with a request_id runs once: its repeats get its `response` (RequestLedger).
  grpc::ServerUnaryReactor* Offload(grpc::CallbackServerContext* ctx,
                                    const google::protobuf::Message& request,
                                    const std::string& request_id,
                                    google::protobuf::Message* response,
                                    std::function<absl::Status()> work);

  const Parts parts_;
  ListenerContext& listener_;
  const absl::Duration default_qmp_timeout_;
};

// The control service as the read-only socket shows it: a generic service (it answers every method
// no other service of the server has), which refuses each control call with PERMISSION_DENIED and a
// pointer to the read-write socket instead of a bare UNIMPLEMENTED.
class ReadOnlySocketRefusal final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_CONTROL_SERVICE_H_
