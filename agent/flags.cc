#include "agent/flags.h"

#include "absl/strings/str_cat.h"
#include "agent/base/log.h"

namespace balloond {
namespace {

// A CLI11 check made of one of config.h's parsers: a bad value is a usage error naming the flag.
template <typename Parse>
CLI::Validator ParsedBy(Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        const absl::Status status = parse(text);
        return status.ok() ? "" : std::string(status.message());
      },
      "");
}

CLI::Validator DurationIn(const char* flag, DurationRange range) {
  return ParsedBy([flag, range](const std::string& text) {
    return ParseDurationIn(text, flag, range).status();
  });
}

}  // namespace

void AddFlags(CLI::App& app, AgentFlags& f) {
  app.add_option("--config", f.config_file, "Config file (text-format balloon.v1.AgentConfig)");
  app.add_option("--connect", f.connect, "libvirt URI (default qemu:///system)");
  app.add_option("--listen", f.listen,
                 "Read-write socket (default unix:/run/balloond/balloond.sock)");
  app.add_option("--listen-ro", f.listen_ro,
                 "Read-only socket (default unix:/run/balloond/balloond-ro.sock)");
  app.add_flag("--qom-on-read-only-socket", f.qom_on_read_only_socket,
               "Serve QOM queries on the read-only socket too (off: libvirt marks a domain "
               "tainted at a client's QMP command, so any local user could taint every VM)");
  app.add_option("--stats-period", f.stats_period,
                 "Collection period and guest polling interval (default 2s)")
      ->check(DurationIn("--stats-period", kStatsPeriodRange));
  app.add_option("--monitor-timeout", f.monitor_timeout,
                 "Deadline of the agent's own QMP calls (default 2s)")
      ->check(DurationIn("--monitor-timeout", kMonitorTimeoutRange));
  app.add_option("--state-dir", f.state_dir,
                 "Where API changes to the policy are kept (default /var/lib/balloond)");
  app.add_option("--policy-mode", f.policy_mode,
                 "off, observe or enforce: the policy's mode for this run")
      ->check(ParsedBy([](const std::string& text) { return ParsePolicyMode(text).status(); }));
  app.add_option("--log-level", f.log_level, "debug, info, warning or error (default info)")
      ->check(ParsedBy([](const std::string& text) { return ParseLogLevel(text).status(); }));
  app.add_option("--metrics-address", f.metrics_address,
                 "Serve Prometheus metrics at http://HOST:PORT/metrics (default: none)")
      ->check(ParsedBy([](const std::string& text) { return ValidateHostPort("address", text); }));
  app.add_option("--listen-tls", f.tls.listen,
                 "TCP listener with mutual TLS, HOST:PORT (default: none)");
  app.add_option("--tls-cert", f.tls.cert_file, "balloond's certificate for --listen-tls (PEM)");
  app.add_option("--tls-key", f.tls.key_file, "Its private key (PEM)");
  app.add_option("--tls-client-ca", f.tls.client_ca_file,
                 "CA certificates that client certificates must chain to (PEM)");
  app.add_option("--tls-operator", f.tls.operators,
                 "A client identity that may also change balloond: a SAN URI (bare or uri:...), "
                 "dns:NAME or cn:NAME; repeatable");
}

absl::StatusOr<AgentSettings> SettingsFrom(const AgentFlags& f, balloon::v1::AgentConfig& loaded) {
  AgentSettings settings;
  settings.config_file = f.config_file;
  if (!f.config_file.empty()) {
    // A config file that cannot be used is not a usage error: FAILED_PRECONDITION.
    auto config = LoadAgentConfig(f.config_file);
    if (!config.ok()) return absl::FailedPreconditionError(config.status().message());
    if (absl::Status s = ApplyAgentConfig(*config, settings); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(f.config_file, ": ", s.message()));
    }
    loaded = *config;
  }
  // The flags' values were checked by their validators.
  if (!f.log_level.empty()) {
    settings.log_level = *ParseLogLevel(f.log_level);
    settings.log_level_from_flag = true;
  }
  if (!f.metrics_address.empty()) settings.metrics_address = f.metrics_address;
  if (!f.connect.empty()) settings.connect_uri = f.connect;
  if (!f.listen.empty()) settings.server.listen = f.listen;
  if (!f.listen_ro.empty()) settings.server.listen_ro = f.listen_ro;
  if (f.qom_on_read_only_socket) settings.server.qom_on_read_only_socket = true;
  if (!f.state_dir.empty()) settings.state_dir = f.state_dir;
  TlsSettings& tls = settings.server.tls;
  for (auto [flag, target] :
       {std::pair{&f.tls.listen, &tls.listen}, std::pair{&f.tls.cert_file, &tls.cert_file},
        std::pair{&f.tls.key_file, &tls.key_file},
        std::pair{&f.tls.client_ca_file, &tls.client_ca_file}}) {
    if (!flag->empty()) *target = *flag;
  }
  if (!f.tls.operators.empty()) tls.operators = f.tls.operators;
  if (absl::Status s = ValidateTlsSettings(tls); !s.ok()) return s;
  if (!f.policy_mode.empty()) settings.mode_override = *ParsePolicyMode(f.policy_mode);
  if (!f.stats_period.empty()) settings.stats_period = *ParsePositiveDuration(f.stats_period);
  if (!f.monitor_timeout.empty()) {
    settings.monitor_timeout = *ParsePositiveDuration(f.monitor_timeout);
  }
  return settings;
}

}  // namespace balloond
