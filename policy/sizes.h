#ifndef BALLOOND_POLICY_SIZES_H_
#define BALLOOND_POLICY_SIZES_H_

// Sizes as balloond writes them everywhere (a log line, a decision, balloonctl's tables).

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace balloond {

inline constexpr int64_t kKiB = 1024;
inline constexpr int64_t kMiB = 1024 * kKiB;
inline constexpr int64_t kGiB = 1024 * kMiB;

// 536870912 → "512 MiB", 1610612736 → "1.5 GiB", 1000 → "1000 B": powers of 1024, one decimal at
// most.
std::string FormatBytes(int64_t bytes);

// The bytes in one of libvirt's memory units, as <memory unit='...'> and `virsh setmem` take them,
// in any case: b, byte, bytes; k, KiB, M, MiB, G, GiB, T, TiB, P, PiB, E, EiB (powers of 1024);
// KB, MB, GB, TB, PB, EB (powers of 1000). 0 for a unit libvirt does not know; "" is not a unit.
uint64_t MemoryUnitBytes(absl::string_view unit);

}  // namespace balloond

#endif  // BALLOOND_POLICY_SIZES_H_
