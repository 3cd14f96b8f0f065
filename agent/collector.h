#ifndef BALLOOND_AGENT_COLLECTOR_H_
#define BALLOOND_AGENT_COLLECTOR_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/clock.h"
#include "agent/hypervisor.h"
#include "agent/snapshot_store.h"
#include "agent/worker_pool.h"

namespace balloond {

struct CollectorOptions {
  // How often every domain is collected; also the guest polling interval set where polling is off.
  absl::Duration stats_period = absl::Seconds(2);
  // Deadline of each round of QMP calls to one domain.
  absl::Duration monitor_timeout = absl::Seconds(2);
  // Domains collected at the same time.
  int workers = 4;
  // How long a domain without a balloon device waits before it is searched again (hotplug).
  absl::Duration rediscover_after = absl::Seconds(30);
};

// Keeps the SnapshotStore current: follows the running domains, finds each one's balloon, switches
// on guest statistics, and collects query-balloon and guest-stats for all domains concurrently. A
// domain whose monitor hangs keeps at most one worker busy until its deadline and is skipped while
// a call to it is still pending, so it never delays the others.
class Collector {
 public:
  Collector(Hypervisor& hypervisor, SnapshotStore& store, Clock& clock, CollectorOptions options);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Runs CollectOnce every stats period, and at once after RequestRefresh.
  void Start();
  void Stop();
  void RequestRefresh();

  // Lists the running domains, drops the ones gone, and starts a collection of each. Returns
  // without waiting for the collections; WaitForCollections does.
  void CollectOnce();
  void WaitForCollections();

  bool libvirt_reachable() const;
  // Called with the new value whenever libvirt becomes reachable or unreachable.
  void SetReachabilityCallback(std::function<void(bool)> callback);

  int64_t guest_stats_period_seconds() const;

  // Called from the loop after each round of collections has finished (or after the monitor
  // timeout, if a hung domain holds one back): the moment the snapshots are freshest. Not called
  // while libvirt is unreachable.
  void SetRoundCallback(std::function<void()> callback);

 private:
  // What the collector remembers per QEMU process, beyond the published snapshot.
  struct Tracked {
    DomainInfo info;
    std::string balloon_path;
    bool polling_checked = false;
    int64_t rounds = 0;  // collections of this QEMU process so far
    uint64_t balloon_changes_read = 0;  // DomainInfo::balloon_changes when query-balloon last ran
    absl::Time next_discovery = absl::InfinitePast();
    bool in_flight = false;
  };

  void Loop();
  void SetReachable(bool reachable);
  // Runs on a worker: one round of QMP calls to one domain, then publishes its snapshot.
  void CollectDomain(Tracked tracked);
  void Publish(const Tracked& after, DomainSnapshot snapshot);

  Hypervisor& hypervisor_;
  SnapshotStore& store_;
  Clock& clock_;
  const CollectorOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
  // Unknown until the first attempt, so that the first outcome is always reported.
  std::optional<bool> reachable_ ABSL_GUARDED_BY(mu_);
  bool refresh_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(bool)> on_reachability_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_round_ ABSL_GUARDED_BY(mu_);

  WorkerPool pool_;
  std::thread loop_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_COLLECTOR_H_
