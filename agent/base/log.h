#ifndef BALLOOND_AGENT_BASE_LOG_H_
#define BALLOOND_AGENT_BASE_LOG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_LOG_H_
