#include "agent/api/read_service.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/api/paging.h"
#include "agent/api/proto_convert.h"
#include "agent/api/stream_sender.h"
#include "agent/base/error_reason.h"
#include "agent/collect/host_stats.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/libvirt/policy_metadata.h"
#include "agent/qom/balloon_path.h"
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

// A stream refused before it started.
template <typename Message>
grpc::ServerWriteReactor<Message>* RefusedStream(const absl::Status& status) {
  auto stream = StreamSender<Message>::template Make<StreamSender<Message>>(
      StreamSender<Message>::Backlog::kNewestOnly);
  stream->End(ToGrpcStatus(status));
  return stream.get();
}

// One client's watch of one domain's statistics.
class StatsWatch final : public StreamSender<v1::MemoryStats>,
                         public WatchHub<StatsUpdate>::Watcher {
 public:
  StatsWatch(WatchHub<StatsUpdate>& hub, CallLimits::Ticket ticket)
      : StreamSender(Backlog::kNewestOnly), hub_(hub), ticket_(std::move(ticket)) {}

  void Watch(const std::string& uuid) {
    uuid_ = uuid;
    hub_.Subscribe(uuid, this);
  }
  void Deliver(const std::shared_ptr<const StatsUpdate>& update) override {
    // The store's listener may race the first snapshot: never go back to an older one.
    uint64_t sent = sent_generation_.load();
    do {
      if (update->generation <= sent) return;
    } while (!sent_generation_.compare_exchange_weak(sent, update->generation));
    Send(std::shared_ptr<const v1::MemoryStats>(update, &update->stats));
  }
  void Close(const grpc::Status& status) override { End(status); }

 private:
  void OnFinished() override {
    if (!uuid_.empty()) hub_.Unsubscribe(uuid_, this);
    ticket_ = CallLimits::Ticket();  // the stream no longer counts, even if a task still holds it
  }

  WatchHub<StatsUpdate>& hub_;
  CallLimits::Ticket ticket_;
  std::string uuid_;
  std::atomic<uint64_t> sent_generation_{0};
};

// One client's watch of the policy's decisions (all of them, or one domain's).
class DecisionWatch final : public StreamSender<v1::Decision>,
                            public WatchHub<v1::Decision>::Watcher {
 public:
  DecisionWatch(WatchHub<v1::Decision>& hub, std::string key, CallLimits::Ticket ticket,
                size_t max_waiting)
      : StreamSender(Backlog::kEvery, max_waiting),
        hub_(hub),
        key_(std::move(key)),
        ticket_(std::move(ticket)) {
    hub_.Subscribe(key_, this);
  }
  void Deliver(const std::shared_ptr<const v1::Decision>& decision) override { Send(decision); }
  void Close(const grpc::Status& status) override { End(status); }

 private:
  void OnFinished() override {
    hub_.Unsubscribe(key_, this);
    ticket_ = CallLimits::Ticket();
  }

  WatchHub<v1::Decision>& hub_;
  const std::string key_;
  CallLimits::Ticket ticket_;
};

// One client's watch of the host's events: the history it asked for, then each new event, of the
// domain and kinds it chose. It reads the log an event at a time, as the client takes them: it
// holds one event and its place in the log, however far behind its client is.
class EventWatch final : public StreamSender<v1::Event>, public EventListener {
 public:
  EventWatch(EventLog& log, const v1::WatchEventsRequest& req, CallLimits::Ticket ticket)
      : StreamSender(Backlog::kEvery, /*max_waiting=*/1),
        log_(log),
        domain_(req.domain()),
        kinds_(req.kinds().begin(), req.kinds().end()),
        ticket_(std::move(ticket)) {}

  // Subscribes from `cursor`; the stream ends with the error of a cursor that cannot be resumed.
  void Start(const EventCursor& cursor) {
    absl::MutexLock lock(&mu_);
    absl::Status s = log_.Subscribe(this, cursor);
    subscribed_ = s.ok();
    if (!s.ok()) End(ToGrpcStatus(s));
  }

  bool Wants(const v1::Event& event) const override {
    if (!kinds_.empty() && kinds_.count(event.kind()) == 0) return false;
    if (domain_.empty()) return true;
    // As everywhere in the API, a reference written as a UUID means the domain with that UUID.
    return LooksLikeUuid(domain_) ? absl::EqualsIgnoreCase(event.uuid(), domain_)
                                  : event.domain() == domain_;
  }
  bool OnEvent(const std::shared_ptr<const v1::Event>& event) override {
    Send(event);
    return false;  // the next one once the client has taken this one (OnSent)
  }
  void OnClose(const absl::Status& why) override { End(ToGrpcStatus(why)); }

 private:
  void OnSent() override { log_.Ready(this); }
  void OnFinished() override {
    absl::MutexLock lock(&mu_);  // after Start, whatever the order of threads
    if (subscribed_) log_.Unsubscribe(this);
    subscribed_ = false;
    ticket_ = CallLimits::Ticket();
  }

  EventLog& log_;
  const std::string domain_;
  const std::set<int> kinds_;
  absl::Mutex mu_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  CallLimits::Ticket ticket_;
};

}  // namespace

ReadService::ReadService(ServiceBackend& backend, ListenerContext& listener,
                         ReadServiceOptions options)
    : backend_(backend), listener_(listener), options_(std::move(options)) {}

grpc::ServerUnaryReactor* ReadService::ListDomains(grpc::CallbackServerContext* ctx,
                                                   const v1::ListDomainsRequest* req,
                                                   v1::ListDomainsResponse* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  auto page = ReadPageRequest(req->page_size(), req->page_token(), "ListDomains");
  if (!page.ok()) return call->Complete(page.status());
  // A page of the domains by name, after the last one of the page before.
  std::vector<DomainSnapshot> snaps = backend_.snapshots.List();
  std::sort(snaps.begin(), snaps.end(), [](const DomainSnapshot& a, const DomainSnapshot& b) {
    return a.info.name < b.info.name;
  });
  const auto first = std::upper_bound(
      snaps.begin(), snaps.end(), page->after,
      [](const std::string& after, const DomainSnapshot& d) { return after < d.info.name; });
  const size_t left = static_cast<size_t>(snaps.end() - first);
  const auto last = first + static_cast<std::ptrdiff_t>(std::min<size_t>(left, page->size));

  const auto holds = backend_.holds.Active(backend_.clock.Now());
  // Working sets and what could be reclaimed, as the policy's latest cycle knew them.
  std::map<std::string, const policy::DomainCapacity*> judged;
  const std::optional<CapacityReading> reading = backend_.capacity.Latest();
  if (reading) {
    for (const policy::DomainCapacity& c : reading->capacity.domains) judged[c.uuid] = &c;
  }
  for (auto snap = first; snap != last; ++snap) {
    v1::Domain* d = resp->add_domains();
    ToProto(*snap, d);
    d->set_balloon_qom_path(
        backend_.balloon_paths.Get(ProcessKey(snap->info.uuid, snap->info.id)).value_or(""));
    if (auto hold = holds.find(snap->info.uuid); hold != holds.end())
      *d->mutable_hold() = hold->second;
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
  if (auto snap = backend_.snapshots.Find(req->domain())) {
    if (absl::Status s = CheckHasBalloon(*snap); !s.ok()) return call->Complete(s);
    backend_.interest.NoteInterest(snap->info.uuid);
    *resp = backend_.stats_feed.Update(*snap)->stats;
    return call->Complete(absl::OkStatus());
  }
  // Not running (or just started): libvirt says which, off gRPC's threads.
  const absl::Time deadline = RequestDeadline(backend_.clock, *ctx, kLookupTimeout, kLookupTimeout);
  return FinishOnPool(listener_.lookups(), call, [this, deadline, domain = req->domain()] {
    return DomainGoneStatus(backend_.hypervisor, domain, deadline);
  });
}

grpc::ServerWriteReactor<v1::MemoryStats>* ReadService::WatchMemoryStats(
    grpc::CallbackServerContext* ctx, const v1::WatchMemoryStatsRequest* req) {
  if (absl::Status s = ValidateDomainRef(req->domain()); !s.ok()) {
    return RefusedStream<v1::MemoryStats>(s);
  }
  auto ticket = listener_.AdmitWatch(*ctx);
  if (!ticket.ok()) return RefusedStream<v1::MemoryStats>(ticket.status());
  auto watch = StatsWatch::Make<StatsWatch>(backend_.stats_feed.hub(), std::move(*ticket));
  auto snap = backend_.snapshots.Find(req->domain());
  if (snap) {
    if (absl::Status s = CheckHasBalloon(*snap); !s.ok()) {
      watch->End(ToGrpcStatus(s));
      return watch.get();
    }
    // Subscribed first, read second: no change can fall between the two.
    watch->Watch(snap->info.uuid);
    snap = backend_.snapshots.FindByUuid(snap->info.uuid);
  }
  if (snap) {
    watch->Deliver(backend_.stats_feed.Update(*snap));
    return watch.get();
  }
  // The lookup holds the watch: the client may cancel, and gRPC be done with the stream, first.
  absl::Status queued = listener_.lookups().TrySubmit([this, watch, domain = req->domain()] {
    watch->End(ToGrpcStatus(
        DomainGoneStatus(backend_.hypervisor, domain, backend_.clock.Now() + kLookupTimeout)));
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
  ToProto(*host, backend_.clock.Now(), resp);
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::GetHostCapacity(grpc::CallbackServerContext* ctx,
                                                       const v1::GetHostCapacityRequest*,
                                                       v1::HostCapacity* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  const std::optional<CapacityReading> reading = backend_.capacity.Latest();
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
  std::vector<v1::Reservation> all = backend_.reservations.List();
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
  auto found = backend_.reservations.Get(req->id());
  if (!found.ok()) return call->Complete(found.status());
  *resp = *found;
  return call->Complete(absl::OkStatus());
}

grpc::ServerUnaryReactor* ReadService::RunQom(grpc::CallbackServerContext* ctx,
                                              const std::string& domain, const std::string& path,
                                              google::protobuf::Message* resp, QomQuery query) {
  UnaryCall* call = listener_.Begin(*ctx, domain, resp);
  if (!call->admitted()) return call;
  auto snap = backend_.snapshots.Find(domain);
  const absl::Time deadline =
      RequestDeadline(backend_.clock, *ctx, options_.default_qmp_timeout, options_.max_qmp_timeout);
  if (!snap) {
    return FinishOnPool(listener_.lookups(), call, [this, domain, deadline] {
      return DomainGoneStatus(backend_.hypervisor, domain, deadline);
    });
  }
  const std::string uuid = snap->info.uuid;
  const std::string process = ProcessKey(uuid, snap->info.id);
  absl::Status admitted = listener_.qom().Submit(
      listener_.Identify(*ctx), uuid, [this, call, uuid, process, path, deadline, query] {
        FinishWith(call, [&]() -> absl::Status {
          const auto pass = backend_.qom_traffic.Enter(deadline);
          if (!pass) {
            return absl::DeadlineExceededError("the QOM query waited in line past its deadline");
          }
          return RunQomQuery(uuid, process, path, deadline, query);
        });
      });
  if (!admitted.ok()) call->Complete(admitted);
  return call;
}

absl::Status ReadService::RunQomQuery(const std::string& uuid, const std::string& process,
                                      const std::string& path, absl::Time deadline,
                                      const QomQuery& query) {
  DomainMonitor monitor(backend_.hypervisor, uuid, deadline);
  const QomLister list = [&](const std::string& p) { return monitor.QomList(p); };
  if (absl::Status allowed = backend_.qom_guard.Check(process, path, list); !allowed.ok()) {
    return allowed;
  }
  absl::Status status = query(monitor);
  // The domain is tainted by now: the balloon's path costs it nothing more (ListDomains shows it).
  if (status.ok() && !backend_.balloon_paths.Get(process)) {
    auto found = FindBalloonPath(list);
    if (found.ok() || found.status().code() == absl::StatusCode::kNotFound) {
      backend_.balloon_paths.Set(process, found.ok() ? *found : "");
    }
  }
  return status;
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
  *resp = WithEtag(backend_.policy.Get());
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
    const auto layers = backend_.policy.GetLayers();
    *resp = policy::ExplainDomainPolicy(name, layers.config, layers.api_changes, metadata);
    if (!problem.empty()) resp->set_metadata_problem(problem);
  };
  // A running domain: the metadata the policy uses, as the collector last read it.
  if (auto snap = backend_.snapshots.Find(req->domain())) {
    explain(snap->info.name, snap->metadata_policy ? &*snap->metadata_policy : nullptr,
            snap->metadata_problem);
    return call->Complete(absl::OkStatus());
  }
  // Any other: libvirt's, read off gRPC's threads. A name libvirt does not know has no metadata,
  // but may have settings on this host all the same.
  const absl::Time deadline =
      RequestDeadline(backend_.clock, *ctx, options_.default_qmp_timeout, options_.max_qmp_timeout);
  return FinishOnPool(
      listener_.lookups(), call,
      [this, explain, deadline, domain = req->domain()]() -> absl::Status {
        auto info = backend_.hypervisor.LookupDomain(domain, deadline);
        if (!info.ok()) {
          explain(domain, nullptr,
                  info.status().code() == absl::StatusCode::kNotFound
                      ? ""
                      : absl::StrCat("cannot read: ", info.status().message()));
          return absl::OkStatus();
        }
        auto element = backend_.hypervisor.ReadPolicyMetadata(info->uuid, deadline);
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
      backend_.decisions.List(req->domain(), static_cast<size_t>(page->size) + 1, before);
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
  return DecisionWatch::Make<DecisionWatch>(backend_.decision_feed.hub(),
                                            DecisionFeed::KeyFor(backend_.snapshots, req->domain()),
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
  auto watch = EventWatch::Make<EventWatch>(backend_.events, *req, std::move(*ticket));
  watch->Start({req->after_sequence(), req->epoch(), req->only_new()});
  return watch.get();
}

}  // namespace balloond
