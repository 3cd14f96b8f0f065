#ifndef BALLOOND_AGENT_API_SERVER_SETTINGS_H_
#define BALLOOND_AGENT_API_SERVER_SETTINGS_H_

// What balloond's gRPC servers are told at start: where they listen and what they bound.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

// Bounds on what clients can make balloond hold (balloon.v1.Limits, with its defaults).
struct ServingLimits {
  int max_connections_per_socket = 256;
  int max_connections_per_uid = 32;
  int max_tls_connections = 128;
  absl::Duration tls_max_connection_age = absl::Hours(1);
  int max_calls_per_connection = 64;
  int max_watches = 1024;
  int max_watches_per_client = 64;
  int64_t max_unread_bytes_per_client = int64_t{8} << 20;
  int64_t max_unread_bytes = int64_t{32} << 20;
  int max_tls_connections_per_source = 8;
  int max_tls_connections_per_identity = 16;
  int tls_operator_connections = 16;
  double qom_queries_per_second = 10;
  int qom_burst = 20;
  int qom_queue_per_domain = 4;
  absl::Duration idle_timeout = absl::Minutes(5);
};

// The TCP listener with mutual TLS (balloon.v1.TlsListener); off while `listen` is empty.
struct TlsSettings {
  std::string listen;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::vector<std::string> operators;
};

// The listeners: the read-write and read-only UNIX sockets ("unix:PATH"), the optional TLS one.
struct ServerSettings {
  std::string listen = "unix:/run/balloond/balloond.sock";
  std::string listen_ro = "unix:/run/balloond/balloond-ro.sock";
  TlsSettings tls;
  ServingLimits limits;
  // QOM queries on the read-only socket (AgentConfig.qom_on_read_only_socket): off, since libvirt
  // taints a domain at a client's QMP command.
  bool qom_on_read_only_socket = false;
};

// Checks a TCP listen address: HOST:PORT, with [brackets] around an IPv6 host.
absl::Status ValidateHostPort(absl::string_view flag, absl::string_view address);

// What the TLS listener needs besides its address: every file, and an address to go with them.
absl::Status ValidateTlsSettings(const TlsSettings& tls);

// "unix:/path" → "/path"; INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> UnixSocketPath(absl::string_view address);

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_SERVER_SETTINGS_H_
