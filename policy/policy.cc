#include "policy/policy.h"

#include <utility>

#include "policy/cycle.h"
#include "policy/settings.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

Outcome Decide(Judgement judgement, int64_t reserved_bytes) {
  CycleContext cycle(std::move(judgement), reserved_bytes);
  WatchHotplug(cycle);
  WatchBalloons(cycle);
  GrantRelief(cycle);
  GiveBackToStale(cycle);
  Reclaim(cycle);
  Probe(cycle);
  GiveBackWhenComfortable(cycle);
  PlanCollection(cycle);
  return Publish(cycle);
}

Outcome Decide(const v1::Policy& policy, const HostInput& host,
               const std::vector<DomainInput>& domains, const State& state, absl::Time now) {
  if (WithDefaults(policy).mode() == v1::POLICY_MODE_OFF) {
    Outcome off;
    off.state = state;
    return off;
  }
  return Decide(Judge(policy, host, domains, state, now), host.reserved_bytes);
}

}  // namespace balloond::policy
