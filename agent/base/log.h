#ifndef BALLOOND_AGENT_BASE_LOG_H_
#define BALLOOND_AGENT_BASE_LOG_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines below `level` are dropped (default: info).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// "debug", "info", "warning" or "error".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// One line on stderr, which systemd's journal and kubectl logs both collect: the time, the
// severity, the message. Under systemd the line starts with the syslog priority ("<4>") so that
// the journal files it at that severity.
void Log(LogLevel level, absl::string_view message);
inline void Log(absl::string_view message) { Log(LogLevel::kInfo, message); }

// Logs lines that may come in floods (a peer failing TLS handshakes in a loop) as a rate: at most
// one line per `interval` for each key, the next one saying how many were left out meanwhile.
class PacedLog {
 public:
  PacedLog(Clock& clock, absl::Duration interval) : clock_(clock), interval_(interval) {}
  void Log(absl::string_view key, LogLevel level, absl::string_view message);

 private:
  struct Pace {
    absl::Time last = absl::InfinitePast();
    int64_t left_out = 0;
  };
  Clock& clock_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::map<std::string, Pace, std::less<>> paces_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_LOG_H_
