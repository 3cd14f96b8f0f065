#ifndef BALLOOND_AGENT_STEERING_OPERATOR_H_
#define BALLOOND_AGENT_STEERING_OPERATOR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/base/keyed_locks.h"
#include "agent/collect/collector.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "agent/steering/outside_changes.h"
#include "agent/steering/policy_store.h"
#include "agent/steering/reservation_store.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// What an operator may do to balloond: set a balloon target (with its hold), release a hold, change
// the policy or one domain's settings, reserve memory and release a reservation. Each is checked,
// carried out, and announced once (an event, with its log line) naming `caller`. The control
// service hands requests here and answers with what comes back: nothing here knows of gRPC.
class Operator {
 public:
  struct Parts {
    const SnapshotStore& snapshots;
    Hypervisor& hypervisor;
    Clock& clock;
    PolicyStore& policy;
    HoldStore& holds;
    ReservationStore& reservations;
    // Capacity is published afresh when a reservation is made or released.
    CapacityStore& capacity;
    EventLog& events;
    // One change of a domain's target and hold at a time, whoever makes it.
    KeyedLocks& domain_changes;
    // A domain is read again after a change.
    DomainInterest& interest;
    // Told of each target before it is sent, so that its move is not taken for someone else's.
    OutsideChanges* outside = nullptr;
  };
  explicit Operator(Parts parts) : parts_(parts) {}

  // A target set (or, with validate_only, checked): the domain as it was, and the hold it got.
  struct TargetSet {
    DomainSnapshot domain;
    std::optional<balloon::v1::Hold> hold;
  };
  // INVALID_ARGUMENT (a target ≤ 0, a malformed hold), NOT_FOUND, FAILED_PRECONDITION (not
  // running, no balloon, above the domain's maximum, below its floor without force),
  // DEADLINE_EXCEEDED (another change of the domain did not end), or what QEMU said.
  absl::StatusOr<TargetSet> SetTarget(const balloon::v1::SetBalloonTargetRequest& request,
                                      absl::Time deadline, const std::string& caller);

  // The domain, and the hold that ended (none when it had none).
  struct HoldReleased {
    DomainSnapshot domain;
    std::optional<balloon::v1::Hold> released;
  };
  absl::StatusOr<HoldReleased> ReleaseHold(const std::string& domain, absl::Time deadline,
                                           const std::string& caller);

  // The policy in force after the change, with its etag.
  absl::StatusOr<balloon::v1::Policy> UpdatePolicy(const balloon::v1::UpdatePolicyRequest& request,
                                                   const std::string& caller);
  // Into this host's overrides, or (POLICY_PERSISTENCE_METADATA) the domain's libvirt metadata.
  absl::StatusOr<balloon::v1::Policy> UpdateDomainPolicy(
      const balloon::v1::UpdateDomainPolicyRequest& request, absl::Time deadline,
      const std::string& caller);

  // A reservation made from the latest capacity; the capacity then counts it at once.
  absl::StatusOr<balloon::v1::Reservation> Reserve(const balloon::v1::ReserveMemoryRequest& request,
                                                   const std::string& caller);
  absl::StatusOr<balloon::v1::Reservation> ReleaseReservation(const std::string& id,
                                                              const std::string& caller);

 private:
  // The domain's metadata, written (UpdateDomainPolicy with POLICY_PERSISTENCE_METADATA).
  absl::StatusOr<balloon::v1::Policy> WriteMetadata(
      const balloon::v1::UpdateDomainPolicyRequest& request, absl::Time deadline,
      const std::string& caller);
  // The latest capacity with what the reservations hold now.
  void PublishReservedCapacity();

  const Parts parts_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_OPERATOR_H_
