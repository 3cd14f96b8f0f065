#ifndef BALLOOND_AGENT_METRICS_H_
#define BALLOOND_AGENT_METRICS_H_

// What balloond shows Prometheus (README "Metrics"). Per-domain and host series are made at scrape
// time from the snapshots, the decision log and /proc, so a destroyed domain's series go with it
// and nothing is kept per domain here; the agent's own calls and rounds are counted as they happen.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/collect/host_stats.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/decision_log.h"

namespace prometheus {
class Exposer;
class Registry;
template <typename T>
class Family;
class Histogram;
class Counter;
class Gauge;
}  // namespace prometheus

namespace balloond {

class AgentMetrics {
 public:
  struct Sources {
    const SnapshotStore& snapshots;
    const DecisionLog& decisions;
    Clock& clock;
    std::function<absl::StatusOr<HostMemory>()> read_host;
    // Watch streams open now, on every listener.
    std::function<int()> open_watches;
    // Operators' holds lasting now, by UUID (none when unset).
    std::function<std::map<std::string, balloon::v1::Hold>()> holds = nullptr;
    // The host's capacity as the last policy cycle judged it (none when unset).
    const CapacityStore* capacity = nullptr;
  };
  explicit AgentMetrics(Sources sources);
  // The clock calls are timed by.
  Clock& clock() const { return clock_; }
  ~AgentMetrics();
  AgentMetrics(const AgentMetrics&) = delete;
  AgentMetrics& operator=(const AgentMetrics&) = delete;

  // Serves GET /metrics on HOST:PORT ("127.0.0.1:9860", "[::1]:9860", ":9860" for every address).
  absl::Status Serve(const std::string& address);
  // The port Serve listens on (useful with port 0); -1 before Serve.
  int port() const;
  // Stops serving (before the sources go away).
  void StopServing();

  void ObserveRound(absl::Duration took);
  // One call balloond made to libvirt (`call`: what for, e.g. "collect_stats"), and its outcome.
  void ObserveCall(const std::string& call, absl::Duration took, const absl::Status& status);
  void SetLibvirtConnected(bool connected);

  // Everything in Prometheus's text format, as a scrape gets it.
  std::string Scrape() const;

 private:
  class SnapshotCollectable;

  Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<SnapshotCollectable> from_snapshots_;
  prometheus::Histogram* round_;
  prometheus::Family<prometheus::Histogram>* calls_;
  prometheus::Family<prometheus::Counter>* call_errors_;
  prometheus::Gauge* libvirt_connected_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

// A Hypervisor that times every call of the one it wraps for AgentMetrics.
class MeteredHypervisor final : public Hypervisor {
 public:
  MeteredHypervisor(Hypervisor& inner, AgentMetrics& metrics) : inner_(inner), metrics_(metrics) {}

  absl::StatusOr<std::vector<DomainStats>> CollectStats(absl::Time deadline,
                                                        const CollectionFilter& filter) override;
  absl::StatusOr<DomainInfo> LookupDomain(absl::string_view name_or_uuid,
                                          absl::Time deadline) override;
  absl::StatusOr<DomainConfig> ReadConfig(const std::string& uuid, absl::Time deadline) override;
  absl::Status SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                absl::Time deadline) override;
  absl::Status SetMemoryDeviceRequest(const std::string& uuid, const std::string& alias,
                                      int64_t requested_bytes, absl::Time deadline) override;
  absl::Status SetStatsPeriod(const std::string& uuid, int seconds, absl::Time deadline) override;
  absl::StatusOr<bool> JobActive(const std::string& uuid, absl::Time deadline) override;
  absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                     absl::Time deadline) override;
  absl::StatusOr<std::string> ReadPolicyMetadata(const std::string& uuid,
                                                 absl::Time deadline) override;
  absl::Status WritePolicyMetadata(const std::string& uuid, const std::string& element,
                                   absl::Time deadline) override;

 private:
  Hypervisor& inner_;
  AgentMetrics& metrics_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_METRICS_H_
