// balloonctl: the operator's command line for balloond (cli/command_line.h, cli/commands/).
// Exit codes: 0 ok, 1 the call failed, 2 usage error.
#include <grpc/support/log.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command_line.h"

int main(int argc, char** argv) {
  // gRPC's own log lines (a failed TLS handshake, say) would only repeat, less clearly, what the
  // error message says; GRPC_VERBOSITY=info brings them back.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  balloond::cli::CommandLine command_line;
  return command_line.Run(std::vector<std::string>(argv + 1, argv + argc),
                          balloond::cli::ConnectToBalloond, std::cout, std::cerr);
}
