#include "agent/steering/memory_actuator.h"

#include "agent/steering/policy_runner.h"

namespace balloond {

const MemoryDevice* ActedOnDevice(const DomainSnapshot& snap) {
  if (!snap.config || snap.config->memory_devices.empty()) return nullptr;
  return &snap.config->memory_devices.front();
}

std::optional<policy::Hotplug> HotplugOf(const DomainSnapshot& snap) {
  const MemoryDevice* device = ActedOnDevice(snap);
  if (device == nullptr) return std::nullopt;
  policy::Hotplug h;
  h.plugged_bytes = device->current_bytes;
  h.requested_bytes = device->requested_bytes;
  h.size_bytes = device->size_bytes;
  h.block_bytes = device->block_bytes;
  return h;
}

absl::Status SendMove(Hypervisor& hypervisor, const DomainSnapshot& snap,
                      const policy::MemoryMove& move, absl::Time deadline) {
  const MemoryDevice* device = ActedOnDevice(snap);
  if (move.requested_bytes && device != nullptr) {
    absl::Status s = hypervisor.SetMemoryDeviceRequest(snap.info.uuid, device->alias,
                                                       *move.requested_bytes, deadline);
    if (!s.ok()) return s;
  }
  return hypervisor.SetBalloonTarget(snap.info.uuid, move.balloon_bytes, deadline);
}

absl::Status SendTotal(Hypervisor& hypervisor, const DomainSnapshot& snap, int64_t total_bytes,
                       absl::Time deadline) {
  return SendMove(hypervisor, snap,
                  policy::SplitMove(ToPolicyInput(snap), total_bytes, /*may_unplug=*/true),
                  deadline);
}

}  // namespace balloond
