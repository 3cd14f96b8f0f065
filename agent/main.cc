// balloond: the per-host memory agent. See README.md for the flags and the API.
#include <grpc/support/log.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/agent_server.h"
#include "agent/collector.h"
#include "agent/config.h"
#include "agent/hold_store.h"
#include "agent/libvirt_hypervisor.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/policy_runner.h"
#include "agent/policy_store.h"
#include "agent/snapshot_store.h"
#include "agent/systemd_notify.h"
#include "policy/policy.h"

namespace {

constexpr int kExitUsage = 2;

int Fail(const absl::Status& status) {
  balloond::Log(balloond::LogLevel::kError, status.message());
  return 1;
}

// gRPC's errors (a client's failed TLS handshake, say) go to balloond's log like its own lines.
void LogGrpc(gpr_log_func_args* args) {
  const balloond::LogLevel level =
      args->severity == GPR_LOG_SEVERITY_ERROR  ? balloond::LogLevel::kError
      : args->severity == GPR_LOG_SEVERITY_INFO ? balloond::LogLevel::kInfo
                                                : balloond::LogLevel::kDebug;
  balloond::Log(level, absl::StrCat("grpc: ", args->message));
}

// SIGHUP: the config file's policy and log level again (the log level only where no --log-level
// was given). A file with errors changes nothing; other settings are read only at start, and the
// log says which of them changed. TLS files are watched on their own.
void Reload(const std::string& config_file, bool log_level_flag, balloon::v1::AgentConfig& loaded,
            balloond::PolicyStore& policy) {
  if (config_file.empty()) {
    balloond::Log(balloond::LogLevel::kWarning,
                  "SIGHUP: nothing to reload (balloond was started without --config)");
    return;
  }
  auto config = balloond::LoadAgentConfig(config_file);
  balloond::AgentSettings fresh;
  absl::Status status = config.status();
  if (status.ok()) status = balloond::ApplyAgentConfig(*config, fresh);
  if (status.ok()) status = policy.ReplaceConfig(fresh.policy);
  if (!status.ok()) {
    balloond::Log(balloond::LogLevel::kError,
                  absl::StrCat("SIGHUP: ", config_file, " not reloaded, the running configuration ",
                               "stays: ", status.message()));
    return;
  }
  if (!log_level_flag) balloond::SetLogLevel(fresh.log_level);
  std::string restart_only = absl::StrJoin(balloond::FieldsReadOnlyAtStart(loaded, *config), ", ");
  loaded = *config;
  balloond::Log(absl::StrCat("SIGHUP: reloaded the policy and log level from ", config_file,
                             restart_only.empty() ? ""
                                                  : absl::StrCat("; changed but read only at "
                                                                 "start (restart to apply): ",
                                                                 restart_only)));
}

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

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(LogGrpc);
  CLI::App app{"balloond: virtio-balloon memory agent for libvirt/QEMU hosts"};
  std::string config_file, connect, listen, listen_ro, stats_period, monitor_timeout, state_dir,
      policy_mode, log_level, metrics_address;
  app.add_option("--config", config_file, "Config file (text-format balloon.v1.AgentConfig)");
  app.add_option("--connect", connect, "libvirt URI (default qemu:///system)");
  app.add_option("--listen", listen,
                 "Read-write socket (default unix:/run/balloond/balloond.sock)");
  app.add_option("--listen-ro", listen_ro,
                 "Read-only socket (default unix:/run/balloond/balloond-ro.sock)");
  auto duration = [](const char* field, balloond::DurationRange range) {
    return ParsedBy([field, range](const std::string& text) {
      return balloond::ParseDurationIn(text, field, range).status();
    });
  };
  app.add_option("--stats-period", stats_period,
                 "Collection period and guest polling interval (default 2s)")
      ->check(duration("--stats-period", balloond::kStatsPeriodRange));
  app.add_option("--monitor-timeout", monitor_timeout,
                 "Deadline of the agent's own QMP calls (default 2s)")
      ->check(duration("--monitor-timeout", balloond::kMonitorTimeoutRange));
  app.add_option("--state-dir", state_dir,
                 "Where API changes to the policy are kept (default /var/lib/balloond)");
  app.add_option("--policy-mode", policy_mode,
                 "off, observe or enforce: the policy's mode for this run")
      ->check(ParsedBy(
          [](const std::string& text) { return balloond::ParsePolicyMode(text).status(); }));
  app.add_option("--log-level", log_level, "debug, info, warning or error (default info)")
      ->check(
          ParsedBy([](const std::string& text) { return balloond::ParseLogLevel(text).status(); }));
  app.add_option("--metrics-address", metrics_address,
                 "Serve Prometheus metrics at http://HOST:PORT/metrics (default: none)")
      ->check(ParsedBy(
          [](const std::string& text) { return balloond::ValidateHostPort("address", text); }));
  balloond::TlsSettings tls_flags;
  app.add_option("--listen-tls", tls_flags.listen,
                 "TCP listener with mutual TLS, HOST:PORT (default: none)");
  app.add_option("--tls-cert", tls_flags.cert_file,
                 "balloond's certificate for --listen-tls (PEM)");
  app.add_option("--tls-key", tls_flags.key_file, "Its private key (PEM)");
  app.add_option("--tls-client-ca", tls_flags.client_ca_file,
                 "CA certificates that client certificates must chain to (PEM)");
  app.add_option(
      "--tls-operator", tls_flags.operators,
      "A client identity (SAN DNS, SAN URI or CN) that may also change balloond; repeatable");
  app.set_version_flag("--version", BALLOOND_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }

  balloond::AgentSettings settings;
  balloon::v1::AgentConfig loaded_config;  // as read, to tell what a reload cannot apply
  if (!config_file.empty()) {
    auto config = balloond::LoadAgentConfig(config_file);
    if (!config.ok()) return Fail(config.status());
    if (absl::Status s = balloond::ApplyAgentConfig(*config, settings); !s.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(config_file, ": ", s.message())));
    }
    loaded_config = *config;
  }
  // The flags' values were checked by their validators.
  if (!log_level.empty()) settings.log_level = *balloond::ParseLogLevel(log_level);
  balloond::SetLogLevel(settings.log_level);
  if (!metrics_address.empty()) settings.metrics_address = metrics_address;
  if (!connect.empty()) settings.connect_uri = connect;
  if (!listen.empty()) settings.listen = listen;
  if (!listen_ro.empty()) settings.listen_ro = listen_ro;
  if (!state_dir.empty()) settings.state_dir = state_dir;
  for (auto [flag, target] : {std::pair{&tls_flags.listen, &settings.tls.listen},
                              std::pair{&tls_flags.cert_file, &settings.tls.cert_file},
                              std::pair{&tls_flags.key_file, &settings.tls.key_file},
                              std::pair{&tls_flags.client_ca_file, &settings.tls.client_ca_file}}) {
    if (!flag->empty()) *target = *flag;
  }
  if (!tls_flags.operators.empty()) settings.tls.operators = tls_flags.operators;
  if (absl::Status s = balloond::ValidateTlsSettings(settings.tls); !s.ok()) {
    std::cerr << "balloond: " << s.message() << "\n";
    return kExitUsage;
  }
  std::optional<balloon::v1::PolicyMode> mode_override;
  if (!policy_mode.empty()) mode_override = *balloond::ParsePolicyMode(policy_mode);
  if (!stats_period.empty()) settings.stats_period = *balloond::ParsePositiveDuration(stats_period);
  if (!monitor_timeout.empty()) {
    settings.monitor_timeout = *balloond::ParsePositiveDuration(monitor_timeout);
  }

  // Signals are taken by sigwait below, so every thread started from here on blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // The connection caps assume the descriptors the hard limit allows (the unit's LimitNOFILE sets
  // both; a shell or a container often has a soft limit of 1024).
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto policy = balloond::PolicyStore::Open(settings.state_dir, settings.policy);
  if (!policy.ok()) return Fail(policy.status());
  auto holds = balloond::HoldStore::Open(settings.state_dir);
  if (!holds.ok()) return Fail(holds.status());
  if (mode_override) (*policy)->OverrideMode(*mode_override);
  balloond::DecisionLog decisions;

  balloond::RealClock clock;
  balloond::SnapshotStore store;
  balloond::LibvirtHypervisor libvirt(settings.connect_uri);
  balloond::AgentServer* server_for_metrics = nullptr;  // set once the server runs
  balloond::AgentMetrics metrics(
      {store, decisions, clock, [] { return balloond::ReadHostMemory(); },
       [&server_for_metrics] {
         return server_for_metrics != nullptr ? server_for_metrics->OpenWatches() : 0;
       },
       [&holds, &clock] { return (*holds)->Active(clock.Now()); }});
  balloond::MeteredHypervisor hypervisor(libvirt, metrics);
  balloond::CollectorOptions collector_options;
  collector_options.stats_period = settings.stats_period;
  collector_options.monitor_timeout = settings.monitor_timeout;
  balloond::QomTraffic qom_traffic;
  balloond::Collector collector(hypervisor, store, clock, collector_options, &qom_traffic);
  auto server = balloond::AgentServer::Start(
      settings, {hypervisor, store, clock, collector, **policy, decisions, qom_traffic, **holds});
  if (!server.ok()) return Fail(server.status());
  server_for_metrics = server->get();
  if (!settings.metrics_address.empty()) {
    if (absl::Status s = metrics.Serve(settings.metrics_address); !s.ok()) return Fail(s);
    // The port it got (the address may ask for port 0).
    const std::string host =
        settings.metrics_address.substr(0, settings.metrics_address.rfind(':'));
    balloond::Log(absl::StrCat("metrics on http://", host, ":", metrics.port(), "/metrics"));
  }
  // Under systemd (Type=notify): ready once the first collection is in the store, so that no
  // caller started after balloond ever sees a partial list; the watchdog pinged by the collector.
  balloond::SystemdNotifier systemd = balloond::SystemdNotifier::FromEnvironment();
  std::atomic<bool> ready{false};
  collector.SetReachabilityCallback([&](const absl::Status& why) {
    const bool reachable = why.ok();
    metrics.SetLibvirtConnected(reachable);
    (*server)->SetServing(reachable);
    const std::string status =
        reachable ? absl::StrCat("connected to libvirt at ", settings.connect_uri)
                  : absl::StrCat("libvirt at ", settings.connect_uri, " is unreachable (",
                                 why.message(), "); health is NOT_SERVING until it returns");
    balloond::Log(status);
    if (reachable) ready = true;
    systemd.Notify(absl::StrCat(reachable ? "READY=1\n" : "", "STATUS=", status));
  });
  collector.SetHeartbeatCallback([&systemd] { systemd.PingWatchdog(absl::Now()); });
  balloond::PolicyRunnerOptions runner_options;
  runner_options.interval = settings.stats_period;
  runner_options.monitor_timeout = settings.monitor_timeout;
  balloond::PolicyRunner runner(
      store, hypervisor, clock, **policy, decisions, [] { return balloond::ReadHostMemory(); },
      [&collector] { collector.RequestRefresh(); }, runner_options);
  collector.SetRoundCallback([&runner, &metrics](absl::Duration took) {
    metrics.ObserveRound(took);
    runner.Trigger();
  });
  runner.SetHolds(holds->get());
  runner.SetCollectionPlanCallback([&collector](const std::map<std::string, int>& every) {
    collector.SetCollectionPlan(every);
  });
  collector.Start();
  runner.Start();
  balloond::Log(absl::StrCat(
      "serving on ", settings.listen, " (read-write) and ", settings.listen_ro,
      " (read-only), stats every ", absl::FormatDuration(settings.stats_period), ", policy mode ",
      balloon::v1::PolicyMode_Name(balloond::policy::WithDefaults((*policy)->Get()).mode()),
      " (saved changes: ", (*policy)->saved_path(), ")"));

  int signal = 0;
  while (sigwait(&stop_signals, &signal) == 0 && signal == SIGHUP) {
    if (ready) systemd.Notify("RELOADING=1");
    Reload(config_file, !log_level.empty(), loaded_config, **policy);
    if (ready) systemd.Notify("READY=1");
  }
  balloond::Log(absl::StrCat("signal ", signal, ": shutting down"));
  systemd.Notify("STOPPING=1");
  runner.Stop();
  metrics.StopServing();
  (*server)->Shutdown();
  collector.Stop();
  return 0;
}
