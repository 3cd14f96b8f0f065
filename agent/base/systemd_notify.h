#ifndef BALLOOND_AGENT_BASE_SYSTEMD_NOTIFY_H_
#define BALLOOND_AGENT_BASE_SYSTEMD_NOTIFY_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace balloond {

// Tells the service manager how balloond is doing, by systemd's notification protocol
// (sd_notify(3): newline-separated KEY=VALUE assignments in one datagram to the socket named by
// $NOTIFY_SOCKET; a leading '@' names an abstract socket). Does nothing when balloond was not
// started that way (Type=notify sets the variable). Thread-safe.
class SystemdNotifier {
 public:
  // Reads $NOTIFY_SOCKET, and $WATCHDOG_USEC when $WATCHDOG_PID is unset or balloond's own.
  static SystemdNotifier FromEnvironment();

  bool enabled() const { return !socket_path_.empty(); }
  // How often the watchdog wants a ping; none without WatchdogSec=.
  std::optional<absl::Duration> watchdog_interval() const { return watchdog_interval_; }

  // Sends `assignments` (e.g. "READY=1\nSTATUS=serving"); false when it could not be delivered.
  bool Notify(absl::string_view assignments) const;
  // "WATCHDOG=1", at most twice per watchdog interval however often it is called (systemd's advice:
  // ping at half the interval); a no-op without a watchdog.
  void PingWatchdog(absl::Time now);

 private:
  SystemdNotifier(std::string socket_path, std::optional<absl::Duration> watchdog_interval)
      : socket_path_(std::move(socket_path)), watchdog_interval_(watchdog_interval) {}

  std::string socket_path_;
  std::optional<absl::Duration> watchdog_interval_;
  absl::Mutex mu_;
  absl::Time last_ping_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_SYSTEMD_NOTIFY_H_
