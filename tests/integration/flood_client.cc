// flood_client: an abusive but well-formed gRPC client of balloond's read-only socket, used by the
// flood test (run as an unprivileged user). It opens many watch streams over many connections,
// loops QOM queries on several threads, and meanwhile measures what a well-behaved client sees:
// ListDomains latency and the age of a domain's statistics. Prints key=value lines.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.grpc.pb.h"

ABSL_FLAG(std::string, socket, "", "balloond's read-only socket");
ABSL_FLAG(std::string, server, "", "or balloond's TLS listener, HOST:PORT, with the three below");
ABSL_FLAG(std::string, tls_ca, "", "CA of balloond's certificate");
ABSL_FLAG(std::string, tls_cert, "", "client certificate");
ABSL_FLAG(std::string, tls_key, "", "client key");
ABSL_FLAG(std::string, domain, "", "the domain to watch and query");
ABSL_FLAG(int, connections, 50, "connections carrying the steady watch streams");
ABSL_FLAG(int, streams_per_connection, 60, "watch streams on each of them");
ABSL_FLAG(std::vector<std::string>, bursts, {},
          "after the steady streams: one new connection per entry, opening that many streams");
ABSL_FLAG(int, qom_loopers, 16, "threads looping QOM queries, each on its own connection");
ABSL_FLAG(int, seconds, 20, "how long the flood lasts once the streams are open");

namespace v1 = balloon::v1;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<grpc::Channel> NewConnection(const std::string& socket) {
  grpc::ChannelArguments args;
  // A distinct argument makes gRPC open a connection of its own instead of sharing one.
  static std::atomic<int> n{0};
  args.SetInt("balloond.flood_connection", n++);
  if (const std::string server = absl::GetFlag(FLAGS_server); !server.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(absl::GetFlag(FLAGS_tls_ca));
    tls.pem_cert_chain = ReadFile(absl::GetFlag(FLAGS_tls_cert));
    tls.pem_private_key = ReadFile(absl::GetFlag(FLAGS_tls_key));
    return grpc::CreateCustomChannel(server, grpc::SslCredentials(tls), args);
  }
  return grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
}

// Outcomes counted by kind, e.g. "RESOURCE_EXHAUSTED max_watches".
class Tally {
 public:
  void Add(const std::string& what) {
    absl::MutexLock lock(&mu_);
    ++counts_[what];
  }
  std::map<std::string, int> Get() {
    absl::MutexLock lock(&mu_);
    return counts_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> counts_;
};

std::string Kind(const grpc::Status& s) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  std::string kind = kNames[std::clamp(static_cast<int>(s.error_code()), 0, 16)];
  for (const char* limit : {"max_watches_per_client", "max_watches", "max_calls_per_connection",
                            "qom_queries_per_second", "qom_queue_per_domain"}) {
    if (absl::StrContains(s.error_message(), limit)) return kind + " " + limit;
  }
  return kind;
}

// One watch stream, reading until the server ends it or the client cancels.
class Watch final : public grpc::ClientReadReactor<v1::MemoryStats> {
 public:
  Watch(v1::BalloonReadService::Stub* stub, const std::string& domain, Tally& opened, Tally& ended,
        std::atomic<int>& settled)
      : opened_(opened), ended_(ended), settled_(settled) {
    req_.set_domain(domain);
    stub->async()->WatchMemoryStats(&ctx_, &req_, this);
    StartRead(&msg_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!first_seen_) {
      first_seen_ = true;
      opened_.Add("open");
      ++settled_;
    }
    ++messages;
    StartRead(&msg_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!first_seen_) ++settled_;
    ended_.Add(Kind(s));
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  std::atomic<int> messages{0};

 private:
  grpc::ClientContext ctx_;
  v1::WatchMemoryStatsRequest req_;
  v1::MemoryStats msg_;
  Tally& opened_;
  Tally& ended_;
  std::atomic<int>& settled_;
  bool first_seen_ = false;
  absl::Mutex mu_;
  bool done_ = false;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string socket = absl::GetFlag(FLAGS_socket);
  const std::string domain = absl::GetFlag(FLAGS_domain);

  Tally opened, ended, qom;
  std::atomic<int> settled{0};
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::BalloonReadService::Stub>> stubs;
  std::vector<std::unique_ptr<Watch>> watches;
  auto open_streams = [&](int count) {
    channels.push_back(NewConnection(socket));
    stubs.push_back(v1::BalloonReadService::NewStub(channels.back()));
    for (int i = 0; i < count; ++i) {
      watches.push_back(
          std::make_unique<Watch>(stubs.back().get(), domain, opened, ended, settled));
    }
  };
  auto wait_settled = [&](size_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (static_cast<size_t>(settled.load()) < n && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  const absl::Time start = absl::Now();
  for (int c = 0; c < absl::GetFlag(FLAGS_connections); ++c) {
    open_streams(absl::GetFlag(FLAGS_streams_per_connection));
  }
  wait_settled(watches.size());
  std::printf("steady_streams_open=%d open_took_ms=%lld\n", opened.Get()["open"],
              static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - start)));
  for (const std::string& burst : absl::GetFlag(FLAGS_bursts)) {
    open_streams(std::stoi(burst));
    wait_settled(watches.size());
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> loopers;
  for (int i = 0; i < absl::GetFlag(FLAGS_qom_loopers); ++i) {
    loopers.emplace_back([&] {
      auto stub = v1::BalloonReadService::NewStub(NewConnection(socket));
      for (int n = 0; !stop; ++n) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
        grpc::Status s;
        if (n % 2 == 0) {
          v1::ListQomPropertiesRequest req;
          req.set_domain(domain);
          req.set_path("/machine/peripheral");
          v1::ListQomPropertiesResponse resp;
          s = stub->ListQomProperties(&ctx, req, &resp);
        } else {
          v1::GetQomPropertyRequest req;
          req.set_domain(domain);
          req.set_path("/machine/peripheral/balloon0");
          req.set_property("guest-stats-polling-interval");
          v1::GetQomPropertyResponse resp;
          s = stub->GetQomProperty(&ctx, req, &resp);
        }
        qom.Add(Kind(s));
      }
    });
  }

  // A well-behaved client meanwhile: ListDomains every 50 ms, the domain's statistics every 200 ms.
  auto stub = v1::BalloonReadService::NewStub(NewConnection(socket));
  std::vector<double> list_ms;
  double max_stats_age = 0, max_collect_age = 0;
  int list_failures = 0;
  const absl::Time flood_end = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  for (int n = 0; absl::Now() < flood_end; ++n) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListDomainsResponse resp;
    const absl::Time t0 = absl::Now();
    grpc::Status s = stub->ListDomains(&ctx, {}, &resp);
    list_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!s.ok()) ++list_failures;
    if (n % 4 == 0) {
      grpc::ClientContext sctx;
      sctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      v1::GetMemoryStatsRequest req;
      req.set_domain(domain);
      v1::MemoryStats stats;
      if (stub->GetMemoryStats(&sctx, req, &stats).ok()) {
        max_stats_age =
            std::max(max_stats_age, stats.stats_age().seconds() + stats.stats_age().nanos() / 1e9);
        const double collected =
            stats.collect_time().seconds() + stats.collect_time().nanos() / 1e9;
        max_collect_age =
            std::max(max_collect_age, absl::ToUnixMicros(absl::Now()) / 1e6 - collected);
      } else {
        ++list_failures;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  stop = true;
  for (auto& t : loopers) t.join();

  int messages = 0;
  for (auto& w : watches) messages += w->messages;
  std::printf(
      "listdomains_calls=%zu listdomains_p50_ms=%.2f listdomains_p99_ms=%.2f "
      "listdomains_max_ms=%.2f failures=%d\n",
      list_ms.size(), Percentile(list_ms, 0.5), Percentile(list_ms, 0.99), Percentile(list_ms, 1.0),
      list_failures);
  std::printf("max_stats_age_s=%.2f max_collect_age_s=%.2f watch_messages=%d\n", max_stats_age,
              max_collect_age, messages);
  for (const auto& [kind, n] : opened.Get()) std::printf("streams %s=%d\n", kind.c_str(), n);
  for (const auto& [kind, n] : ended.Get()) std::printf("ended %s=%d\n", kind.c_str(), n);
  for (const auto& [kind, n] : qom.Get()) std::printf("qom %s=%d\n", kind.c_str(), n);
  std::fflush(stdout);
  for (auto& w : watches) w->Cancel();
  for (auto& w : watches) {
    for (int i = 0; i < 200 && !w->done(); ++i) absl::SleepFor(absl::Milliseconds(5));
  }
  return 0;
}
