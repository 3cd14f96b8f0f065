#ifndef BALLOOND_POLICY_ASSESSMENT_H_
#define BALLOOND_POLICY_ASSESSMENT_H_

// The policy's view of one domain in one cycle (inside the policy library; see policy.h).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/history.h"
#include "policy/inputs.h"
#include "policy/settings.h"

namespace balloond::policy {

// A guest just relieved keeps what it got this long even on a short host: its inputs settle
// (growth stops, rates fall) and taking memory straight back would be a flip-flop.
inline constexpr absl::Duration kReliefHold = absl::Seconds(30);

// Inputs held to what a machine can have: a size no machine has is a lie (or a bug) that must not
// overflow the policy's sums. A balloon of impossible size is left alone, as one without a size.
HostInput SaneHost(const HostInput& host);
std::vector<DomainInput> SaneDomains(const std::vector<DomainInput>& domains);

// Everything the policy works out about one domain in one cycle.
struct Assessment {
  const DomainInput* input = nullptr;
  balloon::v1::DomainPolicy settings;
  DomainHistory history;
  bool eligible = false;  // running, enabled, with a balloon, not backing off
  bool backing_off = false;
  bool held = false;   // an operator's hold lasts: left alone unless under pressure
  bool fresh = false;  // statistics recent and believable
  std::string why_not_fresh;
  int64_t actual = 0;
  int64_t used = 0;
  int64_t overhead = 0;  // what QEMU gives the guest beyond its MemTotal (kernel reservations)
  int64_t headroom = 0;
  int64_t floor = 0;         // never below: max(min, used + headroom)
  int64_t ceiling = 0;       // never above
  int64_t growth_ahead = 0;  // use expected to be added before the next report is acted on
  bool pressure = false;
  bool pressure_from_rates = false;  // swapping or faulting, not short of MemAvailable
  std::string pressure_why;
  absl::Duration stats_age = absl::ZeroDuration();
  int64_t target = 0;
  balloon::v1::DecisionReason reason = balloon::v1::DECISION_REASON_UNSPECIFIED;
  std::string explanation;
  bool hold_overridden = false;
  // What an autodeflate balloon gave the guest back by itself since the last cycle.
  int64_t deflated_by_itself = 0;
};

// What the policy makes of a domain's report, its settings and its history (rates, the kernel's
// share, peak use): eligibility, a hold, freshness, use, headroom, floor, ceiling, growth and
// pressure. `policy` is full (WithDefaults).
Assessment Assess(const balloon::v1::Policy& policy, const DomainInput& in,
                  const DomainHistory& history, absl::Time now);

// What a guest pays for memory it misses, per second: major faults plus swap-ins as 4 KiB pages.
inline double RefaultsPerSecond(const Rates& r) {
  return r.major_faults_per_second + r.swap_in_bytes_per_second / 4096.0;
}

// The most memory the guest may hold soon, every byte it was promised counted: what it has, a
// target its balloon is still growing to (the policy's, or an operator's hold), what its virtio-mem
// device was asked to plug and has not yet; all of its maximum when its balloon is not known (no
// balloon, or not read yet).
int64_t MayHoldBytes(const Assessment& a);
// What of that the host does not hold yet (beyond QEMU's resident memory; all of it while that is
// unknown): memory the guest may touch at any time, which the host's MemAvailable counts as free.
int64_t UnbackedBytes(const Assessment& a);

// Why the policy may not take memory from the domain now: reclaim, probing and the host's capacity
// (capacity.h) use this one rule, and steer by it; Describe says it in words.
enum class DonorBlock {
  kNone,
  kNoBalloon,
  kNotRunning,
  kDisabled,
  kDefinitionUnread,
  kBackingOff,
  kHeld,
  kStale,
  kPressure,
  kJustRelieved,
};
DonorBlock WhyNotDonor(const Assessment& a, absl::Time now);
absl::string_view Describe(DonorBlock block);

// What a decision records of the policy's inputs.
balloon::v1::DecisionInputs Inputs(const Assessment& a, const HostInput& host,
                                   int64_t host_reserve);

// What a guest is kept above its use for a jump the balloon cannot follow (a deflate takes seconds;
// a login or a report job adds gigabytes in two): DomainPolicy.probe_slack_fraction of its maximum
// until it has been watched probe_slack_learn, then its largest jump of the last day and a quarter
// more; halved where a safety net catches a jump (an autodeflate balloon, virtio-mem memory left to
// plug). Probing leaves it, and capacity does not offer it to new VMs.
struct JumpSlack {
  int64_t bytes = 0;
  std::string why;
};
JumpSlack JumpSlackOf(const Assessment& a, absl::Time now);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_ASSESSMENT_H_
