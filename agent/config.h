#ifndef BALLOOND_AGENT_CONFIG_H_
#define BALLOOND_AGENT_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/api/server_settings.h"
#include "agent/base/log.h"
#include "balloon/v1/config.pb.h"

namespace balloond {

// The agent's settings after defaults, config file and flags.
struct AgentSettings {
  std::string connect_uri = "qemu:///system";
  ServerSettings server;  // the sockets, the TLS listener, the limits
  absl::Duration stats_period = absl::Seconds(2);
  absl::Duration monitor_timeout = absl::Seconds(2);
  std::string state_dir = "/var/lib/balloond";
  balloon::v1::Policy policy;
  LogLevel log_level = LogLevel::kInfo;
  std::string metrics_address;  // HOST:PORT; empty: no metrics endpoint
  // From the command line only: the config file (which SIGHUP reads again), whether --log-level
  // was given (the file's then never applies), and the run's policy mode (never saved).
  std::string config_file;
  bool log_level_from_flag = false;
  std::optional<balloon::v1::PolicyMode> mode_override;
};

// "off", "observe" or "enforce".
absl::StatusOr<balloon::v1::PolicyMode> ParsePolicyMode(absl::string_view text);

// Parses the config file's text format; errors name the line and column.
absl::StatusOr<balloon::v1::AgentConfig> ParseAgentConfig(absl::string_view text,
                                                          absl::string_view file_name);
absl::StatusOr<balloon::v1::AgentConfig> LoadAgentConfig(const std::string& path);

// Applies the fields set in `config` over `settings`, checking each.
absl::Status ApplyAgentConfig(const balloon::v1::AgentConfig& config, AgentSettings& settings);

// The fields that differ between two readings of the config file and that balloond reads only at
// start (all but `policy` and `log_level`, which SIGHUP reloads), by name, in field order.
std::vector<std::string> FieldsReadOnlyAtStart(const balloon::v1::AgentConfig& before,
                                               const balloon::v1::AgentConfig& after);

// "2s", "500ms", "1m"; a plain number is seconds. Must be positive.
absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view text);

// What each duration setting may be, as a flag or in the config file: a period of hours would
// leave balloond blind, one of a few milliseconds would make it spin.
struct DurationRange {
  absl::Duration min, max;
};
inline constexpr DurationRange kStatsPeriodRange{absl::Milliseconds(100), absl::Hours(1)};
inline constexpr DurationRange kMonitorTimeoutRange{absl::Milliseconds(10), absl::Minutes(1)};
inline constexpr DurationRange kIdleTimeoutRange{absl::Seconds(1), absl::Hours(24)};
inline constexpr DurationRange kConnectionAgeRange{absl::Seconds(10), absl::Hours(24 * 7)};
// ParsePositiveDuration, within `range`; errors name `field`.
absl::StatusOr<absl::Duration> ParseDurationIn(absl::string_view text, absl::string_view field,
                                               DurationRange range);

}  // namespace balloond

#endif  // BALLOOND_AGENT_CONFIG_H_
