#ifndef BALLOOND_CLI_COMMANDS_COMMANDS_H_
#define BALLOOND_CLI_COMMANDS_COMMANDS_H_

// balloonctl's command families: each adds its subcommands to `app`, and each subcommand's
// callback chooses what runs (CommandLine::Choose). One file each.

#include <CLI/CLI.hpp>

#include "cli/command_line.h"

namespace balloond::cli {

// list, stats, set, release (domains.cc).
void AddDomainCommands(CLI::App& app, CommandLine& cli);
// host, health, top, version (host.cc).
void AddHostCommands(CLI::App& app, CommandLine& cli);
// policy show|set|mode, decisions (policy.cc).
void AddPolicyCommands(CLI::App& app, CommandLine& cli);
// capacity, reserve, reservations, reservations release (alias unreserve) (capacity.cc).
void AddCapacityCommands(CLI::App& app, CommandLine& cli);
// qom ls|get (qom.cc).
void AddQomCommands(CLI::App& app, CommandLine& cli);
// events (events.cc).
void AddEventCommands(CLI::App& app, CommandLine& cli);

}  // namespace balloond::cli

#endif  // BALLOOND_CLI_COMMANDS_COMMANDS_H_
