#ifndef BALLOOND_AGENT_CONFIG_H_
#define BALLOOND_AGENT_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/log.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// Bounds on what clients can make balloond hold (balloon.v1.Limits, with its defaults).
struct ServingLimits {
  int max_connections_per_socket = 256;
  int max_connections_per_uid = 32;
  int max_tls_connections = 128;
  absl::Duration tls_max_connection_age = absl::Hours(1);
  int max_calls_per_connection = 64;
  int max_watches = 1024;
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

// The agent's settings after defaults, config file and flags.
struct AgentSettings {
  std::string connect_uri = "qemu:///system";
  std::string listen = "unix:/run/balloond/balloond.sock";
  std::string listen_ro = "unix:/run/balloond/balloond-ro.sock";
  absl::Duration stats_period = absl::Seconds(2);
  absl::Duration monitor_timeout = absl::Seconds(2);
  std::string state_dir = "/var/lib/balloond";
  balloon::v1::Policy policy;
  ServingLimits limits;
  TlsSettings tls;
  LogLevel log_level = LogLevel::kInfo;
  std::string metrics_address;  // HOST:PORT; empty: no metrics endpoint
};

// "off", "observe" or "enforce".
absl::StatusOr<balloon::v1::PolicyMode> ParsePolicyMode(absl::string_view text);

// Parses protobuf text format into `out`; errors name FILE_NAME:LINE:COLUMN.
absl::Status ParseTextFormat(absl::string_view text, absl::string_view file_name,
                             google::protobuf::Message& out);

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

// Checks a TCP listen address: HOST:PORT, with [brackets] around an IPv6 host.
absl::Status ValidateHostPort(absl::string_view flag, absl::string_view address);

// What the TLS listener needs besides its address: every file, and an address to go with them.
absl::Status ValidateTlsSettings(const TlsSettings& tls);

// "unix:/path" → "/path"; INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> UnixSocketPath(absl::string_view address);

}  // namespace balloond

#endif  // BALLOOND_AGENT_CONFIG_H_
