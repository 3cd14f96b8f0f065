#ifndef BALLOOND_POLICY_SETTINGS_H_
#define BALLOOND_POLICY_SETTINGS_H_

// The policy's settings (balloon.v1.Policy): their defaults, one domain's effective settings,
// validation, and the quantities the settings define (deadband, host reserve).

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond::policy {

// More memory than any host this runs on has: larger sizes are refused in settings and treated as
// lies in reports, so that no sum of sizes can overflow.
inline constexpr int64_t kMaxMemoryBytes = int64_t{1} << 50;  // 1 PiB
// The longest hold an operator may set on a domain's balloon (default_hold, a request's hold).
inline constexpr absl::Duration kMaxHold = absl::Hours(7 * 24);

// KSM's pace: pages_to_scan per wake of ksmd, every kKsmSleepMillis (HostPolicy.ksm).
inline constexpr int kMinKsmPagesToScan = 64;
inline constexpr int kMaxKsmPagesToScan = 100000;
inline constexpr int kKsmSleepMillis = 20;

// The policy with every default filled in (what `balloonctl policy show` prints). Everything below
// takes such a "full" policy.
balloon::v1::Policy WithDefaults(const balloon::v1::Policy& policy);

// `over`'s fields over `base`, field by field, as protobuf merges them, except that a Duration set
// in `over` is taken whole: MergeFrom would keep a default's 1h under a set 0s (a Duration of
// zeros has no field to merge) and mix seconds and nanos.
void Overlay(google::protobuf::Message& base, const google::protobuf::Message& over);

// One domain's settings: its override over the defaults, with every default filled in.
balloon::v1::DomainPolicy EffectiveDomainPolicy(const balloon::v1::Policy& policy,
                                                const std::string& domain_name);

// INVALID_ARGUMENT naming the first bad field, e.g. "defaults.headroom_fraction must be in [0, 1]".
absl::Status ValidatePolicy(const balloon::v1::Policy& policy);
// The same for one domain's settings; field names in errors start with `prefix` ("defaults.").
absl::Status ValidateDomainPolicy(const balloon::v1::DomainPolicy& settings,
                                  const std::string& prefix = "");

// The smallest change made to a balloon of `actual` bytes.
int64_t Deadband(const balloon::v1::Policy& full, int64_t actual);

// The host is short of memory below its reserve, and comfortable above the second.
int64_t HostReserve(const balloon::v1::HostPolicy& full, int64_t host_total_bytes);
// What relief never takes: the larger of min_available_bytes and hard_reserve_fraction of the
// host's memory, at most the reserve. The rest of the reserve is lent to guests in a storm.
int64_t HardReserve(const balloon::v1::HostPolicy& full, int64_t host_total_bytes);
int64_t ComfortableAvailable(const balloon::v1::HostPolicy& full, int64_t host_total_bytes);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_SETTINGS_H_
