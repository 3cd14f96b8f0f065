#ifndef BALLOOND_POLICY_KSM_H_
#define BALLOOND_POLICY_KSM_H_

// balloond's KSM controller: whether ksmd runs and at what pace, from where the host stands and
// what merging gained in its last full scan. Pure, like Decide: the agent reads
// /sys/kernel/mm/ksm, hands it here, and writes back what this decides (README, "Page sharing").

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/standing.h"

namespace balloond::policy {

// KSM's knobs: /sys/kernel/mm/ksm/{run, pages_to_scan, sleep_millisecs}.
struct KsmKnobs {
  int run = 0;  // 0 stopped, 1 running, 2 unmerge everything
  int64_t pages_to_scan = 0;
  int64_t sleep_millisecs = 0;
  bool operator==(const KsmKnobs& o) const {
    return run == o.run && pages_to_scan == o.pages_to_scan && sleep_millisecs == o.sleep_millisecs;
  }
  bool operator!=(const KsmKnobs& o) const { return !(*this == o); }
};

// /sys/kernel/mm/ksm as the agent read it.
struct KsmReading {
  KsmKnobs knobs;
  int64_t pages_shared = 0;
  int64_t pages_sharing = 0;  // what merging saves, in pages
  int64_t full_scans = 0;
  std::optional<int64_t> pages_scanned;         // cumulative; newer kernels only
  std::optional<int64_t> general_profit_bytes;  // newer kernels only
  int64_t page_bytes = 4096;

  // What merging saves the host: general_profit where the kernel has it.
  int64_t SavedBytes() const { return general_profit_bytes.value_or(pages_sharing * page_bytes); }
};

// What the controller remembers between cycles.
struct KsmHistory {
  static constexpr int kMinutes = 10;
  // The knobs as balloond found them before it first changed them: put back when it stops
  // managing KSM. Absent while it does not manage it.
  std::optional<KsmKnobs> found;
  // The knobs it set last (what it expects to read).
  std::optional<KsmKnobs> set;
  // At the last full scan looked at: its count, pages_sharing, pages_scanned then, and when.
  int64_t scans_seen = -1;
  int64_t sharing_then = 0;
  std::optional<int64_t> scanned_then;
  absl::Time scan_seen_at = absl::InfinitePast();
  // Full scans in a row that gained (almost) nothing; after kIdleScans of them at the slowest pace
  // ksmd rests until resting_until.
  int idle_scans = 0;
  absl::Time resting_until = absl::InfinitePast();
  // Whether the host counts as nearly short (with hysteresis: in below twice the reserve, out
  // above two and a half times).
  bool nearly_short = false;
  std::string explanation;
  absl::Time changed_at = absl::InfinitePast();

  // The least saving of each minute for the last kMinutes, and since when it has been watched.
  absl::Time watched_since = absl::InfinitePast();
  int64_t least[kMinutes] = {};
  absl::Time minute_start[kMinutes];

  void TrackSaving(int64_t saved_bytes, absl::Time now);
  // The least saved in the last kMinutes (0 until watched that long): what has lasted.
  int64_t LastingSavedBytes(absl::Time now) const;
};

struct KsmOutcome {
  // The knobs to write, when they change; why.
  std::optional<KsmKnobs> write;
  balloon::v1::KsmState state = balloon::v1::KSM_STATE_UNSPECIFIED;
  KsmHistory history;
};

// One cycle of the controller under `host_policy` (full). `manages`: the policy is on (observe or
// enforce); with the policy off KSM is left alone, as with mode off. `standing`: where the host
// stands this cycle.
KsmOutcome DecideKsm(const balloon::v1::HostPolicy& host_policy, bool manages,
                     const HostStanding& standing, const KsmReading& reading,
                     const KsmHistory& history, absl::Time now);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_KSM_H_
