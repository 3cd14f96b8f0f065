#ifndef BALLOOND_AGENT_STATE_SERIES_H_
#define BALLOOND_AGENT_STATE_SERIES_H_

// The series Prometheus sees of the agent's state: per domain, host, policy and capacity, made at
// each scrape from the snapshots, the decision log and /proc, so that a destroyed domain's series
// go with it and nothing is kept per domain.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/base/clock.h"
#include "agent/collect/host_stats.h"
#include "agent/collect/snapshot_store.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/decision_log.h"

namespace balloond {

class StateSeries final : public prometheus::Collectable {
 public:
  // What the series are made of.
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
    // Balloons moved from outside balloond since it started (none when unset).
    std::function<uint64_t()> outside_changes = nullptr;
  };
  explicit StateSeries(Sources sources);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Each adds one group of families to `out`.
  void CollectDomains(std::vector<prometheus::MetricFamily>& out) const;
  void CollectDecisions(std::vector<prometheus::MetricFamily>& out) const;
  void CollectHolds(std::vector<prometheus::MetricFamily>& out) const;
  void CollectHost(std::vector<prometheus::MetricFamily>& out) const;
  void CollectCapacity(const CapacityReading& reading,
                       std::vector<prometheus::MetricFamily>& out) const;
  void CollectSharing(const CapacityReading& reading,
                      std::vector<prometheus::MetricFamily>& out) const;
  void CollectWatches(std::vector<prometheus::MetricFamily>& out) const;

  Sources sources_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STATE_SERIES_H_
