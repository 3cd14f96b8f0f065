#ifndef BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_
#define BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace grpc {
class ServerBuilder;
}

namespace balloond {

// Bounds the connections a TCP listener of gRPC's holds, and shares them among its clients, so that
// whatever arrives over the network, the UNIX sockets, libvirt and the state files keep their
// descriptors, and no client can lock the others out:
// - at most `max_connections`, whether they finished their TLS handshake or not, and none while the
//   process's descriptor table is nearly full;
// - of the connections not yet known by a call (handshaking, or silent), at most `max_per_source`
//   from one source: a network address, or on the loopback the local user whose socket it is;
// - once a call names the connection's certificate, at most `max_per_identity` per identity, and
//   readers together leave `operator_connections` free for operators.
// gRPC 1.51 has no such limit (and stops listening for good when accept fails with EMFILE); its
// socket mutator sees each accepted connection first, and one over a cap is shut down there, which
// gRPC then closes. A connection refused once known is refused its calls and shut down a moment
// later (its client first reads why), or at once when a new connection needs the room.
class TcpConnectionCap {
 public:
  struct Options {
    int max_connections = 128;
    // Descriptors kept free for everything else: a connection whose descriptor number comes this
    // close to RLIMIT_NOFILE is refused.
    int reserved_descriptors = 256;
    int max_per_source = 8;
    int max_per_identity = 16;
    int operator_connections = 16;
  };
  TcpConnectionCap(Options options, Clock& clock);

  // Installs the cap on the server `builder` builds (on every port it listens on).
  static void Install(std::shared_ptr<TcpConnectionCap> cap, grpc::ServerBuilder& builder);

  // Whether the connection just accepted on `fd` may stay; false after logging (now and then)
  // why not. Connections whose descriptor has since been closed are forgotten first.
  bool Admit(int fd);
  // Whether a call of `identity` (an operator or not) may go on the connection gRPC names `peer`
  // ("ipv4:10.0.0.7:51234"): OK, or RESOURCE_EXHAUSTED saying whose share is full, and the
  // connection is then closed.
  absl::Status AdmitCall(absl::string_view peer, const std::string& identity, bool is_operator);
  int open_connections();

 private:
  struct Connection {
    ino_t inode = 0;      // tells a reused descriptor number from the connection admitted
    std::string address;  // the peer's, as text
    int port = 0;
    std::string source;    // the address, or "uid N" on the loopback
    std::string identity;  // empty until a call names it
    bool is_operator = false;
    std::optional<absl::Time> refused_at;  // refused a call: shut down soon
  };
  // Forgets closed connections, and shuts down those refused a call a moment ago.
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a refusal of `connection` (or a call on it), logging now and then how many and why.
  void Refuse(const Connection& connection, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refuses the call of a known connection: its reason, and the connection's end.
  absl::Status RefuseCall(Connection& connection, const std::string& why, absl::string_view setting)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Who is behind the connection on `fd`: its peer's address and port, and its source.
  void Describe(int fd, Connection& connection);

  const Options options_;
  Clock& clock_;  // paces the refusals' log lines, and the end of connections refused
  absl::Mutex mu_;
  std::map<int, Connection> connections_ ABSL_GUARDED_BY(mu_);
  absl::Time last_refusal_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int refused_since_log_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_
