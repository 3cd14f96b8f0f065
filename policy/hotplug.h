#ifndef BALLOOND_POLICY_HOTPLUG_H_
#define BALLOOND_POLICY_HOTPLUG_H_

// Two actuators under one target: a guest with a virtio-mem device has what its balloon leaves of
// its boot memory plus what the device plugged. The policy decides the sum; SplitMove makes it of
// the two: the balloon for moves within what is plugged, the device to grow past it (once the
// balloon is all deflated) and to take memory back for sure (unplugged memory is gone from the
// guest; a balloon's pages depend on its driver).

#include <cstdint>
#include <optional>
#include <string>

#include "policy/inputs.h"

namespace balloond::policy {

struct MemoryMove {
  int64_t balloon_bytes = 0;               // the balloon's target
  std::optional<int64_t> requested_bytes;  // the device's new requested size; absent: unchanged
};

// The balloon's size within `in.actual_bytes` (which counts what is plugged), and the boot memory.
int64_t BalloonBytes(const DomainInput& in);
int64_t BootMemoryBytes(const DomainInput& in);

// How `in` is moved to `total` bytes. Growing: the balloon deflates first (up to the boot memory),
// the device plugs the rest, whole blocks, up to its size. Shrinking: the device unplugs whole
// blocks first, unless `may_unplug` is false (the guest would not), the balloon takes the rest.
// Without a device, the balloon takes it all.
MemoryMove SplitMove(const DomainInput& in, int64_t total, bool may_unplug);

// What the move does, for a decision's explanation ("; virtio-mem plugs 1 GiB more (requested
// 1 GiB), the balloon deflates to its boot size of 512 MiB"); empty without a device.
std::string DescribeMove(const DomainInput& in, const MemoryMove& move);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_HOTPLUG_H_
