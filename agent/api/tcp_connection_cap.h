#ifndef BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_
#define BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace grpc {
class ServerBuilder;
}

namespace balloond {

// Bounds the connections a TCP listener of gRPC's holds: at most `max_connections`, whether they
// finished their TLS handshake or not, and none while the process's descriptor table is nearly
// full, so that whatever arrives over the network,
// the UNIX sockets, libvirt and the state files keep their descriptors. gRPC 1.51 has no such limit
// (and stops listening for good when accept fails with EMFILE); its socket mutator sees each
// accepted connection first, and one over the cap is shut down there, which gRPC then closes.
class TcpConnectionCap {
 public:
  struct Options {
    int max_connections = 128;
    // Descriptors kept free for everything else: a connection whose descriptor number comes this
    // close to RLIMIT_NOFILE is refused.
    int reserved_descriptors = 256;
  };
  TcpConnectionCap(Options options, Clock& clock);

  // Installs the cap on the server `builder` builds (on every port it listens on).
  static void Install(std::shared_ptr<TcpConnectionCap> cap, grpc::ServerBuilder& builder);

  // Whether the connection just accepted on `fd` may stay; false after logging (now and then)
  // why not. Connections whose descriptor has since been closed are forgotten first.
  bool Admit(int fd);
  int open_connections();

 private:
  struct Connection {
    ino_t inode;  // tells a reused descriptor number from the connection admitted
  };
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a refusal of the connection on `fd`, logging now and then how many and why.
  void Refuse(int fd, const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Clock& clock_;  // paces the refusals' log lines
  absl::Mutex mu_;
  std::map<int, Connection> connections_ ABSL_GUARDED_BY(mu_);
  absl::Time last_refusal_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int refused_since_log_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_TCP_CONNECTION_CAP_H_
