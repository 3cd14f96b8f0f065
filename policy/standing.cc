#include "policy/standing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/durations.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

int64_t HostStanding::FreeBytes() const {
  // While there are reservations the unbacked memory counts whole, growth ahead among it.
  return std::max<int64_t>(0, available_bytes - reserved_bytes -
                                  (reserved_bytes > 0 ? unbacked_bytes : growth_ahead_bytes));
}

bool HostStanding::PressureHigh() const {
  return pressure_some_avg10 && *pressure_some_avg10 > pressure_threshold;
}

int64_t HostStanding::KeptReserveBytes() const {
  return storm ? hard_reserve_bytes : reserve_bytes;
}

balloon::v1::ReserveState HostStanding::ReserveState() const {
  const int64_t free = FreeBytes();
  if (free >= reserve_bytes) return balloon::v1::RESERVE_STATE_KEPT;
  if (free < hard_reserve_bytes) return balloon::v1::RESERVE_STATE_HARD;
  return storm ? balloon::v1::RESERVE_STATE_LENT : balloon::v1::RESERVE_STATE_RECLAIMING;
}

HostCondition HostStanding::Condition() const {
  const int64_t free = FreeBytes();
  if (free < KeptReserveBytes() || PressureHigh()) return HostCondition::kShort;
  if (free > comfortable_available_bytes) return HostCondition::kComfortable;
  return HostCondition::kNeutral;
}

std::string HostStanding::DescribeShort() const {
  return absl::StrCat(
      "the host had ", FormatBytes(available_bytes), " available",
      growth_ahead_bytes > 0 && reserved_bytes == 0
          ? absl::StrCat(" (", FormatBytes(growth_ahead_bytes),
                         " of it about to be taken by guests' growing use)")
          : "",
      reserved_bytes > 0
          ? absl::StrCat(" (", FormatBytes(reserved_bytes), " of it reserved for VMs to come)")
          : "",
      PressureHigh() ? absl::StrFormat(" and memory pressure %.1f%%", *pressure_some_avg10) : "",
      storm ? absl::StrCat(" (hard reserve ", FormatBytes(hard_reserve_bytes),
                           "; the rest of its reserve is lent to guests in a storm)")
            : absl::StrCat(" (reserve ", FormatBytes(reserve_bytes), ")"));
}

HostStanding StandingOf(const balloon::v1::HostPolicy& host_policy, const HostInput& host,
                        int64_t reserved_bytes, int64_t unbacked_bytes, int64_t growth_ahead_bytes,
                        absl::Time storm_relief_at, absl::Time now) {
  HostStanding s;
  s.available_bytes = host.available_bytes;
  s.reserve_bytes = HostReserve(host_policy, host.total_bytes);
  s.hard_reserve_bytes = std::min(s.reserve_bytes, HardReserve(host_policy, host.total_bytes));
  s.storm = storm_relief_at != absl::InfinitePast() &&
            now - storm_relief_at < FromProtoDuration(host_policy.reserve_reclaim_after());
  s.comfortable_available_bytes = ComfortableAvailable(host_policy, host.total_bytes);
  s.reserved_bytes = std::clamp<int64_t>(reserved_bytes, 0, kMaxMemoryBytes);
  s.unbacked_bytes = unbacked_bytes;
  s.growth_ahead_bytes = growth_ahead_bytes;
  s.pressure_some_avg10 = host.pressure_some_avg10;
  s.pressure_threshold = host_policy.pressure_threshold();
  return s;
}

}  // namespace balloond::policy
