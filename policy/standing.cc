#include "policy/standing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

int64_t HostStanding::FreeBytes() const {
  return std::max<int64_t>(
      0, available_bytes - reserved_bytes - (reserved_bytes > 0 ? unbacked_bytes : 0));
}

bool HostStanding::PressureHigh() const {
  return pressure_some_avg10 && *pressure_some_avg10 > pressure_threshold;
}

HostCondition HostStanding::Condition() const {
  const int64_t free = FreeBytes();
  if (free < reserve_bytes || PressureHigh()) return HostCondition::kShort;
  if (free > comfortable_available_bytes) return HostCondition::kComfortable;
  return HostCondition::kNeutral;
}

std::string HostStanding::DescribeShort() const {
  return absl::StrCat(
      "the host had ", FormatBytes(available_bytes), " available",
      reserved_bytes > 0
          ? absl::StrCat(" (", FormatBytes(reserved_bytes), " of it reserved for VMs to come)")
          : "",
      PressureHigh() ? absl::StrFormat(" and memory pressure %.1f%%", *pressure_some_avg10) : "",
      " (reserve ", FormatBytes(reserve_bytes), ")");
}

HostStanding StandingOf(const balloon::v1::HostPolicy& host_policy, const HostInput& host,
                        int64_t reserved_bytes, int64_t unbacked_bytes) {
  HostStanding s;
  s.available_bytes = host.available_bytes;
  s.reserve_bytes = HostReserve(host_policy, host.total_bytes);
  s.comfortable_available_bytes = ComfortableAvailable(host_policy, host.total_bytes);
  s.reserved_bytes = std::clamp<int64_t>(reserved_bytes, 0, kMaxMemoryBytes);
  s.unbacked_bytes = unbacked_bytes;
  s.pressure_some_avg10 = host.pressure_some_avg10;
  s.pressure_threshold = host_policy.pressure_threshold();
  return s;
}

}  // namespace balloond::policy
