#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/hotplug.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

namespace {

// How soon a guest granted relief runs out, for ordering them when the host cannot pay for all:
// the seconds until its MemAvailable reaches its low watermark at the rate its use grows (0 for a
// guest already below it, or swapping or faulting; a guest that is not growing comes after every
// one that is), per thousand shares, so that among equally urgent guests more shares go first.
// Only statistics the assessment trusted count: a lying guest is one without statistics here.
double Urgency(const Assessment& a) {
  constexpr double kNotGrowing = 1e9;
  double seconds = kNotGrowing;
  if (a.fresh) {
    const double above = static_cast<double>(a.input->report->available_bytes) -
                         static_cast<double>(a.settings.low_watermark_bytes());
    const double growth = std::max(0.0, a.history.rates.used_growth_bytes_per_second);
    if (above <= 0 || a.pressure_from_rates) {
      seconds = 0;
    } else if (growth > 0) {
      seconds = above / growth;
    }
  }
  return seconds * 1000.0 / static_cast<double>(std::max<int64_t>(1, a.settings.shares()));
}

// Pays the relief proposed, within the budget, in two rounds: first what keeps each guest under
// pressure off its low watermark until the next report (its use, the watermark, its growth ahead),
// then the rest (headroom, floors); the most urgent first in each. In a storm on a host with little
// slack, paid whole in turn, the first guests to ask took their full headroom and left the later
// ones running out (measured: the last of 16 desktops waited 40 s).
void PayRelief(CycleContext& c) {
  std::vector<int64_t> granted(c.relief.size(), 0);
  for (const bool keep_off_watermark : {true, false}) {
    for (size_t i = 0; i < c.relief.size(); ++i) {
      const Assessment& a = *c.relief[i];
      int64_t want = a.target;
      if (keep_off_watermark) {
        want = a.reason == v1::DECISION_REASON_GUEST_PRESSURE
                   ? std::min(want, OffWatermarkBytes(a, 1))
                   : a.actual;
      }
      const int64_t grant = std::clamp<int64_t>(want - a.actual - granted[i], 0,
                                                std::max<int64_t>(0, c.relief_budget));
      granted[i] += grant;
      c.relief_budget -= grant;
    }
  }
  for (size_t i = 0; i < c.relief.size(); ++i) {
    Assessment& a = *c.relief[i];
    c.unmet_relief += a.target - a.actual - granted[i];
    if (granted[i] < a.target - a.actual) {
      a.explanation += absl::StrCat(
          " (limited to ", FormatBytes(granted[i]), " by the host's hard reserve of ",
          FormatBytes(c.standing.hard_reserve_bytes),
          c.relief.size() > 1 ? ": every guest under pressure is first kept off its low watermark"
                              : "",
          ")");
    }
    a.target = a.actual + granted[i];
  }
}

}  // namespace

void GrantRelief(CycleContext& c) {
  c.relief_budget = c.host.available_bytes - c.standing.hard_reserve_bytes;
  for (Assessment& a : c.all) {
    if (!a.eligible) continue;
    if (a.held && !(a.fresh && a.pressure)) continue;  // only an OOM in the making moves a hold
    if (a.actual > a.ceiling && !a.held) {
      Propose(a, a.ceiling, v1::DECISION_REASON_ABOVE_MAX,
              absl::StrCat(a.input->name, " had ", FormatBytes(a.actual),
                           ", above its policy maximum of ", FormatBytes(a.ceiling),
                           ": lowered to it"));
    } else if (a.fresh && a.pressure) {
      // Enough to restore the headroom in one step, plus what the guest's growth will eat before
      // the next report arrives.
      int64_t want = a.used + a.headroom + a.overhead + a.growth_ahead;
      // Swapping or faulting with memory "available" means the guest needs its page cache: give
      // it a headroom's worth more than it has, twice as much each time that was not enough.
      const int grants = 1 << std::min(a.history.relief.rate_reliefs, 4);
      if (a.pressure_from_rates) want = std::max(want, a.actual + a.headroom * grants);
      want = std::min(a.ceiling, want);
      if (want > a.actual) {
        Propose(a, want, v1::DECISION_REASON_GUEST_PRESSURE,
                absl::StrCat(
                    a.input->name, " was under pressure (", a.pressure_why, "; use growing ",
                    FormatBytes(static_cast<int64_t>(
                        std::max(0.0, a.history.rates.used_growth_bytes_per_second))),
                    "/s): grown from ", FormatBytes(a.actual), " to ", FormatBytes(want),
                    a.pressure_from_rates && grants > 1
                        ? absl::StrCat(", ", grants,
                                       " times its headroom: the last relief was not enough")
                        : absl::StrCat(" to restore ", FormatBytes(a.headroom), " of headroom")));
        if (a.held) {
          a.hold_overridden = true;
          a.explanation += absl::StrCat(
              "; overrode the operator's hold (until ",
              absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *a.input->held_until, absl::UTCTimeZone()),
              ") to keep the guest from running out of memory");
        }
        c.relief.push_back(&a);
      }
    } else if (!a.fresh && a.input->report && a.actual < GiveBackCeiling(a) &&
               c.out.host != HostCondition::kShort) {
      // Only a guest that did report: one that never has is usually still booting at its maximum.
      const int64_t give = std::min(GiveBackCeiling(a) - a.actual, c.policy.max_grow_step_bytes());
      Propose(a, a.actual + give, v1::DECISION_REASON_STATS_STALE,
              absl::StrCat(a.input->name, ": ", a.why_not_fresh,
                           "; without knowing its use, gave it ", FormatBytes(give), " back (",
                           FormatBytes(a.actual), " toward its maximum of ",
                           FormatBytes(GiveBackCeiling(a)), ") rather than leave it short"));
      c.stale_give_back.push_back(&a);
    } else if (a.actual < std::min(a.settings.min_bytes(), a.ceiling)) {
      const int64_t min = std::min(a.settings.min_bytes(), a.ceiling);
      Propose(a, min, v1::DECISION_REASON_BELOW_FLOOR,
              absl::StrCat(a.input->name, " had ", FormatBytes(a.actual), ", below its minimum of ",
                           FormatBytes(min), ": raised to it"));
      c.relief.push_back(&a);
    }
  }
  // When the host cannot pay for all, the most urgent are served first.
  std::stable_sort(c.relief.begin(), c.relief.end(), [](const Assessment* x, const Assessment* y) {
    const double ux = Urgency(*x), uy = Urgency(*y);
    if (ux != uy) return ux < uy;
    // Equally urgent (both short already): the most starved first.
    const auto available = [](const Assessment& a) {
      return a.fresh ? a.input->report->available_bytes : kMaxMemoryBytes;
    };
    return available(*x) < available(*y);
  });
  PayRelief(c);
}

void GiveBackToStale(CycleContext& c) {
  int64_t stale_budget = std::min(c.relief_budget, c.free - c.standing.reserve_bytes);
  for (Assessment* a : c.stale_give_back) {
    const int64_t grant =
        std::clamp<int64_t>(a->target - a->actual, 0, std::max<int64_t>(0, stale_budget));
    c.unmet_stale += a->target - a->actual - grant;
    a->target = a->actual + grant;
    stale_budget -= grant;
  }
}

}  // namespace balloond::policy
