#ifndef BALLOOND_AGENT_POLICY_RUNNER_H_
#define BALLOOND_AGENT_POLICY_RUNNER_H_

#include <functional>
#include <map>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/clock.h"
#include "agent/decision_log.h"
#include "agent/hold_store.h"
#include "agent/host_stats.h"
#include "agent/hypervisor.h"
#include "agent/policy_store.h"
#include "agent/snapshot_store.h"
#include "policy/policy.h"

namespace balloond {

struct PolicyRunnerOptions {
  absl::Duration interval = absl::Seconds(2);
  absl::Duration monitor_timeout = absl::Seconds(2);
};

// The agent's side of the policy: when fresh statistics are in, it hands the snapshots and host
// memory to the pure policy library, records each decision, and in enforce mode sends the targets.
class PolicyRunner {
 public:
  using HostReader = std::function<absl::StatusOr<HostMemory>()>;

  PolicyRunner(const SnapshotStore& snapshots, Hypervisor& hypervisor, Clock& clock,
               const PolicyStore& policy, DecisionLog& log, HostReader read_host,
               std::function<void()> on_applied, PolicyRunnerOptions options);
  ~PolicyRunner();

  void Start();
  void Stop();
  // Runs a cycle soon (the collector calls it when fresh statistics are in; cycles are at least
  // half an interval apart). The loop runs cycles only when triggered.
  void Trigger();
  // One policy cycle; the loop calls it, tests call it directly.
  void RunOnce();
  // Called after each cycle with the policy's collection plan (empty while the policy is off: every
  // domain every period).
  void SetCollectionPlanCallback(std::function<void(const std::map<std::string, int>&)> callback);
  // Operators' holds, which the policy respects (set before Start; none when unset).
  void SetHolds(const HoldStore* holds) { holds_ = holds; }

 private:
  void Loop();

  const SnapshotStore& snapshots_;
  Hypervisor& hypervisor_;
  Clock& clock_;
  const PolicyStore& policy_;
  DecisionLog& log_;
  HostReader read_host_;
  std::function<void()> on_applied_;
  const PolicyRunnerOptions options_;

  std::function<void(const std::map<std::string, int>&)> on_plan_;  // set before Start
  const HoldStore* holds_ = nullptr;                                // set before Start
  policy::State state_;  // only RunOnce touches it, on one thread at a time
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

#endif  // BALLOOND_AGENT_POLICY_RUNNER_H_
