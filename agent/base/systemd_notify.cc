#include "agent/base/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"

namespace balloond {

SystemdNotifier SystemdNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::optional<absl::Duration> watchdog;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  int64_t micros = 0;
  int64_t watchdog_pid = 0;
  // WATCHDOG_PID names the process meant to ping: a child that inherited the variables is not it.
  const bool ours =
      pid == nullptr || (absl::SimpleAtoi(pid, &watchdog_pid) && watchdog_pid == getpid());
  if (usec != nullptr && ours && absl::SimpleAtoi(usec, &micros) && micros > 0) {
    watchdog = absl::Microseconds(micros);
  }
  return SystemdNotifier(socket != nullptr ? socket : "", watchdog);
}

bool SystemdNotifier::Notify(absl::string_view assignments) const {
  if (socket_path_.empty()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(address.sun_path)) return false;
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  const socklen_t length = offsetof(sockaddr_un, sun_path) + socket_path_.size();
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  absl::Cleanup close_socket = [fd] { close(fd); };
  const ssize_t sent = sendto(fd, assignments.data(), assignments.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&address), length);
  return sent == static_cast<ssize_t>(assignments.size());
}

void SystemdNotifier::PingWatchdog(absl::Time now) {
  if (!watchdog_interval_) return;
  {
    absl::MutexLock lock(&mu_);
    if (now - last_ping_ < *watchdog_interval_ / 2) return;
    last_ping_ = now;
  }
  Notify("WATCHDOG=1");
}

}  // namespace balloond
