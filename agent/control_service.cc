#include "agent/control_service.h"

#include "absl/strings/str_cat.h"
#include "agent/domain_monitor.h"
#include "agent/domain_resolver.h"
#include "agent/proto_convert.h"
#include "agent/qom_request.h"
#include "agent/read_service.h"
#include "policy/policy.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

std::string MiB(int64_t bytes) { return absl::StrCat(bytes / (1024 * 1024), " MiB"); }

// A target outside (0, max] changes nothing and says why.
absl::Status CheckTarget(const DomainSnapshot& snap, int64_t target_bytes) {
  if (target_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "balloon target must be more than 0 bytes, got ", target_bytes));
  }
  if (target_bytes > snap.info.max_memory_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "balloon target ", target_bytes, " bytes (", MiB(target_bytes), ") is above the maximum memory of domain '",
        snap.info.name, "', ", snap.info.max_memory_bytes, " bytes (", MiB(snap.info.max_memory_bytes),
        "); raise <memory> in its XML to give it more"));
  }
  return absl::OkStatus();
}

absl::Status NoBalloon(const DomainSnapshot& snap) {
  return absl::FailedPreconditionError(absl::StrCat(
      "domain '", snap.info.name,
      "' has no virtio balloon device; add <memballoon model='virtio'/> to its XML and restart it"));
}

}  // namespace

ControlService::ControlService(const SnapshotStore& store, Hypervisor& hypervisor,
                               PolicyStore& policy, std::function<void()> on_target_set,
                               absl::Duration default_qmp_timeout)
    : store_(store),
      hypervisor_(hypervisor),
      policy_(policy),
      on_target_set_(std::move(on_target_set)),
      default_qmp_timeout_(default_qmp_timeout) {}

grpc::Status ControlService::SetBalloonTarget(grpc::ServerContext* ctx,
                                              const v1::SetBalloonTargetRequest* req,
                                              v1::SetBalloonTargetResponse* resp) {
  auto snap = ResolveDomain(store_, hypervisor_, req->domain());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  if (absl::Status s = CheckTarget(*snap, req->target_bytes()); !s.ok()) return ToGrpcStatus(s);
  if (snap->balloon == BalloonStatus::kNoDevice) return ToGrpcStatus(NoBalloon(*snap));

  DomainMonitor monitor(hypervisor_, snap->info.uuid, RequestDeadline(*ctx, default_qmp_timeout_));
  // Ask QEMU rather than trust the snapshot: the device may not have been probed yet.
  auto actual = monitor.QueryBalloon();
  if (!actual.ok()) {
    if (actual.status().code() == absl::StatusCode::kFailedPrecondition) {
      return ToGrpcStatus(NoBalloon(*snap));
    }
    return ToGrpcStatus(actual.status());
  }
  if (!req->validate_only()) {
    if (absl::Status s = monitor.SetBalloon(req->target_bytes()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (on_target_set_) on_target_set_();
  }
  ToProto(*snap, resp->mutable_domain());
  resp->set_target_bytes(req->target_bytes());
  resp->set_previous_actual_bytes(*actual);
  resp->set_validated_only(req->validate_only());
  return grpc::Status::OK;
}

grpc::Status ControlService::UpdatePolicy(grpc::ServerContext*, const v1::UpdatePolicyRequest* req,
                                          v1::Policy* resp) {
  auto updated = policy_.Update(req->policy(), req->update_mask());
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  *resp = policy::WithDefaults(*updated);
  return grpc::Status::OK;
}

grpc::Status ControlService::UpdateDomainPolicy(grpc::ServerContext*,
                                                const v1::UpdateDomainPolicyRequest* req,
                                                v1::Policy* resp) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return ToGrpcStatus(s);
  auto updated = policy_.UpdateDomain(req->domain(), req->policy(), req->update_mask());
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  *resp = policy::WithDefaults(*updated);
  return grpc::Status::OK;
}

namespace {

grpc::Status ReadOnlySocket(absl::string_view what) {
  return grpc::Status(grpc::PERMISSION_DENIED,
                      absl::StrCat("this is balloond's read-only socket; ", what,
                                   " needs the read-write socket (balloonctl "
                                   "--socket=/run/balloond/balloond.sock, as root or a member of "
                                   "its group)"));
}

}  // namespace

grpc::Status ReadOnlyControlService::SetBalloonTarget(grpc::ServerContext*,
                                                      const v1::SetBalloonTargetRequest*,
                                                      v1::SetBalloonTargetResponse*) {
  return ReadOnlySocket("setting a balloon target");
}

grpc::Status ReadOnlyControlService::UpdatePolicy(grpc::ServerContext*, const v1::UpdatePolicyRequest*,
                                                  v1::Policy*) {
  return ReadOnlySocket("changing the policy");
}

grpc::Status ReadOnlyControlService::UpdateDomainPolicy(grpc::ServerContext*,
                                                        const v1::UpdateDomainPolicyRequest*,
                                                        v1::Policy*) {
  return ReadOnlySocket("changing the policy");
}

}  // namespace balloond
