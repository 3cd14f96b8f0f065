#ifndef BALLOOND_AGENT_CONTROL_SERVICE_H_
#define BALLOOND_AGENT_CONTROL_SERVICE_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "agent/hypervisor.h"
#include "agent/policy_store.h"
#include "agent/snapshot_store.h"
#include "balloon/v1/balloon.grpc.pb.h"

namespace balloond {

// The control service, served on the read-write socket only.
class ControlService final : public balloon::v1::BalloonControlService::Service {
 public:
  // `on_target_set` runs after a balloon target reached QEMU (the agent re-collects then).
  ControlService(const SnapshotStore& store, Hypervisor& hypervisor, PolicyStore& policy,
                 std::function<void()> on_target_set,
                 absl::Duration default_qmp_timeout = absl::Seconds(5));

  grpc::Status SetBalloonTarget(grpc::ServerContext* ctx,
                                const balloon::v1::SetBalloonTargetRequest* req,
                                balloon::v1::SetBalloonTargetResponse* resp) override;
  grpc::Status UpdatePolicy(grpc::ServerContext* ctx, const balloon::v1::UpdatePolicyRequest* req,
                            balloon::v1::Policy* resp) override;
  grpc::Status UpdateDomainPolicy(grpc::ServerContext* ctx,
                                  const balloon::v1::UpdateDomainPolicyRequest* req,
                                  balloon::v1::Policy* resp) override;

 private:
  const SnapshotStore& store_;
  Hypervisor& hypervisor_;
  PolicyStore& policy_;
  std::function<void()> on_target_set_;
  const absl::Duration default_qmp_timeout_;
};

// The control service as the read-only socket shows it: every call is refused with
// PERMISSION_DENIED and a pointer to the read-write socket, instead of a bare UNIMPLEMENTED.
class ReadOnlyControlService final : public balloon::v1::BalloonControlService::Service {
 public:
  grpc::Status SetBalloonTarget(grpc::ServerContext* ctx,
                                const balloon::v1::SetBalloonTargetRequest* req,
                                balloon::v1::SetBalloonTargetResponse* resp) override;
  grpc::Status UpdatePolicy(grpc::ServerContext* ctx, const balloon::v1::UpdatePolicyRequest* req,
                            balloon::v1::Policy* resp) override;
  grpc::Status UpdateDomainPolicy(grpc::ServerContext* ctx,
                                  const balloon::v1::UpdateDomainPolicyRequest* req,
                                  balloon::v1::Policy* resp) override;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_CONTROL_SERVICE_H_
