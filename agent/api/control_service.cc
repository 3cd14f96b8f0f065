#include "agent/api/control_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/api/domain_resolver.h"
#include "agent/api/proto_convert.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/libvirt/policy_metadata.h"
#include "agent/qom/qom_request.h"
#include "agent/steering/memory_actuator.h"
#include "agent/steering/policy_runner.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/hotplug.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// A target outside (0, max] changes nothing and says why.
absl::Status CheckTarget(const DomainSnapshot& snap, int64_t target_bytes) {
  if (target_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("balloon target must be more than 0 bytes, got ", target_bytes));
  }
  if (target_bytes > snap.info.max_memory_bytes) {
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "balloon target ", target_bytes, " bytes (", FormatBytes(target_bytes),
            ") is above the maximum memory of domain '", snap.info.name, "', ",
            snap.info.max_memory_bytes, " bytes (", FormatBytes(snap.info.max_memory_bytes),
            "); raise <memory> in its XML to give it more")),
        "TARGET_ABOVE_MAXIMUM",
        {{"domain", snap.info.name}, {"max_bytes", absl::StrCat(snap.info.max_memory_bytes)}});
  }
  return absl::OkStatus();
}

}  // namespace

ControlService::ControlService(ServiceBackend& backend, ListenerContext& listener,
                               absl::Duration default_qmp_timeout)
    : backend_(backend), listener_(listener), default_qmp_timeout_(default_qmp_timeout) {}

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
    RequestLedger::Entry entry = backend_.requests.Begin(call, client, request_id, request);
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
    auto turn = std::make_shared<LedgerTurn>(backend_.requests, call, client, request_id, response);
    work = [turn, work = std::move(work)] {
      absl::Status status = work();
      turn->Done(status);
      return status;
    };
  }
  return FinishOnPool(listener_.changes(), unary, std::move(work));
}

absl::Status ControlService::SetTarget(const v1::SetBalloonTargetRequest& req, absl::Time deadline,
                                       const std::string& caller,
                                       v1::SetBalloonTargetResponse* resp) {
  auto snap = ResolveDomain(backend_.snapshots, backend_.hypervisor, req.domain(), deadline);
  if (!snap.ok()) return snap.status();
  if (absl::Status s = CheckTarget(*snap, req.target_bytes()); !s.ok()) return s;
  if (snap->balloon == BalloonStatus::kNoDevice) {
    return NoBalloonDevice(snap->info.name);
  }

  // The hold the target gets: the request's, or the policy's default_hold.
  auto checked_hold = DurationInRange(
      req.has_hold() ? req.hold() : policy::WithDefaults(backend_.policy.Get()).default_hold(),
      req.has_hold() ? "hold" : "the policy's default_hold", absl::ZeroDuration(),
      policy::kMaxHold);
  if (!checked_hold.ok()) return checked_hold.status();
  const absl::Duration hold_for = *checked_hold;
  // One time for the whole request: the hold's end and the stores' view of what is held agree.
  const absl::Time now = backend_.clock.Now();
  v1::Hold hold;
  if (hold_for > absl::ZeroDuration()) {
    hold.set_domain(snap->info.name);
    hold.set_uuid(snap->info.uuid);
    hold.set_target_bytes(req.target_bytes());
    *hold.mutable_until() = ToProtoTimestamp(now + hold_for);
    hold.set_set_by(caller);
  }

  if (!req.validate_only()) {
    // One change of a domain's target at a time: the hold of one must never be rolled back over,
    // or under, another's.
    const auto locked = backend_.domain_changes.Lock(snap->info.uuid, deadline);
    if (!locked) {
      return absl::DeadlineExceededError(absl::StrCat("another change of domain '", snap->info.name,
                                                      "' did not end before the deadline"));
    }
    // The hold first: a policy cycle between the target and the hold would undo the target.
    const std::optional<v1::Hold> before = backend_.holds.Find(snap->info.uuid, now);
    absl::Status held = hold_for > absl::ZeroDuration()
                            ? backend_.holds.Set(hold, now)
                            : backend_.holds.Release(snap->info.uuid, now).status();
    if (!held.ok()) return held;
    // With a virtio-mem device, the target is all the guest has: the balloon and the device
    // share the move as the policy's would.
    absl::Status s = SendMove(
        backend_.hypervisor, *snap,
        policy::SplitMove(ToPolicyInput(*snap), req.target_bytes(), /*may_unplug=*/true), deadline);
    if (!s.ok()) {
      // The target was not set: the hold it would have had goes, the earlier one comes back.
      (void)(before ? backend_.holds.Set(*before, now)
                    : backend_.holds.Release(snap->info.uuid, now).status());
    }
    // libvirt knew before balloond read the definition.
    if (s.code() == absl::StatusCode::kFailedPrecondition && !snap->config) {
      return NoBalloonDevice(snap->info.name);
    }
    if (!s.ok()) return s;
    Log(absl::StrCat(
        "balloon target of ", snap->info.name, " set to ", FormatBytes(req.target_bytes()),
        snap->actual_bytes ? absl::StrCat(" (was ", FormatBytes(*snap->actual_bytes), ")") : "",
        " by ", caller,
        hold_for > absl::ZeroDuration()
            ? absl::StrCat(", held for ", absl::FormatDuration(hold_for))
            : ", not held"));
    v1::Event event = DomainEvent(
        v1::EVENT_KIND_TARGET_SET, snap->info.name, snap->info.uuid,
        absl::StrCat("balloon target set to ", FormatBytes(req.target_bytes()), " by ", caller,
                     hold_for > absl::ZeroDuration()
                         ? absl::StrCat(", held for ", absl::FormatDuration(hold_for))
                         : ", not held"));
    event.set_bytes(req.target_bytes());
    backend_.events.Append(std::move(event));
    backend_.interest.RequestRefresh(snap->info.uuid);
  }
  ToProto(*snap, resp->mutable_domain());
  resp->set_target_bytes(req.target_bytes());
  if (snap->actual_bytes) resp->set_previous_actual_bytes(*snap->actual_bytes);
  resp->set_validated_only(req.validate_only());
  if (hold_for > absl::ZeroDuration()) *resp->mutable_hold() = hold;
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ControlService::SetBalloonTarget(grpc::CallbackServerContext* ctx,
                                                           const v1::SetBalloonTargetRequest* req,
                                                           v1::SetBalloonTargetResponse* resp) {
  const absl::Time deadline = RequestDeadline(backend_.clock, *ctx, default_qmp_timeout_);
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, deadline, caller = listener_.Identify(*ctx)] {
                   return SetTarget(*req, deadline, caller, resp);
                 });
}

grpc::ServerUnaryReactor* ControlService::UpdatePolicy(grpc::CallbackServerContext* ctx,
                                                       const v1::UpdatePolicyRequest* req,
                                                       v1::Policy* resp) {
  return Offload(
      ctx, *req, req->request_id(), resp,
      [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
        auto updated = backend_.policy.Update(req->policy(), req->update_mask(), req->etag());
        if (!updated.ok()) return updated.status();
        const std::string change = absl::StrCat(
            "policy changed (", absl::StrJoin(req->update_mask().paths(), ", "), ") by ", caller);
        Log(change);
        backend_.events.Append(HostEvent(v1::EVENT_KIND_POLICY_CHANGED, change));
        *resp = WithEtag(*updated);
        return absl::OkStatus();
      });
}

absl::Status ControlService::WriteMetadata(const v1::UpdateDomainPolicyRequest& req,
                                           absl::Time deadline, const std::string& caller,
                                           v1::Policy* resp) {
  const google::protobuf::FieldMask& mask = req.update_mask();
  for (const std::string& path : mask.paths()) {
    if (v1::DomainPolicy::descriptor()->FindFieldByName(path) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("DomainPolicy has no field \"", path, "\""));
    }
    if (absl::Status s = CheckMetadataHolds(path); !s.ok()) return s;
  }
  auto info = backend_.hypervisor.LookupDomain(req.domain(), deadline);
  if (!info.ok()) return info.status();
  std::string element;  // empty: remove balloond's metadata
  if (mask.paths_size() > 0) {
    auto current = backend_.hypervisor.ReadPolicyMetadata(info->uuid, deadline);
    if (!current.ok()) return current.status();
    // Metadata that does not parse is replaced by what is written now.
    v1::DomainPolicy settings =
        ReadMetadataSettings(*current).settings.value_or(v1::DomainPolicy());
    if (absl::Status s = ApplyFieldMask(req.policy(), mask, settings); !s.ok()) return s;
    if (absl::Status s = policy::ValidateDomainPolicy(settings); !s.ok()) return s;
    if (settings.ByteSizeLong() > 0) {
      auto formatted = FormatPolicyMetadata(settings);
      if (!formatted.ok()) return formatted.status();
      element = *formatted;
    }
  }
  if (absl::Status s = backend_.hypervisor.WritePolicyMetadata(info->uuid, element, deadline);
      !s.ok()) {
    return s;
  }
  // What was just written is what applies: this host's API changes of those fields give way.
  auto updated = backend_.policy.Get();
  const auto layers = backend_.policy.GetLayers();
  if (mask.paths_size() > 0 && layers.api_changes.domains().count(req.domain())) {
    auto dropped = backend_.policy.UpdateDomain(req.domain(), v1::DomainPolicy(), mask);
    if (!dropped.ok()) return dropped.status();
    updated = *dropped;
  }
  const std::string change =
      absl::StrCat("policy metadata of domain ", req.domain(), " ",
                   element.empty() ? std::string("removed")
                                   : absl::StrCat("set (", absl::StrJoin(mask.paths(), ", "), ")"),
                   " by ", caller);
  Log(change);
  backend_.events.Append(
      DomainEvent(v1::EVENT_KIND_POLICY_CHANGED, info->name, info->uuid, change));
  backend_.interest.RequestRefresh(info->uuid);  // read its definition again
  *resp = WithEtag(updated);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ControlService::UpdateDomainPolicy(
    grpc::CallbackServerContext* ctx, const v1::UpdateDomainPolicyRequest* req, v1::Policy* resp) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return UnaryCall::Refused(s);
  if (req->persist() == v1::POLICY_PERSISTENCE_METADATA) {
    const absl::Time deadline = RequestDeadline(backend_.clock, *ctx, default_qmp_timeout_);
    return Offload(ctx, *req, req->request_id(), resp,
                   [this, req, resp, deadline, caller = listener_.Identify(*ctx)] {
                     return WriteMetadata(*req, deadline, caller, resp);
                   });
  }
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   auto updated = backend_.policy.UpdateDomain(req->domain(), req->policy(),
                                                               req->update_mask(), req->etag());
                   if (!updated.ok()) return updated.status();
                   const std::string change =
                       absl::StrCat("policy of domain ", req->domain(), " changed (",
                                    req->update_mask().paths().empty()
                                        ? std::string("override removed")
                                        : absl::StrJoin(req->update_mask().paths(), ", "),
                                    ") by ", caller);
                   Log(change);
                   v1::Event event = HostEvent(v1::EVENT_KIND_POLICY_CHANGED, change);
                   event.set_domain(req->domain());
                   backend_.events.Append(std::move(event));
                   *resp = WithEtag(*updated);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* ControlService::ReleaseHold(grpc::CallbackServerContext* ctx,
                                                      const v1::ReleaseHoldRequest* req,
                                                      v1::ReleaseHoldResponse* resp) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return UnaryCall::Refused(s);
  const absl::Time deadline = RequestDeadline(backend_.clock, *ctx, kLookupTimeout);
  return Offload(
      ctx, *req, req->request_id(), resp,
      [this, req, resp, deadline, caller = listener_.Identify(*ctx)]() -> absl::Status {
        auto snap = ResolveDomain(backend_.snapshots, backend_.hypervisor, req->domain(), deadline);
        if (!snap.ok()) return snap.status();
        auto released = backend_.holds.Release(snap->info.uuid, backend_.clock.Now());
        if (!released.ok()) return released.status();
        ToProto(*snap, resp->mutable_domain());
        if (*released) {
          *resp->mutable_released() = **released;
          const std::string change =
              absl::StrCat("hold on ", snap->info.name, " released by ", caller);
          Log(change);
          v1::Event event =
              DomainEvent(v1::EVENT_KIND_HOLD_RELEASED, snap->info.name, snap->info.uuid, change);
          event.set_bytes((*released)->target_bytes());
          backend_.events.Append(std::move(event));
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControlService::ReserveMemory(grpc::CallbackServerContext* ctx,
                                                        const v1::ReserveMemoryRequest* req,
                                                        v1::Reservation* resp) {
  return Offload(
      ctx, *req, req->request_id(), resp,
      [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
        const std::optional<CapacityReading> latest = backend_.capacity.Latest();
        bool repeat = false;
        auto made = backend_.reservations.Create(
            *req, caller,
            latest ? std::optional<policy::HostCapacity>(latest->capacity) : std::nullopt,
            policy::WithDefaults(backend_.policy.Get()).mode() == v1::POLICY_MODE_ENFORCE,
            backend_.clock.Now(), &repeat);
        if (!made.ok()) return made.status();
        *resp = *made;
        if (repeat) return absl::OkStatus();  // made before balloond restarted: told then
        Log(absl::StrCat("reservation ", made->id(), " of ", FormatBytes(made->bytes()), " by ",
                         caller, ": ", ShortName(made->state()), ": ", made->explanation()));
        backend_.events.Append(ReservationEvent(*made, v1::EVENT_KIND_RESERVATION_CREATED));
        // Room that was there already, or can never be: its end comes with its start.
        if (made->state() != v1::RESERVATION_STATE_PENDING) {
          backend_.events.Append(ReservationEvent(*made));
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControlService::ReleaseReservation(
    grpc::CallbackServerContext* ctx, const v1::ReleaseReservationRequest* req,
    v1::Reservation* resp) {
  return Offload(ctx, *req, req->request_id(), resp,
                 [this, req, resp, caller = listener_.Identify(*ctx)]() -> absl::Status {
                   bool ended = false;
                   auto released =
                       backend_.reservations.Release(req->id(), backend_.clock.Now(), &ended);
                   if (!released.ok()) return released.status();
                   Log(absl::StrCat("reservation ", req->id(), " released by ", caller));
                   if (ended) backend_.events.Append(ReservationEvent(*released));
                   *resp = *released;
                   return absl::OkStatus();
                 });
}

namespace {

absl::Status ReadOnlySocket(absl::string_view what) {
  return WithReason(absl::PermissionDeniedError(absl::StrCat(
                        "this is balloond's read-only socket; ", what,
                        " needs the read-write socket (balloonctl "
                        "--socket=/run/balloond/balloond.sock, as root or a member of its group)")),
                    "READ_ONLY_SOCKET");
}

}  // namespace

grpc::ServerUnaryReactor* ReadOnlyControlService::SetBalloonTarget(
    grpc::CallbackServerContext*, const v1::SetBalloonTargetRequest*,
    v1::SetBalloonTargetResponse*) {
  return UnaryCall::Refused(ReadOnlySocket("setting a balloon target"));
}

grpc::ServerUnaryReactor* ReadOnlyControlService::UpdatePolicy(grpc::CallbackServerContext*,
                                                               const v1::UpdatePolicyRequest*,
                                                               v1::Policy*) {
  return UnaryCall::Refused(ReadOnlySocket("changing the policy"));
}

grpc::ServerUnaryReactor* ReadOnlyControlService::UpdateDomainPolicy(
    grpc::CallbackServerContext*, const v1::UpdateDomainPolicyRequest*, v1::Policy*) {
  return UnaryCall::Refused(ReadOnlySocket("changing the policy"));
}

grpc::ServerUnaryReactor* ReadOnlyControlService::ReleaseHold(grpc::CallbackServerContext*,
                                                              const v1::ReleaseHoldRequest*,
                                                              v1::ReleaseHoldResponse*) {
  return UnaryCall::Refused(ReadOnlySocket("releasing a hold"));
}

grpc::ServerUnaryReactor* ReadOnlyControlService::ReserveMemory(grpc::CallbackServerContext*,
                                                                const v1::ReserveMemoryRequest*,
                                                                v1::Reservation*) {
  return UnaryCall::Refused(ReadOnlySocket("reserving memory"));
}

grpc::ServerUnaryReactor* ReadOnlyControlService::ReleaseReservation(
    grpc::CallbackServerContext*, const v1::ReleaseReservationRequest*, v1::Reservation*) {
  return UnaryCall::Refused(ReadOnlySocket("releasing a reservation"));
}

}  // namespace balloond
