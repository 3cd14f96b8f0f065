#include "agent/api/unix_listener.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/base/log.h"

namespace balloond {
namespace {

// How often refused connections are logged (as a count) while a flood goes on.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);
// How long accepting pauses when the process is out of descriptors or memory: the backlog waits.
constexpr int kPauseMillis = 100;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::StatusOr<sockaddr_un> SocketAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is longer than ",
                                                   sizeof(addr.sun_path) - 1, " characters"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// A socket file that still accepts connections belongs to a running balloond; one that does not is
// left over from a crash and may be replaced.
absl::Status PrepareSocketPath(const std::string& path, const sockaddr_un& addr) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create the directory of ", path, ": ", ec.message()));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(
        path, " exists and is not a socket; remove it or choose another --listen path"));
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("cannot create a socket to probe", path);
  absl::Cleanup close_probe = [fd] { close(fd); };
  const bool live = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  if (live) {
    return absl::AlreadyExistsError(
        absl::StrCat("another process (a running balloond?) is listening on ", path));
  }
  if (unlink(path.c_str()) != 0) return Errno("cannot remove the stale socket", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Bind(Options options, Clock& clock) {
  auto addr = SocketAddress(options.path);
  if (!addr.ok()) return addr.status();
  if (absl::Status s = PrepareSocketPath(options.path, *addr); !s.ok()) return s;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("cannot create a socket for", options.path);
  bool bound = false, listening = false;
  absl::Cleanup undo = [&] {  // after the error below has read errno
    if (listening) return;
    close(fd);
    if (bound) unlink(options.path.c_str());
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    return Errno("cannot bind", options.path);
  }
  bound = true;
  // Before listen: no client can connect while the mode is still the default.
  if (chmod(options.path.c_str(), options.mode) != 0) {
    return Errno("cannot set the mode of", options.path);
  }
  if (listen(fd, 128) != 0) return Errno("cannot listen on", options.path);
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return Errno("cannot create an eventfd for", options.path);
  listening = true;
  return std::unique_ptr<UnixListener>(new UnixListener(std::move(options), clock, fd, wake));
}

UnixListener::UnixListener(Options options, Clock& clock, int listen_fd, int wake_fd)
    : options_(std::move(options)), clock_(clock), listen_fd_(listen_fd), wake_fd_(wake_fd) {}

UnixListener::~UnixListener() {
  Stop();
  close(listen_fd_);
  close(wake_fd_);
}

void UnixListener::Start(grpc::Server* server) {
  loop_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    Log(LogLevel::kWarning,
        absl::StrCat("cannot wake the accept loop of ", options_.path, ": ", std::strerror(errno)));
  }
  if (loop_.joinable()) loop_.join();
  unlink(options_.path.c_str());
}

void UnixListener::AcceptLoop(grpc::Server* server) {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError,
          absl::StrCat("poll on ", options_.path, " failed: ", std::strerror(errno)));
      if (PauseOrStop()) return;
      continue;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents != 0 && Accept(server)) return;
  }
}

bool UnixListener::PauseOrStop() {
  pollfd wake{wake_fd_, POLLIN, 0};
  return poll(&wake, 1, kPauseMillis) > 0;
}

bool UnixListener::Accept(grpc::Server* server) {
  const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
      Log(LogLevel::kWarning, absl::StrCat("cannot accept a connection on ", options_.path, ": ",
                                           std::strerror(errno), " (raise LimitNOFILE?)"));
      return PauseOrStop();  // the backlog waits; do not spin
    }
    return false;  // EAGAIN, ECONNABORTED, EINTR: nothing to do
  }
  ucred cred{};
  socklen_t len = sizeof(cred);
  struct stat st;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    Sweep();
    if (static_cast<int>(connections_.size()) >= options_.max_connections) {
      Refuse(fd, cred.uid,
             absl::StrCat(options_.max_connections,
                          " are open, the limit limits.max_connections_per_socket"));
      return false;
    }
    const auto of_uid = std::count_if(connections_.begin(), connections_.end(),
                                      [&](const auto& c) { return c.second.uid == cred.uid; });
    if (of_uid >= options_.max_connections_per_uid) {
      Refuse(fd, cred.uid,
             absl::StrCat("uid ", cred.uid, " has ", of_uid,
                          " open, the limit limits.max_connections_per_uid"));
      return false;
    }
    connections_[fd] = Connection{st.st_ino, cred.uid};
  }
  grpc::AddInsecureChannelFromFd(server, fd);
  return false;
}

void UnixListener::Refuse(int fd, uid_t uid, absl::string_view why) {
  close(fd);
  ++refused_since_log_;
  const absl::Time now = clock_.Now();
  if (now - last_refusal_log_ < kRefusalLogInterval) return;
  Log(LogLevel::kWarning, absl::StrCat("refused ", refused_since_log_, " connection(s) on ",
                                       options_.path, " (last from uid ", uid, "): ", why));
  last_refusal_log_ = now;
  refused_since_log_ = 0;
}

void UnixListener::Sweep() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    struct stat st;
    const bool open = fstat(it->first, &st) == 0 && st.st_ino == it->second.inode;
    it = open ? std::next(it) : connections_.erase(it);
  }
}

std::optional<uid_t> UnixListener::PeerUid(absl::string_view peer) const {
  int fd = -1;
  if (!absl::ConsumePrefix(&peer, "fd:") || !absl::SimpleAtoi(peer, &fd)) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(fd);
  if (it == connections_.end()) return std::nullopt;
  return it->second.uid;
}

int UnixListener::OpenConnections() {
  absl::MutexLock lock(&mu_);
  Sweep();
  return static_cast<int>(connections_.size());
}

}  // namespace balloond
