#ifndef BALLOOND_AGENT_API_READ_SERVICE_H_
#define BALLOOND_AGENT_API_READ_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "agent/api/service_context.h"
#include "agent/api/watch_feeds.h"
#include "agent/base/clock.h"
#include "agent/collect/collector.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/balloon_path_cache.h"
#include "agent/qom/qom_runner.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/decision_log.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "agent/steering/outside_changes.h"
#include "agent/steering/policy_store.h"
#include "agent/steering/reservation_store.h"
#include "balloon/v1/balloon.grpc.pb.h"

namespace balloond {

struct ReadServiceOptions {
  std::string proc_root = "/proc";
  // Deadline of QOM queries from clients that set none; and the most any may ask for (QEMU
  // answers in milliseconds: a longer wait only holds a worker on a hung QEMU).
  absl::Duration default_qmp_timeout = absl::Seconds(5);
  absl::Duration max_qmp_timeout = absl::Seconds(10);
  // Decisions a WatchDecisions client may fall behind by before its stream is ended.
  size_t max_decisions_waiting = 1000;
  // QOM queries are served (off on the read-only socket unless the operator says so).
  bool serve_qom = true;
};

// The read service, on every listener. It answers from memory (the snapshot store, the policy, the
// decision log) on gRPC's threads; what must wait on libvirt or QEMU (a lookup of a domain the
// store does not have, QOM queries) runs on the listener's own workers. Watches are reactors fed by
// the stats and decision feeds: an open stream costs memory, not a thread.
class ReadService final : public balloon::v1::BalloonReadService::CallbackService {
 public:
  // What it reads, and the QOM runner; shared by every listener's read service.
  struct Parts {
    const SnapshotStore& snapshots;
    Hypervisor& hypervisor;  // lookups of domains the store does not have
    Clock& clock;
    const PolicyStore& policy;
    const DecisionLog& decisions;
    const HoldStore& holds;
    StatsFeed& stats_feed;
    DecisionFeed& decision_feed;
    const BalloonPathCache& balloon_paths;
    // A domain whose statistics a client reads is collected every period.
    DomainInterest& interest;
    const CapacityStore& capacity;
    const ReservationStore& reservations;
    EventLog& events;
    QomRunner& qom;
    // Balloons moved from outside balloond: a problem of their domain for a while.
    const OutsideChanges* outside = nullptr;
  };
  ReadService(Parts parts, ListenerContext& listener, ReadServiceOptions options);

  grpc::ServerUnaryReactor* ListDomains(grpc::CallbackServerContext* ctx,
                                        const balloon::v1::ListDomainsRequest* req,
                                        balloon::v1::ListDomainsResponse* resp) override;
  grpc::ServerUnaryReactor* GetMemoryStats(grpc::CallbackServerContext* ctx,
                                           const balloon::v1::GetMemoryStatsRequest* req,
                                           balloon::v1::MemoryStats* resp) override;
  grpc::ServerWriteReactor<balloon::v1::MemoryStats>* WatchMemoryStats(
      grpc::CallbackServerContext* ctx, const balloon::v1::WatchMemoryStatsRequest* req) override;
  grpc::ServerUnaryReactor* GetHostStats(grpc::CallbackServerContext* ctx,
                                         const balloon::v1::GetHostStatsRequest* req,
                                         balloon::v1::HostStats* resp) override;
  grpc::ServerUnaryReactor* GetHostCapacity(grpc::CallbackServerContext* ctx,
                                            const balloon::v1::GetHostCapacityRequest* req,
                                            balloon::v1::HostCapacity* resp) override;
  grpc::ServerUnaryReactor* ListReservations(grpc::CallbackServerContext* ctx,
                                             const balloon::v1::ListReservationsRequest* req,
                                             balloon::v1::ListReservationsResponse* resp) override;
  grpc::ServerUnaryReactor* GetReservation(grpc::CallbackServerContext* ctx,
                                           const balloon::v1::GetReservationRequest* req,
                                           balloon::v1::Reservation* resp) override;
  grpc::ServerUnaryReactor* ListQomProperties(
      grpc::CallbackServerContext* ctx, const balloon::v1::ListQomPropertiesRequest* req,
      balloon::v1::ListQomPropertiesResponse* resp) override;
  grpc::ServerUnaryReactor* GetQomProperty(grpc::CallbackServerContext* ctx,
                                           const balloon::v1::GetQomPropertyRequest* req,
                                           balloon::v1::GetQomPropertyResponse* resp) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* ctx,
                                      const balloon::v1::GetPolicyRequest* req,
                                      balloon::v1::Policy* resp) override;
  grpc::ServerUnaryReactor* GetDomainPolicy(grpc::CallbackServerContext* ctx,
                                            const balloon::v1::GetDomainPolicyRequest* req,
                                            balloon::v1::DomainPolicyInForce* resp) override;
  grpc::ServerUnaryReactor* ListDecisions(grpc::CallbackServerContext* ctx,
                                          const balloon::v1::ListDecisionsRequest* req,
                                          balloon::v1::ListDecisionsResponse* resp) override;
  grpc::ServerWriteReactor<balloon::v1::Decision>* WatchDecisions(
      grpc::CallbackServerContext* ctx, const balloon::v1::WatchDecisionsRequest* req) override;
  grpc::ServerWriteReactor<balloon::v1::Event>* WatchEvents(
      grpc::CallbackServerContext* ctx, const balloon::v1::WatchEventsRequest* req) override;

 private:
  // Runs `query` on the domain's QEMU for a client (QomRunner), through the listener's QOM gate;
  // finishes the call with what it returns.
  grpc::ServerUnaryReactor* RunQom(grpc::CallbackServerContext* ctx, const std::string& domain,
                                   const std::string& path, google::protobuf::Message* resp,
                                   QomRunner::Query query);

  const Parts parts_;
  ListenerContext& listener_;
  const ReadServiceOptions options_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_READ_SERVICE_H_
