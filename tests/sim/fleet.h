#ifndef BALLOOND_TESTS_SIM_FLEET_H_
#define BALLOOND_TESTS_SIM_FLEET_H_

// A fleet in the simulator: hosts that each run balloond's real policy, and an orchestrator that
// places arriving VMs on them under one of three rules, to measure how many VMs a fleet fits and
// what each rule costs the guests (tests/sim/README.md, "Fleets").

#include <cstdint>
#include <string>
#include <vector>

#include "balloon/v1/balloon.pb.h"
#include "tests/sim/model.h"

namespace balloond::sim {

// A kind of VM the fleet's users start: how often among the arrivals (weight), and its guest
// model. Its traces run from the VM's start, or, with `host_clock`, on the fleet's clock (a
// diurnal peak or a login storm that every VM of the kind shares).
struct VmKind {
  std::string name;
  double weight = 1;
  GuestSpec guest;
  bool host_clock = false;
};

struct FleetScenario {
  std::string name;
  std::string description;
  double duration_s = 3600;
  uint64_t seed = 1;
  int host_count = 1;
  // Each host's RAM, its own use and swap, and balloond's settings, as in a single-host scenario
  // (host.guests empty).
  Scenario host;
  std::vector<VmKind> kinds;
  // VMs arrive one every `arrival_interval_s` on average (exponential gaps), and each lives
  // `lifetime_s` on average (exponential), or the whole run when 0.
  double arrival_interval_s = 10;
  double lifetime_s = 0;
  // How long balloond's orchestrator waits for a reservation to be READY before it refuses.
  double ready_timeout_s = 120;
};

// How the orchestrator picks a host for a VM of maximum M.
enum class PlacementRule {
  kNoOvercommit,  // Σ max of the host's VMs + M <= RAM − base
  kStatic15,      // Σ max + M <= 1.5 × (RAM − base), as Nova's default ram_allocation_ratio
  kBalloond,      // the host whose balloond capacity can place M: reserve, wait for READY, start
};
std::string RuleName(PlacementRule rule);  // "no-overcommit", "static-1.5", "balloond"

struct FleetMetrics {
  int vms_placed = 0;
  int vms_refused = 0;
  double pressure_seconds = 0;
  double guest_seconds = 0;
  int oom_kills = 0;
  int host_oom_kills = 0;
  // From a VM's arrival to its start (0 under the static rules, which start it at once).
  double ready_p50_s = 0;
  double ready_p99_s = 0;
  // The most VMs running at once across the fleet.
  int peak_vms_running = 0;
};

FleetMetrics RunFleet(const FleetScenario& fleet, PlacementRule rule);

}  // namespace balloond::sim

#endif  // BALLOOND_TESTS_SIM_FLEET_H_
