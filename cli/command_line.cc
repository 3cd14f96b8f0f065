#include "cli/command_line.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"

namespace balloond::cli {

CommandLine::CommandLine()
    : app_("balloonctl: query and steer balloond, the virtio-balloon memory agent", "balloonctl") {
  app_.require_subcommand(1);
  // Global flags work after the subcommand too (`balloonctl policy show -o json`), as kubectl
  // users type them; set before the subcommands are added, which inherit it.
  app_.fallthrough();
  app_.add_option("--socket", options_.connection.socket,
                  absl::StrCat("balloond's socket (default ", kDefaultReadOnlySocket,
                               " for reading, ", kDefaultSocket, " for changes)"));
  app_.add_option(
      "--server", options_.connection.server,
      "balloond's TLS listener, HOST:PORT (env BALLOONCTL_SERVER), instead of a socket");
  app_.add_option("--tls-ca", options_.connection.tls_ca,
                  "CA certificate(s) balloond's certificate must chain to (env BALLOONCTL_TLS_CA)");
  app_.add_option("--tls-cert", options_.connection.tls_cert,
                  "This client's certificate (env BALLOONCTL_TLS_CERT)");
  app_.add_option("--tls-key", options_.connection.tls_key,
                  "This client's private key (env BALLOONCTL_TLS_KEY)");
  app_.add_option("-o,--output", options_.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "name"}));
  app_.add_option("--timeout", options_.timeout, "Deadline of each call, e.g. 10s (default 10s)");
  app_.add_option("--request-id", options_.request_id,
                  "For a change (set, release, policy, reserve): a name for it, e.g. a UUID; "
                  "repeating the change with the same id within an hour returns the first answer "
                  "and acts once");
  AddDomainCommands(app_, *this);
  AddQomCommands(app_, *this);
  AddHostCommands(app_, *this);
  AddCapacityCommands(app_, *this);
  AddPolicyCommands(app_, *this);
  AddEventCommands(app_, *this);
}

void CommandLine::Choose(bool changes, Command command) {
  changes_ = changes;
  command_ = std::move(command);
}

void CommandLine::ChooseOffline(OfflineCommand command) { offline_ = std::move(command); }

int CommandLine::Run(const std::vector<std::string>& args, const SessionFactory& connect,
                     std::ostream& out, std::ostream& err) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // as CLI11 consumes them
  try {
    app_.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (offline_) return offline_(out);
    if (!command_) return kExitUsage;
    std::unique_ptr<Session> session = connect(options_, changes_, out, err);
    return command_(*session);
  } catch (const UsageError& e) {
    err << "balloonctl: " << e.message << "\n";
    return kExitUsage;
  } catch (const CallImpossible& e) {
    err << "balloonctl: " << e.message << "\n";
    return kExitFailed;
  }
}

}  // namespace balloond::cli
