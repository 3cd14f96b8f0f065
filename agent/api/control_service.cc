#include "agent/api/control_service.h"

#include <grpcpp/generic/async_generic_service.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/api/proto_convert.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/steering/domain_resolver.h"

namespace balloond {

namespace v1 = balloon::v1;

ControlService::ControlService(Parts parts, ListenerContext& listener,
                               absl::Duration default_qmp_timeout)
    : parts_(parts), listener_(listener), default_qmp_timeout_(default_qmp_timeout) {}

namespace {

// A request run under its request_id: the ledger learns how it ended, also when it never ran (the
// workers' queue was full) or threw.
class LedgerTurn {
 public:
  LedgerTurn(RequestLedger& ledger, std::string call, std::string client, std::string id,
             const google::protobuf::Message* response)
      : ledger_(ledger),
        call_(std::move(call)),
        client_(std::move(client)),
        id_(std::move(id)),
        response_(response) {}
  LedgerTurn(const LedgerTurn&) = delete;
  LedgerTurn& operator=(const LedgerTurn&) = delete;
  ~LedgerTurn() {
    if (!done_) Done(absl::CancelledError("not carried out"));
  }
  void Done(const absl::Status& status) {
    done_ = true;
    ledger_.Finish(call_, client_, id_, status, *response_);
  }

 private:
  RequestLedger& ledger_;
  const std::string call_, client_, id_;
  const google::protobuf::Message* response_;  // read only on success, while the call lives
  bool done_ = false;
};

}  // namespace

grpc::ServerUnaryReactor* ControlService::Offload(grpc::CallbackServerContext* ctx,
                                                  const google::protobuf::Message& request,
                                                  const std::string& request_id,
                                                  google::protobuf::Message* response,
                                                  std::function<absl::Status()> work) {
  UnaryCall* unary = listener_.Begin(*ctx, response);
  if (!unary->admitted()) return unary;
  if (!request_id.empty()) {
    const std::string call = request.GetDescriptor()->full_name();
    const std::string client = listener_.Identify(*ctx);
    RequestLedger::Entry entry = parts_.requests.Begin(call, client, request_id, request);
    switch (entry.action) {
      case RequestLedger::Entry::Action::kRefuse:
        return unary->Complete(entry.refusal);
      case RequestLedger::Entry::Action::kAnswer:
        response->CopyFrom(*entry.response);
        Log(absl::StrCat("repeat of request ", request_id, " (", call, ") by ", client,
                         " answered as the first time, not carried out again"));
        return unary->Complete(absl::OkStatus());
      case RequestLedger::Entry::Action::kRun:
        break;
    }
    auto turn = std::make_shared<LedgerTurn>(parts_.requests, call, client, request_id, response);
    work = [turn, work = std::move(work)] {
      absl::Status status = work();
      turn->Done(status);
      return status;
    };
  }
  return FinishOnPool(listener_.changes(), unary, std::move(work));
}

grpc::ServerUnaryReactor* ControlService::SetBalloonTarget(grpc::CallbackServerContext* ctx,
                                                           const v1::SetBalloonTargetRequest* req,
                                                           v1::SetBalloonTargetResponse* resp) {
  const absl::Time deadline = RequestDeadline(parts_.clock, *ctx, default_qmp_timeout_);
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, deadline, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto set = parts_.operations.SetTarget(*req, deadline, caller);
                   if (!set.ok()) return set.status();
                   ToProto(set->domain, resp->mutable_domain());
                   resp->set_target_bytes(req->target_bytes());
                   if (set->domain.actual_bytes) {
                     resp->set_previous_actual_bytes(*set->domain.actual_bytes);
                   }
                   resp->set_validated_only(req->validate_only());
                   if (set->hold) *resp->mutable_hold() = *set->hold;
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::UpdatePolicy(grpc::CallbackServerContext* ctx,
                                                       const v1::UpdatePolicyRequest* req,
                                                       v1::Policy* resp) {
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto updated = parts_.operations.UpdatePolicy(*req, caller);
                   if (!updated.ok()) return updated.status();
                   *resp = std::move(*updated);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::UpdateDomainPolicy(
    grpc::CallbackServerContext* ctx, const v1::UpdateDomainPolicyRequest* req, v1::Policy* resp) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return UnaryCall::Refused(s);
  const absl::Time deadline = RequestDeadline(parts_.clock, *ctx, default_qmp_timeout_);
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, deadline, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto updated = parts_.operations.UpdateDomainPolicy(*req, deadline, caller);
                   if (!updated.ok()) return updated.status();
                   *resp = std::move(*updated);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::ReleaseHold(grpc::CallbackServerContext* ctx,
                                                      const v1::ReleaseHoldRequest* req,
                                                      v1::ReleaseHoldResponse* resp) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return UnaryCall::Refused(s);
  const absl::Time deadline = RequestDeadline(parts_.clock, *ctx, kLookupTimeout);
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, deadline, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto released = parts_.operations.ReleaseHold(req->domain(), deadline, caller);
                   if (!released.ok()) return released.status();
                   ToProto(released->domain, resp->mutable_domain());
                   if (released->released) *resp->mutable_released() = *released->released;
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::ReserveMemory(grpc::CallbackServerContext* ctx,
                                                        const v1::ReserveMemoryRequest* req,
                                                        v1::Reservation* resp) {
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto made = parts_.operations.Reserve(*req, caller);
                   if (!made.ok()) return made.status();
                   *resp = std::move(*made);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::ReleaseReservation(
    grpc::CallbackServerContext* ctx, const v1::ReleaseReservationRequest* req,
    v1::Reservation* resp) {
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto released = parts_.operations.ReleaseReservation(req->id(), caller);
                   if (!released.ok()) return released.status();
                   *resp = std::move(*released);
                   return absl::OkStatus();
                 });
}

grpc::ServerGenericBidiReactor* ReadOnlySocketRefusal::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  // Every control call, whatever its name (a new one included): PERMISSION_DENIED, and where to go
  // instead; anything else is as gRPC would answer it.
  absl::Status refusal = absl::UnimplementedError(absl::StrCat("no method ", ctx->method()));
  if (absl::StartsWith(ctx->method(), "/balloon.v1.BalloonControlService/")) {
    refusal = WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "this is balloond's read-only socket; ", ctx->method().substr(1),
            " needs the read-write socket (balloonctl --socket=/run/balloond/balloond.sock, as "
            "root or a member of its group)")),
        "READ_ONLY_SOCKET");
  }
  class Refused final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Refused(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  return new Refused(ToGrpcStatus(refusal));
}

}  // namespace balloond
