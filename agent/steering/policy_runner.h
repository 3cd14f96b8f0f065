#ifndef BALLOOND_AGENT_STEERING_POLICY_RUNNER_H_
#define BALLOOND_AGENT_STEERING_POLICY_RUNNER_H_

#include <functional>
#include <map>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/collect/collector.h"
#include "agent/collect/host_stats.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/cycle_events.h"
#include "agent/steering/decision_log.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "agent/steering/jump_store.h"
#include "agent/steering/ksm_control.h"
#include "agent/steering/outside_changes.h"
#include "agent/steering/policy_store.h"
#include "agent/steering/reservation_store.h"
#include "policy/policy.h"

namespace balloond {

struct PolicyRunnerOptions {
  absl::Duration interval = absl::Seconds(2);
  absl::Duration monitor_timeout = absl::Seconds(2);
  // Where to read and run KSM (the host's own on a host); absent: KSM is neither read nor touched.
  std::optional<KsmPaths> ksm;
};

// The agent's side of the policy: when fresh statistics are in, it hands the snapshots and host
// memory to the pure policy library, records each decision, and in enforce mode sends the targets.
class PolicyRunner {
 public:
  using HostReader = std::function<absl::StatusOr<HostMemory>()>;
  // What a cycle reads and where its results go.
  struct Parts {
    const SnapshotStore& snapshots;
    Hypervisor& hypervisor;
    Clock& clock;
    const PolicyStore& policy;
    const HoldStore& holds;  // operators' holds, which the policy respects
    DecisionLog& log;
    // The policy's collection plan goes here after each cycle (empty while the policy is off:
    // every domain every period); a refresh is asked for after targets were sent.
    CollectionPlanner& planner;
    DomainInterest& interest;
    // Each cycle's judgement of the host's capacity goes here (also while the policy is off).
    CapacityStore& capacity;
    // Room reserved for VMs to come: kept free by the policy, advanced by each cycle's capacity.
    ReservationStore& reservations;
    // What the cycles see begin and end, and what they do, as events.
    EventLog& events;
    // Told of each target before it is sent; its broken holds are acted on at each cycle.
    OutsideChanges* outside = nullptr;
    // Where the guests' jumps are kept across restarts: read when a domain is first seen, written
    // every few minutes and when the runner stops.
    JumpStore* jumps = nullptr;
  };

  PolicyRunner(Parts parts, HostReader read_host, PolicyRunnerOptions options);
  ~PolicyRunner();

  void Start();
  void Stop();
  // Runs a cycle soon (the collector calls it when fresh statistics are in; cycles are at least
  // half an interval apart). The loop runs cycles only when triggered.
  void Trigger();
  // One policy cycle; the loop calls it, tests call it directly.
  void RunOnce();
  // Puts KSM back as balloond found it (where it changed it) and saves the guests' jumps: Stop
  // does, once the loop has ended.
  void Finish();

 private:
  void Loop();

  const Parts parts_;
  HostReader read_host_;
  const PolicyRunnerOptions options_;
  policy::State state_;  // only RunOnce touches these, on one thread at a time
  CycleEvents cycle_events_;
  std::optional<KsmControl> ksm_;
  absl::Time jumps_saved_at_ = absl::InfinitePast();
  // Saves the guests' jumps (Parts.jumps).
  void SaveJumps(absl::Time now);
  absl::Mutex run_mu_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool triggered_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Duration> last_run_;  // the loop thread's own, on the monotonic clock
  std::thread loop_;
};

// The policy's view of one domain's snapshot.
policy::DomainInput ToPolicyInput(const DomainSnapshot& snapshot);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_POLICY_RUNNER_H_
