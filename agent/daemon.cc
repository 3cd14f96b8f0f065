#include "agent/daemon.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/base/log.h"
#include "policy/settings.h"

namespace balloond {
namespace {

CollectorOptions CollectorOptionsOf(const AgentSettings& settings) {
  CollectorOptions options;
  options.stats_period = settings.stats_period;
  options.monitor_timeout = settings.monitor_timeout;
  return options;
}

PolicyRunnerOptions RunnerOptionsOf(const AgentSettings& settings,
                                    const std::optional<KsmPaths>& ksm) {
  PolicyRunnerOptions options;
  options.ksm = ksm;
  options.interval = settings.stats_period;
  options.monitor_timeout = settings.monitor_timeout;
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const AgentSettings& settings,
                                                      const balloon::v1::AgentConfig& loaded_config,
                                                      Environment environment) {
  auto policy = PolicyStore::Open(settings.state_dir, settings.policy);
  if (!policy.ok()) return policy.status();
  if (settings.mode_override) (*policy)->OverrideMode(*settings.mode_override);
  auto holds = HoldStore::Open(settings.state_dir);
  if (!holds.ok()) return holds.status();
  auto reservations = ReservationStore::Open(settings.state_dir);
  if (!reservations.ok()) return reservations.status();
  auto jumps = JumpStore::Open(settings.state_dir, environment.clock.Now());
  if (!jumps.ok()) return jumps.status();
  std::unique_ptr<Daemon> daemon(new Daemon(settings, loaded_config, std::move(environment),
                                            std::move(*policy), std::move(*holds),
                                            std::move(*reservations), std::move(*jumps)));
  if (absl::Status s = daemon->Listen(); !s.ok()) return s;
  daemon->collector_.Start();
  daemon->runner_.Start();
  Log(absl::StrCat(
      "serving on ", settings.server.listen, " (read-write) and ", settings.server.listen_ro,
      " (read-only), stats every ", absl::FormatDuration(settings.stats_period), ", policy mode ",
      balloon::v1::PolicyMode_Name(policy::WithDefaults(daemon->policy_->Get()).mode()),
      " (saved changes: ", daemon->policy_->saved_path(), ")"));
  return daemon;
}

Daemon::Daemon(const AgentSettings& settings, const balloon::v1::AgentConfig& loaded_config,
               Environment environment, std::unique_ptr<PolicyStore> policy,
               std::unique_ptr<HoldStore> holds, std::unique_ptr<ReservationStore> reservations,
               std::unique_ptr<JumpStore> jumps)
    : settings_(settings),
      loaded_config_(loaded_config),
      environment_(std::move(environment)),
      clock_(environment_.clock),
      systemd_(SystemdNotifier::FromEnvironment()),
      policy_(std::move(policy)),
      holds_(std::move(holds)),
      reservations_(std::move(reservations)),
      jumps_(std::move(jumps)),
      decisions_(&decision_feed_),
      snapshots_(this),
      metrics_({snapshots_, decisions_, clock_, environment_.read_host,
                [this] {
                  absl::MutexLock lock(&events_mu_);
                  return server_ != nullptr ? server_->OpenWatches() : 0;
                },
                [this] { return holds_->Active(clock_.Now()); }, &capacity_,
                [this] { return outside_changes_.total(); }}),
      hypervisor_(environment_.make_hypervisor(clock_, *this, metrics_.calls())),
      watch_lookups_("domain lookup", 1, 256),
      stats_feed_(*hypervisor_, clock_, watch_lookups_, balloon_paths_),
      collector_(*hypervisor_, snapshots_, clock_, CollectorOptionsOf(settings),
                 {&qom_traffic_, this, &stats_feed_}),
      runner_({snapshots_, *hypervisor_, clock_, *policy_, *holds_, decisions_, collector_,
               collector_, capacity_, *reservations_, events_, &outside_changes_, jumps_.get()},
              environment_.read_host, RunnerOptionsOf(settings, environment_.ksm)),
      services_({snapshots_, *hypervisor_, clock_, *policy_, decisions_, *holds_, stats_feed_,
                 decision_feed_, balloon_paths_, qom_traffic_, collector_, capacity_,
                 *reservations_, events_, &outside_changes_}) {}

absl::Status Daemon::Listen() {
  auto server = AgentServer::Start(settings_.server, services_);
  if (!server.ok()) return server.status();
  {
    absl::MutexLock lock(&events_mu_);
    server_ = std::move(*server);
    running_ = true;
  }
  if (!settings_.metrics_address.empty()) {
    if (absl::Status s = metrics_.Serve(settings_.metrics_address); !s.ok()) return s;
    // The port it got (the address may ask for port 0).
    const std::string host =
        settings_.metrics_address.substr(0, settings_.metrics_address.rfind(':'));
    Log(absl::StrCat("metrics on http://", host, ":", metrics_.port(), "/metrics"));
  }
  return absl::OkStatus();
}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() {
  if (std::exchange(stopped_, true)) return;
  systemd_.Notify("STOPPING=1");
  runner_.Stop();
  metrics_.StopServing();
  AgentServer* server;
  {
    absl::MutexLock lock(&events_mu_);
    running_ = false;  // events from here on reach nothing
    server = server_.get();
  }
  if (server != nullptr) server->Shutdown();
  collector_.Stop();
  watch_lookups_.Stop();
}

bool Daemon::serving() const {
  absl::MutexLock lock(&events_mu_);
  return serving_;
}

void Daemon::OnDomainChanged(const std::string& uuid) {
  absl::ReaderMutexLock lock(&events_mu_);
  if (running_) collector_.RequestRefresh(uuid);
}

void Daemon::OnSnapshot(const DomainSnapshot& snapshot) {
  stats_feed_.OnSnapshot(snapshot);
  lifecycle_events_.OnSnapshot(snapshot);
  outside_changes_.OnSnapshot(snapshot);
}

void Daemon::OnRemoved(const DomainSnapshot& last) {
  stats_feed_.OnRemoved(last);
  lifecycle_events_.OnRemoved(last);
  outside_changes_.OnRemoved(last);
}

void Daemon::OnReachability(const absl::Status& reachable) {
  metrics_.SetLibvirtConnected(reachable.ok());
  lifecycle_events_.OnReachability(reachable);
  const std::string status =
      reachable.ok()
          ? absl::StrCat("connected to libvirt at ", settings_.connect_uri)
          : absl::StrCat("libvirt at ", settings_.connect_uri, " is unreachable (",
                         reachable.message(), "); health is NOT_SERVING until it returns");
  Log(status);
  {
    absl::MutexLock lock(&events_mu_);
    if (!running_) return;
    serving_ = reachable.ok();
    server_->SetServing(serving_);
    // Under systemd (Type=notify): ready once the first collection is in the store, so that no
    // caller started after balloond ever sees a partial list.
    if (reachable.ok()) ready_ = true;
  }
  systemd_.Notify(absl::StrCat(reachable.ok() ? "READY=1\n" : "", "STATUS=", status));
}

void Daemon::OnRound(absl::Duration took) {
  metrics_.ObserveRound(took);
  absl::ReaderMutexLock lock(&events_mu_);
  if (running_) runner_.Trigger();
}

void Daemon::OnHeartbeat() { systemd_.PingWatchdog(clock_.Now()); }

void Daemon::Reload() {
  bool ready;
  {
    absl::MutexLock lock(&events_mu_);
    ready = ready_;
  }
  if (ready) systemd_.Notify("RELOADING=1");
  const std::string& file = settings_.config_file;
  if (file.empty()) {
    Log(LogLevel::kWarning, "SIGHUP: nothing to reload (balloond was started without --config)");
  } else {
    auto config = LoadAgentConfig(file);
    AgentSettings fresh;
    absl::Status status = config.status();
    if (status.ok()) status = ApplyAgentConfig(*config, fresh);
    if (status.ok()) status = policy_->ReplaceConfig(fresh.policy);
    if (!status.ok()) {
      Log(LogLevel::kError, absl::StrCat("SIGHUP: ", file, " not reloaded, the running ",
                                         "configuration stays: ", status.message()));
    } else {
      if (!settings_.log_level_from_flag) SetLogLevel(fresh.log_level);
      const std::string restart_only =
          absl::StrJoin(FieldsReadOnlyAtStart(loaded_config_, *config), ", ");
      loaded_config_ = *config;
      Log(absl::StrCat("SIGHUP: reloaded the policy and log level from ", file,
                       restart_only.empty() ? ""
                                            : absl::StrCat("; changed but read only at start "
                                                           "(restart to apply): ",
                                                           restart_only)));
    }
  }
  if (ready) systemd_.Notify("READY=1");
}

}  // namespace balloond
