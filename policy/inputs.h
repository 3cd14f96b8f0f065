#ifndef BALLOOND_POLICY_INPUTS_H_
#define BALLOOND_POLICY_INPUTS_H_

// What one cycle of the policy reads: the host and its domains, as the agent (or the simulator)
// saw them.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace balloond::policy {

enum class Activity { kRunning, kPaused, kMigrating, kShuttingDown, kOther };

// One report of a guest's virtio-balloon driver.
struct GuestReport {
  int64_t total_bytes = 0;               // MemTotal
  int64_t available_bytes = 0;           // MemAvailable
  int64_t free_bytes = 0;                // MemFree
  std::optional<int64_t> swap_in_bytes;  // cumulative
  std::optional<int64_t> major_faults;   // cumulative
  absl::Time last_update;                // when the guest reported (QEMU's last-update)
};

// A virtio-mem device of the guest: memory plugged in blocks beyond what it booted with.
struct Hotplug {
  int64_t plugged_bytes = 0;    // what the guest has plugged
  int64_t requested_bytes = 0;  // what it was asked to have plugged
  int64_t size_bytes = 0;       // the most it can plug
  int64_t block_bytes = 2 << 20;
};

struct DomainInput {
  std::string uuid;
  std::string name;
  Activity activity = Activity::kRunning;
  // The most it may have: its boot memory, plus its virtio-mem device's size.
  int64_t max_memory_bytes = 0;
  // What the guest has: the balloon's size (query-balloon), plus what its virtio-mem device
  // plugged; absent when the domain has no balloon.
  std::optional<int64_t> actual_bytes;
  // Its virtio-mem device (the first, if it has more): the policy decides what the guest should
  // have in all, and SplitMove (policy/hotplug.h) makes that of the balloon and the device.
  std::optional<Hotplug> hotplug;
  // Whether the domain's definition was read. Before, whether it has a virtio-mem device (and so
  // what its boot memory is) is not known: it counts toward the host's figures, but the policy
  // does not move it.
  bool definition_read = true;
  // Absent when the guest has not reported.
  std::optional<GuestReport> report;
  absl::Duration stats_period = absl::Seconds(2);
  // An operator's hold: until then the policy leaves the balloon alone, unless the guest is under
  // pressure (the decision then says the hold was overridden); and the target it holds, which the
  // guest may grow to while its balloon gets there.
  std::optional<absl::Time> held_until;
  std::optional<int64_t> held_target_bytes;
  // <memballoon autodeflate='on'>: QEMU takes pages back from the balloon when the guest is about
  // to run out of memory, so a balloon that grows by itself is a guest under pressure.
  bool autodeflate = false;
  // What the host holds of the domain (its QEMU's resident memory), when known. What the balloon
  // gives the guest beyond it is promised but not backed: the guest may touch it at any time, and
  // the host's MemAvailable does not show it.
  std::optional<int64_t> resident_bytes;
};

struct HostInput {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
  // Memory PSI "some" avg10, percent, where the kernel has it.
  std::optional<double> pressure_some_avg10;
  // Promised to reservations (room made for VMs to come): the policy keeps it free as if it were
  // used, and gives it to a guest only to stop an OOM. While there are reservations, what guests
  // were given but have not touched (UnbackedBytes) counts as used too: they could take it back
  // by touching it, and no room is promised twice.
  int64_t reserved_bytes = 0;
  // What page sharing (KSM) saves the host, and the part of that which has lasted
  // (KsmHistory::LastingSavedBytes). A merged page is the guests' to take back by writing to it:
  // the rest counts as unbacked, like memory a balloon gave and the guest never touched.
  int64_t shared_saved_bytes = 0;
  int64_t shared_lasting_bytes = 0;
};

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_INPUTS_H_
