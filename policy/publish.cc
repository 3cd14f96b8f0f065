#include <algorithm>
#include <cstdlib>

#include "policy/cycle.h"
#include "policy/durations.h"
#include "policy/settings.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

namespace {

// Anything about the domain moves, or may before a longer wait for its next report ends.
bool Moving(const CycleContext& c, const Assessment& a, int next_every) {
  const DomainHistory& m = a.history;
  if (c.out.host == HostCondition::kShort || a.pressure || !m.rates.known ||
      a.reason != v1::DECISION_REASON_UNSPECIFIED || m.following.pending_target ||
      c.now - m.relief.at < kReliefHold || m.following.actual_since == c.now) {
    return true;
  }
  // A probe step is being watched: its refaults must be seen within the interval.
  if (a.settings.probe() &&
      c.now - m.probing.last_step <
          2 * std::max(FromProtoDuration(c.policy.probe_interval()), 2 * a.input->stats_period)) {
    return true;
  }
  // Swapping, or faulting at a tenth of the pressure threshold: the guest needs its page cache.
  if (m.rates.swap_in_bytes_per_second > 0 ||
      m.rates.major_faults_per_second > a.settings.major_faults_per_second() / 10) {
    return true;
  }
  // Use growing enough to bring MemAvailable near the low watermark within the longer wait.
  const double wait = absl::ToDoubleSeconds(a.input->stats_period) * (next_every + 1);
  const double projected = static_cast<double>(a.input->report->available_bytes) -
                           std::max(0.0, m.rates.used_growth_bytes_per_second) * wait;
  return projected < static_cast<double>(a.settings.low_watermark_bytes() + a.headroom);
}

}  // namespace

void PlanCollection(CycleContext& c) {
  const int most = c.policy.max_collect_interval_periods();
  for (Assessment& a : c.all) {
    int& every = a.history.collect_every;
    const int longer = std::min(most, every * 2);
    if (!a.input->actual_bytes || a.input->activity != Activity::kRunning ||
        !a.settings.enabled()) {
      every = most;  // nothing to act on; its lifecycle and balloon events bring it back
    } else if (!a.fresh) {
      every = longer;  // no report yet, or reports stopped: looked at less and less often
    } else {
      every = Moving(c, a, longer) ? 1 : longer;
    }
    c.out.collect_every[a.input->uuid] = every;
  }
}

Outcome Publish(CycleContext& c) {
  for (Assessment& a : c.all) {
    if (!a.input->actual_bytes) continue;
    DomainHistory& m = a.history;
    // A probe's small steps are the point of it: the deadband does not apply to them.
    const bool probing =
        a.reason == v1::DECISION_REASON_PROBE || a.reason == v1::DECISION_REASON_PROBE_BACKOFF;
    const int64_t deadband = probing ? 0 : Deadband(c.policy, a.actual);
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED && std::abs(a.target - a.actual) > deadband) {
      const int64_t already = c.enforce ? m.following.pending_target.value_or(-1)
                                        : m.following.last_proposed.value_or(-1);
      const bool repeat = already >= 0 && std::abs(already - a.target) <= deadband;
      if (!repeat) {
        Decision d = MakeDecision(c, a, a.reason, a.explanation);
        d.target_bytes = a.target;
        d.hold_overridden = a.hold_overridden;
        SplitDecision(c, a, d);
        c.out.decisions.push_back(std::move(d));
        if (a.reason == v1::DECISION_REASON_GUEST_PRESSURE) {
          m.relief.at = c.now;
          if (a.pressure_from_rates) m.relief.rate_reliefs = std::min(m.relief.rate_reliefs + 1, 8);
        }
        if (c.enforce) {
          m.following.pending_target = a.target;
          m.following.actual_when_sent = a.actual;
          m.following.sent_at = c.now;
        } else {
          m.following.last_proposed = a.target;
        }
      }
    } else if (!c.enforce && !a.settings.probe()) {
      // (An observed probe's proposal stands between its intervals: it is not made again.)
      m.following.last_proposed.reset();
    }
    c.out.state.domains[a.input->uuid] = m;
  }
  c.out.state.host = c.judgement.host_history;
  return std::move(c.out);
}

}  // namespace balloond::policy
