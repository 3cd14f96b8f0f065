#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/cycle.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

namespace {

// Hands out `budget` bytes among `wants` (what each would take), in proportion to `weights`, never
// more than each wants; what one cannot take goes to the others.
std::vector<int64_t> Share(int64_t budget, const std::vector<int64_t>& wants,
                           const std::vector<double>& weights) {
  std::vector<int64_t> got(wants.size(), 0);
  for (int round = 0; round < 8 && budget > 0; ++round) {
    double total_weight = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (got[i] < wants[i]) total_weight += weights[i];
    }
    if (total_weight <= 0) break;
    int64_t handed = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (got[i] >= wants[i]) continue;
      const int64_t portion =
          static_cast<int64_t>(static_cast<double>(budget) * weights[i] / total_weight);
      const int64_t take = std::min(wants[i] - got[i], std::max<int64_t>(portion, 1));
      got[i] += take;
      handed += take;
    }
    budget -= handed;
    if (handed == 0) break;
  }
  return got;
}

}  // namespace

void GiveBackWhenComfortable(CycleContext& c) {
  if (c.out.host != HostCondition::kComfortable) return;
  int64_t granted = 0;
  for (const Assessment* a : c.relief) granted += a->target - a->actual;
  const int64_t surplus =
      c.free - c.standing.comfortable_available_bytes - granted - Deadband(c.policy, 0);
  std::vector<Assessment*> takers;
  std::vector<int64_t> wants;
  std::vector<double> weights;
  for (Assessment& a : c.all) {
    // What probing found idle stays with the host; a probed guest that needs it refaults, and
    // probing gives it back.
    if (!a.eligible || a.held || a.reason != v1::DECISION_REASON_UNSPECIFIED ||
        a.actual >= GiveBackCeiling(a) || a.settings.probe())
      continue;
    takers.push_back(&a);
    wants.push_back(std::min(GiveBackCeiling(a) - a.actual, c.policy.max_grow_step_bytes()));
    weights.push_back(a.settings.shares());
  }
  const std::vector<int64_t> given = Share(std::max<int64_t>(0, surplus), wants, weights);
  for (size_t i = 0; i < takers.size(); ++i) {
    Assessment& a = *takers[i];
    if (given[i] <= 0) continue;
    Propose(a, a.actual + given[i], v1::DECISION_REASON_HOST_GIVE_BACK,
            absl::StrCat(
                "the host was comfortable (", FormatBytes(c.host.available_bytes), " available, ",
                absl::StrFormat("%.0f%%", 100 * c.host_policy.target_used_fraction()),
                " use target): gave ", a.input->name, " ", FormatBytes(given[i]), " back, from ",
                FormatBytes(a.actual), " toward its maximum of ", FormatBytes(GiveBackCeiling(a))));
  }
}

}  // namespace balloond::policy
