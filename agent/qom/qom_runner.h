#ifndef BALLOOND_AGENT_QOM_QOM_RUNNER_H_
#define BALLOOND_AGENT_QOM_QOM_RUNNER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/balloon_path_cache.h"
#include "agent/qom/domain_monitor.h"
#include "agent/qom/qom_gate.h"
#include "agent/qom/qom_path_guard.h"
#include "agent/qom/qom_traffic.h"

namespace balloond {

// A client's QOM query, as it runs: through its listener's gate (one query per domain at a time,
// the client's rate), then the host's traffic (the collector keeps clients off busy monitors), the
// path guard (no links), the query itself, and last the balloon's path, which the domain's QEMU
// tells for nothing more once a client has queried it.
class QomRunner {
 public:
  // The query's work on the domain's monitor: QMP through `monitor`, answered into what it owns.
  using Query = std::function<absl::Status(DomainMonitor& monitor)>;
  // Which QEMU, at which path.
  struct Target {
    std::string uuid;
    int id = -1;  // libvirt's runtime ID: the QEMU process
    std::string path;
  };

  QomRunner(Hypervisor& hypervisor, QomTraffic& traffic, QomPathGuard& guard,
            BalloonPathCache& balloon_paths)
      : hypervisor_(hypervisor), traffic_(traffic), guard_(guard), balloon_paths_(balloon_paths) {}

  // Queues `query` on `gate` for `client`; `done` gets its outcome on the gate's worker. Returns
  // the gate's refusal (and never calls `done`) when the client is over its rate or the domain's
  // queue is full.
  absl::Status Submit(QomGate& gate, const std::string& client, const Target& target,
                      absl::Time deadline, Query query, std::function<void(absl::Status)> done);
  // The query's run after the gate: traffic, guard, query, balloon path.
  absl::Status Run(const Target& target, absl::Time deadline, const Query& query);

 private:
  Hypervisor& hypervisor_;
  QomTraffic& traffic_;
  QomPathGuard& guard_;
  BalloonPathCache& balloon_paths_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QOM_RUNNER_H_
