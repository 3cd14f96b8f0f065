#ifndef BALLOOND_TESTS_SIM_MODEL_H_
#define BALLOOND_TESTS_SIM_MODEL_H_

// A deterministic model of a host, its guests and their balloons, stepped in 100 ms ticks, for
// racing ballooning policies on workloads no test machine can host. See tests/sim/README.md.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/policy.h"
#include "policy/sizes.h"

namespace balloond::sim {

// A piecewise-linear function of time: (seconds, MiB) points; repeats every `repeat_s` if set.
struct Trace {
  std::vector<std::pair<double, double>> points;
  double repeat_s = 0;
  double At(double t) const;
};

struct GuestSpec {
  std::string name;
  int64_t max_bytes = 0;
  int64_t min_bytes = 0;
  int shares = 1000;
  int64_t swap_bytes = 1024 * kMiB;
  int64_t kernel_bytes = 40 * kMiB;  // what the guest's kernel keeps out of MemTotal
  Trace anon;                        // anonymous working set, MiB
  Trace cache;                       // file set the guest would cache if it could, MiB
  // The part of the file set the guest reads again and again (at `hot_reread_per_s` of it per
  // second), MiB: cache it cannot keep of that is read from disk again (major faults).
  Trace hot_cache;
  double hot_reread_per_s = 0.1;
  int64_t start_balloon_bytes = 0;  // 0: starts at max
  double inflate_bytes_per_s = 256.0 * kMiB;
  double deflate_bytes_per_s = 512.0 * kMiB;
  bool uncooperative = false;  // the balloon never moves
  // <memballoon autodeflate='on'>: at the edge of OOM the guest takes pages back from the balloon
  // (Linux's driver does on its OOM notifier) instead of killing a process.
  bool autodeflate = false;
  // A virtio-mem device of this size (2 MiB blocks; max_bytes is then the boot memory), and how
  // fast the guest plugs and unplugs (measured here under TCG: 1 GiB plugged in 1.3 s, 768 MiB
  // unplugged in 1.2 s). What the guest holds in memory it cannot move (booted without
  // online_movable: kernel allocations) stays plugged.
  int64_t virtio_mem_bytes = 0;
  double plug_bytes_per_s = 800.0 * kMiB;
  double unplug_bytes_per_s = 640.0 * kMiB;
  int64_t unmovable_bytes = 0;
  int64_t start_plugged_bytes = 0;  // plugged (and requested) at the start
  std::optional<double> stops_reporting_at_s;
  double phase_s = 0;  // shifts the traces (fleets of copies)
  // A guest that lies in its reports from `lies_from_s` on: "starving" claims no memory available
  // at all (it needs everything), "impossible" claims twice its MemTotal available.
  std::string lies;
  double lies_from_s = 0;
};

struct Scenario {
  std::string name;
  std::string description;
  double duration_s = 600;
  int64_t host_ram_bytes = 0;
  int64_t host_base_bytes = 1024 * kMiB;  // the host's own use
  // Swap the host pages guests' memory out to when they hold more than its RAM; beyond RAM + swap
  // the host's OOM killer ends the guest holding the most.
  int64_t host_swap_bytes = 4096 * kMiB;
  double stats_period_s = 2;
  std::vector<GuestSpec> guests;
  // For "time to relief": the guest whose spike is measured, and when the spike starts.
  std::optional<std::string> spike_guest;
  double spike_at_s = 0;
  double spike_window_s = 120;  // how long after it a guest's pressure counts as the storm's
  // Settings for balloond's policy in this scenario (its defaults otherwise), e.g. to match a test.
  balloon::v1::Policy balloond_policy;
  // Targets of this scenario's own for balloond: the share of the guests' maximum returned to the
  // host on average, the most refault pressure as a share of guest-time, and the longest a storm
  // (the spike) may take to be relieved.
  std::optional<double> expect_returned_fraction;
  std::optional<double> expect_refault_fraction;
  std::optional<double> expect_storm_relieved_s;
};

// What a policy may see of a guest: the balloon's size now (query-balloon) and the guest's latest
// report, which lags by up to a stats period.
struct GuestView {
  std::string name;
  int64_t max_bytes = 0;
  int64_t min_bytes = 0;
  int shares = 1000;
  int64_t actual_bytes = 0;  // with virtio-mem, the balloon's size + what is plugged
  // Its virtio-mem device; max_bytes is the boot memory either way (what a balloon can give).
  std::optional<policy::Hotplug> hotplug;
  bool autodeflate = false;
  // What the host holds of the guest (what the agent reads as its QEMU's resident memory).
  int64_t resident_bytes = 0;
  std::optional<policy::GuestReport> report;
  absl::Duration stats_period;
  // Not reported: how much the guest's memory use has changed so far (anonymous and cache, either
  // way), a counter. The stand-in for the CPU time of its QEMU, which balloond sees every period
  // without asking QEMU: memory does not change without CPU.
  int64_t memory_work_bytes = 0;
};

struct HostView {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;
};

class SimPolicy {
 public:
  virtual ~SimPolicy() = default;
  virtual std::string name() const = 0;
  virtual absl::Duration period() const = 0;
  // New balloon targets, by guest index; guests not named keep their target.
  virtual std::map<size_t, int64_t> Cycle(const HostView& host,
                                          const std::vector<GuestView>& guests, absl::Time now) = 0;
  // The virtio-mem requested sizes the last cycle set, by guest index (a policy that drives
  // virtio-mem; the others move balloons only).
  virtual std::map<size_t, int64_t> TakeRequests() { return {}; }
};

struct Metrics {
  double reclaimed_mean_bytes = 0;  // mean over time of Σ(max − balloon)
  // Σ over guests of time swapping or nearly out of memory in the guest, or with part of the
  // memory it uses swapped out by the host.
  double pressure_seconds = 0;
  std::map<std::string, double> pressure_seconds_by_guest;
  double host_swap_seconds = 0;  // the part of pressure_seconds the host's swapping caused
  // The part of pressure_seconds the guests spent waiting for their hot page cache to be read from
  // disk again (refaults), counted as the fraction of each tick a guest stalls.
  double refault_seconds = 0;
  // Guest-seconds run: refault_seconds over this is the share of guest-time lost to refaults.
  double guest_seconds = 0;
  // Memory the balloons kept from the guests against giving every guest its maximum, integrated
  // over the run: GiB·hours the host had for other use.
  double returned_gib_hours = 0;
  // pressure_seconds from the end of the first minute on: what remains once the guests have started
  // (scenarios that start guests touching more than the host has leave every policy the same
  // start).
  double pressure_seconds_after_first_minute = 0;
  int oom_kills = 0;                               // the guests' OOM killers and the host's
  int host_oom_kills = 0;                          // guests the host's OOM killer ended
  double overcommit_seconds = 0;                   // time the guests held more than the host has
  std::optional<double> time_to_relief_s;          // spike scenarios; nullopt when never relieved
  std::optional<double> first_grow_after_spike_s;  // when the spiking guest was first given memory
  // Spike scenarios: when the last guest under pressure within spike_window_s of the spike was
  // relieved, from the spike's start (a storm relieved); 0 when none was under pressure.
  std::optional<double> storm_relieved_s;
  // What each guest had plugged by virtio-mem at the end, and its balloon's size.
  std::map<std::string, double> end_plugged_by_guest;
  std::map<std::string, double> end_balloon_by_guest;
  int commands = 0;   // balloon targets sent
  int reversals = 0;  // grow after shrink or shrink after grow, per guest
};

// A line per policy cycle from from_s to to_s (scenario time): the host's MemAvailable and, per
// guest, its balloon, its anonymous memory, the MemAvailable of its last report and the target
// sent ("desk-1 1536/1300 a160->1500"), with `*` before a guest under pressure: what a storm
// looks like cycle by cycle.
struct CycleLog {
  std::ostream* out = nullptr;
  double from_s = 0;
  double to_s = 0;
};

// One host of the model with its guests, stepped a tick (100 ms) at a time; guests may come and go
// (fleets). Simulate runs one through a scenario.
class HostModel {
 public:
  // The host of `scenario`, with the scenario's guests, under `policy` (both outlive it).
  HostModel(const Scenario& scenario, SimPolicy& policy);
  ~HostModel();
  HostModel(const HostModel&) = delete;
  HostModel& operator=(const HostModel&) = delete;

  // A guest that starts now, at its start_balloon (its maximum by default), its traces as given:
  // shift them with phase_s to start them now. Names must be unique on the host.
  void AddGuest(GuestSpec spec);
  // The guest leaves: it holds nothing from now on and the policy no longer sees it.
  void RemoveGuest(const std::string& name);
  void Step();
  double now() const;
  // The host's MemAvailable as of the last step.
  int64_t available_bytes() const;
  // Logs its policy cycles within the log's window from now on.
  void LogCyclesTo(const CycleLog& log);
  Metrics Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Metrics Simulate(const Scenario& scenario, SimPolicy& policy, const CycleLog& log = {});

}  // namespace balloond::sim

#endif  // BALLOOND_TESTS_SIM_MODEL_H_
