#ifndef BALLOOND_POLICY_POLICY_H_
#define BALLOOND_POLICY_POLICY_H_

// balloond's automatic ballooning policy: a pure function of what the host and its guests report,
// the configured Policy, the policy's own history of earlier cycles, and the time. No I/O, no clock
// reads: the agent and the simulator call the same code, and the same inputs give the same output.

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/history.h"
#include "policy/inputs.h"
#include "policy/judgement.h"
#include "policy/outcome.h"

namespace balloond::policy {

// One policy cycle over a judgement of its inputs (Judge), with `reserved_bytes` promised to
// reservations: the phases of policy/cycle.h in order. Outcome.host is the host's condition as the
// capacity figures and events also see it (policy/standing.h). A policy that is off changes
// nothing: callers do not decide with one (the history would move on without it).
Outcome Decide(Judgement judgement, int64_t reserved_bytes);

// The same from the inputs (HostInput.reserved_bytes reserved); with the policy off, the state as
// it was and no decision. In observe mode the state records proposals instead of sent targets.
Outcome Decide(const balloon::v1::Policy& policy, const HostInput& host,
               const std::vector<DomainInput>& domains, const State& state, absl::Time now);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_POLICY_H_
