#ifndef BALLOOND_AGENT_STEERING_MEMORY_ACTUATOR_H_
#define BALLOOND_AGENT_STEERING_MEMORY_ACTUATOR_H_

// How a domain's memory is moved: its balloon, and for a guest with a virtio-mem device, the
// device's requested size too (policy/hotplug.h splits a move between them). The policy's cycles
// and operators' targets both move memory through here.

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "policy/hotplug.h"

namespace balloond {

// The virtio-mem device balloond acts on (the first of the domain's XML); null without one, or
// before its definition was read.
const MemoryDevice* ActedOnDevice(const DomainSnapshot& snap);

// The same device as the policy sees it.
std::optional<policy::Hotplug> HotplugOf(const DomainSnapshot& snap);

// Sends `move`: the device's requested size first, when it has one, then the balloon's target.
// The first failure is returned (the balloon is not moved after the device refused).
absl::Status SendMove(Hypervisor& hypervisor, const DomainSnapshot& snap,
                      const policy::MemoryMove& move, absl::Time deadline);

// Sends a target that is all the guest is to have (an operator's, a hold's): with a virtio-mem
// device the balloon and the device share the move as the policy's would.
absl::Status SendTotal(Hypervisor& hypervisor, const DomainSnapshot& snap, int64_t total_bytes,
                       absl::Time deadline);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_MEMORY_ACTUATOR_H_
