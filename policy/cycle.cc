#include "policy/cycle.h"

#include <algorithm>
#include <utility>

#include "policy/hotplug.h"

namespace balloond::policy {

CycleContext::CycleContext(Judgement j, int64_t reserved_bytes)
    : judgement(std::move(j)),
      policy(judgement.policy),
      host_policy(judgement.policy.host()),
      enforce(judgement.policy.mode() == balloon::v1::POLICY_MODE_ENFORCE),
      host(judgement.host),
      now(judgement.now),
      standing(StandingOf(judgement, reserved_bytes)),
      free(standing.FreeBytes()),
      all(judgement.assessed) {
  out.host = standing.Condition();
}

void Propose(Assessment& a, int64_t target, balloon::v1::DecisionReason reason, std::string why) {
  a.target = target;
  a.reason = reason;
  a.explanation = std::move(why);
}

Decision MakeDecision(const CycleContext& c, const Assessment& a,
                      balloon::v1::DecisionReason reason, std::string explanation) {
  Decision d;
  d.uuid = a.input->uuid;
  d.name = a.input->name;
  d.previous_bytes = d.target_bytes = a.actual;
  d.reason = reason;
  d.explanation = std::move(explanation);
  d.inputs = Inputs(a, c.host, c.standing.reserve_bytes);
  return d;
}

void SplitDecision(const CycleContext& c, const Assessment& a, Decision& d) {
  const MemoryMove move =
      SplitMove(*a.input, d.target_bytes, c.now >= a.history.unplug.refused_until);
  d.balloon_target_bytes = move.balloon_bytes;
  d.requested_bytes = move.requested_bytes;
  d.explanation += DescribeMove(*a.input, move);
}

int64_t GiveBackCeiling(const Assessment& a) {
  const std::optional<Hotplug>& h = a.input->hotplug;
  return h ? std::min(a.ceiling, BootMemoryBytes(*a.input) + h->plugged_bytes) : a.ceiling;
}

int64_t OffWatermarkBytes(const Assessment& a, int watermarks) {
  return a.used + watermarks * a.settings.low_watermark_bytes() + a.overhead + a.growth_ahead;
}

}  // namespace balloond::policy
