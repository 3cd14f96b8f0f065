#ifndef BALLOOND_AGENT_COLLECT_COLLECTOR_H_
#define BALLOOND_AGENT_COLLECT_COLLECTOR_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/base/worker_pool.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/qom_traffic.h"

namespace balloond {

struct CollectorOptions {
  // How often every domain is collected; also the guest reporting period set where it is off.
  absl::Duration stats_period = absl::Seconds(2);
  // Deadline of each collection, and of each call the agent makes to one domain.
  absl::Duration monitor_timeout = absl::Seconds(2);
  // Threads for the calls made once per domain (its definition, switching its reporting on) and
  // the job checks; they wait on libvirt, never on the collection.
  int workers = 2;
};

// What the collector tells the rest of the daemon, from its loop.
class CollectorEvents {
 public:
  virtual ~CollectorEvents() = default;
  // libvirt became reachable (OK) or unreachable (why).
  virtual void OnReachability(const absl::Status& reachable) = 0;
  // A collection that reached libvirt ended after `took`: the moment the snapshots are freshest.
  virtual void OnRound(absl::Duration took) = 0;
  // After every collection, whether or not libvirt answered: the loop is alive (systemd's
  // watchdog is pinged from here, so a wedged collector gets balloond restarted).
  virtual void OnHeartbeat() = 0;
};

// Which domains clients watch: those are read every period, however steady.
class WatchedDomains {
 public:
  virtual ~WatchedDomains() = default;
  virtual bool Watched(const std::string& uuid) const = 0;
};

// What clients' calls and the policy ask of the collection.
class DomainInterest {
 public:
  virtual ~DomainInterest() = default;
  // Something changed (a domain, or everything when `uuid` is empty): collect now, read that
  // domain's statistics and its definition again.
  virtual void RequestRefresh(const std::string& uuid) = 0;
  // A client read this domain's statistics: it is read every period for a while.
  virtual void NoteInterest(const std::string& uuid) = 0;
};

// How often the policy needs each domain read: stats periods between reads, by UUID (1 for a
// domain not named, and for all while the plan is empty).
class CollectionPlanner {
 public:
  virtual ~CollectionPlanner() = default;
  virtual void SetCollectionPlan(const std::map<std::string, int>& every) = 0;
};

// Keeps the SnapshotStore current through libvirt's own API, which leaves the domains untainted:
// one collection per period reads every running domain's balloon and statistics (domains whose
// monitor is busy are skipped, not waited for), and per domain, once, its balloon's definition, and
// switches its guest's reporting on where it is off.
// What a collector may be given beyond what it reads and writes; each may be null.
struct CollectorSeams {
  // Paused around each collection, so that no client's QOM query holds a domain's monitor when
  // libvirt reads it.
  QomTraffic* traffic = nullptr;
  CollectorEvents* events = nullptr;
  const WatchedDomains* watched = nullptr;
};

class Collector final : public DomainInterest, public CollectionPlanner {
 public:
  Collector(Hypervisor& hypervisor, SnapshotStore& store, Clock& clock, CollectorOptions options,
            CollectorSeams seams = {});
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Collects every stats period, and at once after RequestRefresh.
  void Start();
  void Stop();

  // Collection that follows activity: a domain is read as often as the policy's plan says, and at
  // the next collection anyway after an event, a target set, a read that found its monitor busy;
  // and every period while a client looks at it (NoteInterest, or watched).
  void RequestRefresh(const std::string& uuid) override;
  void NoteInterest(const std::string& uuid) override;
  void SetCollectionPlan(const std::map<std::string, int>& every) override;

  // One collection. The per-domain calls it starts run on the workers; WaitForCalls waits for them.
  void CollectOnce();
  void WaitForCalls();

  bool libvirt_reachable() const;
  int64_t guest_stats_period_seconds() const;

 private:
  // What the collector remembers per QEMU process, beyond the published snapshot.
  struct Tracked {
    int id = -1;
    std::optional<DomainConfig> config;
    std::optional<balloon::v1::DomainPolicy> metadata_policy;  // parsed from config
    std::string metadata_problem;
    bool config_requested = false;
    bool reporting_requested = false;
    absl::Time reporting_retry_at = absl::InfinitePast();  // after a failure to switch it on
    bool job_check_requested = false;
    absl::Time last_job_check = absl::InfinitePast();
    bool migrating = false;
    // Stats periods between reads (the policy's plan), when it was last read, and until when a
    // client's interest keeps it read every period.
    int every = 1;
    DomainRunState state = DomainRunState::kOther;  // as last read
    absl::Time last_read = absl::InfinitePast();
    absl::Time interest_until = absl::InfinitePast();
    // Its QEMU's CPU time when last listed as steady (no point while it is read every time), and
    // the share of a CPU it uses when idle (negative until known).
    std::optional<std::pair<int64_t, absl::Time>> cpu_point;
    double idle_cpu_share = -1;
    // Collections in a row that could not read the guest's statistics (its monitor busy).
    int missed = 0;
  };

  void Loop();
  void SetReachable(const absl::Status& reachable);
  // The tracked domains the next collection may leave out unless they are busy.
  CollectionFilter Steady(absl::Time now);
  DomainSnapshot Assemble(const DomainStats& d, Tracked& t, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The calls a domain needs now (reading its definition, switching its reporting on, a job
  // check), added to `calls`: started once the collection's snapshots are stored, so that what a
  // call learns lands on the snapshot rather than before it.
  void RequestCalls(const DomainStats& d, Tracked& t, absl::Time now,
                    std::vector<std::function<void()>>& calls) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadConfig(const std::string& uuid, int id, const std::string& name);
  void SwitchReportingOn(const std::string& uuid, int id, const std::string& name);
  void CheckJob(const std::string& uuid, int id);
  // The tracked state of `uuid` if its QEMU process is still `id`.
  Tracked* Find(const std::string& uuid, int id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Hypervisor& hypervisor_;
  SnapshotStore& store_;
  Clock& clock_;
  const CollectorOptions options_;
  const CollectorSeams seams_;

  mutable absl::Mutex mu_;
  std::map<std::string, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
  // Unknown until the first attempt, so that the first outcome is always reported.
  std::optional<bool> reachable_ ABSL_GUARDED_BY(mu_);
  bool refresh_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> changed_ ABSL_GUARDED_BY(mu_);  // domains whose definition may have changed
  std::set<std::string> due_now_
      ABSL_GUARDED_BY(mu_);                    // read at the next collection, whatever plan
  bool read_all_ ABSL_GUARDED_BY(mu_) = true;  // the next collection reads every domain
  std::map<std::string, int> plan_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Duration started_;                            // on the clock's monotonic time
  bool inventoried_ = false;                          // the loop thread's own
  absl::Duration last_round_ = absl::ZeroDuration();  // the loop thread's own
  WorkerPool pool_;
  std::thread loop_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_COLLECT_COLLECTOR_H_
