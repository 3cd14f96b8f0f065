#include "agent/steering/cycle_events.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

void CycleEvents::Observe(const policy::HostCapacity& capacity,
                          const std::map<std::string, v1::Hold>& holds, absl::Time now) {
  std::map<std::string, std::string> pressured;
  for (const policy::DomainCapacity& d : capacity.domains) {
    if (d.deflated_by_itself > 0) {
      v1::Event event = DomainEvent(
          v1::EVENT_KIND_AUTODEFLATE, d.name, d.uuid,
          absl::StrCat("its balloon gave the guest ", FormatBytes(d.deflated_by_itself),
                       " by itself (autodeflate: the guest was running out of memory)"));
      event.set_bytes(d.deflated_by_itself);
      log_.Append(std::move(event));
    }
    if (!d.pressure) continue;
    pressured[d.uuid] = d.name;
    if (pressured_.count(d.uuid) == 0) {
      log_.Append(DomainEvent(v1::EVENT_KIND_GUEST_PRESSURE_BEGAN, d.name, d.uuid, d.pressure_why));
    }
  }
  for (const auto& [uuid, name] : pressured_) {
    if (pressured.count(uuid) > 0) continue;
    // A guest that stopped is told by DOMAIN_STOPPED; one still here is no longer pressed.
    const bool still_here =
        std::any_of(capacity.domains.begin(), capacity.domains.end(),
                    [&uuid = uuid](const policy::DomainCapacity& d) { return d.uuid == uuid; });
    if (still_here) {
      log_.Append(DomainEvent(v1::EVENT_KIND_GUEST_PRESSURE_ENDED, name, uuid,
                              "the policy no longer sees the guest under pressure"));
    }
  }
  pressured_ = std::move(pressured);

  // The policy's own condition: short when the cycle reclaims for the host (free memory under the
  // reserve, reservations and what guests may still take counted; or memory PSI high).
  const policy::HostStanding& standing = capacity.standing;
  const bool host_short = standing.Condition() == policy::HostCondition::kShort;
  if (host_short != host_short_) {
    v1::Event event = HostEvent(
        host_short ? v1::EVENT_KIND_HOST_SHORT_BEGAN : v1::EVENT_KIND_HOST_SHORT_ENDED,
        host_short ? absl::StrCat(standing.DescribeShort(), ": ", FormatBytes(standing.FreeBytes()),
                                  " of it free for the guests")
                   : absl::StrCat("the host has ", FormatBytes(standing.available_bytes),
                                  " available, ", FormatBytes(standing.FreeBytes()),
                                  " of it free for the guests; its reserve is ",
                                  FormatBytes(standing.reserve_bytes)));
    event.set_bytes(capacity.available_bytes);
    log_.Append(std::move(event));
    host_short_ = host_short;
  }

  for (const auto& [uuid, hold] : holds_) {
    if (holds.count(uuid) > 0 || FromProtoTimestamp(hold.until()) > now) continue;
    // Gone before its time: an operator released it (ReleaseHold told that).
    v1::Event event =
        DomainEvent(v1::EVENT_KIND_HOLD_EXPIRED, hold.domain(), uuid,
                    absl::StrCat("the hold at ", FormatBytes(hold.target_bytes()), " set by ",
                                 hold.set_by(), " expired: the policy may move the balloon"));
    event.set_bytes(hold.target_bytes());
    log_.Append(std::move(event));
  }
  holds_ = holds;
}

void CycleEvents::OnReservationChanged(const v1::Reservation& reservation) {
  log_.Append(ReservationEvent(reservation));
}

void CycleEvents::OnKsmChanged(const std::string& explanation) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_KSM_CHANGED);
  event.set_message(explanation);
  log_.Append(std::move(event));
}

void CycleEvents::OnDecision(const v1::Decision& decision) {
  if (decision.mode() != v1::POLICY_MODE_ENFORCE) return;
  v1::EventKind kind;
  switch (decision.reason()) {
    case v1::DECISION_REASON_GUEST_PRESSURE:
    case v1::DECISION_REASON_BELOW_FLOOR:
    case v1::DECISION_REASON_STATS_STALE:
    case v1::DECISION_REASON_PROBE_BACKOFF:
      kind = v1::EVENT_KIND_RELIEF;
      break;
    case v1::DECISION_REASON_HOST_RECLAIM:
    case v1::DECISION_REASON_ABOVE_MAX:
    case v1::DECISION_REASON_PROBE:
      kind = v1::EVENT_KIND_RECLAIM;
      break;
    case v1::DECISION_REASON_HOST_GIVE_BACK:
      kind = v1::EVENT_KIND_GIVE_BACK;
      break;
    case v1::DECISION_REASON_UNCOOPERATIVE:
    case v1::DECISION_REASON_UNPLUG_REFUSED:
      kind = v1::EVENT_KIND_BALLOON_NOT_FOLLOWING;
      break;
    default:
      return;
  }
  v1::Event event = DomainEvent(
      kind, decision.domain(), decision.uuid(),
      decision.applied() ? decision.explanation()
                         : absl::StrCat(decision.explanation(),
                                        " (QEMU did not take the target: ", decision.error(), ")"));
  event.set_bytes(decision.target_bytes());
  event.set_decision_sequence(decision.sequence());
  log_.Append(std::move(event));
}

}  // namespace balloond
