#ifndef BALLOOND_POLICY_STANDING_H_
#define BALLOOND_POLICY_STANDING_H_

// Where the host stands, in the figures the policy judges it by: the one rule for "short" that the
// decisions (reclaim), the capacity figures and the events all read.

#include <cstdint>
#include <optional>
#include <string>

#include "balloon/v1/balloon.pb.h"
#include "policy/inputs.h"
#include "policy/outcome.h"

namespace balloond::policy {

struct HostStanding {
  int64_t available_bytes = 0;
  int64_t reserve_bytes = 0;                // HostReserve: kept available
  int64_t comfortable_available_bytes = 0;  // ComfortableAvailable: given back above it
  int64_t reserved_bytes = 0;               // promised to reservations
  int64_t unbacked_bytes = 0;               // promised to guests, not yet theirs
  std::optional<double> pressure_some_avg10;
  double pressure_threshold = 0;

  // What is available and not reserved (nor, while there are reservations, promised to guests):
  // what reclaim and give-back go by. Relief, to stop an OOM, may use the rest too.
  int64_t FreeBytes() const;
  // Memory PSI over the policy's threshold.
  bool PressureHigh() const;
  // Short when free is under the reserve or PSI is high; comfortable when free is past the
  // comfortable level; neutral otherwise.
  HostCondition Condition() const;
  // Why the host is short, for decisions and events: "the host had 3 GiB available (1 GiB of it
  // reserved for VMs to come) and memory pressure 12.0% (reserve 4 GiB)".
  std::string DescribeShort() const;
};

// Where the host `host` stands under `host_policy` (full), with `reserved_bytes` promised to
// reservations and `unbacked_bytes` to its guests.
HostStanding StandingOf(const balloon::v1::HostPolicy& host_policy, const HostInput& host,
                        int64_t reserved_bytes, int64_t unbacked_bytes);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_STANDING_H_
