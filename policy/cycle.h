#ifndef BALLOOND_POLICY_CYCLE_H_
#define BALLOOND_POLICY_CYCLE_H_

// What one cycle of the policy reads (the host, its domains), remembers between cycles (State) and
// decides (Outcome). Decide, in policy.h, is the function from the first two to the third.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond::policy {

enum class Activity { kRunning, kPaused, kMigrating, kShuttingDown, kOther };

// One report of a guest's virtio-balloon driver.
struct GuestReport {
  int64_t total_bytes = 0;               // MemTotal
  int64_t available_bytes = 0;           // MemAvailable
  int64_t free_bytes = 0;                // MemFree
  std::optional<int64_t> swap_in_bytes;  // cumulative
  std::optional<int64_t> major_faults;   // cumulative
  absl::Time last_update;                // when the guest reported (QEMU's last-update)
};

// A virtio-mem device of the guest: memory plugged in blocks beyond what it booted with.
struct Hotplug {
  int64_t plugged_bytes = 0;    // what the guest has plugged
  int64_t requested_bytes = 0;  // what it was asked to have plugged
  int64_t size_bytes = 0;       // the most it can plug
  int64_t block_bytes = 2 << 20;
};

struct DomainInput {
  std::string uuid;
  std::string name;
  Activity activity = Activity::kRunning;
  // The most it may have: its boot memory, plus its virtio-mem device's size.
  int64_t max_memory_bytes = 0;
  // What the guest has: the balloon's size (query-balloon), plus what its virtio-mem device
  // plugged; absent when the domain has no balloon.
  std::optional<int64_t> actual_bytes;
  // Its virtio-mem device (the first, if it has more): the policy decides what the guest should
  // have in all, and SplitMove (policy/hotplug.h) makes that of the balloon and the device.
  std::optional<Hotplug> hotplug;
  // Whether the domain's definition was read. Before, whether it has a virtio-mem device (and so
  // what its boot memory is) is not known: it counts toward the host's figures, but the policy
  // does not move it.
  bool definition_read = true;
  // Absent when the guest has not reported.
  std::optional<GuestReport> report;
  absl::Duration stats_period = absl::Seconds(2);
  // An operator's hold: until then the policy leaves the balloon alone, unless the guest is under
  // pressure (the decision then says the hold was overridden).
  std::optional<absl::Time> held_until;
  // <memballoon autodeflate='on'>: QEMU takes pages back from the balloon when the guest is about
  // to run out of memory, so a balloon that grows by itself is a guest under pressure.
  bool autodeflate = false;
  // What the host holds of the domain (its QEMU's resident memory), when known. What the balloon
  // gives the guest beyond it is promised but not backed: the guest may touch it at any time, and
  // the host's MemAvailable does not show it.
  std::optional<int64_t> resident_bytes;
};

struct HostInput {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
  // Memory PSI "some" avg10, percent, where the kernel has it.
  std::optional<double> pressure_some_avg10;
  // Promised to reservations (room made for VMs to come): the policy keeps it free as if it were
  // used, and gives it to a guest only to stop an OOM. While there are reservations, what guests
  // were given but have not touched (UnbackedBytes) counts as used too: they could take it back
  // by touching it, and no room is promised twice.
  int64_t reserved_bytes = 0;
};

// What the domain's balloon gives it beyond what the host holds of it (0 without a balloon; all of
// the balloon while what the host holds is unknown), and the sum over domains.
int64_t UnbackedBytes(const DomainInput& domain);
int64_t UnbackedBytes(const std::vector<DomainInput>& domains);

// What the policy remembers of one domain between cycles.
struct DomainMemory {
  std::optional<GuestReport> last_report;
  double used_growth_bytes_per_second = 0;
  double swap_in_bytes_per_second = 0;
  double major_faults_per_second = 0;
  bool rates_known = false;  // two reports seen: the rates above mean something
  // The major faults and swap-ins (as pages) per second the report before the last showed.
  double previous_refaults_per_second = 0;
  // Where the rates' interval begins (the report before the last): rates over an interval that
  // began before the guest was last relieved still count the time before the relief.
  absl::Time rates_from = absl::InfinitePast();
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
  // Uncooperative balloons are left alone until backoff_until; strikes double the backoff.
  int strikes = 0;
  absl::Time backoff_until = absl::InfinitePast();
  // When the guest was last given memory for pressure; host reclaim leaves it alone for a while,
  // and keeps the peak of its use since then as its floor (a job that comes back finds its memory).
  absl::Time relieved_at = absl::InfinitePast();
  int64_t peak_used = 0;
  // Reliefs in a row for swapping or faulting that went on after each: each grants twice the last.
  int rate_reliefs = 0;
  // The last decision published in observe mode, so the same proposal is not repeated each cycle.
  std::optional<int64_t> last_proposed;
  // How many stats periods apart the domain is collected now (see Outcome::collect_every).
  int collect_every = 1;
  // Held by an operator at the last cycle: a new hold replaces whatever the policy had on its way.
  bool held = false;
  // Probing (DomainPolicy.probe): when the last step was taken, no step before probe_paused_until
  // (after a back-off), and what it found: the size at which refaults rose, and when.
  absl::Time last_probe = absl::InfinitePast();
  absl::Time probe_paused_until = absl::InfinitePast();
  std::optional<int64_t> working_set;
  absl::Time working_set_at = absl::InfinitePast();
  // What probing has taken since it last found the working set: the most a back-off gives back.
  int64_t probe_taken = 0;
  // Back-offs in a row (each doubles the pause before the next probe); relief starts anew.
  int probe_backoffs = 0;
  absl::Time last_backoff = absl::InfinitePast();
  // virtio-mem: the plugged size last seen and since when; a guest that kept memory plugged it
  // was asked to unplug is unplugged from no more until unplug_refused_until (the balloon acts).
  int64_t seen_plugged = -1;
  absl::Time plugged_since = absl::InfinitePast();
  absl::Time unplug_refused_until = absl::InfinitePast();
};

struct State {
  std::map<std::string, DomainMemory> domains;  // by UUID
};

struct Decision {
  std::string uuid;
  std::string name;
  int64_t previous_bytes = 0;
  int64_t target_bytes = 0;
  balloon::v1::DecisionReason reason = balloon::v1::DECISION_REASON_UNSPECIFIED;
  std::string explanation;
  balloon::v1::DecisionInputs inputs;
  bool hold_overridden = false;
  // How the move is made: the balloon's target, and a virtio-mem device's new requested size
  // (absent when it stays as it is, or the guest has none).
  int64_t balloon_target_bytes = 0;
  std::optional<int64_t> requested_bytes;
};

enum class HostCondition { kShort, kNeutral, kComfortable };

struct Outcome {
  std::vector<Decision> decisions;
  State state;
  HostCondition host = HostCondition::kNeutral;
  // By UUID: how many stats periods may pass before the domain's statistics are needed again. 1
  // while anything about it moves; doubling, up to the policy's max_collect_interval_periods, while
  // it stays steady; the maximum for a domain the policy does not act on (paused, migrating,
  // disabled). Domains not named are collected every period.
  std::map<std::string, int> collect_every;
};

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_CYCLE_H_
