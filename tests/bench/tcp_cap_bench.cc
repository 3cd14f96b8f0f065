// What admitting a connection to the TLS port costs while many other TCP sockets are open on the
// host: with none (the baseline) and with N idle loopback connections, in the same run. The cap
// asks the kernel which user holds a loopback client's socket for every connection it accepts;
// under a flood of connections that cost is paid once per connection, in gRPC's accept loop.
// Prints microseconds per Admit and the ratio to the baseline. Not a test: figures for the README.
//
// Usage: build/tests/tcp_cap_bench [OPEN_CONNECTIONS...]   (default 1000 4000)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/time/clock.h"
#include "agent/api/tcp_connection_cap.h"
#include "agent/base/clock.h"

namespace {

// A loopback listener and the connections this process makes to it (both ends kept open).
class Loopback {
 public:
  Loopback() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_));
    listen(listen_fd_, 4096);
    socklen_t len = sizeof(addr_);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr_), &len);
  }
  ~Loopback() {
    for (int fd : open_) CloseWithoutTimeWait(fd);
    close(listen_fd_);
  }
  // Closes with a reset: no TIME_WAIT entry is left to weigh on the next measurement.
  static void CloseWithoutTimeWait(int fd) {
    const linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
  }
  // A new connection's accepted end; `keep` leaves both ends open until the end.
  int Connect(bool keep) {
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)) != 0) std::abort();
    const int accepted = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (accepted < 0) std::abort();
    if (keep) {
      open_.push_back(client);
      open_.push_back(accepted);
    } else {
      last_client_ = client;
    }
    return accepted;
  }
  int last_client() const { return last_client_; }

 private:
  int listen_fd_ = -1;
  sockaddr_in addr_{};
  std::vector<int> open_;
  int last_client_ = -1;
};

// Microseconds per Admit of a new loopback connection, with `open` other connections held.
double MicrosPerAdmit(int open) {
  balloond::SystemClock clock;
  balloond::TcpConnectionCap::Options options;
  options.reserved_descriptors = 0;
  options.max_per_source = 1 << 20;
  options.max_connections = 1 << 20;
  balloond::TcpConnectionCap cap(options, clock);
  Loopback loopback;
  for (int i = 0; i < open; ++i) loopback.Connect(/*keep=*/true);
  constexpr int kAdmits = 300;
  absl::Duration spent;
  for (int i = 0; i < kAdmits; ++i) {
    const int fd = loopback.Connect(/*keep=*/false);
    const absl::Time start = absl::Now();
    cap.Admit(fd);
    spent += absl::Now() - start;
    Loopback::CloseWithoutTimeWait(fd);
    Loopback::CloseWithoutTimeWait(loopback.last_client());
  }
  return absl::ToDoubleMicroseconds(spent) / kAdmits;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {1000, 4000};
  rlimit limit{65536, 65536};
  setrlimit(RLIMIT_NOFILE, &limit);
  const double baseline = MicrosPerAdmit(0);
  std::printf("%-24s %12s %8s\n", "other connections open", "us per Admit", "ratio");
  std::printf("%-24d %12.1f %8.2f\n", 0, baseline, 1.0);
  for (int open : counts) {
    const double us = MicrosPerAdmit(open);
    std::printf("%-24d %12.1f %8.2f\n", open, us, us / baseline);
  }
  return 0;
}
