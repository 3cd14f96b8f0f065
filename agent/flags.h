#ifndef BALLOOND_AGENT_FLAGS_H_
#define BALLOOND_AGENT_FLAGS_H_

// balloond's command line, and the settings it makes with the config file it names.

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "agent/config.h"

namespace balloond {

// The flags as given; an empty one was not given. Each overrides its config file setting.
struct AgentFlags {
  std::string config_file, connect, listen, listen_ro, stats_period, monitor_timeout, state_dir,
      policy_mode, log_level, metrics_address;
  bool qom_on_read_only_socket = false;
  TlsSettings tls;
};

// Defines the flags on `app`, with validators that make a bad value a usage error naming the flag.
void AddFlags(CLI::App& app, AgentFlags& flags);

// The settings: the defaults, the config file's over them (`loaded` gets the file as read), the
// flags' over both. FAILED_PRECONDITION names the config file's line; INVALID_ARGUMENT says which
// flags do not go together (a usage error).
absl::StatusOr<AgentSettings> SettingsFrom(const AgentFlags& flags,
                                           balloon::v1::AgentConfig& loaded);

}  // namespace balloond

#endif  // BALLOOND_AGENT_FLAGS_H_
