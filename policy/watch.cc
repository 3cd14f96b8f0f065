#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/durations.h"
#include "policy/hotplug.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

namespace {

constexpr absl::Duration kBaseBackoff = absl::Seconds(30);
// How long a guest that would not unplug virtio-mem memory is not asked to unplug again.
constexpr absl::Duration kUnplugRefusedFor = absl::Minutes(10);

}  // namespace

void WatchHotplug(CycleContext& c) {
  for (Assessment& a : c.all) {
    const std::optional<Hotplug>& h = a.input->hotplug;
    if (!h || !a.input->actual_bytes) continue;
    DomainHistory& m = a.history;
    if (h->plugged_bytes != m.unplug.seen_plugged) {
      m.unplug.seen_plugged = h->plugged_bytes;
      m.unplug.plugged_since = c.now;
    }
    if (h->requested_bytes != m.unplug.seen_requested) {
      m.unplug.seen_requested = h->requested_bytes;
      m.unplug.requested_since = c.now;
    }
    // Unplugging goes on while the plugged size falls; the guest retries by itself what it could
    // not unplug yet, so a size that stood still a while is all the guest will give. The while
    // counts from the request too: memory plugged long ago stood still only until it was asked.
    // Reported once: until the device's new request is seen, it still shows the old one.
    const absl::Time still_since = std::max(m.unplug.plugged_since, m.unplug.requested_since);
    if (!c.enforce || a.input->activity != Activity::kRunning ||
        h->requested_bytes >= h->plugged_bytes || c.now < m.unplug.refused_until ||
        c.now - still_since < FromProtoDuration(c.policy.cooperation_timeout())) {
      continue;
    }
    m.unplug.refused_until = c.now + kUnplugRefusedFor;
    m.following.pending_target.reset();
    a.eligible = false;
    Decision d = MakeDecision(
        c, a, v1::DECISION_REASON_UNPLUG_REFUSED,
        absl::StrCat(
            a.input->name, " kept ", FormatBytes(h->plugged_bytes),
            " of virtio-mem memory plugged for ",
            absl::FormatDuration(absl::Trunc(c.now - still_since, absl::Seconds(1))),
            " when asked for ", FormatBytes(h->requested_bytes),
            " (memory it cannot move out of its blocks: was it booted without "
            "memhp_default_state=online_movable?): asked for what it kept, so it stops trying; its "
            "balloon takes memory from it instead for ",
            absl::FormatDuration(kUnplugRefusedFor)));
    d.balloon_target_bytes = BalloonBytes(*a.input);
    d.requested_bytes = h->plugged_bytes;
    c.out.decisions.push_back(std::move(d));
  }
}

void WatchBalloons(CycleContext& c) {
  for (Assessment& a : c.all) {
    if (!a.input->actual_bytes) continue;
    a.target = a.actual;
    DomainHistory& m = a.history;
    if (a.held && !m.following.held) {
      // A new hold: the operator's target replaced the policy's, nothing of the policy's is on
      // its way (a relief sent while held is, and is followed like any other).
      m.following.pending_target.reset();
      m.following.last_proposed.reset();
    }
    m.following.held = a.held;
    if (!c.enforce || !m.following.pending_target || a.input->activity != Activity::kRunning)
      continue;
    const int64_t target = *m.following.pending_target;
    const int64_t remaining = std::abs(a.actual - target);
    if (remaining <= Deadband(c.policy, a.actual)) {
      m.following.pending_target.reset();
      m.backoff.strikes = 0;
      continue;
    }
    if (a.held) continue;  // the operator may have moved it since: not the policy's to judge
    if (c.now - m.following.sent_at < FromProtoDuration(c.policy.cooperation_timeout())) continue;
    const int64_t wanted = std::abs(m.following.actual_when_sent - target);
    if (remaining * 2 <= wanted) continue;  // more than halfway: slow but moving
    m.backoff.strikes += 1;
    const absl::Duration backoff =
        std::min(FromProtoDuration(c.policy.max_backoff()),
                 kBaseBackoff * (1 << std::min(m.backoff.strikes - 1, 16)));
    m.backoff.until = c.now + backoff;
    m.following.pending_target.reset();
    a.backing_off = true;
    a.eligible = false;
    Decision d = MakeDecision(
        c, a, v1::DECISION_REASON_UNCOOPERATIVE,
        absl::StrCat(
            a.input->name, "'s balloon stayed at ", FormatBytes(a.actual), " for ",
            absl::FormatDuration(absl::Trunc(c.now - m.following.sent_at, absl::Seconds(1))),
            " instead of moving to ", FormatBytes(target), ": target reset to ",
            FormatBytes(a.actual), ", not counted as reclaimed, left alone for ",
            absl::FormatDuration(backoff), " (strike ", m.backoff.strikes, ")"));
    SplitDecision(c, a, d);
    c.out.decisions.push_back(std::move(d));
  }
}

}  // namespace balloond::policy
