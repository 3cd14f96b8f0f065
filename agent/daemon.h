#ifndef BALLOOND_AGENT_DAEMON_H_
#define BALLOOND_AGENT_DAEMON_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/api/agent_server.h"
#include "agent/api/service_context.h"
#include "agent/api/service_parts.h"
#include "agent/api/watch_feeds.h"
#include "agent/base/clock.h"
#include "agent/base/systemd_notify.h"
#include "agent/base/worker_pool.h"
#include "agent/collect/collector.h"
#include "agent/collect/host_stats.h"
#include "agent/collect/snapshot_store.h"
#include "agent/config.h"
#include "agent/libvirt/call_meter.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/metrics.h"
#include "agent/qom/balloon_path_cache.h"
#include "agent/qom/qom_path_guard.h"
#include "agent/qom/qom_traffic.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/decision_log.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "agent/steering/jump_store.h"
#include "agent/steering/lifecycle_events.h"
#include "agent/steering/outside_changes.h"
#include "agent/steering/policy_runner.h"
#include "agent/steering/policy_store.h"
#include "agent/steering/reservation_store.h"

namespace balloond {

// balloond: every long-lived part, made in the order in which they depend on each other, and the
// one place where they meet. libvirt's events and the collector's reach the parts made after them
// through the daemon (it is their listener), so that every part gets what it needs when it is made.
class Daemon final : private DomainChangeListener,
                     private CollectorEvents,
                     private SnapshotListener {
 public:
  // What differs between a host and a test.
  struct Environment {
    Clock& clock = RealClock();
    // Makes the hypervisor, whose events go to `changes` and whose calls to `meter`: libvirt at
    // settings.connect_uri on a host, a fake in tests.
    std::function<std::unique_ptr<Hypervisor>(Clock& clock, DomainChangeListener& changes,
                                              CallMeter& meter)>
        make_hypervisor;
    std::function<absl::StatusOr<HostMemory>()> read_host = [] { return ReadHostMemory(); };
    // Where KSM is read and run: the host's own (main.cc); absent in tests, which leave it alone.
    std::optional<KsmPaths> ksm = std::nullopt;
  };

  // Opens the state, listens, and starts collecting; `loaded_config` is the config file as read
  // (to tell on reload what changed). An error says what could not be set up.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const AgentSettings& settings, const balloon::v1::AgentConfig& loaded_config,
      Environment environment);
  ~Daemon() override;  // Stop
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // SIGHUP: the config file's policy and log level again (the log level only where no --log-level
  // was given). A file with errors changes nothing; the log names what a restart would apply.
  void Reload();
  // Stops collecting and deciding, ends every call and watch, stops listening. Once.
  void Stop();

  // Health as the API reports it: libvirt reached, first collection in.
  bool serving() const;
  const PolicyStore& policy() const { return *policy_; }
  const SnapshotStore& snapshots() const { return snapshots_; }

 private:
  Daemon(const AgentSettings& settings, const balloon::v1::AgentConfig& loaded_config,
         Environment environment, std::unique_ptr<PolicyStore> policy,
         std::unique_ptr<HoldStore> holds, std::unique_ptr<ReservationStore> reservations,
         std::unique_ptr<JumpStore> jumps);
  absl::Status Listen();

  // DomainChangeListener: libvirt's events, for the collector.
  void OnDomainChanged(const std::string& uuid) override;
  // CollectorEvents.
  void OnReachability(const absl::Status& reachable) override;
  void OnRound(absl::Duration took) override;
  void OnHeartbeat() override;
  // SnapshotListener: the store's changes, for the watches and the events.
  void OnSnapshot(const DomainSnapshot& snapshot) override;
  void OnRemoved(const DomainSnapshot& last) override;

  const AgentSettings settings_;
  balloon::v1::AgentConfig loaded_config_;  // Reload's thread only
  Environment environment_;
  Clock& clock_;
  SystemdNotifier systemd_;
  std::unique_ptr<PolicyStore> policy_;
  std::unique_ptr<HoldStore> holds_;
  std::unique_ptr<ReservationStore> reservations_;
  std::unique_ptr<JumpStore> jumps_;
  DecisionFeed decision_feed_;
  DecisionLog decisions_;
  CapacityStore capacity_;
  SnapshotStore snapshots_;
  AgentMetrics metrics_;
  std::unique_ptr<Hypervisor> hypervisor_;  // metered by metrics_
  WorkerPool watch_lookups_;                // explains the end of watched domains
  BalloonPathCache balloon_paths_;
  StatsFeed stats_feed_;
  EventLog events_{clock_, EventLog::NewEpoch(clock_)};
  LifecycleEvents lifecycle_events_{events_};
  OutsideChanges outside_changes_{{events_, *holds_, clock_}};
  QomTraffic qom_traffic_{clock_};
  Collector collector_;
  PolicyRunner runner_;
  ServiceParts services_;
  std::unique_ptr<AgentServer> server_;

  // Events reach the parts above only while they run: not before Listen, not after Stop.
  mutable absl::Mutex events_mu_;
  bool running_ ABSL_GUARDED_BY(events_mu_) = false;
  bool serving_ ABSL_GUARDED_BY(events_mu_) = false;
  bool ready_ ABSL_GUARDED_BY(events_mu_) = false;  // READY=1 sent: reloads say RELOADING=1
  bool stopped_ = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_DAEMON_H_
