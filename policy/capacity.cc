#include "policy/capacity.h"

#include <algorithm>

#include "policy/assessment.h"
#include "policy/settings.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;

DomainCapacity OfDomain(const v1::Policy& full, const Assessment& a, absl::Time now,
                        bool policy_acts, bool makes_room) {
  DomainCapacity d;
  d.uuid = a.input->uuid;
  d.name = a.input->name;
  d.balloon_bytes = a.actual;
  d.max_bytes = a.input->max_memory_bytes;
  d.resident_bytes = a.input->resident_bytes;
  d.unbacked_bytes = UnbackedBytes(a);
  d.pressure = a.pressure;
  d.pressure_why = a.pressure_why;
  d.deflated_by_itself = a.deflated_by_itself;
  d.working_set_bytes = a.history.probing.working_set;
  d.working_set_at = a.history.probing.working_set_at;
  if (a.fresh) {
    d.used_bytes = a.used;
    d.needed_bytes = a.history.relief.peak_used + a.headroom + a.overhead;
    if (a.actual > 0) {
      d.pressure_index =
          100.0 * static_cast<double>(*d.needed_bytes) / static_cast<double>(a.actual);
    }
  }
  if (!policy_acts) {
    d.not_reclaimable_why = "the policy is off";
  } else if (const DonorBlock block = WhyNotDonor(a, now); block != DonorBlock::kNone) {
    d.not_reclaimable_why = Describe(block);
  } else if (a.actual - a.floor <= Deadband(full, a.actual)) {
    d.not_reclaimable_why = "it is at its floor";
  } else {
    d.reclaimable_bytes = a.actual - a.floor;
  }
  if (a.fresh) {
    // Once reclaimed from, it keeps its use, its kernel's share and some headroom: a jump needs the
    // rest of its slack from the host. A policy that makes no room takes nothing: it keeps it all.
    const int64_t taken = makes_room ? d.reclaimable_bytes : 0;
    const int64_t kept_above_use = a.actual - taken - a.used - a.overhead;
    d.jump_room_bytes =
        std::max<int64_t>(0, JumpSlackOf(a, now).bytes - std::max<int64_t>(0, kept_above_use));
  }
  return d;
}

}  // namespace

HostCapacity CapacityOf(const Judgement& j, int64_t reserved_bytes) {
  const bool policy_acts = j.policy.mode() != v1::POLICY_MODE_OFF;
  HostCapacity c;
  c.total_bytes = j.host.total_bytes;
  c.available_bytes = j.host.available_bytes;
  c.makes_room = j.policy.mode() == v1::POLICY_MODE_ENFORCE;
  c.standing = StandingOf(j, reserved_bytes);
  c.reserve_bytes = c.standing.reserve_bytes;
  c.unbacked_bytes = j.unbacked_bytes;
  double pressure_sum = 0;
  int pressure_count = 0;
  c.domains.reserve(j.assessed.size());
  for (const Assessment& a : j.assessed) {
    DomainCapacity d = OfDomain(j.policy, a, j.now, policy_acts, c.makes_room);
    c.balloon_bytes += d.balloon_bytes;
    c.committed_bytes += d.max_bytes;
    c.used_bytes += d.used_bytes.value_or(0);
    c.needed_bytes += d.needed_bytes.value_or(0);
    c.reclaimable_bytes += d.reclaimable_bytes;
    c.jump_room_bytes += d.jump_room_bytes;
    if (d.pressure_index) {
      pressure_sum += *d.pressure_index;
      ++pressure_count;
    }
    c.domains.push_back(std::move(d));
  }
  if (pressure_count > 0) c.pressure_index = pressure_sum / pressure_count;
  return WithReserved(std::move(c), reserved_bytes);
}

HostCapacity WithReserved(HostCapacity c, int64_t reserved_bytes) {
  c.reserved_bytes = std::clamp<int64_t>(reserved_bytes, 0, kMaxMemoryBytes);
  c.standing.reserved_bytes = c.reserved_bytes;
  // Each byte reclaimed is a byte of room: taken from what a guest never touched, it is a promise
  // the host no longer has to keep; from what it did, MemAvailable grows by it.
  // The room guests' jumps need is not offered: a VM placed in it is an OOM when they jump.
  c.placeable_bytes =
      std::max<int64_t>(0, RoomBeyondReserve(c) - c.reserved_bytes - c.jump_room_bytes +
                               (c.makes_room ? c.reclaimable_bytes : 0));
  return c;
}

HostCapacity AssessCapacity(const v1::Policy& policy, const HostInput& host,
                            const std::vector<DomainInput>& domains, const State& state,
                            absl::Time now) {
  return CapacityOf(Judge(policy, host, domains, state, now), host.reserved_bytes);
}

}  // namespace balloond::policy
