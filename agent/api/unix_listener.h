#ifndef BALLOOND_AGENT_API_UNIX_LISTENER_H_
#define BALLOOND_AGENT_API_UNIX_LISTENER_H_

#include <grpcpp/server.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// A UNIX socket whose connections balloond accepts itself and hands to a gRPC server, so that it
// can cap how many are open and tell which local user is behind each call (SO_PEERCRED): gRPC's own
// UNIX listener shows every caller as the same peer. gRPC names each connection "fd:N".
class UnixListener {
 public:
  struct Options {
    std::string path;
    mode_t mode = 0660;
    // Connections open at once; further ones are closed as they arrive.
    int max_connections = 256;
    // Connections one local user may have open at once: no user can take every connection and
    // lock the others out.
    int max_connections_per_uid = 32;
  };

  // Binds and listens on `options.path` (replacing a socket left by a crashed balloond; refusing
  // one a live process listens on) and gives it `options.mode`. Accepts nothing until Start.
  // `clock` paces the refusals' log lines.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Bind(Options options, Clock& clock);
  ~UnixListener();  // Stop
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Accepts connections on a thread of its own and gives each to `server` (which must outlive
  // Stop).
  void Start(grpc::Server* server);
  // Stops accepting and removes the socket file; connections already open are the server's.
  void Stop();

  const std::string& path() const { return options_.path; }
  // The user behind a call by the peer gRPC reports for it, if that connection came through here.
  std::optional<uid_t> PeerUid(absl::string_view peer) const;
  // Connections accepted here that are still open.
  int OpenConnections();

 private:
  struct Connection {
    ino_t inode;  // tells a reused descriptor number from the connection we accepted
    uid_t uid;
  };

  UnixListener(Options options, Clock& clock, int listen_fd, int wake_fd);
  void AcceptLoop(grpc::Server* server);
  // Accepts one connection; true when the listener is to stop.
  bool Accept(grpc::Server* server);
  // Waits a moment before accepting again; true when told to stop meanwhile.
  bool PauseOrStop();
  // Forgets connections whose descriptor gRPC has closed.
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  Clock& clock_;
  const int listen_fd_;
  const int wake_fd_;  // an eventfd that ends the accept loop
  std::thread loop_;
  mutable absl::Mutex mu_;
  std::map<int, Connection> connections_ ABSL_GUARDED_BY(mu_);
  absl::Time last_refusal_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int refused_since_log_ ABSL_GUARDED_BY(mu_) = 0;
  // Refuses (closes) `fd` and logs, at most every few seconds, how many were refused and why.
  void Refuse(int fd, uid_t uid, absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool stopped_ = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_UNIX_LISTENER_H_
