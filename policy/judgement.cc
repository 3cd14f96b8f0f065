#include "policy/judgement.h"

#include <algorithm>

#include "policy/settings.h"

namespace balloond::policy {

Judgement Judge(const balloon::v1::Policy& policy, const HostInput& host,
                const std::vector<DomainInput>& domains, const State& state, absl::Time now) {
  Judgement j;
  j.policy = WithDefaults(policy);
  j.host = SaneHost(host);
  j.domains = SaneDomains(domains);
  j.now = now;
  j.host_history = state.host;
  j.assessed.reserve(j.domains.size());
  int in_need = 0;
  for (const DomainInput& in : j.domains) {
    auto it = state.domains.find(in.uuid);
    j.assessed.push_back(
        Assess(j.policy, in, it == state.domains.end() ? DomainHistory() : it->second, now));
    const Assessment& a = j.assessed.back();
    j.unbacked_bytes += UnbackedBytes(a);
    if (a.fresh) j.growth_ahead_bytes += std::min(a.growth_ahead, UnbackedBytes(a));
    if (a.eligible && a.fresh && a.pressure && a.actual < a.ceiling) ++in_need;
  }
  // What sharing saved that has not lasted is the guests' to take back by writing to merged pages.
  j.unbacked_bytes += j.host.shared_saved_bytes - j.host.shared_lasting_bytes;
  // Guests that need memory they can be given, several at once: a storm. The soft reserve is lent
  // from now on. (One or two guests in need are relieved from it too, but it is taken back at once:
  // lending it to every single need left the next guest's growth less room on busy hosts.)
  constexpr int kStormGuests = 3;
  if (in_need >= kStormGuests) j.host_history.storm_relief_at = now;
  return j;
}

HostStanding StandingOf(const Judgement& j, int64_t reserved_bytes) {
  return StandingOf(j.policy.host(), j.host, reserved_bytes, j.unbacked_bytes, j.growth_ahead_bytes,
                    j.host_history.storm_relief_at, j.now);
}

}  // namespace balloond::policy
