#ifndef BALLOOND_POLICY_STANDING_H_
#define BALLOOND_POLICY_STANDING_H_

// Where the host stands, in the figures the policy judges it by: the one rule for "short" that the
// decisions (reclaim), the capacity figures and the events all read.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/inputs.h"
#include "policy/outcome.h"

namespace balloond::policy {

struct HostStanding {
  int64_t available_bytes = 0;
  int64_t reserve_bytes = 0;       // HostReserve: kept available
  int64_t hard_reserve_bytes = 0;  // HardReserve: never lent, not even in a storm
  // A storm: a guest needed relief within HostPolicy.reserve_reclaim_after. The soft reserve is
  // then the guests': the host is short only below the hard reserve.
  bool storm = false;
  int64_t comfortable_available_bytes = 0;  // ComfortableAvailable: given back above it
  int64_t reserved_bytes = 0;               // promised to reservations
  int64_t unbacked_bytes = 0;               // promised to guests, not yet theirs
  // What the guests' growing use will take from the host before the next cycle can act (of
  // memory it does not hold of them yet): a storm is seen coming, not only once it has landed.
  int64_t growth_ahead_bytes = 0;
  std::optional<double> pressure_some_avg10;
  double pressure_threshold = 0;

  // What is available and not reserved (nor, while there are reservations, promised to guests),
  // less the guests' growth ahead: what reclaim and give-back go by. Relief, to stop an OOM, may
  // use the rest too.
  int64_t FreeBytes() const;
  // Memory PSI over the policy's threshold.
  bool PressureHigh() const;
  // Short when free is under the reserve (the hard one in a storm) or PSI is high; comfortable
  // when free is past the comfortable level; neutral otherwise.
  HostCondition Condition() const;
  // The reserve the host is short below now: the hard one in a storm, the whole one otherwise.
  int64_t KeptReserveBytes() const;
  balloon::v1::ReserveState ReserveState() const;
  // Why the host is short, for decisions and events: "the host had 3 GiB available (1 GiB of it
  // reserved for VMs to come) and memory pressure 12.0% (reserve 4 GiB)".
  std::string DescribeShort() const;
};

// Where the host `host` stands under `host_policy` (full), with `reserved_bytes` promised to
// reservations and `unbacked_bytes` to its guests, at `now`, a guest having last needed relief at
// `storm_relief_at`.
HostStanding StandingOf(const balloon::v1::HostPolicy& host_policy, const HostInput& host,
                        int64_t reserved_bytes, int64_t unbacked_bytes,
                        int64_t growth_ahead_bytes = 0,
                        absl::Time storm_relief_at = absl::InfinitePast(),
                        absl::Time now = absl::InfinitePast());

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_STANDING_H_
