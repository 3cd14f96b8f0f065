// abuse_client: what an unprivileged local user (or anyone on the network) can throw at balloond,
// for the soak test. Each kind runs on threads of its own until --seconds pass:
//   --cancel_storm: watches of unknown, stopped and running domains with 1-3 ms deadlines or
//     cancelled at once, and GetMemoryStats of unknown names (the path of the old use-after-free);
//   --health_watchers: health Watch streams held open, re-opened when ended;
//   --padded: requests padded past the socket's request cap, and just under it;
//   --idle_connections: UNIX connections that never send anything, re-opened when closed;
//   --tls_idle: TCP connections to the TLS port that never start a handshake.
// Prints key=value lines with what balloond answered.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, socket, "", "balloond's read-only socket");
ABSL_FLAG(std::vector<std::string>, domains, {}, "domains to watch besides unknown names");
ABSL_FLAG(int, cancel_storm, 0, "threads opening and cancelling watches");
ABSL_FLAG(int, health_watchers, 0, "health Watch streams held open");
ABSL_FLAG(int, padded, 0, "threads sending padded requests");
ABSL_FLAG(int, idle_connections, 0, "UNIX connections held open without a word");
ABSL_FLAG(int, tls_idle, 0, "TCP connections to --tls_port held open without a handshake");
ABSL_FLAG(int, tls_port, 0, "balloond's TLS port on 127.0.0.1");
ABSL_FLAG(int, seconds, 60, "how long it lasts");

namespace v1 = balloon::v1;

namespace {

class Tally {
 public:
  void Add(const std::string& what) {
    absl::MutexLock lock(&mu_);
    ++counts_[what];
  }
  void Print() {
    absl::MutexLock lock(&mu_);
    for (const auto& [what, n] : counts_) std::printf("%s=%d\n", what.c_str(), n);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> counts_;
};

std::shared_ptr<grpc::Channel> NewConnection(const std::string& socket) {
  grpc::ChannelArguments args;
  static std::atomic<int> n{0};
  args.SetInt("balloond.abuse_connection", n++);  // a connection of its own
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

// A connected socket that says nothing; -1 when refused.
int RawUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int RawTcp(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Holds `count` silent connections made by `open`, replacing those the server closes.
void HoldIdle(int count, const std::function<int()>& open, const std::atomic<bool>& stop,
              Tally& tally, const std::string& name) {
  std::vector<int> fds;
  while (!stop) {
    while (static_cast<int>(fds.size()) < count) {
      const int fd = open();
      tally.Add(name + (fd >= 0 ? "_connected" : "_refused"));
      if (fd < 0) break;
      fds.push_back(fd);
    }
    for (auto it = fds.begin(); it != fds.end();) {
      pollfd p{*it, POLLIN, 0};
      char buf[256];
      // A closed one is replaced; what the server says (gRPC's settings) is read and ignored.
      if (poll(&p, 1, 0) > 0 && read(*it, buf, sizeof(buf)) == 0) {
        tally.Add(name + "_closed_by_server");
        close(*it);
        it = fds.erase(it);
      } else {
        ++it;
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  for (int fd : fds) close(fd);
}

void CancelStorm(const std::string& socket, const std::vector<std::string>& domains,
                 const std::atomic<bool>& stop, Tally& tally, int seed) {
  std::mt19937 rng(seed);
  auto stub = v1::BalloonReadService::NewStub(NewConnection(socket));
  for (int n = 0; !stop; ++n) {
    const bool known = !domains.empty() && rng() % 3 == 0;
    const std::string domain =
        known ? domains[rng() % domains.size()] : absl::StrCat("no-such-domain-", rng() % 1000);
    if (n % 5 == 4) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(1 + rng() % 3)));
      v1::GetMemoryStatsRequest req;
      req.set_domain(domain);
      v1::MemoryStats resp;
      tally.Add(absl::StrCat("get_", stub->GetMemoryStats(&ctx, req, &resp).error_code()));
      continue;
    }
    grpc::ClientContext ctx;
    const bool cancel_at_once = rng() % 2 == 0;
    if (!cancel_at_once) {
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(1 + rng() % 3)));
    }
    v1::WatchMemoryStatsRequest req;
    req.set_domain(domain);
    auto reader = stub->WatchMemoryStats(&ctx, req);
    if (cancel_at_once) ctx.TryCancel();
    v1::MemoryStats m;
    while (reader->Read(&m)) {
    }
    tally.Add(absl::StrCat("watch_", reader->Finish().error_code()));
  }
}

void HealthWatchers(const std::string& socket, int count, const std::atomic<bool>& stop,
                    Tally& tally) {
  auto stub = grpc::health::v1::Health::NewStub(NewConnection(socket));
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> reader;
  };
  while (!stop) {
    std::vector<std::unique_ptr<Stream>> streams;
    for (int i = 0; i < count && !stop; ++i) {
      auto s = std::make_unique<Stream>();
      s->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      s->reader = stub->Watch(&s->ctx, grpc::health::v1::HealthCheckRequest());
      grpc::health::v1::HealthCheckResponse r;
      if (s->reader->Read(&r)) {
        tally.Add("health_watch_open");
        streams.push_back(std::move(s));
      } else {
        tally.Add(absl::StrCat("health_watch_refused_", s->reader->Finish().error_code()));
      }
    }
    for (auto& s : streams) {
      grpc::health::v1::HealthCheckResponse r;
      while (s->reader->Read(&r)) {
      }
      s->reader->Finish();
    }
  }
}

void Padded(const std::string& socket, const std::atomic<bool>& stop, Tally& tally) {
  auto stub = v1::BalloonReadService::NewStub(NewConnection(socket));
  for (int n = 0; !stop; ++n) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::WatchMemoryStatsRequest req;
    // Past the read-only socket's 16 KiB cap, or just under it (an invalid name).
    req.set_domain(std::string(n % 2 == 0 ? 20 << 10 : 15 << 10, 'x'));
    auto reader = stub->WatchMemoryStats(&ctx, req);
    v1::MemoryStats m;
    while (reader->Read(&m)) {
    }
    tally.Add(absl::StrCat("padded_", reader->Finish().error_code()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string socket = absl::GetFlag(FLAGS_socket);
  const std::vector<std::string> domains = absl::GetFlag(FLAGS_domains);
  std::atomic<bool> stop{false};
  Tally tally;
  std::vector<std::thread> threads;
  for (int i = 0; i < absl::GetFlag(FLAGS_cancel_storm); ++i) {
    threads.emplace_back([&, i] { CancelStorm(socket, domains, stop, tally, i); });
  }
  if (const int n = absl::GetFlag(FLAGS_health_watchers); n > 0) {
    threads.emplace_back([&, n] { HealthWatchers(socket, n, stop, tally); });
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_padded); ++i) {
    threads.emplace_back([&] { Padded(socket, stop, tally); });
  }
  if (const int n = absl::GetFlag(FLAGS_idle_connections); n > 0) {
    threads.emplace_back([&, n] {
      HoldIdle(
          n, [&] { return RawUnix(socket); }, stop, tally, "unix_idle");
    });
  }
  if (const int n = absl::GetFlag(FLAGS_tls_idle); n > 0) {
    const int port = absl::GetFlag(FLAGS_tls_port);
    threads.emplace_back([&, n, port] {
      HoldIdle(
          n, [port] { return RawTcp(port); }, stop, tally, "tls_idle");
    });
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  stop = true;
  for (auto& t : threads) t.join();
  tally.Print();
  std::fflush(stdout);
  return 0;
}
