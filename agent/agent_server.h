#ifndef BALLOOND_AGENT_AGENT_SERVER_H_
#define BALLOOND_AGENT_AGENT_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/collector.h"
#include "agent/config.h"
#include "agent/control_service.h"
#include "agent/read_service.h"
#include "agent/unix_listener.h"

namespace balloond {

// balloond's gRPC servers, like libvirt's libvirt-sock and libvirt-sock-ro: the read-write socket
// serves the read and control services, the read-only socket only the read service. Each socket is a
// server of its own with its own limits and workers, so clients saturating one never slow the other.
// Both have health checking and reflection.
class AgentServer {
 public:
  // What the services read and change.
  struct Parts {
    Hypervisor& hypervisor;
    SnapshotStore& snapshots;
    Clock& clock;
    Collector& collector;
    PolicyStore& policy;
    DecisionLog& decisions;
  };
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const AgentSettings& settings,
                                                            Parts parts);
  ~AgentServer();

  // Health: SERVING while libvirt is reachable.
  void SetServing(bool serving);
  // Ends the watches (UNAVAILABLE), stops accepting, and waits briefly for calls in flight.
  void Shutdown();

 private:
  // One socket: its listener, its limits and workers, its services, its gRPC server.
  struct Endpoint {
    std::unique_ptr<ListenerContext> context;
    std::unique_ptr<ReadService> read;
    std::unique_ptr<grpc::Service> control;
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<UnixListener> listener;
  };

  AgentServer(const AgentSettings& settings, Parts parts);
  absl::Status StartEndpoint(const std::string& address, mode_t mode, bool read_write,
                             Endpoint& endpoint);

  const AgentSettings settings_;
  Parts parts_;
  WorkerPool lookups_;  // explains the end of watched domains
  StatsFeed stats_feed_;
  DecisionFeed decision_feed_;
  QomPathGuard qom_paths_;
  ServiceBackend backend_;
  Endpoint read_write_;
  Endpoint read_only_;
  bool shut_down_ = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_AGENT_SERVER_H_
