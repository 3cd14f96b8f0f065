// abuse_client: what an unprivileged local user (or anyone on the network) can throw at balloond,
// for the soak test. Each kind runs on threads of its own until --seconds pass:
//   --cancel_storm: watches of unknown, stopped and running domains with 1-3 ms deadlines or
//     cancelled at once, and GetMemoryStats of unknown names (the path of the old use-after-free);
//   --health_watchers: health Watch streams held open, re-opened when ended;
//   --padded: requests padded past the socket's request cap, and just under it;
//   --idle_connections: UNIX connections that never send anything, re-opened when closed;
//   --tls_idle: TCP connections to the TLS port that never start a handshake;
//   --window0: HTTP/2 connections that advertise a window of 0 and send list calls whose answers
//     they never read (a raw HTTP/2 client: gRPC's own always opens its window);
//   --watch_share: WatchEvents streams held open and never read, as many as balloond lets in;
//   --tls_readers: TLS connections of one certificate (--tls_cert), each holding a WatchEvents;
//   --reserve_flood: ReserveMemory calls that cannot succeed, in a loop (on the read-write socket);
//   --reader: a well-behaved client (ListDomains, a WatchEvents stream, GetHostCapacity) every
//     second; --operator: over TLS, a reservation made and released every second. Both count
//     their failures, the whole point of the soak being that they stay at 0.
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
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
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
ABSL_FLAG(int, window0, 0, "raw HTTP/2 connections with a window of 0 holding list answers");
ABSL_FLAG(int, window0_calls, 64, "list calls on each of them");
ABSL_FLAG(std::string, window0_method, "/balloon.v1.BalloonReadService/ListReservations",
          "the list call they make");
ABSL_FLAG(int, watch_share, 0, "WatchEvents streams to try to hold on --socket");
ABSL_FLAG(int, tls_readers, 0, "TLS connections of --tls_cert, each with a WatchEvents");
ABSL_FLAG(std::string, tls_ca, "", "CA of balloond's certificate");
ABSL_FLAG(std::string, tls_cert, "", "this client's certificate");
ABSL_FLAG(std::string, tls_key, "", "this client's key");
ABSL_FLAG(std::string, rw_socket, "", "balloond's read-write socket, for --reserve_flood");
ABSL_FLAG(int, reserve_flood, 0, "threads reserving memory the host cannot give, in a loop");
ABSL_FLAG(bool, reader, false, "be a well-behaved reader on --socket");
ABSL_FLAG(bool, tls_operator, false, "be a well-behaved operator over TLS (--tls_*)");
ABSL_FLAG(int, seconds, 60, "how long it lasts");

namespace v1 = balloon::v1;

namespace {

// How long the clients that must be served (Reader, Operator) give each call. They test that
// balloond serves them, not how fast: under ASan on two loaded cores a call now and then takes
// seconds (a 5 s deadline failed once in 120 calls), and the soak reports the latency it measures.
constexpr absl::Duration kServedDeadline = absl::Seconds(15);

class Tally {
 public:
  void Add(const std::string& what, int n = 1) {
    absl::MutexLock lock(&mu_);
    counts_[what] += n;
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

// --- A raw HTTP/2 client: what a read-only user can write to the socket without gRPC's help. ---

void Frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream, const std::string& p) {
  const uint32_t n = static_cast<uint32_t>(p.size());
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) out += static_cast<char>((stream >> shift) & 0xff);
  out += p;
}

// HPACK: a literal header without indexing, its name indexed (`index` < 15) or new (0), no Huffman.
void Header(std::string& block, int index, const std::string& name, const std::string& value) {
  block += static_cast<char>(index);
  if (index == 0) {
    block += static_cast<char>(name.size());
    block += name;
  }
  block += static_cast<char>(value.size());  // every value here is under 127 bytes
  block += value;
}

// Connects to `socket`, says its window is 0, and starts `calls` calls of `method` whose answers
// it then never reads. Counts what the server says: a stream it ended at once (a refusal, in
// trailers only) or one it answers (headers, then the answer it cannot send).
void HoldAnswers(const std::string& socket, int calls, const std::string& method,
                 const std::atomic<bool>& stop, Tally& tally) {
  const int fd = RawUnix(socket);
  if (fd < 0) {
    tally.Add("window0_connection_refused");
    return;
  }
  std::string out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // SETTINGS: no push, an initial stream window of 0.
  std::string settings;
  for (auto [id, value] : {std::pair<uint16_t, uint32_t>{2, 0}, {4, 0}}) {
    settings += static_cast<char>(id >> 8);
    settings += static_cast<char>(id & 0xff);
    for (int shift : {24, 16, 8, 0}) settings += static_cast<char>((value >> shift) & 0xff);
  }
  Frame(out, 0x4, 0, 0, settings);
  // An empty request message: gRPC's 5-byte prefix and no body.
  const std::string message(5, '\0');
  for (int i = 0; i < calls; ++i) {
    const uint32_t stream = 1 + 2 * static_cast<uint32_t>(i);
    std::string block;
    block += static_cast<char>(0x83);   // :method POST
    block += static_cast<char>(0x86);   // :scheme http
    Header(block, 4, "", method);       // :path
    Header(block, 1, "", "localhost");  // :authority
    Header(block, 0, "content-type", "application/grpc");
    Header(block, 0, "te", "trailers");
    Frame(out, 0x1, 0x4, stream, block);    // HEADERS, END_HEADERS
    Frame(out, 0x0, 0x1, stream, message);  // DATA, END_STREAM
  }
  if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    tally.Add("window0_write_failed");
    close(fd);
    return;
  }
  // Read frames: acknowledge SETTINGS and PINGs (so that the server keeps the connection), count
  // streams ended in their first HEADERS (refused) and those answered.
  std::string in;
  std::set<uint32_t> answered, refused;
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[16384];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      tally.Add("window0_closed_by_server");
      break;
    }
    in.append(buf, static_cast<size_t>(n));
    while (in.size() >= 9) {
      const uint32_t length = (static_cast<uint8_t>(in[0]) << 16) |
                              (static_cast<uint8_t>(in[1]) << 8) | static_cast<uint8_t>(in[2]);
      if (in.size() < 9 + length) break;
      const uint8_t type = static_cast<uint8_t>(in[3]), flags = static_cast<uint8_t>(in[4]);
      const uint32_t stream = ((static_cast<uint8_t>(in[5]) & 0x7f) << 24) |
                              (static_cast<uint8_t>(in[6]) << 16) |
                              (static_cast<uint8_t>(in[7]) << 8) | static_cast<uint8_t>(in[8]);
      std::string reply;
      if (type == 0x4 && (flags & 0x1) == 0) Frame(reply, 0x4, 0x1, 0, "");  // SETTINGS ack
      if (type == 0x6 && (flags & 0x1) == 0) Frame(reply, 0x6, 0x1, 0, in.substr(9, length));
      if (!reply.empty() && write(fd, reply.data(), reply.size()) < 0) break;
      if (type == 0x1 && stream != 0) {
        if ((flags & 0x1) != 0 && answered.count(stream) == 0) {
          refused.insert(stream);
        } else {
          answered.insert(stream);
        }
      }
      in.erase(0, 9 + length);
    }
  }
  close(fd);
  tally.Add("window0_answers_held", static_cast<int>(answered.size()));
  tally.Add("window0_refused", static_cast<int>(refused.size()));
}

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials() {
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = read(absl::GetFlag(FLAGS_tls_ca));
  options.pem_cert_chain = read(absl::GetFlag(FLAGS_tls_cert));
  options.pem_private_key = read(absl::GetFlag(FLAGS_tls_key));
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> NewTlsConnection(int port) {
  grpc::ChannelArguments args;
  static std::atomic<int> n{0};
  args.SetInt("balloond.abuse_connection", n++);
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), TlsCredentials(), args);
}

// One WatchEvents stream held open and never read: admitted (it got its first event's headers) or
// refused (and why).
struct HeldWatch {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
};

std::string Outcome(const grpc::Status& s) {
  std::string kind = absl::StrCat(s.error_code());
  for (const char* limit : {"max_watches_per_client", "max_watches", "max_calls_per_connection",
                            "max_tls_connections_per_identity", "tls_operator_connections",
                            "max_unread_bytes_per_client", "max_unread_bytes"}) {
    if (absl::StrContains(s.error_message(), absl::StrCat("limits.", limit))) {
      return absl::StrCat(kind, "_", limit);
    }
  }
  return kind;
}

// Opens `count` watches over `connections` (64 each at most), each held unread until `stop`.
void HoldWatches(const std::function<std::shared_ptr<grpc::Channel>()>& connect, int count,
                 int per_connection, const std::string& name, const std::atomic<bool>& stop,
                 Tally& tally) {
  std::vector<std::unique_ptr<HeldWatch>> held;
  std::unique_ptr<v1::BalloonReadService::Stub> stub;
  bool said_unavailable = false;
  for (int i = 0; i < count && !stop; ++i) {
    if (i % per_connection == 0) stub = v1::BalloonReadService::NewStub(connect());
    auto w = std::make_unique<HeldWatch>();
    w->ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Hours(1)));
    w->reader = stub->WatchEvents(&w->ctx, v1::WatchEventsRequest());
    v1::Event first;
    if (w->reader->Read(&first)) {  // the history's first event: admitted
      held.push_back(std::move(w));
    } else {
      const grpc::Status refused = w->reader->Finish();
      // The first refusal that names no limit, said once: the connection failed rather than
      // being refused by balloond's caps.
      if (refused.error_code() == grpc::StatusCode::UNAVAILABLE && !said_unavailable) {
        std::cerr << name << ": first UNAVAILABLE after " << held.size()
                  << " open: " << refused.error_message() << "\n";
        said_unavailable = true;
      }
      tally.Add(absl::StrCat(name, "_refused_", Outcome(refused)));
    }
  }
  tally.Add(absl::StrCat(name, "_open"), static_cast<int>(held.size()));
  while (!stop) absl::SleepFor(absl::Milliseconds(200));
  for (auto& w : held) w->ctx.TryCancel();
  for (auto& w : held) w->reader->Finish();
}

void ReserveFlood(const std::string& rw_socket, const std::atomic<bool>& stop, Tally& tally) {
  auto stub = v1::BalloonControlService::NewStub(
      grpc::CreateChannel("unix:" + rw_socket, grpc::InsecureChannelCredentials()));
  for (int n = 0; !stop; ++n) {
    v1::ReserveMemoryRequest req;
    req.set_bytes(int64_t{1} << 50);
    req.set_domain(std::string(248, 'd'));
    v1::Reservation r;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::Status s = stub->ReserveMemory(&ctx, req, &r);
    tally.Add(s.ok() ? absl::StrCat("reserve_", v1::ReservationState_Name(r.state()))
                     : absl::StrCat("reserve_failed_", Outcome(s)));
  }
}

// A client that wants nothing but to be served: each second a list, a watch's first event, the
// capacity. Counts failures, and keeps the last one.
void Reader(const std::string& socket, const std::atomic<bool>& stop, Tally& tally) {
  auto stub = v1::BalloonReadService::NewStub(NewConnection(socket));
  std::string last_failure;
  while (!stop) {
    auto deadline = [] {
      auto ctx = std::make_unique<grpc::ClientContext>();
      ctx->set_deadline(absl::ToChronoTime(absl::Now() + kServedDeadline));
      return ctx;
    };
    v1::ListDomainsResponse list;
    grpc::Status s = stub->ListDomains(deadline().get(), {}, &list);
    auto watch_ctx = deadline();
    auto watch = stub->WatchEvents(watch_ctx.get(), v1::WatchEventsRequest());
    v1::Event first;
    const bool watched = watch->Read(&first);
    grpc::Status w = grpc::Status::OK;
    if (watched) {
      watch_ctx->TryCancel();  // one event is all it wanted
      watch->Finish();
    } else {
      w = watch->Finish();
    }
    v1::HostCapacity capacity;
    grpc::Status c = stub->GetHostCapacity(deadline().get(), {}, &capacity);
    for (const auto& [what, status] : {std::pair{"list", s}, {"watch", w}, {"capacity", c}}) {
      if (status.ok()) {
        tally.Add(absl::StrCat("reader_", what, "_ok"));
      } else {
        tally.Add(absl::StrCat("reader_", what, "_failed"));
        last_failure = absl::StrCat(what, ": ", status.error_code(), " ", status.error_message());
      }
    }
    absl::SleepFor(absl::Seconds(1));
  }
  if (!last_failure.empty()) std::printf("reader_last_failure=%s\n", last_failure.c_str());
}

// An operator over TLS: a small reservation made and released every second.
void Operator(int port, const std::atomic<bool>& stop, Tally& tally) {
  auto stub = v1::BalloonControlService::NewStub(NewTlsConnection(port));
  std::string last_failure;
  while (!stop) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + kServedDeadline));
    v1::ReserveMemoryRequest req;
    req.set_bytes(1 << 20);
    req.mutable_ttl()->set_seconds(5);
    v1::Reservation r;
    grpc::Status s = stub->ReserveMemory(&ctx, req, &r);
    if (s.ok()) {
      grpc::ClientContext release_ctx;
      release_ctx.set_deadline(absl::ToChronoTime(absl::Now() + kServedDeadline));
      v1::ReleaseReservationRequest release;
      release.set_id(r.id());
      s = stub->ReleaseReservation(&release_ctx, release, &r);
    }
    if (s.ok()) {
      tally.Add("operator_ok");
    } else {
      tally.Add("operator_failed");
      last_failure = absl::StrCat(s.error_code(), " ", s.error_message());
    }
    absl::SleepFor(absl::Seconds(1));
  }
  if (!last_failure.empty()) std::printf("operator_last_failure=%s\n", last_failure.c_str());
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
  if (const int n = absl::GetFlag(FLAGS_window0); n > 0) {
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        HoldAnswers(socket, absl::GetFlag(FLAGS_window0_calls), absl::GetFlag(FLAGS_window0_method),
                    stop, tally);
      });
    }
  }
  if (const int n = absl::GetFlag(FLAGS_watch_share); n > 0) {
    threads.emplace_back([&, n] {
      HoldWatches([&] { return NewConnection(socket); }, n, 60, "watch_share", stop, tally);
    });
  }
  if (const int n = absl::GetFlag(FLAGS_tls_readers); n > 0) {
    const int port = absl::GetFlag(FLAGS_tls_port);
    threads.emplace_back([&, n, port] {
      HoldWatches([port] { return NewTlsConnection(port); }, n, 1, "tls_reader", stop, tally);
    });
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_reserve_flood); ++i) {
    threads.emplace_back([&] { ReserveFlood(absl::GetFlag(FLAGS_rw_socket), stop, tally); });
  }
  if (absl::GetFlag(FLAGS_reader)) threads.emplace_back([&] { Reader(socket, stop, tally); });
  if (absl::GetFlag(FLAGS_tls_operator)) {
    const int port = absl::GetFlag(FLAGS_tls_port);
    threads.emplace_back([&, port] { Operator(port, stop, tally); });
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  stop = true;
  for (auto& t : threads) t.join();
  tally.Print();
  std::fflush(stdout);
  return 0;
}
