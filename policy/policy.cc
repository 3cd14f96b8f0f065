#include "policy/policy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/assessment.h"
#include "policy/durations.h"
#include "policy/hotplug.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;

constexpr absl::Duration kBaseBackoff = absl::Seconds(30);
// How long a working set that probing found by refaults stands before it is looked below again.
constexpr absl::Duration kWorkingSetTrusted = absl::Minutes(10);
// How long a guest that would not unplug virtio-mem memory is not asked to unplug again.
constexpr absl::Duration kUnplugRefusedFor = absl::Minutes(10);

void Propose(Assessment& a, int64_t target, v1::DecisionReason reason, std::string why) {
  a.target = target;
  a.reason = reason;
  a.explanation = std::move(why);
}

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
    const double growth = std::max(0.0, a.memory.used_growth_bytes_per_second);
    if (above <= 0 || a.pressure_from_rates) {
      seconds = 0;
    } else if (growth > 0) {
      seconds = above / growth;
    }
  }
  return seconds * 1000.0 / static_cast<double>(std::max<int64_t>(1, a.settings.shares()));
}

// What a guest is given back without being under pressure: up to its ceiling, but not past what
// its virtio-mem device has plugged (memory is plugged only for a guest that needs it).
int64_t GiveBackCeiling(const Assessment& a) {
  const std::optional<Hotplug>& h = a.input->hotplug;
  return h ? std::min(a.ceiling, BootMemoryBytes(*a.input) + h->plugged_bytes) : a.ceiling;
}

// One policy cycle: the phases Decide runs in order, and what they hand each other.
class Cycle {
 public:
  Cycle(const v1::Policy& full, const HostInput& host, const std::vector<DomainInput>& domains,
        absl::Time now)
      : policy_(full),
        host_policy_(full.host()),
        enforce_(full.mode() == v1::POLICY_MODE_ENFORCE),
        host_(host),
        domains_(domains),
        now_(now) {}

  // Short of memory (under its reserve, or memory PSI high), neutral, or comfortable.
  void ClassifyHost();
  // Each domain's assessment, from its input and what the policy remembers of it.
  void AssessDomains(const State& state);
  // Guests that kept virtio-mem memory plugged they were asked to unplug are asked for what they
  // kept, and unplugged from no more for a while (enforce).
  void WatchHotplug();
  // Balloons that did not move toward their last target are reset and left alone (enforce).
  void WatchBalloons();
  // Bounds first, then guests under pressure, paid from what the host has above its minimum.
  void GrantRelief();
  // Guests whose reports stopped get memory back, from what the host has above its reserve.
  void GiveBackToStale();
  // Memory taken back when the host is short or a guest's need went unpaid.
  void Reclaim();
  // Guests with probing on are shrunk a step at a time while their refaults stay low, and given
  // memory back at once when they rise (DomainPolicy.probe).
  void Probe();
  // A comfortable host gives ballooned-down guests memory back, by shares (not to probed guests).
  void GiveBackWhenComfortable();
  // How soon each domain's statistics are needed again.
  void PlanCollection();
  // Changes inside the deadband dropped, the rest made decisions; the memory of this cycle kept.
  Outcome Publish();

 private:
  // Anything about the domain moves, or may before a longer wait for its next report ends.
  bool Moving(const Assessment& a, int next_every) const;
  // The decision's move made of the balloon and virtio-mem (policy/hotplug.h), and said.
  void SplitDecision(const Assessment& a, Decision& d) const;

  const v1::Policy& policy_;
  const v1::HostPolicy& host_policy_;
  const bool enforce_;
  const HostInput& host_;
  const std::vector<DomainInput>& domains_;
  const absl::Time now_;

  Outcome out_;
  int64_t reserve_ = 0;
  // What is available and not reserved (nor, while there are reservations, promised to guests):
  // what the policy's reclaim and give-back go by. Relief, to stop an OOM, may use the rest too.
  const int64_t free_ =
      std::max<int64_t>(0, host_.available_bytes - host_.reserved_bytes -
                               (host_.reserved_bytes > 0 ? UnbackedBytes(domains_) : 0));
  int64_t comfortable_available_ = 0;
  bool psi_high_ = false;
  std::vector<Assessment> all_;
  // Guests granted relief, and guests given memory back because their reports stopped.
  std::vector<Assessment*> relief_;
  std::vector<Assessment*> stale_give_back_;
  // What the host can still pay above its minimum, and what relief and give-back could not get.
  int64_t relief_budget_ = 0;
  int64_t unmet_relief_ = 0;
  int64_t unmet_stale_ = 0;
};

void Cycle::ClassifyHost() {
  reserve_ = HostReserve(host_policy_, host_.total_bytes);
  comfortable_available_ = ComfortableAvailable(host_policy_, host_.total_bytes);
  psi_high_ =
      host_.pressure_some_avg10 && *host_.pressure_some_avg10 > host_policy_.pressure_threshold();
  if (free_ < reserve_ || psi_high_) {
    out_.host = HostCondition::kShort;
  } else if (free_ > comfortable_available_) {
    out_.host = HostCondition::kComfortable;
  }
}

void Cycle::AssessDomains(const State& state) {
  all_.reserve(domains_.size());
  for (const DomainInput& in : domains_) {
    auto it = state.domains.find(in.uuid);
    all_.push_back(
        Assess(policy_, in, it == state.domains.end() ? DomainMemory() : it->second, now_));
    all_.back().held = in.held_until && *in.held_until > now_;
  }
}

void Cycle::SplitDecision(const Assessment& a, Decision& d) const {
  const MemoryMove move =
      SplitMove(*a.input, d.target_bytes, now_ >= a.memory.unplug_refused_until);
  d.balloon_target_bytes = move.balloon_bytes;
  d.requested_bytes = move.requested_bytes;
  d.explanation += DescribeMove(*a.input, move);
}

void Cycle::WatchHotplug() {
  for (Assessment& a : all_) {
    const std::optional<Hotplug>& h = a.input->hotplug;
    if (!h || !a.input->actual_bytes) continue;
    DomainMemory& m = a.memory;
    if (h->plugged_bytes != m.seen_plugged) {
      m.seen_plugged = h->plugged_bytes;
      m.plugged_since = now_;
    }
    // Unplugging goes on while the plugged size falls; the guest retries by itself what it could
    // not unplug yet, so a size that stood still a while is all the guest will give.
    // Reported once: until the device's new request is seen, it still shows the old one.
    if (!enforce_ || a.input->activity != Activity::kRunning ||
        h->requested_bytes >= h->plugged_bytes || now_ < m.unplug_refused_until ||
        now_ - m.plugged_since < FromProtoDuration(policy_.cooperation_timeout())) {
      continue;
    }
    m.unplug_refused_until = now_ + kUnplugRefusedFor;
    m.pending_target.reset();
    a.eligible = false;
    Decision d;
    d.uuid = a.input->uuid;
    d.name = a.input->name;
    d.previous_bytes = d.target_bytes = a.actual;
    d.reason = v1::DECISION_REASON_UNPLUG_REFUSED;
    d.explanation = absl::StrCat(
        a.input->name, " kept ", FormatBytes(h->plugged_bytes),
        " of virtio-mem memory plugged for ",
        absl::FormatDuration(absl::Trunc(now_ - m.plugged_since, absl::Seconds(1))),
        " when asked for ", FormatBytes(h->requested_bytes),
        " (memory it cannot move out of its blocks: was it booted without "
        "memhp_default_state=online_movable?): asked for what it kept, so it stops trying; its "
        "balloon takes memory from it instead for ",
        absl::FormatDuration(kUnplugRefusedFor));
    d.balloon_target_bytes = BalloonBytes(*a.input);
    d.requested_bytes = h->plugged_bytes;
    d.inputs = Inputs(a, host_, reserve_);
    out_.decisions.push_back(std::move(d));
  }
}

void Cycle::WatchBalloons() {
  for (Assessment& a : all_) {
    if (!a.input->actual_bytes) continue;
    a.target = a.actual;
    DomainMemory& m = a.memory;
    if (a.held && !m.held) {
      // A new hold: the operator's target replaced the policy's, nothing of the policy's is on
      // its way (a relief sent while held is, and is followed like any other).
      m.pending_target.reset();
      m.last_proposed.reset();
    }
    m.held = a.held;
    if (!enforce_ || !m.pending_target || a.input->activity != Activity::kRunning) continue;
    const int64_t target = *m.pending_target;
    const int64_t remaining = std::abs(a.actual - target);
    if (remaining <= Deadband(policy_, a.actual)) {
      m.pending_target.reset();
      m.strikes = 0;
      continue;
    }
    if (a.held) continue;  // the operator may have moved it since: not the policy's to judge
    if (now_ - m.sent_at < FromProtoDuration(policy_.cooperation_timeout())) continue;
    const int64_t wanted = std::abs(m.actual_when_sent - target);
    if (remaining * 2 <= wanted) continue;  // more than halfway: slow but moving
    m.strikes += 1;
    const absl::Duration backoff = std::min(FromProtoDuration(policy_.max_backoff()),
                                            kBaseBackoff * (1 << std::min(m.strikes - 1, 16)));
    m.backoff_until = now_ + backoff;
    m.pending_target.reset();
    a.backing_off = true;
    a.eligible = false;
    Decision d;
    d.uuid = a.input->uuid;
    d.name = a.input->name;
    d.previous_bytes = a.actual;
    d.target_bytes = a.actual;
    d.reason = v1::DECISION_REASON_UNCOOPERATIVE;
    d.explanation =
        absl::StrCat(a.input->name, "'s balloon stayed at ", FormatBytes(a.actual), " for ",
                     absl::FormatDuration(absl::Trunc(now_ - m.sent_at, absl::Seconds(1))),
                     " instead of moving to ", FormatBytes(target), ": target reset to ",
                     FormatBytes(a.actual), ", not counted as reclaimed, left alone for ",
                     absl::FormatDuration(backoff), " (strike ", m.strikes, ")");
    SplitDecision(a, d);
    d.inputs = Inputs(a, host_, reserve_);
    out_.decisions.push_back(std::move(d));
  }
}

void Cycle::GrantRelief() {
  relief_budget_ = host_.available_bytes - host_policy_.min_available_bytes();
  for (Assessment& a : all_) {
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
      const int grants = 1 << std::min(a.memory.rate_reliefs, 4);
      if (a.pressure_from_rates) want = std::max(want, a.actual + a.headroom * grants);
      want = std::min(a.ceiling, want);
      if (want > a.actual) {
        Propose(a, want, v1::DECISION_REASON_GUEST_PRESSURE,
                absl::StrCat(
                    a.input->name, " was under pressure (", a.pressure_why, "; use growing ",
                    FormatBytes(
                        static_cast<int64_t>(std::max(0.0, a.memory.used_growth_bytes_per_second))),
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
        relief_.push_back(&a);
      }
    } else if (!a.fresh && a.input->report && a.actual < GiveBackCeiling(a) &&
               out_.host != HostCondition::kShort) {
      // Only a guest that did report: one that never has is usually still booting at its maximum.
      const int64_t give = std::min(GiveBackCeiling(a) - a.actual, policy_.max_grow_step_bytes());
      Propose(a, a.actual + give, v1::DECISION_REASON_STATS_STALE,
              absl::StrCat(a.input->name, ": ", a.why_not_fresh,
                           "; without knowing its use, gave it ", FormatBytes(give), " back (",
                           FormatBytes(a.actual), " toward its maximum of ",
                           FormatBytes(GiveBackCeiling(a)), ") rather than leave it short"));
      stale_give_back_.push_back(&a);
    } else if (a.actual < std::min(a.settings.min_bytes(), a.ceiling)) {
      const int64_t min = std::min(a.settings.min_bytes(), a.ceiling);
      Propose(a, min, v1::DECISION_REASON_BELOW_FLOOR,
              absl::StrCat(a.input->name, " had ", FormatBytes(a.actual), ", below its minimum of ",
                           FormatBytes(min), ": raised to it"));
      relief_.push_back(&a);
    }
  }
  // When the host cannot pay for all, the most urgent are served first.
  std::stable_sort(relief_.begin(), relief_.end(), [](const Assessment* x, const Assessment* y) {
    const double ux = Urgency(*x), uy = Urgency(*y);
    if (ux != uy) return ux < uy;
    // Equally urgent (both short already): the most starved first.
    const auto available = [](const Assessment& a) {
      return a.fresh ? a.input->report->available_bytes : kMaxMemoryBytes;
    };
    return available(*x) < available(*y);
  });
  for (Assessment* a : relief_) {
    const int64_t grant =
        std::clamp<int64_t>(a->target - a->actual, 0, std::max<int64_t>(0, relief_budget_));
    unmet_relief_ += a->target - a->actual - grant;
    if (grant < a->target - a->actual) {
      a->explanation +=
          absl::StrCat(" (limited to ", FormatBytes(grant), " by the host's minimum available of ",
                       FormatBytes(host_policy_.min_available_bytes()), ")");
    }
    a->target = a->actual + grant;
    relief_budget_ -= grant;
  }
}

void Cycle::GiveBackToStale() {
  int64_t stale_budget = std::min(relief_budget_, free_ - reserve_);
  for (Assessment* a : stale_give_back_) {
    const int64_t grant =
        std::clamp<int64_t>(a->target - a->actual, 0, std::max<int64_t>(0, stale_budget));
    unmet_stale_ += a->target - a->actual - grant;
    a->target = a->actual + grant;
    stale_budget -= grant;
  }
}

void Cycle::Reclaim() {
  if (out_.host != HostCondition::kShort && unmet_relief_ == 0 && unmet_stale_ == 0) return;
  // A short host is taken a quarter of its reserve past it, so the next cycles hold rather than
  // trim again at every small change.
  int64_t needed =
      (out_.host == HostCondition::kShort && free_ < reserve_ ? reserve_ - free_ + reserve_ / 4
                                                              : 0) +
      unmet_relief_ + unmet_stale_;
  if (needed == 0) needed = policy_.max_shrink_step_bytes();  // PSI high with memory available
  const bool lend_headroom = unmet_relief_ > 0;
  std::vector<Assessment*> donors;
  std::vector<bool> lending_relief;  // a donor relieved a moment ago: keeps its peak + headroom
  std::vector<int64_t> bases, wants;
  std::vector<double> weights;
  for (Assessment& a : all_) {
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED) continue;
    // A guest relieved a moment ago keeps what it got, unless others run out meanwhile (a storm):
    // then it lends what it got beyond its peak use and headroom (relief gave ahead of growth that
    // may have stopped since), never its headroom.
    const absl::string_view why_not = WhyNotDonor(a, now_);
    const bool just_relieved = why_not == kJustRelieved;
    if (!why_not.empty() && !(lend_headroom && just_relieved)) continue;
    if (lend_headroom && !just_relieved) {
      a.floor = std::max(
          std::min(a.settings.min_bytes(), a.ceiling),
          a.used + a.settings.low_watermark_bytes() + a.overhead + Deadband(policy_, a.actual));
    }
    // A shrink still on its way counts as done: the step is measured from where the balloon goes.
    const int64_t base = enforce_ && a.memory.pending_target
                             ? std::min(a.actual, *a.memory.pending_target)
                             : a.actual;
    const int64_t excess = base - a.floor;
    if (excess <= Deadband(policy_, a.actual)) continue;
    donors.push_back(&a);
    lending_relief.push_back(just_relieved);
    bases.push_back(base);
    wants.push_back(std::min(excess, policy_.max_shrink_step_bytes()));
    weights.push_back(static_cast<double>(excess) * 1000.0 / a.settings.shares());
  }
  // The largest excess per share gives first, each up to its step: as few guests as possible
  // are touched per cycle, and more shares mean giving later.
  std::vector<size_t> order(donors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return weights[x] > weights[y]; });
  std::vector<int64_t> taken(donors.size(), 0);
  for (size_t i : order) {
    if (needed <= 0) break;
    taken[i] = std::min(wants[i], needed);
    needed -= taken[i];
  }
  const std::string why =
      out_.host == HostCondition::kShort
          ? absl::StrCat(
                "the host had ", FormatBytes(host_.available_bytes), " available",
                host_.reserved_bytes > 0 ? absl::StrCat(" (", FormatBytes(host_.reserved_bytes),
                                                        " of it reserved for VMs to come)")
                                         : "",
                psi_high_
                    ? absl::StrFormat(" and memory pressure %.1f%%", *host_.pressure_some_avg10)
                    : "",
                " (reserve ", FormatBytes(reserve_), ")")
          : absl::StrCat("other guests need ", FormatBytes(unmet_relief_ + unmet_stale_),
                         " the host cannot give");
  for (size_t i = 0; i < donors.size(); ++i) {
    Assessment& a = *donors[i];
    if (taken[i] <= 0) continue;
    Propose(a, bases[i] - taken[i], v1::DECISION_REASON_HOST_RECLAIM,
            absl::StrCat(
                why, ": took ", FormatBytes(taken[i]), " from ", a.input->name, ", shrunk from ",
                FormatBytes(bases[i]), " toward its floor of ", FormatBytes(a.floor),
                lending_relief[i] ? absl::StrCat(" (relieved a moment ago: keeps its peak use ",
                                                 FormatBytes(a.memory.peak_used), " + headroom ",
                                                 FormatBytes(a.headroom), ")")
                : lend_headroom   ? absl::StrCat(" (use ", FormatBytes(a.used),
                                                 " + low watermark, lending its headroom)")
                                  : absl::StrCat(" (use ", FormatBytes(a.used), " + headroom ",
                                                 FormatBytes(a.headroom), ")")));
  }
}

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
absl::Duration FoundWorkingSet(DomainMemory& m, int64_t working_set, absl::Duration interval,
                               absl::Time now) {
  m.working_set = working_set;
  m.working_set_at = m.last_backoff = now;
  m.probe_backoffs = std::min(m.probe_backoffs + 1, 8);
  const absl::Duration pause =
      std::min(absl::Minutes(10), 6 * interval * (1 << (m.probe_backoffs - 1)));
  m.probe_paused_until = now + pause;
  return pause;
}

void Cycle::Probe() {
  if (out_.host == HostCondition::kShort) return;  // reclaim acts for the host; probes wait
  for (Assessment& a : all_) {
    DomainMemory& m = a.memory;
    // Refaults are measured between two reports: a step is watched for two at least.
    const absl::Duration interval =
        std::max(FromProtoDuration(policy_.probe_interval()), 2 * a.input->stats_period);
    // Relief and bounds came first; a guest given memory starts probing anew from there.
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED) {
      if (a.target <= a.actual) continue;
      if (a.reason == v1::DECISION_REASON_GUEST_PRESSURE && a.pressure_from_rates &&
          m.probe_taken > 0) {
        // Refaults too many for probing's own back-off, after probing took memory: relief gave
        // it back, and this is where the working set begins, as a back-off would have found.
        const absl::Duration pause =
            FoundWorkingSet(m, a.actual + std::min(ProbeStep(a), m.probe_taken), interval, now_);
        a.explanation += absl::StrCat("; probing had taken ", FormatBytes(m.probe_taken),
                                      ": its working set is about ", FormatBytes(*m.working_set),
                                      ", probed again in ", absl::FormatDuration(pause));
        m.probe_taken = 0;
        continue;
      }
      m.probe_taken = m.probe_backoffs = 0;
      continue;
    }
    if (!a.settings.probe() || !WhyNotDonor(a, now_).empty() || !m.rates_known) continue;
    if (enforce_ && m.pending_target) continue;  // the last step is still on its way
    const double refaults = RefaultsPerSecond(m);
    const double tolerated = a.settings.probe_major_faults_per_second();
    const int64_t step = ProbeStep(a);
    if (refaults > tolerated) {
      // Only refaults the probing may have caused: a guest that faults at the size it was given
      // (streaming reads) is left as it is. Rates lag a report behind a move: one back-off per
      // interval.
      if (m.probe_taken <= 0 || now_ - m.last_backoff < interval) continue;
      const int64_t give =
          std::min({m.probe_taken, std::max(4 * step, a.actual / 10), a.ceiling - a.actual});
      const absl::Duration pause =
          FoundWorkingSet(m, a.actual + std::min(step, m.probe_taken), interval, now_);
      m.probe_taken -= give;
      if (give <= 0) continue;
      Propose(a, a.actual + give, v1::DECISION_REASON_PROBE_BACKOFF,
              absl::StrFormat("probing %s: %.1f refaults/s at %s, over its target of %.1f/s: its "
                              "working set is about %s; gave back %s at once (to %s) and probes "
                              "again in %s",
                              a.input->name, refaults, FormatBytes(a.actual), tolerated,
                              FormatBytes(*m.working_set), FormatBytes(give),
                              FormatBytes(a.actual + give), absl::FormatDuration(pause)));
      continue;
    }
    if (now_ < m.probe_paused_until || now_ - m.last_probe < interval) continue;
    // A guest whose use grows by a step per interval needs what it has: probing waits.
    if (m.used_growth_bytes_per_second * absl::ToDoubleSeconds(interval) >
        static_cast<double>(step)) {
      continue;
    }
    // A working set found by refaults is not probed below again until it is old: each look
    // below it costs refaults.
    const bool known =
        m.working_set && *m.working_set > a.floor && now_ - m.working_set_at < kWorkingSetTrusted;
    const int64_t taken = std::min(step, a.actual - (known ? *m.working_set : a.floor));
    if (taken < 4 * kMiB) {
      // Down to its floor without refaults: it needs no more than that.
      if (!known && (!m.working_set || *m.working_set != a.floor)) {
        m.working_set = a.floor;
        m.working_set_at = now_;
      }
      continue;
    }
    m.last_probe = now_;
    // Observed, the balloon stays where it is: the proposal is one step from there each time.
    m.probe_taken = enforce_ ? m.probe_taken + taken : taken;
    Propose(a, a.actual - taken, v1::DECISION_REASON_PROBE,
            absl::StrFormat("probing %s: %.1f refaults/s at %s (target %.1f/s) for the last %s: "
                            "one step smaller, %s less (to %s; floor %s)",
                            a.input->name, refaults, FormatBytes(a.actual), tolerated,
                            absl::FormatDuration(interval), FormatBytes(taken),
                            FormatBytes(a.actual - taken), FormatBytes(a.floor)));
  }
}

void Cycle::GiveBackWhenComfortable() {
  if (out_.host != HostCondition::kComfortable) return;
  int64_t granted = 0;
  for (const Assessment* a : relief_) granted += a->target - a->actual;
  const int64_t surplus = free_ - comfortable_available_ - granted - Deadband(policy_, 0);
  std::vector<Assessment*> takers;
  std::vector<int64_t> wants;
  std::vector<double> weights;
  for (Assessment& a : all_) {
    // What probing found idle stays with the host; a probed guest that needs it refaults, and
    // probing gives it back.
    if (!a.eligible || a.held || a.reason != v1::DECISION_REASON_UNSPECIFIED ||
        a.actual >= GiveBackCeiling(a) || a.settings.probe())
      continue;
    takers.push_back(&a);
    wants.push_back(std::min(GiveBackCeiling(a) - a.actual, policy_.max_grow_step_bytes()));
    weights.push_back(a.settings.shares());
  }
  const std::vector<int64_t> given = Share(std::max<int64_t>(0, surplus), wants, weights);
  for (size_t i = 0; i < takers.size(); ++i) {
    Assessment& a = *takers[i];
    if (given[i] <= 0) continue;
    Propose(a, a.actual + given[i], v1::DECISION_REASON_HOST_GIVE_BACK,
            absl::StrCat(
                "the host was comfortable (", FormatBytes(host_.available_bytes), " available, ",
                absl::StrFormat("%.0f%%", 100 * host_policy_.target_used_fraction()),
                " use target): gave ", a.input->name, " ", FormatBytes(given[i]), " back, from ",
                FormatBytes(a.actual), " toward its maximum of ", FormatBytes(GiveBackCeiling(a))));
  }
}

bool Cycle::Moving(const Assessment& a, int next_every) const {
  const DomainMemory& m = a.memory;
  if (out_.host == HostCondition::kShort || a.pressure || !m.rates_known ||
      a.reason != v1::DECISION_REASON_UNSPECIFIED || m.pending_target ||
      now_ - m.relieved_at < kReliefHold || m.actual_since == now_) {
    return true;
  }
  // A probe step is being watched: its refaults must be seen within the interval.
  if (a.settings.probe() &&
      now_ - m.last_probe <
          2 * std::max(FromProtoDuration(policy_.probe_interval()), 2 * a.input->stats_period)) {
    return true;
  }
  // Swapping, or faulting at a tenth of the pressure threshold: the guest needs its page cache.
  if (m.swap_in_bytes_per_second > 0 ||
      m.major_faults_per_second > a.settings.major_faults_per_second() / 10) {
    return true;
  }
  // Use growing enough to bring MemAvailable near the low watermark within the longer wait.
  const double wait = absl::ToDoubleSeconds(a.input->stats_period) * (next_every + 1);
  const double projected = static_cast<double>(a.input->report->available_bytes) -
                           std::max(0.0, m.used_growth_bytes_per_second) * wait;
  return projected < static_cast<double>(a.settings.low_watermark_bytes() + a.headroom);
}

void Cycle::PlanCollection() {
  const int most = policy_.max_collect_interval_periods();
  for (Assessment& a : all_) {
    int& every = a.memory.collect_every;
    const int longer = std::min(most, every * 2);
    if (!a.input->actual_bytes || a.input->activity != Activity::kRunning ||
        !a.settings.enabled()) {
      every = most;  // nothing to act on; its lifecycle and balloon events bring it back
    } else if (!a.fresh) {
      every = longer;  // no report yet, or reports stopped: looked at less and less often
    } else {
      every = Moving(a, longer) ? 1 : longer;
    }
    out_.collect_every[a.input->uuid] = every;
  }
}

Outcome Cycle::Publish() {
  for (Assessment& a : all_) {
    if (!a.input->actual_bytes) continue;
    DomainMemory& m = a.memory;
    // A probe's small steps are the point of it: the deadband does not apply to them.
    const bool probing =
        a.reason == v1::DECISION_REASON_PROBE || a.reason == v1::DECISION_REASON_PROBE_BACKOFF;
    const int64_t deadband = probing ? 0 : Deadband(policy_, a.actual);
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED && std::abs(a.target - a.actual) > deadband) {
      const int64_t already =
          enforce_ ? m.pending_target.value_or(-1) : m.last_proposed.value_or(-1);
      const bool repeat = already >= 0 && std::abs(already - a.target) <= deadband;
      if (!repeat) {
        Decision d;
        d.uuid = a.input->uuid;
        d.name = a.input->name;
        d.previous_bytes = a.actual;
        d.target_bytes = a.target;
        d.reason = a.reason;
        d.explanation = a.explanation;
        d.inputs = Inputs(a, host_, reserve_);
        d.hold_overridden = a.hold_overridden;
        SplitDecision(a, d);
        out_.decisions.push_back(std::move(d));
        if (a.reason == v1::DECISION_REASON_GUEST_PRESSURE) {
          m.relieved_at = now_;
          if (a.pressure_from_rates) m.rate_reliefs = std::min(m.rate_reliefs + 1, 8);
        }
        if (enforce_) {
          m.pending_target = a.target;
          m.actual_when_sent = a.actual;
          m.sent_at = now_;
        } else {
          m.last_proposed = a.target;
        }
      }
    } else if (!enforce_ && !a.settings.probe()) {
      // (An observed probe's proposal stands between its intervals: it is not made again.)
      m.last_proposed.reset();
    }
    out_.state.domains[a.input->uuid] = m;
  }
  return std::move(out_);
}

}  // namespace

Outcome Decide(const v1::Policy& raw_policy, const HostInput& raw_host,
               const std::vector<DomainInput>& raw_domains, const State& state, absl::Time now) {
  const v1::Policy policy = WithDefaults(raw_policy);
  if (policy.mode() == v1::POLICY_MODE_OFF) {
    Outcome off;
    off.state = state;
    return off;
  }
  const HostInput host = SaneHost(raw_host);
  const std::vector<DomainInput> domains = SaneDomains(raw_domains);
  Cycle cycle(policy, host, domains, now);
  cycle.ClassifyHost();
  cycle.AssessDomains(state);
  cycle.WatchHotplug();
  cycle.WatchBalloons();
  cycle.GrantRelief();
  cycle.GiveBackToStale();
  cycle.Reclaim();
  cycle.Probe();
  cycle.GiveBackWhenComfortable();
  cycle.PlanCollection();
  return cycle.Publish();
}

}  // namespace balloond::policy
