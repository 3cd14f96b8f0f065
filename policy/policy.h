#ifndef BALLOOND_POLICY_POLICY_H_
#define BALLOOND_POLICY_POLICY_H_

// balloond's automatic ballooning policy: a pure function of what the host and its guests report,
// the configured Policy, the policy's own memory of earlier cycles, and the time. No I/O, no clock
// reads: the agent and the simulator call the same code, and the same inputs give the same output.

#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/cycle.h"

namespace balloond::policy {

// One policy cycle. In observe mode the state records proposals instead of sent targets.
Outcome Decide(const balloon::v1::Policy& policy, const HostInput& host,
               const std::vector<DomainInput>& domains, const State& state, absl::Time now);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_POLICY_H_
