#ifndef BALLOOND_POLICY_JUDGEMENT_H_
#define BALLOOND_POLICY_JUDGEMENT_H_

// What one policy cycle makes of its inputs, made once: the policy with its defaults, the inputs
// made sane, and each guest assessed from its history. Every reader takes this one judgement: the
// decisions (Decide), the capacity figures (CapacityOf) and the events (through both), as oomd's
// context is valid for one interval and never recomputed by a plugin.

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/assessment.h"
#include "policy/history.h"
#include "policy/inputs.h"
#include "policy/standing.h"

namespace balloond::policy {

struct Judgement {
  Judgement() = default;
  // Each assessment points at its domain's input: a judgement moves, it is not copied.
  Judgement(const Judgement&) = delete;
  Judgement& operator=(const Judgement&) = delete;
  Judgement(Judgement&&) = default;
  Judgement& operator=(Judgement&&) = default;

  balloon::v1::Policy policy;        // full (WithDefaults)
  HostInput host;                    // sane
  std::vector<DomainInput> domains;  // sane
  std::vector<Assessment> assessed;  // one per domain, in order
  int64_t unbacked_bytes = 0;        // Σ UnbackedBytes over the domains
  // Σ over the domains of the growth ahead they will take from the host (HostStanding).
  int64_t growth_ahead_bytes = 0;
  HostHistory host_history;
  absl::Time now;
};

// Judges a cycle's inputs under `policy` (metadata layered in) from `state`, the policy's history.
Judgement Judge(const balloon::v1::Policy& policy, const HostInput& host,
                const std::vector<DomainInput>& domains, const State& state, absl::Time now);

// Where the host stands in the judgement, with `reserved_bytes` promised to reservations.
HostStanding StandingOf(const Judgement& judgement, int64_t reserved_bytes);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_JUDGEMENT_H_
