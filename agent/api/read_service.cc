#include "agent/api/read_service.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/api/paging.h"
#include "agent/api/proto_convert.h"
#include "agent/api/watches.h"
#include "agent/base/error_reason.h"
#include "agent/collect/host_stats.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/libvirt/policy_metadata.h"
#include "agent/qom/domain_monitor.h"
#include "agent/qom/qom_request.h"
#include "agent/steering/domain_resolver.h"
#include "policy/durations.h"
#include "policy/layers.h"
#include "policy/policy.h"
#include "policy/settings.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// Statistics exist only where a balloon does; ListDomains still shows such a domain.
absl::Status CheckHasBalloon(const DomainSnapshot& snap) {
  if (snap.balloon == BalloonStatus::kNoDevice) return NoBalloonDevice(snap.info.name);
  return absl::OkStatus();
}

}  // namespace

ReadService::ReadService(Parts parts, ListenerContext& listener, ReadServiceOptions options)
    : parts_(parts), listener_(listener), options_(std::move(options)) {}

grpc::ServerUnaryReactor* ReadService::ListDomains(grpc::CallbackServerContext* ctx,
                                                   const v1::ListDomainsRequest* req,
                                                   v1::ListDomainsResponse* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  auto page = ReadPageRequest(req->page_size(), req->page_token(), "ListDomains");
  if (!page.ok()) return call->Complete(page.status());
  // A page of the domains by name, after the last one of the page before.
  std::vector<DomainSnapshot> snaps = parts_.snapshots.List();
  std::sort(snaps.begin(), snaps.end(), [](const DomainSnapshot& a, const DomainSnapshot& b) {
    return a.info.name < b.info.name;
  });
  const auto first = std::upper_bound(
      snaps.begin(), snaps.end(), page->after,
      [](const std::string& after, const DomainSnapshot& d) { return after < d.info.name; });
  const size_t left = static_cast<size_t>(snaps.end() - first);
  const auto last = first + static_cast<std::ptrdiff_t>(std::min<size_t>(left, page->size));

  const auto holds = parts_.holds.Active(parts_.clock.Now());
  // Working sets and what could be reclaimed, as the policy's latest cycle knew them.
  std::map<std::string, const policy::DomainCapacity*> judged;
  const std::optional<CapacityReading> reading = parts_.capacity.Latest();
  if (reading) {
    for (const policy::DomainCapacity& c : reading->capacity.domains) judged[c.uuid] = &c;
  }
  for (auto snap = first; snap != last; ++snap) {
    v1::Domain* d = resp->add_domains();
    ToProto(*snap, d);
    d->set_balloon_qom_path(
        parts_.balloon_paths.Get(ProcessKey(snap->info.uuid, snap->info.id)).value_or(""));
    if (auto hold = holds.find(snap->info.uuid); hold != holds.end())
      *d->mutable_hold() = hold->second;
    if (auto outside = parts_.outside ? parts_.outside->Recent(snap->info.uuid) : std::nullopt) {
      d->set_problem(d->problem().empty()
                         ? OutsideChanges::Problem(*outside)
                         : absl::StrCat(d->problem(), "; ", OutsideChanges::Problem(*outside)));
    }
    if (reading) {
      // What KSM merged of it, as of the latest cycle (nosharepages is its definition's, above).
      if (auto sharing = reading->domain_sharing.find(snap->info.uuid);
          sharing != reading->domain_sharing.end()) {
        d->mutable_sharing()->MergeFrom(sharing->second);
      }
    }
    if (auto c = judged.find(snap->info.uuid); c != judged.end()) {
      d->set_reclaimable_bytes(c->second->reclaimable_bytes);
      if (c->second->working_set_bytes) {
        d->set_working_set_bytes(*c->second->working_set_bytes);
        *d->mutable_working_set_time() = ToProtoTimestamp(c->second->working_set_at);
      }
    }
  }
  if (last != snaps.end()) {
    resp->set_next_page_token(NextPageToken("ListDomains", "", std::prev(last)->info.name));
  }
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::GetMemoryStats(grpc::CallbackServerContext* ctx,
                                                      const v1::GetMemoryStatsRequest* req,
                                                      v1::MemoryStats* resp) {
  UnaryCall* call = listener_.Begin(*ctx, req->domain(), resp);
  if (!call->admitted()) return call;
  if (auto snap = parts_.snapshots.Find(req->domain())) {
    if (absl::Status s = CheckHasBalloon(*snap); !s.ok()) return call->Complete(s);
    parts_.interest.NoteInterest(snap->info.uuid);
    *resp = parts_.stats_feed.Update(*snap)->stats;
    return call->Complete(absl::OkStatus());
  }
  // Not running (or just started): libvirt says which, off gRPC's threads.
  const absl::Time deadline = RequestDeadline(parts_.clock, *ctx, kLookupTimeout, kLookupTimeout);
  return FinishOnPool(listener_.lookups(), call, [this, deadline, domain = req->domain()] {
    return DomainGoneStatus(parts_.hypervisor, domain, deadline);
  });
}

grpc::ServerWriteReactor<v1::MemoryStats>* ReadService::WatchMemoryStats(
    grpc::CallbackServerContext* ctx, const v1::WatchMemoryStatsRequest* req) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) {
    return RefusedStream<v1::MemoryStats>(s);
  }
  auto ticket = listener_.AdmitWatch(*ctx);
  if (!ticket.ok()) return RefusedStream<v1::MemoryStats>(ticket.status());
  auto watch = StatsWatch::Make<StatsWatch>(parts_.stats_feed.hub(), std::move(*ticket));
  auto snap = parts_.snapshots.Find(req->domain());
  if (snap) {
    if (absl::Status s = CheckHasBalloon(*snap); !s.ok()) {
      watch->End(ToGrpcStatus(s));
      return watch.get();
    }
    // Subscribed first, read second: no change can fall between the two.
    watch->Watch(snap->info.uuid);
    snap = parts_.snapshots.FindByUuid(snap->info.uuid);
  }
  if (snap) {
    watch->Deliver(parts_.stats_feed.Update(*snap));
    return watch.get();
  }
  // The lookup holds the watch: the client may cancel, and gRPC be done with the stream, first.
  absl::Status queued = listener_.lookups().TrySubmit([this, watch, domain = req->domain()] {
    watch->End(ToGrpcStatus(
        DomainGoneStatus(parts_.hypervisor, domain, parts_.clock.Now() + kLookupTimeout)));
  });
  if (!queued.ok()) watch->End(ToGrpcStatus(queued));
  return watch.get();
}

grpc::ServerUnaryReactor* ReadService::GetHostStats(grpc::CallbackServerContext* ctx,
                                                    const v1::GetHostStatsRequest*,
                                                    v1::HostStats* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  // Two small files of the kernel's, read from memory: quick enough for gRPC's thread.
  auto host = ReadHostMemory(options_.proc_root);
  if (!host.ok()) return call->Complete(host.status());
  ToProto(*host, parts_.clock.Now(), resp);
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::GetHostCapacity(grpc::CallbackServerContext* ctx,
                                                       const v1::GetHostCapacityRequest*,
                                                       v1::HostCapacity* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  const std::optional<CapacityReading> reading = parts_.capacity.Latest();
  if (!reading) {
    return call->Complete(
        WithReason(absl::UnavailableError("no policy cycle has judged the host yet: balloond runs "
                                          "one once it has collected the domains' statistics; "
                                          "retry in a few seconds"),
                   "CAPACITY_NOT_JUDGED_YET"));
  }
  ToProto(*reading, resp);
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::ListReservations(grpc::CallbackServerContext* ctx,
                                                        const v1::ListReservationsRequest* req,
                                                        v1::ListReservationsResponse* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  auto page = ReadPageRequest(req->page_size(), req->page_token(), "ListReservations");
  if (!page.ok()) return call->Complete(page.status());
  // Oldest first: ids are numbered in the order they were made.
  std::vector<v1::Reservation> all = parts_.reservations.List();
  const int64_t after = page->after.empty() ? 0 : ReservationNumber(page->after);
  for (v1::Reservation& r : all) {
    if (ReservationNumber(r.id()) <= after) continue;
    if (resp->reservations_size() == page->size) {
      resp->set_next_page_token(NextPageToken(
          "ListReservations", "", resp->reservations(resp->reservations_size() - 1).id()));
      break;
    }
    *resp->add_reservations() = std::move(r);
  }
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::GetReservation(grpc::CallbackServerContext* ctx,
                                                      const v1::GetReservationRequest* req,
                                                      v1::Reservation* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  auto found = parts_.reservations.Get(req->id());
  if (!found.ok()) return call->Complete(found.status());
  *resp = *found;
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::RunQom(grpc::CallbackServerContext* ctx,
                                              const std::string& domain, const std::string& path,
                                              google::protobuf::Message* resp,
                                              QomRunner::Query query) {
  if (!options_.serve_qom) {
    return UnaryCall::Refused(WithReason(
        absl::PermissionDeniedError(
            "QOM queries are off on the read-only socket: libvirt marks a domain tainted "
            "(\"custom-monitor\") at a client's QMP command, so any local user could taint every "
            "VM; ask on the read-write socket (balloonctl --socket=/run/balloond/balloond.sock), "
            "or start balloond with --qom-on-read-only-socket"),
        "QOM_OFF_ON_READ_ONLY_SOCKET"));
  }
  UnaryCall* call = listener_.Begin(*ctx, domain, resp);
  if (!call->admitted()) return call;
  auto snap = parts_.snapshots.Find(domain);
  const absl::Time deadline =
      RequestDeadline(parts_.clock, *ctx, options_.default_qmp_timeout, options_.max_qmp_timeout);
  if (!snap) {
    return FinishOnPool(listener_.lookups(), call, [this, domain, deadline] {
      return DomainGoneStatus(parts_.hypervisor, domain, deadline);
    });
  }
  absl::Status admitted = parts_.qom.Submit(
      listener_.qom(), listener_.Identify(*ctx), {snap->info.uuid, snap->info.id, path}, deadline,
      std::move(query), [call](const absl::Status& status) { call->Complete(status); });
  if (!admitted.ok()) call->Complete(admitted);
  return call;
}

grpc::ServerUnaryReactor* ReadService::ListQomProperties(grpc::CallbackServerContext* ctx,
                                                         const v1::ListQomPropertiesRequest* req,
                                                         v1::ListQomPropertiesResponse* resp) {
  if (absl::Status s = ValidateQomPath(req->path()); !s.ok()) return UnaryCall::Refused(s);
  if (absl::Status s = CheckQomPathAllowed(req->path()); !s.ok()) return UnaryCall::Refused(s);
  return RunQom(ctx, req->domain(), req->path(), resp,
                [path = req->path(), resp](DomainMonitor& m) {
                  auto props = m.QomList(path);
                  if (!props.ok()) return props.status();
                  for (const auto& p : *props) {
                    auto* out = resp->add_properties();
                    out->set_name(p.name);
                    out->set_type(p.type);
                  }
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* ReadService::GetQomProperty(grpc::CallbackServerContext* ctx,
                                                      const v1::GetQomPropertyRequest* req,
                                                      v1::GetQomPropertyResponse* resp) {
  if (absl::Status s = ValidateQomPath(req->path()); !s.ok()) return UnaryCall::Refused(s);
  if (absl::Status s = ValidateQomProperty(req->property()); !s.ok()) {
    return UnaryCall::Refused(s);
  }
  if (absl::Status s = CheckQomPathAllowed(req->path()); !s.ok()) return UnaryCall::Refused(s);
  return RunQom(ctx, req->domain(), req->path(), resp,
                [path = req->path(), property = req->property(), resp](DomainMonitor& m) {
                  auto value = m.QomGet(path, property);
                  if (!value.ok()) return value.status();
                  auto parsed = google::protobuf::util::JsonStringToMessage(DumpJson(*value),
                                                                            resp->mutable_value());
                  if (!parsed.ok()) {
                    return absl::InternalError(absl::StrCat(
                        "cannot represent the property's value: ", parsed.message().as_string()));
                  }
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* ReadService::GetPolicy(grpc::CallbackServerContext* ctx,
                                                 const v1::GetPolicyRequest*, v1::Policy* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  *resp = WithEtag(parts_.policy.Get());
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::GetDomainPolicy(grpc::CallbackServerContext* ctx,
                                                       const v1::GetDomainPolicyRequest* req,
                                                       v1::DomainPolicyInForce* resp) {
  UnaryCall* call = listener_.Begin(*ctx, req->domain(), resp);
  if (!call->admitted()) return call;
  auto explain = [this, resp](const std::string& name, const v1::DomainPolicy* metadata,
                              const std::string& problem) {
    // One read of the store: the layers and the settings they make agree.
    const auto layers = parts_.policy.GetLayers();
    *resp = policy::ExplainDomainPolicy(name, layers.config, layers.api_changes, metadata);
    if (!problem.empty()) resp->set_metadata_problem(problem);
  };
  // A running domain: the metadata the policy uses, as the collector last read it.
  if (auto snap = parts_.snapshots.Find(req->domain())) {
    explain(snap->info.name, snap->metadata_policy ? &*snap->metadata_policy : nullptr,
            snap->metadata_problem);
    return call->Complete(absl::OkStatus());
  }
  // Any other: libvirt's, read off gRPC's threads. A name libvirt does not know has no metadata,
  // but may have settings on this host all the same.
  const absl::Time deadline =
      RequestDeadline(parts_.clock, *ctx, options_.default_qmp_timeout, options_.max_qmp_timeout);
  return FinishOnPool(
      listener_.lookups(), call,
      [this, explain, deadline, domain = req->domain()]() -> absl::Status {
        auto info = parts_.hypervisor.LookupDomain(domain, deadline);
        if (!info.ok()) {
          explain(domain, nullptr,
                  info.status().code() == absl::StatusCode::kNotFound
                      ? ""
                      : absl::StrCat("cannot read: ", info.status().message()));
          return absl::OkStatus();
        }
        auto element = parts_.hypervisor.ReadPolicyMetadata(info->uuid, deadline);
        if (!element.ok()) {
          explain(info->name, nullptr, absl::StrCat("cannot read: ", element.status().message()));
          return absl::OkStatus();
        }
        const MetadataSettings metadata = ReadMetadataSettings(*element);
        explain(info->name, metadata.settings ? &*metadata.settings : nullptr, metadata.problem);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ReadService::ListDecisions(grpc::CallbackServerContext* ctx,
                                                     const v1::ListDecisionsRequest* req,
                                                     v1::ListDecisionsResponse* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  if (!req->domain().empty()) {
    if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return call->Complete(s);
  }
  if (req->limit() < 0) {
    return call->Complete(absl::InvalidArgumentError("limit must not be negative"));
  }
  auto page = ReadPageRequest(req->page_size() > 0 ? req->page_size() : req->limit(),
                              req->page_token(), "ListDecisions", req->domain());
  if (!page.ok()) return call->Complete(page.status());
  uint64_t before = 0;
  if (!page->after.empty() && !absl::SimpleAtoi(page->after, &before)) {
    return call->Complete(absl::InvalidArgumentError("page_token is malformed"));
  }
  // One more than the page: whether a page before this one exists.
  std::vector<v1::Decision> listed =
      parts_.decisions.List(req->domain(), static_cast<size_t>(page->size) + 1, before);
  auto first = listed.begin();
  if (listed.size() > static_cast<size_t>(page->size)) {
    ++first;
    resp->set_next_page_token(
        NextPageToken("ListDecisions", req->domain(), absl::StrCat(first->sequence())));
  }
  for (auto it = first; it != listed.end(); ++it) *resp->add_decisions() = std::move(*it);
  return call->Complete(absl::OkStatus());
}

grpc::ServerWriteReactor<v1::Decision>* ReadService::WatchDecisions(
    grpc::CallbackServerContext* ctx, const v1::WatchDecisionsRequest* req) {
  if (!req->domain().empty()) {
    if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) {
      return RefusedStream<v1::Decision>(s);
    }
  }
  auto ticket = listener_.AdmitWatch(*ctx);
  if (!ticket.ok()) return RefusedStream<v1::Decision>(ticket.status());
  return DecisionWatch::Make<DecisionWatch>(parts_.decision_feed.hub(),
                                            DecisionFeed::KeyFor(parts_.snapshots, req->domain()),
                                            std::move(*ticket), options_.max_decisions_waiting)
      .get();
}

grpc::ServerWriteReactor<v1::Event>* ReadService::WatchEvents(grpc::CallbackServerContext* ctx,
                                                              const v1::WatchEventsRequest* req) {
  if (!req->domain().empty()) {
    if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) {
      return RefusedStream<v1::Event>(s);
    }
  }
  for (int kind : req->kinds()) {
    if (!v1::EventKind_IsValid(kind) || kind == v1::EVENT_KIND_UNSPECIFIED) {
      return RefusedStream<v1::Event>(
          absl::InvalidArgumentError(absl::StrCat("kinds: ", kind, " is not an EventKind")));
    }
  }
  auto ticket = listener_.AdmitWatch(*ctx);
  if (!ticket.ok()) return RefusedStream<v1::Event>(ticket.status());
  auto watch = EventWatch::Make<EventWatch>(parts_.events, *req, std::move(*ticket));
  watch->Start({req->after_sequence(), req->epoch(), req->only_new()});
  return watch.get();
}

}  // namespace balloond
