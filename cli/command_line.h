#ifndef BALLOOND_CLI_COMMAND_LINE_H_
#define BALLOOND_CLI_COMMAND_LINE_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/session.h"

namespace balloond::cli {

// balloonctl's command line: the global flags and every family's subcommands (cli/commands/),
// parsed, and the chosen command run in a session. Exit codes: 0 ok, 1 the call failed, 2 usage.
class CommandLine {
 public:
  // What a subcommand's callback chooses to run, once the command line has been parsed.
  using Command = std::function<int(Session&)>;

  CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // Parses `args` (without the program's name), then runs the command chosen in a session from
  // `connect`, printing to `out` and `err`. The exit code.
  int Run(const std::vector<std::string>& args, const SessionFactory& connect, std::ostream& out,
          std::ostream& err);

  // For the families: the command to run, and whether it changes anything (the read-write socket).
  void Choose(bool changes, Command command);
  const GlobalOptions& options() const { return options_; }

 private:
  CLI::App app_;
  GlobalOptions options_;
  bool changes_ = false;
  Command command_;
};

}  // namespace balloond::cli

#endif  // BALLOOND_CLI_COMMAND_LINE_H_
