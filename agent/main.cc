// balloond: the per-host memory agent. See README.md for the flags and the API.
#include <grpc/support/log.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/base/log.h"
#include "agent/daemon.h"
#include "agent/flags.h"
#include "agent/libvirt/libvirt_hypervisor.h"

namespace {

constexpr int kExitUsage = 2;

// gRPC's errors (a client's failed TLS handshake, say) go to balloond's log like its own lines, at
// most one a minute from each place in gRPC's code: a peer that connects and never handshakes, in a
// loop, leaves a count in the journal rather than a line every few milliseconds.
void LogGrpc(gpr_log_func_args* args) {
  static auto* paced = new balloond::PacedLog(balloond::RealClock(), absl::Minutes(1));
  const balloond::LogLevel level =
      args->severity == GPR_LOG_SEVERITY_ERROR  ? balloond::LogLevel::kError
      : args->severity == GPR_LOG_SEVERITY_INFO ? balloond::LogLevel::kInfo
                                                : balloond::LogLevel::kDebug;
  if (!balloond::LogEnabled(level)) return;
  // Lines differing only in numbers (a peer's address and port) are one kind; other text is not.
  std::string kind = absl::StrCat(args->file, ":", args->line, ":", args->message);
  kind.erase(
      std::remove_if(kind.begin(), kind.end(), [](char c) { return absl::ascii_isdigit(c); }),
      kind.end());
  paced->Log(kind, level, absl::StrCat("grpc: ", args->message));
}

// The connection caps assume the descriptors the hard limit allows (the unit's LimitNOFILE sets
// both; a shell or a container often has a soft limit of 1024).
void RaiseDescriptorLimit() {
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(LogGrpc);
  CLI::App app{"balloond: virtio-balloon memory agent for libvirt/QEMU hosts"};
  balloond::AgentFlags flags;
  balloond::AddFlags(app, flags);
  app.set_version_flag("--version", BALLOOND_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  balloon::v1::AgentConfig loaded_config;  // as read, to tell what a reload cannot apply
  auto settings = balloond::SettingsFrom(flags, loaded_config);
  if (!settings.ok()) {
    balloond::Log(balloond::LogLevel::kError, settings.status().message());
    return settings.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : 1;
  }
  balloond::SetLogLevel(settings->log_level);

  // Signals are taken by sigwait below, so every thread started from here on blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  balloond::Daemon::Environment environment;
  environment.make_hypervisor = [uri = settings->connect_uri](balloond::Clock& clock,
                                                              balloond::DomainChangeListener& to,
                                                              balloond::CallMeter& meter) {
    return std::make_unique<balloond::LibvirtHypervisor>(uri, clock, to, meter);
  };
  environment.ksm = balloond::KsmPaths();
  auto daemon = balloond::Daemon::Start(*settings, loaded_config, std::move(environment));
  if (!daemon.ok()) {
    balloond::Log(balloond::LogLevel::kError, daemon.status().message());
    return 1;
  }
  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) (*daemon)->Reload();
  balloond::Log(absl::StrCat("signal ", signal, ": shutting down"));
  (*daemon)->Stop();
  return 0;
}
