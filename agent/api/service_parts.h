#ifndef BALLOOND_AGENT_API_SERVICE_PARTS_H_
#define BALLOOND_AGENT_API_SERVICE_PARTS_H_

#include <grpcpp/support/status.h>

#include "agent/api/control_service.h"
#include "agent/api/read_service.h"
#include "agent/api/request_ledger.h"
#include "agent/api/watch_feeds.h"
#include "agent/base/clock.h"
#include "agent/base/keyed_locks.h"
#include "agent/collect/collector.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/balloon_path_cache.h"
#include "agent/qom/qom_path_guard.h"
#include "agent/qom/qom_runner.h"
#include "agent/qom/qom_traffic.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/decision_log.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "agent/steering/operator.h"
#include "agent/steering/policy_store.h"
#include "agent/steering/reservation_store.h"

namespace balloond {

// What every listener's services stand on: the agent's long-lived parts (Shared), and those only
// the services use, made here: the QOM path guard and runner, the lock of domain changes, the
// request ledger and the operator's actions. Each service is given what it needs of them. The
// daemon and the services' tests make it the same way, from the same parts.
class ServiceParts {
 public:
  struct Shared {
    SnapshotStore& snapshots;
    Hypervisor& hypervisor;
    Clock& clock;
    PolicyStore& policy;
    DecisionLog& decisions;
    HoldStore& holds;
    StatsFeed& stats_feed;
    DecisionFeed& decision_feed;
    BalloonPathCache& balloon_paths;
    // Clients' QOM queries enter here, so that the collector can keep them off the monitors.
    QomTraffic& qom_traffic;
    // The collection: a domain is read again after a change, and every period while a client
    // reads its statistics.
    DomainInterest& interest;
    CapacityStore& capacity;
    ReservationStore& reservations;
    // What happens on the host, for WatchEvents; changes made through the API go in too.
    EventLog& events;
    // Balloons moved from outside balloond (none in tests that do not watch for them).
    OutsideChanges* outside = nullptr;
  };
  explicit ServiceParts(Shared shared);
  ServiceParts(const ServiceParts&) = delete;
  ServiceParts& operator=(const ServiceParts&) = delete;

  ReadService::Parts read();
  ControlService::Parts control();
  Clock& clock() { return shared_.clock; }
  // Ends every watch stream, on every listener, with `status` (the server stops).
  void CloseWatches(const grpc::Status& status);

 private:
  const Shared shared_;
  QomPathGuard qom_guard_;
  QomRunner qom_;
  // Held while a client changes a domain's target and hold, on whichever listener: one change of
  // a domain at a time.
  KeyedLocks domain_changes_;
  RequestLedger requests_;
  Operator operations_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_SERVICE_PARTS_H_
