#include "agent/api/service_parts.h"

namespace balloond {

ServiceParts::ServiceParts(Shared s)
    : shared_(s),
      qom_(s.hypervisor, s.qom_traffic, qom_guard_, s.balloon_paths),
      domain_changes_(s.clock),
      requests_(s.clock, RequestLedger::Settings()),
      operations_({s.snapshots, s.hypervisor, s.clock, s.policy, s.holds, s.reservations,
                   s.capacity, s.events, domain_changes_, s.interest, s.outside}) {}

ReadService::Parts ServiceParts::read() {
  const Shared& s = shared_;
  return {s.snapshots,     s.hypervisor, s.clock,      s.policy,
          s.decisions,     s.holds,      s.stats_feed, s.decision_feed,
          s.balloon_paths, s.interest,   s.capacity,   s.reservations,
          s.events,        qom_,         s.outside};
}

ControlService::Parts ServiceParts::control() { return {shared_.clock, requests_, operations_}; }

void ServiceParts::CloseWatches(const grpc::Status& status) {
  shared_.stats_feed.hub().CloseAll(status);
  shared_.decision_feed.hub().CloseAll(status);
  shared_.events.CloseAll(absl::UnavailableError(status.error_message()));
}

}  // namespace balloond
