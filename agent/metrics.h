#ifndef BALLOOND_AGENT_METRICS_H_
#define BALLOOND_AGENT_METRICS_H_

// What balloond shows Prometheus (README "Metrics"): the series of its state (state_series.h),
// its calls to libvirt (call_metrics.h), and its own rounds and connection, served on one port.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/call_metrics.h"
#include "agent/libvirt/call_meter.h"
#include "agent/state_series.h"

namespace prometheus {
class Exposer;
class Registry;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace balloond {

class AgentMetrics {
 public:
  explicit AgentMetrics(StateSeries::Sources sources);
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
  void SetLibvirtConnected(bool connected);
  // What hears of balloond's calls to libvirt.
  CallMeter& calls() { return calls_; }

  // Everything in Prometheus's text format, as a scrape gets it.
  std::string Scrape() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<StateSeries> state_;
  CallMetrics calls_;
  prometheus::Histogram* round_;
  prometheus::Gauge* libvirt_connected_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_METRICS_H_
