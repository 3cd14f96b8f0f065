#include "cli/command_line.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands/commands.h"
#include "cli/did_you_mean.h"

namespace balloond::cli {
namespace {

// The first word of `args` that should name a command and names none, answered with the commands
// there are and the nearest of them; "" when every command word is known. CLI11 alone says only
// "A subcommand is required" for `balloonctl lsit`.
std::string UnknownCommand(CLI::App& root, const std::vector<std::string>& args) {
  CLI::App* at = &root;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") return "";
    if (word.size() > 1 && word[0] == '-') {
      if (word.find('=') != std::string::npos) continue;
      // An option that takes a value takes the next word with it.
      for (CLI::App* app = at; app != nullptr; app = app->get_parent()) {
        if (const CLI::Option* option = app->get_option_no_throw(word)) {
          if (option->get_items_expected_max() > 0) ++i;
          break;
        }
      }
      continue;
    }
    std::vector<std::string> names;
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands({})) {
      names.push_back(sub->get_name());
      if (sub->check_name(word)) next = sub;
    }
    if (next != nullptr) {
      at = next;
      continue;
    }
    if (names.empty() || at->get_require_subcommand_min() == 0) return "";  // an argument
    const std::string parent = at == &root ? "" : at->get_name() + " ";
    return absl::StrCat("unknown command '", parent, word, "'.", DidYouMean(word, names),
                        " The commands", parent.empty() ? "" : " of ",
                        parent.empty() ? "" : parent.substr(0, parent.size() - 1), " are ",
                        absl::StrJoin(names, ", "), "; `balloonctl ", parent,
                        "--help` says what each does");
  }
  return "";
}

}  // namespace

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

int CommandLine::Run(const std::vector<std::string>& args, const SessionFactory& connect,
                     std::ostream& out, std::ostream& err) {
  if (const std::string unknown = UnknownCommand(app_, args); !unknown.empty()) {
    err << "balloonctl: " << unknown << "\n";
    return kExitUsage;
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // as CLI11 consumes them
  try {
    app_.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  try {
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
