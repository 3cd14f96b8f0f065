#include "policy/judgement.h"

#include "policy/settings.h"

namespace balloond::policy {

Judgement Judge(const balloon::v1::Policy& policy, const HostInput& host,
                const std::vector<DomainInput>& domains, const State& state, absl::Time now) {
  Judgement j;
  j.policy = WithDefaults(policy);
  j.host = SaneHost(host);
  j.domains = SaneDomains(domains);
  j.now = now;
  j.assessed.reserve(j.domains.size());
  for (const DomainInput& in : j.domains) {
    auto it = state.domains.find(in.uuid);
    j.assessed.push_back(
        Assess(j.policy, in, it == state.domains.end() ? DomainHistory() : it->second, now));
    j.unbacked_bytes += UnbackedBytes(j.assessed.back());
  }
  return j;
}

HostStanding StandingOf(const Judgement& j, int64_t reserved_bytes) {
  return StandingOf(j.policy.host(), j.host, reserved_bytes, j.unbacked_bytes);
}

}  // namespace balloond::policy
