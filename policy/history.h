#ifndef BALLOOND_POLICY_HISTORY_H_
#define BALLOOND_POLICY_HISTORY_H_

// What the policy remembers of each domain from one cycle to the next (State), in parts named
// after what each follows.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "policy/inputs.h"

namespace balloond::policy {

// How the guest's use and its refaults change, from its last two reports.
struct Rates {
  std::optional<GuestReport> last_report;
  double used_growth_bytes_per_second = 0;
  double swap_in_bytes_per_second = 0;
  double major_faults_per_second = 0;
  bool known = false;  // two reports seen: the rates above mean something
  // The major faults and swap-ins (as pages) per second the report before the last showed.
  double previous_refaults_per_second = 0;
  // Where the rates' interval begins (the report before the last): rates over an interval that
  // began before the guest was last relieved still count the time before the relief.
  absl::Time from = absl::InfinitePast();
};

// The balloon's size, and the targets it was given, as they move.
struct Following {
  // The guest kernel's share of the balloon (balloon size − MemTotal), from a report taken after
  // the balloon last settled: while it moves, MemTotal lags and the difference means nothing.
  std::optional<int64_t> kernel_bytes;
  int64_t seen_actual = -1;
  absl::Time actual_since = absl::InfinitePast();
  // The balloon's size at the last cycle, fresh statistics or not.
  int64_t last_actual = -1;
  // The last target sent to QEMU (enforce), while the balloon is still on its way.
  std::optional<int64_t> pending_target;
  int64_t actual_when_sent = 0;
  absl::Time sent_at;
  // The last decision published in observe mode, so the same proposal is not repeated each cycle.
  std::optional<int64_t> last_proposed;
  // Held by an operator at the last cycle: a new hold replaces whatever the policy had on its way.
  bool held = false;
};

// Uncooperative balloons are left alone until `until`; strikes double the wait.
struct Backoff {
  int strikes = 0;
  absl::Time until = absl::InfinitePast();
};

// When the guest was last given memory for pressure; host reclaim leaves it alone for a while, and
// keeps the peak of its use since then as its floor (a job that comes back finds its memory).
struct Relief {
  absl::Time at = absl::InfinitePast();
  int64_t peak_used = 0;
  // Reliefs in a row for swapping or faulting that went on after each: each grants twice the last.
  int rate_reliefs = 0;
};

// Probing (DomainPolicy.probe): when the last step was taken, no step before paused_until (after a
// back-off), and what it found: the size at which refaults rose, and when.
struct Probing {
  absl::Time last_step = absl::InfinitePast();
  absl::Time paused_until = absl::InfinitePast();
  std::optional<int64_t> working_set;
  absl::Time working_set_at = absl::InfinitePast();
  // What probing has taken since it last found the working set: the most a back-off gives back.
  int64_t taken = 0;
  // Back-offs in a row (each doubles the pause before the next probe); relief starts anew.
  int backoffs = 0;
  absl::Time last_backoff = absl::InfinitePast();
};

// The jumps in the guest's use: the largest rise between two of its reports, by hour for the last
// day, and since when it has been watched. Probing keeps room above the guest's use for the
// largest (DomainPolicy.probe_slack_fraction).
struct Jumps {
  static constexpr int kHours = 24;
  absl::Time watched_since = absl::InfinitePast();
  // [i]: the largest rise in the hour that began at hour_start[i]; a ring of kHours.
  int64_t largest[kHours] = {};
  absl::Time hour_start[kHours];

  void Add(int64_t rise, absl::Time at) {
    const int64_t hour = absl::ToUnixSeconds(at) / 3600;
    const int i = static_cast<int>(hour % kHours);
    const absl::Time start = absl::FromUnixSeconds(hour * 3600);
    if (hour_start[i] != start) hour_start[i] = start, largest[i] = 0;
    largest[i] = std::max(largest[i], rise);
  }
  // The largest rise in the last day.
  int64_t Largest(absl::Time now) const {
    int64_t most = 0;
    for (int i = 0; i < kHours; ++i) {
      if (now - hour_start[i] < absl::Hours(kHours)) most = std::max(most, largest[i]);
    }
    return most;
  }
};

// virtio-mem: the plugged and requested sizes last seen and since when; a guest that kept memory
// plugged it was asked to unplug is unplugged from no more until refused_until (the balloon acts).
struct Unplug {
  int64_t seen_plugged = -1;
  absl::Time plugged_since = absl::InfinitePast();
  int64_t seen_requested = -1;
  absl::Time requested_since = absl::InfinitePast();
  absl::Time refused_until = absl::InfinitePast();
};

struct DomainHistory {
  Rates rates;
  Following following;
  Backoff backoff;
  Relief relief;
  Probing probing;
  Jumps jumps;
  Unplug unplug;
  // How many stats periods apart the domain is collected now (see Outcome::collect_every).
  int collect_every = 1;
};

// The host's: when a guest last needed relief (granted or not) while the host had less than its
// reserve: the soft reserve is lent until HostPolicy.reserve_reclaim_after after it.
struct HostHistory {
  absl::Time storm_relief_at = absl::InfinitePast();
};

struct State {
  std::map<std::string, DomainHistory> domains;  // by UUID
  HostHistory host;
};

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_HISTORY_H_
