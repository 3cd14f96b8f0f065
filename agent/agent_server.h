#ifndef BALLOOND_AGENT_AGENT_SERVER_H_
#define BALLOOND_AGENT_AGENT_SERVER_H_

#include <grpcpp/server.h>

#include <memory>

#include "absl/status/statusor.h"
#include "agent/collector.h"
#include "agent/config.h"
#include "agent/control_service.h"
#include "agent/read_service.h"

namespace balloond {

// balloond's two gRPC servers, like libvirt's libvirt-sock and libvirt-sock-ro: the read-write socket
// serves the read and control services, the read-only socket only the read service (gRPC C++ cannot
// see a UNIX peer's credentials, so the socket decides). Both have health checking and reflection.
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
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const AgentSettings& settings, Parts parts);
  ~AgentServer();

  // Health: SERVING while libvirt is reachable.
  void SetServing(bool serving);
  void Shutdown();

 private:
  AgentServer(std::unique_ptr<ReadService> read, std::unique_ptr<ControlService> control);

  std::unique_ptr<ReadService> read_;
  std::unique_ptr<ControlService> control_;
  ReadOnlyControlService refuse_control_;
  std::unique_ptr<grpc::Server> read_write_;
  std::unique_ptr<grpc::Server> read_only_;
  std::vector<std::string> socket_paths_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_AGENT_SERVER_H_
