#ifndef BALLOOND_AGENT_API_AGENT_SERVER_H_
#define BALLOOND_AGENT_API_AGENT_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/api/control_service.h"
#include "agent/api/health_service.h"
#include "agent/api/read_service.h"
#include "agent/api/server_settings.h"
#include "agent/api/service_parts.h"
#include "agent/api/tcp_connection_cap.h"
#include "agent/api/tls_staging.h"
#include "agent/api/unix_listener.h"

namespace balloond {

// balloond's gRPC servers, like libvirt's libvirt-sock and libvirt-sock-ro: the read-write socket
// serves the read and control services, the read-only socket only the read service, and the
// optional TLS listener both, the control service to operators' certificates only. Each listener is
// a server of its own with its own limits and workers, so clients saturating one never slow
// another. All have health checking and reflection.
class AgentServer {
 public:
  // Listens as `settings` say; the services stand on `parts`, which outlive the server.
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const ServerSettings& settings,
                                                            ServiceParts& parts);
  ~AgentServer();

  // Health: SERVING while libvirt is reachable.
  void SetServing(bool serving);
  // Ends the watches (UNAVAILABLE), stops accepting, and waits briefly for calls in flight.
  void Shutdown();
  // Watch streams open now, on every listener.
  int OpenWatches();

 private:
  // A listener: its limits and workers, its services, its gRPC server (and for a UNIX socket, the
  // listener that accepts its connections).
  struct Endpoint {
    std::unique_ptr<ListenerContext> context;
    std::unique_ptr<ReadService> read;
    std::unique_ptr<ControlService> control;         // the read-write socket's and TLS'
    std::unique_ptr<ReadOnlySocketRefusal> refusal;  // the read-only socket's
    std::unique_ptr<HealthService> health;
    std::unique_ptr<grpc::Server> server;
    std::unique_ptr<UnixListener> listener;
  };

  AgentServer(const ServerSettings& settings, ServiceParts& parts);
  absl::Status StartUnixEndpoint(const std::string& path, mode_t mode, bool read_write,
                                 Endpoint& endpoint);
  absl::Status StartTlsEndpoint();
  // The services of `endpoint` (made here) on `builder`, then the server started.
  absl::Status BuildServer(const std::string& name, bool control, int max_request_bytes,
                           std::optional<int> max_answer_bytes, grpc::ServerBuilder& builder,
                           Endpoint& endpoint);
  std::vector<Endpoint*> Endpoints();

  const ServerSettings settings_;
  ServiceParts& parts_;
  std::unique_ptr<StagedTlsFiles> tls_files_;  // outlives the TLS server, which reads them
  Endpoint read_write_;
  Endpoint read_only_;
  Endpoint tls_;
  std::shared_ptr<TcpConnectionCap> tls_connections_;  // shared with gRPC's socket mutator
  bool shut_down_ = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_AGENT_SERVER_H_
