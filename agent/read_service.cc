#include "agent/read_service.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "agent/domain_monitor.h"
#include "agent/domain_resolver.h"
#include "agent/host_stats.h"
#include "agent/proto_convert.h"
#include "agent/qom_request.h"
#include "policy/policy.h"

namespace balloond {

namespace v1 = balloon::v1;

absl::Time RequestDeadline(const grpc::ServerContext& ctx, absl::Duration fallback) {
  const absl::Time fallback_deadline = absl::Now() + fallback;
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return fallback_deadline;
  return std::min(absl::FromChrono(deadline), absl::Now() + absl::Minutes(5));
}

ReadService::ReadService(const SnapshotStore& store, Hypervisor& hypervisor, Clock& clock,
                         const PolicyStore& policy, const DecisionLog& decisions,
                         ReadServiceOptions options)
    : store_(store),
      hypervisor_(hypervisor),
      clock_(clock),
      policy_(policy),
      decisions_(decisions),
      options_(std::move(options)) {}

grpc::Status ReadService::ListDomains(grpc::ServerContext*, const v1::ListDomainsRequest*,
                                      v1::ListDomainsResponse* resp) {
  for (const DomainSnapshot& snap : store_.List()) ToProto(snap, resp->add_domains());
  std::sort(resp->mutable_domains()->begin(), resp->mutable_domains()->end(),
            [](const v1::Domain& a, const v1::Domain& b) { return a.name() < b.name(); });
  return grpc::Status::OK;
}

namespace {

// Statistics exist only where a balloon does; ListDomains still shows such a domain.
absl::StatusOr<DomainSnapshot> ResolveDomainWithBalloon(const SnapshotStore& store,
                                                        Hypervisor& hypervisor,
                                                        absl::string_view domain) {
  auto snap = ResolveDomain(store, hypervisor, domain);
  if (snap.ok() && snap->balloon == BalloonStatus::kNoDevice) {
    return absl::FailedPreconditionError(snap->problem);
  }
  return snap;
}

}  // namespace

grpc::Status ReadService::GetMemoryStats(grpc::ServerContext*, const v1::GetMemoryStatsRequest* req,
                                         v1::MemoryStats* resp) {
  auto snap = ResolveDomainWithBalloon(store_, hypervisor_, req->domain());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  ToProto(*snap, clock_.Now(), resp);
  return grpc::Status::OK;
}

grpc::Status ReadService::WatchMemoryStats(grpc::ServerContext* ctx,
                                           const v1::WatchMemoryStatsRequest* req,
                                           grpc::ServerWriter<v1::MemoryStats>* writer) {
  auto snap = ResolveDomainWithBalloon(store_, hypervisor_, req->domain());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  const std::string uuid = snap->info.uuid;
  const std::string name = snap->info.name;
  uint64_t sent_generation = 0;
  while (!ctx->IsCancelled()) {
    if (shutting_down_) return grpc::Status(grpc::UNAVAILABLE, "balloond is shutting down");
    if (snap->generation != sent_generation) {
      v1::MemoryStats stats;
      ToProto(*snap, clock_.Now(), &stats);
      if (!writer->Write(stats)) return grpc::Status(grpc::CANCELLED, "the client went away");
      sent_generation = snap->generation;
    }
    // Wake up now and then to notice a cancelled call or a shutdown.
    auto next = store_.WaitForChange(uuid, sent_generation, absl::Milliseconds(500));
    if (!next) {
      absl::Status gone = DomainGoneStatus(hypervisor_, uuid);
      if (gone.code() == absl::StatusCode::kNotFound) {
        gone = absl::NotFoundError(absl::StrCat("domain '", name, "' was destroyed and no longer exists"));
      } else if (gone.code() == absl::StatusCode::kUnavailable) {
        gone = absl::UnavailableError(absl::StrCat("domain '", name, "' restarted; watch it again"));
      }
      return ToGrpcStatus(gone);
    }
    snap = std::move(*next);
  }
  return grpc::Status(grpc::CANCELLED, "the client cancelled the watch");
}

grpc::Status ReadService::GetHostStats(grpc::ServerContext*, const v1::GetHostStatsRequest*,
                                       v1::HostStats* resp) {
  auto host = ReadHostMemory(options_.proc_root);
  if (!host.ok()) return ToGrpcStatus(host.status());
  ToProto(*host, clock_.Now(), resp);
  return grpc::Status::OK;
}

grpc::Status ReadService::ListQomProperties(grpc::ServerContext* ctx,
                                            const v1::ListQomPropertiesRequest* req,
                                            v1::ListQomPropertiesResponse* resp) {
  if (absl::Status s = ValidateQomPath(req->path()); !s.ok()) return ToGrpcStatus(s);
  auto snap = ResolveDomain(store_, hypervisor_, req->domain());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  DomainMonitor monitor(hypervisor_, snap->info.uuid,
                        RequestDeadline(*ctx, options_.default_qmp_timeout));
  auto props = monitor.QomList(req->path());
  if (!props.ok()) return ToGrpcStatus(props.status());
  for (const auto& p : *props) {
    auto* out = resp->add_properties();
    out->set_name(p.name);
    out->set_type(p.type);
  }
  return grpc::Status::OK;
}

grpc::Status ReadService::GetQomProperty(grpc::ServerContext* ctx,
                                         const v1::GetQomPropertyRequest* req,
                                         v1::GetQomPropertyResponse* resp) {
  if (absl::Status s = ValidateQomPath(req->path()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = ValidateQomProperty(req->property()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = CheckQomGetAllowed(req->path()); !s.ok()) return ToGrpcStatus(s);
  auto snap = ResolveDomain(store_, hypervisor_, req->domain());
  if (!snap.ok()) return ToGrpcStatus(snap.status());
  DomainMonitor monitor(hypervisor_, snap->info.uuid,
                        RequestDeadline(*ctx, options_.default_qmp_timeout));
  auto value = monitor.QomGet(req->path(), req->property());
  if (!value.ok()) return ToGrpcStatus(value.status());
  auto parsed = google::protobuf::util::JsonStringToMessage(value->dump(), resp->mutable_value());
  if (!parsed.ok()) {
    return grpc::Status(grpc::INTERNAL, absl::StrCat("cannot represent the property's value: ",
                                                     parsed.message().as_string()));
  }
  return grpc::Status::OK;
}

grpc::Status ReadService::GetPolicy(grpc::ServerContext*, const v1::GetPolicyRequest*,
                                    v1::Policy* resp) {
  *resp = policy::WithDefaults(policy_.Get());
  return grpc::Status::OK;
}

grpc::Status ReadService::ListDecisions(grpc::ServerContext*, const v1::ListDecisionsRequest* req,
                                        v1::ListDecisionsResponse* resp) {
  if (!req->domain().empty()) {
    if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return ToGrpcStatus(s);
  }
  if (req->limit() < 0) return grpc::Status(grpc::INVALID_ARGUMENT, "limit must not be negative");
  const size_t limit = req->limit() == 0 ? 100 : static_cast<size_t>(req->limit());
  for (auto& d : decisions_.List(req->domain(), limit)) *resp->add_decisions() = std::move(d);
  return grpc::Status::OK;
}

grpc::Status ReadService::WatchDecisions(grpc::ServerContext* ctx, const v1::WatchDecisionsRequest* req,
                                         grpc::ServerWriter<v1::Decision>* writer) {
  if (!req->domain().empty()) {
    if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) return ToGrpcStatus(s);
  }
  uint64_t seen = decisions_.last_sequence();
  while (!ctx->IsCancelled()) {
    if (shutting_down_) return grpc::Status(grpc::UNAVAILABLE, "balloond is shutting down");
    for (const v1::Decision& d : decisions_.WaitAfter(seen, absl::Milliseconds(500))) {
      seen = d.sequence();
      if (!req->domain().empty() && d.domain() != req->domain() && d.uuid() != req->domain()) continue;
      if (!writer->Write(d)) return grpc::Status(grpc::CANCELLED, "the client went away");
    }
  }
  return grpc::Status(grpc::CANCELLED, "the client cancelled the watch");
}

}  // namespace balloond
