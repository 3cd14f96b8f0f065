#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/cycle.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

namespace {

// How long a working set that probing found by refaults stands before it is looked below again.
constexpr absl::Duration kWorkingSetTrusted = absl::Minutes(10);

// One probe step of the guest: probe_step_fraction of its balloon, at least 4 MiB, at most
// probe_max_step_bytes.
int64_t ProbeStep(const Assessment& a) {
  constexpr int64_t kMinStep = 4 * kMiB;
  const auto fraction =
      static_cast<int64_t>(a.settings.probe_step_fraction() * static_cast<double>(a.actual));
  return std::clamp(fraction, kMinStep, std::max(kMinStep, a.settings.probe_max_step_bytes()));
}

// Probing found where the guest's refaults begin: remembers it and pauses probing. Each back-off
// in a row waits twice as long, up to 10 minutes: the working set is re-checked that often, and
// refaults stay rare. Returns the pause.
absl::Duration FoundWorkingSet(DomainHistory& m, int64_t working_set, absl::Duration interval,
                               absl::Time now) {
  m.probing.working_set = working_set;
  m.probing.working_set_at = m.probing.last_backoff = now;
  m.probing.backoffs = std::min(m.probing.backoffs + 1, 8);
  const absl::Duration pause =
      std::min(absl::Minutes(10), 6 * interval * (1 << (m.probing.backoffs - 1)));
  m.probing.paused_until = now + pause;
  return pause;
}

}  // namespace

void Probe(CycleContext& c) {
  if (c.out.host == HostCondition::kShort) return;  // reclaim acts for the host; probes wait
  for (Assessment& a : c.all) {
    DomainHistory& m = a.history;
    // Refaults are measured between two reports: a step is watched for two at least.
    const absl::Duration interval =
        std::max(FromProtoDuration(c.policy.probe_interval()), 2 * a.input->stats_period);
    // Relief and bounds came first; a guest given memory starts probing anew from there.
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED) {
      if (a.target <= a.actual) continue;
      if (a.reason == v1::DECISION_REASON_GUEST_PRESSURE && a.pressure_from_rates &&
          m.probing.taken > 0) {
        // Refaults too many for probing's own back-off, after probing took memory: relief gave
        // it back, and this is where the working set begins, as a back-off would have found.
        const absl::Duration pause =
            FoundWorkingSet(m, a.actual + std::min(ProbeStep(a), m.probing.taken), interval, c.now);
        a.explanation += absl::StrCat(
            "; probing had taken ", FormatBytes(m.probing.taken), ": its working set is about ",
            FormatBytes(*m.probing.working_set), ", probed again in ", absl::FormatDuration(pause));
        m.probing.taken = 0;
        continue;
      }
      m.probing.taken = m.probing.backoffs = 0;
      continue;
    }
    if (!a.settings.probe() || WhyNotDonor(a, c.now) != DonorBlock::kNone || !m.rates.known) {
      continue;
    }
    if (c.enforce && m.following.pending_target) continue;  // the last step is still on its way
    const double refaults = RefaultsPerSecond(m.rates);
    const double tolerated = a.settings.probe_major_faults_per_second();
    const int64_t step = ProbeStep(a);
    if (refaults > tolerated) {
      // Only refaults the probing may have caused: a guest that faults at the size it was given
      // (streaming reads) is left as it is. Rates lag a report behind a move: one back-off per
      // interval.
      if (m.probing.taken <= 0 || c.now - m.probing.last_backoff < interval) continue;
      const int64_t give =
          std::min({m.probing.taken, std::max(4 * step, a.actual / 10), a.ceiling - a.actual});
      const absl::Duration pause =
          FoundWorkingSet(m, a.actual + std::min(step, m.probing.taken), interval, c.now);
      m.probing.taken -= give;
      if (give <= 0) continue;
      Propose(a, a.actual + give, v1::DECISION_REASON_PROBE_BACKOFF,
              absl::StrFormat("probing %s: %.1f refaults/s at %s, over its target of %.1f/s: its "
                              "working set is about %s; gave back %s at once (to %s) and probes "
                              "again in %s",
                              a.input->name, refaults, FormatBytes(a.actual), tolerated,
                              FormatBytes(*m.probing.working_set), FormatBytes(give),
                              FormatBytes(a.actual + give), absl::FormatDuration(pause)));
      continue;
    }
    if (c.now < m.probing.paused_until || c.now - m.probing.last_step < interval) continue;
    // A guest whose use grows by a step per interval needs what it has: probing waits.
    if (m.rates.used_growth_bytes_per_second * absl::ToDoubleSeconds(interval) >
        static_cast<double>(step)) {
      continue;
    }
    // A working set found by refaults is not probed below again until it is old: each look
    // below it costs refaults. Nor is the room kept for the guest's jumps.
    const bool known = m.probing.working_set && *m.probing.working_set > a.floor &&
                       c.now - m.probing.working_set_at < kWorkingSetTrusted;
    const JumpSlack slack = JumpSlackOf(a, c.now);
    const int64_t lowest =
        std::max(known ? *m.probing.working_set : a.floor, a.used + a.overhead + slack.bytes);
    const int64_t taken = std::min(step, a.actual - lowest);
    if (taken < 4 * kMiB) {
      // Down to its floor without refaults: it needs no more than that.
      if (!known && lowest == a.floor &&
          (!m.probing.working_set || *m.probing.working_set != a.floor)) {
        m.probing.working_set = a.floor;
        m.probing.working_set_at = c.now;
      }
      continue;
    }
    m.probing.last_step = c.now;
    // Observed, the balloon stays where it is: the proposal is one step from there each time.
    m.probing.taken = c.enforce ? m.probing.taken + taken : taken;
    Propose(a, a.actual - taken, v1::DECISION_REASON_PROBE,
            absl::StrFormat("probing %s: %.1f refaults/s at %s (target %.1f/s) for the last %s: "
                            "one step smaller, %s less (to %s; floor %s; keeps %s above its use "
                            "for jumps: %s)",
                            a.input->name, refaults, FormatBytes(a.actual), tolerated,
                            absl::FormatDuration(interval), FormatBytes(taken),
                            FormatBytes(a.actual - taken), FormatBytes(a.floor),
                            FormatBytes(slack.bytes), slack.why));
  }
}

}  // namespace balloond::policy
