#ifndef BALLOOND_POLICY_CAPACITY_H_
#define BALLOOND_POLICY_CAPACITY_H_

// What a host could give a new VM, as the policy judges its guests: the figures an orchestrator
// places by. Pure, like Decide, and read from the same judgement (policy/judgement.h), so that what
// it reports reclaimable is what the cycle takes, and the host it calls short is the one the cycle
// reclaims for.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/judgement.h"
#include "policy/standing.h"

namespace balloond::policy {

struct DomainCapacity {
  std::string uuid;
  std::string name;
  int64_t balloon_bytes = 0;  // what the guest has now (the balloon's size)
  int64_t max_bytes = 0;      // what it may have (its maximum memory)
  // From fresh statistics only: its use, and what the policy judges it needs (its peak use of the
  // last minutes + headroom + what QEMU gives its kernel beyond MemTotal).
  std::optional<int64_t> used_bytes;
  std::optional<int64_t> needed_bytes;
  // What the policy could take now without putting the guest under pressure: down to its floor
  // (min, use + headroom), never from a held, pressed, stale or disabled guest.
  int64_t reclaimable_bytes = 0;
  // Why nothing can be taken, when nothing can (one of the policy's fixed sentences).
  absl::string_view not_reclaimable_why;
  // needed / has × 100, as Hyper-V reports it: under 100 the guest has what it needs.
  std::optional<double> pressure_index;
  // What the host holds of it (QEMU's resident memory), and what the guest may hold beyond that
  // (MayHoldBytes: its balloon, targets it is growing to, virtio-mem memory asked for; all of its
  // maximum without a balloon reading): memory promised to the guest that the host's MemAvailable
  // still counts as free.
  std::optional<int64_t> resident_bytes;
  int64_t unbacked_bytes = 0;
  // Whether the policy judges the guest under pressure, and what it saw.
  bool pressure = false;
  std::string pressure_why;
  // What its autodeflate balloon gave it by itself since the last cycle.
  int64_t deflated_by_itself = 0;
  // The room its jumps need (JumpSlackOf) beyond what it keeps once reclaimed from: not offered to
  // new VMs (fresh statistics only).
  int64_t jump_room_bytes = 0;
  // What probing found it needs (Probing.working_set), and when.
  std::optional<int64_t> working_set_bytes;
  absl::Time working_set_at = absl::InfinitePast();
};

struct HostCapacity {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
  int64_t reserve_bytes = 0;    // what the policy keeps available on the host
  int64_t balloon_bytes = 0;    // Σ guests' balloon sizes
  int64_t committed_bytes = 0;  // Σ guests' maxima
  int64_t used_bytes = 0;       // Σ use of the guests with fresh statistics
  int64_t needed_bytes = 0;     // Σ need of the same guests
  int64_t reclaimable_bytes = 0;
  int64_t reserved_bytes = 0;   // promised to reservations
  int64_t unbacked_bytes = 0;   // Σ guests' unbacked_bytes: promised to guests, not yet theirs
  int64_t jump_room_bytes = 0;  // Σ guests' jump_room_bytes: kept for their jumps
  // The mean of the guests' pressure indexes; absent without a guest with fresh statistics.
  std::optional<double> pressure_index;
  // What a new VM could get now if room were made: available − reserve − unbacked − reserved −
  // jump room, plus what is reclaimable when the policy enforces (it makes no room in observe mode
  // or off). Never < 0. ReserveMemory refuses a reservation beyond it.
  int64_t placeable_bytes = 0;
  // Whether the policy makes room (it enforces): only then does reclaimable count.
  bool makes_room = false;
  // Where the host stands: standing.Condition() is the host's condition the cycle acts on.
  HostStanding standing;
  std::vector<DomainCapacity> domains;
};

// What the host has available beyond its reserve and what its guests were given: the room there is
// for reservations and new VMs before anything is reclaimed (may be < 0).
inline int64_t RoomBeyondReserve(const HostCapacity& c) {
  return c.available_bytes - c.reserve_bytes - c.unbacked_bytes;
}

// The host's capacity as `judgement` has it, with `reserved_bytes` promised to reservations.
HostCapacity CapacityOf(const Judgement& judgement, int64_t reserved_bytes);

// The same capacity with `reserved_bytes` promised to reservations instead: what a reservation
// made or released between two cycles changes at once.
HostCapacity WithReserved(HostCapacity capacity, int64_t reserved_bytes);

// CapacityOf a judgement of these inputs (HostInput.reserved_bytes reserved): for tests and tools.
HostCapacity AssessCapacity(const balloon::v1::Policy& policy, const HostInput& host,
                            const std::vector<DomainInput>& domains, const State& state,
                            absl::Time now);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_CAPACITY_H_
