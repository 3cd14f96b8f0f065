// A real balloond under everything a client or a fault can throw at it at once, for
// BALLOOND_SOAK_SECONDS (300 by default): unprivileged users cancelling watches by the thousand,
// flooding health watches, padding requests, holding idle connections, holding list answers
// behind an HTTP/2 window of 0 and every watch they may; TCP connections to the TLS port that
// never handshake; a reader certificate holding every TLS connection it can with a watch each;
// an operator reserving memory the host cannot give, in a loop; libvirtd restarted every minute;
// a QEMU frozen for 20 s of every minute. A local reader of another uid and an operator over TLS
// are served throughout, and at the end balloond has no sanitizer report, serves, has fresh
// statistics, stayed within its unit's MemoryMax, and holds bounded threads and descriptors. CI
// runs it twice: in the checked build (ASan and UBSan) for the sanitizers, and in the plain build
// for memory, since under ASan RSS follows its allocator rather than balloond (see
// kMemoryIsMeasurable).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Not;

// The test is built like balloond, so this says whether balloond runs under ASan. Its allocator
// keeps freed chunks in per-size free lists and a quarantine, so RSS climbs with the peak of each
// size class under a changing load: 236 to 308 MiB over a 5-minute soak where the plain build went
// from 53 to 60 MiB under the same abuse. There only the plain build's RSS says whether balloond
// leaks.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMemoryIsMeasurable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kMemoryIsMeasurable = false;
#else
constexpr bool kMemoryIsMeasurable = true;
#endif
#else
constexpr bool kMemoryIsMeasurable = true;
#endif

absl::Duration SoakLength() {
  const char* env = std::getenv("BALLOOND_SOAK_SECONDS");
  int seconds = 0;
  return absl::Seconds(env != nullptr && absl::SimpleAtoi(env, &seconds) && seconds > 0 ? seconds
                                                                                        : 300);
}

// A child process run in the background; its output is read when it ends.
class Background {
 public:
  explicit Background(std::vector<std::string> argv) {
    char path[] = "/tmp/bdtest-soak-out-XXXXXX";
    const int fd = mkstemp(path);
    out_ = path;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fd);
  }
  // Waits for it to end; its exit code and output.
  CommandResult Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = RunCommand({"cat", out_}).out;
    unlink(out_.c_str());
    return r;
  }

 private:
  std::string out_;
  pid_t pid_ = -1;
};

// What a well-behaved local reader sees: ListDomains every 250 ms on the read-only socket.
struct ReaderLog {
  std::atomic<int> calls{0}, failures{0};
  absl::Mutex mu;
  std::vector<double> ms;
  std::string last_error;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

TEST(SoakIntegrationTest, EverythingAtOnceLeavesNoSanitizerReportAndKeepsServing) {
  const absl::Duration length = SoakLength();
  DestroyLeftoverGuests();
  Guest booted(BootedGuest("soak"));
  Guest frozen(PausedGuest("soak-frozen"));
  TestPki pki;
  const TestPki::Files ca = pki.Ca("ca", "soak CA");
  const TestPki::Files server = pki.Leaf("server", ca, "/CN=localhost", "DNS:localhost");
  const TestPki::Files reader_cert =
      pki.Leaf("reader", ca, "/CN=reader", "URI:spiffe://soak/reader");
  const TestPki::Files operator_cert =
      pki.Leaf("operator", ca, "/CN=operator", "URI:spiffe://soak/operator");
  RunCommand({"chmod", "-R", "a+rX", pki.dir()});  // the unprivileged abusers read them
  std::unique_ptr<Agent> agent;
  {
    // A small quarantine (ASan's default is 256 MiB), so that the soak fits the machine's memory.
    ScopedEnv env({{"ASAN_OPTIONS", "quarantine_size_mb=16:detect_leaks=0"},
                   {"UBSAN_OPTIONS", "print_stacktrace=1"}});
    agent = std::make_unique<Agent>(std::vector<std::string>{
        "--stats-period=1s", "--policy-mode=observe", "--listen-tls=127.0.0.1:0",
        "--tls-cert=" + server.cert, "--tls-key=" + server.key, "--tls-client-ca=" + ca.cert,
        "--tls-operator=spiffe://soak/operator"});
  }
  ASSERT_TRUE(agent->WaitServing(absl::Seconds(60))) << agent->Log();
  agent->OpenToAllUsers();
  const int tls_port = agent->TlsPort();
  ASSERT_GT(tls_port, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetMemoryStatsRequest req;
        req.set_domain(booted.name());
        v1::MemoryStats st;
        grpc::ClientContext ctx;
        return agent->read().GetMemoryStats(&ctx, req, &st).ok() &&
               st.guest().has_available_memory_bytes();
      },
      absl::Seconds(60)))
      << agent->Log();
  const pid_t pid = agent->pid();
  // Reservations that ended, as an hour of an orchestrator's work leaves them: what makes a page of
  // ListReservations large (about 60 KB) for the window-0 readers below.
  for (int i = 0; i < 300; ++i) {
    v1::ReserveMemoryRequest reserve;
    reserve.set_bytes(1 << 20);
    v1::Reservation made;
    ASSERT_TRUE(agent->control().ReserveMemory(Deadline().get(), reserve, &made).ok());
    v1::ReleaseReservationRequest release;
    release.set_id(made.id());
    ASSERT_TRUE(agent->control().ReleaseReservation(Deadline().get(), release, &made).ok());
  }

  // The abusers: unprivileged users on the read-only socket, connections to the TLS port, a
  // reader's certificate, an operator's loop of reservations that cannot be made.
  const std::string seconds = absl::StrCat(absl::ToInt64Seconds(length));
  const std::string port_flag = absl::StrCat("--tls_port=", tls_port);
  auto as_user = [](int uid, std::vector<std::string> args) {
    std::vector<std::string> argv = {"setpriv", absl::StrCat("--reuid=", uid), "--regid=65534",
                                     "--clear-groups", ABUSE_CLIENT_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  std::vector<std::unique_ptr<Background>> abusers;
  // The abusers' own leaks are not what this soak judges: gRPC leaves a few OpenSSL objects of a
  // handshake cut short at exit (seen as LeakSanitizer's report, exit code 1, on a loaded machine).
  auto abusers_env = std::make_unique<ScopedEnv>(
      std::vector<std::pair<std::string, std::string>>{{"ASAN_OPTIONS", "detect_leaks=0"}});
  abusers.push_back(std::make_unique<Background>(as_user(
      65534, {"--socket=" + agent->ro_socket(), "--domains=" + booted.name() + "," + frozen.name(),
              "--cancel_storm=6", "--health_watchers=1100", "--padded=2", "--window0=16",
              "--window0_calls=64", "--seconds=" + seconds})));
  // Another user takes every connection it may have, and more; a third every watch.
  abusers.push_back(std::make_unique<Background>(as_user(
      65533, {"--socket=" + agent->ro_socket(), "--idle_connections=40", "--seconds=" + seconds})));
  abusers.push_back(std::make_unique<Background>(as_user(
      65530, {"--socket=" + agent->ro_socket(), "--watch_share=1200", "--seconds=" + seconds})));
  abusers.push_back(std::make_unique<Background>(
      as_user(65534, {"--tls_idle=200", port_flag, "--seconds=" + seconds})));
  abusers.push_back(std::make_unique<Background>(as_user(
      65531,
      {"--tls_readers=128", port_flag, "--tls_ca=" + ca.cert, "--tls_cert=" + reader_cert.cert,
       "--tls_key=" + reader_cert.key, "--seconds=" + seconds})));
  abusers.push_back(std::make_unique<Background>(
      std::vector<std::string>{ABUSE_CLIENT_BIN, "--rw_socket=" + agent->rw_socket(),
                               "--reserve_flood=1", "--seconds=" + seconds}));
  // Those who must be served throughout: a reader of another uid, an operator over TLS.
  const size_t first_served = abusers.size();
  abusers.push_back(std::make_unique<Background>(
      as_user(65532, {"--socket=" + agent->ro_socket(), "--reader", "--seconds=" + seconds})));
  abusers.push_back(std::make_unique<Background>(
      std::vector<std::string>{ABUSE_CLIENT_BIN, "--tls_operator", port_flag, "--tls_ca=" + ca.cert,
                               "--tls_cert=" + operator_cert.cert, "--tls_key=" + operator_cert.key,
                               "--seconds=" + seconds}));

  abusers_env.reset();

  // A local reader (root, its own user: no other user's flood counts against it).
  ReaderLog reader;
  std::atomic<bool> stop{false};
  std::thread reading([&] {
    auto channel =
        grpc::CreateChannel("unix:" + agent->ro_socket(), grpc::InsecureChannelCredentials());
    auto stub = v1::BalloonReadService::NewStub(channel);
    while (!stop) {
      grpc::ClientContext ctx;
      // Served, not fast: the latency is reported below, not asserted (under ASan on two loaded
      // cores a 2 s deadline failed once in 500 calls).
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
      v1::ListDomainsResponse resp;
      const absl::Time t0 = absl::Now();
      grpc::Status s = stub->ListDomains(&ctx, {}, &resp);
      ++reader.calls;
      {
        absl::MutexLock lock(&reader.mu);
        reader.ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        if (!s.ok()) reader.last_error = s.error_message();
      }
      if (!s.ok()) ++reader.failures;
      absl::SleepFor(absl::Milliseconds(250));
    }
  });

  // Faults on a schedule, and balloond's footprint sampled every 5 s.
  int64_t rss_first = -1, rss_max = 0;
  std::vector<std::string> rss_by_minute, fds_by_minute;
  int threads_max = 0, fds_max = 0, restarts = 0, freezes = 0;
  const absl::Time start = absl::Now();
  for (absl::Duration t = absl::ZeroDuration(); t < length; t += absl::Seconds(5)) {
    absl::SleepFor(std::max(absl::ZeroDuration(), start + t - absl::Now()));
    if (!agent->Running()) break;
    const int64_t rss = RssKiB(pid);
    if (t >= absl::Seconds(60) && rss_first < 0) rss_first = rss;  // after a minute's warm-up
    rss_max = std::max(rss_max, rss);
    const int fds = OpenFds(pid);
    if (absl::ToInt64Seconds(t) % 60 == 0) {
      rss_by_minute.push_back(absl::StrCat(rss / 1024));
      fds_by_minute.push_back(absl::StrCat(fds));
    }
    threads_max = std::max(threads_max, Threads(pid));
    fds_max = std::max(fds_max, fds);
    const int64_t second = absl::ToInt64Seconds(t) % 60;
    if (second == 10) {
      RunCommand({"kill", "-STOP", absl::StrCat(frozen.QemuPid())});
      ++freezes;
    } else if (second == 30) {
      RunCommand({"kill", "-CONT", absl::StrCat(frozen.QemuPid())});
    } else if (second == 45) {
      RestartLibvirtd([] {});
      ++restarts;
    }
  }
  RunCommand({"kill", "-CONT", absl::StrCat(frozen.QemuPid())});
  std::vector<CommandResult> abused;
  for (auto& a : abusers) abused.push_back(a->Wait());
  stop = true;
  reading.join();

  // The end: no report from the sanitizers, serving, fresh statistics, bounded footprint.
  const std::string log = agent->Log();
  ASSERT_TRUE(agent->Running()) << log;
  EXPECT_THAT(log, Not(HasSubstr("AddressSanitizer")));
  EXPECT_THAT(log, Not(HasSubstr("runtime error")));
  EXPECT_TRUE(agent->WaitServing(absl::Seconds(60))) << log;
  const absl::Time end = absl::Now();
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::GetMemoryStatsRequest req;
        req.set_domain(booted.name());
        v1::MemoryStats st;
        grpc::ClientContext ctx;
        return agent->read().GetMemoryStats(&ctx, req, &st).ok() &&
               st.collect_time().seconds() >= absl::ToUnixSeconds(end);
      },
      absl::Seconds(30)));
  const int64_t rss_end = RssKiB(pid);
  const int threads_end = Threads(pid);
  std::vector<double> ms;
  {
    absl::MutexLock lock(&reader.mu);
    ms = reader.ms;
  }
  std::cout << "soak of " << absl::FormatDuration(length) << ": " << restarts
            << " libvirtd restarts, " << freezes << " QEMU freezes; balloond RSS "
            << rss_first / 1024 << " MiB after a minute, " << rss_max / 1024 << " MiB at most, "
            << rss_end / 1024
            << " MiB at the end (by minute: " << absl::StrJoin(rss_by_minute, ", ") << ")"
            << (kMemoryIsMeasurable ? "" : ", under ASan") << "; threads at most " << threads_max
            << ", " << threads_end << " at the end; descriptors at most " << fds_max
            << " (by minute: " << absl::StrJoin(fds_by_minute, ", ") << ")\n"
            << "local reader: " << reader.calls << " ListDomains, " << reader.failures
            << " failed, p50 " << Percentile(ms, 0.5) << " ms, p99 " << Percentile(ms, 0.99)
            << " ms, max " << Percentile(ms, 1.0) << " ms\n";
  for (const CommandResult& r : abused) std::cout << r.out;
  // What balloond said of whom it refused (paced: a line per kind every 10 s at most).
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, "refused")) std::cout << "balloond: " << line << "\n";
  }
  EXPECT_EQ(reader.failures, 0) << reader.last_error;
  // A leak of a kilobyte per cancelled watch would add hundreds of MiB here. The plain build grows
  // by a few MiB a minute after its first (81, 83 MiB at minutes 1 and 2), and its end is read
  // just after every abuser let go at once, which leaves up to ~40 MiB more in the allocator's
  // arenas (122 MiB); the checked build grows by 72 MiB in 5 minutes and 210 in 30 (its
  // allocator's, growing ever slower).
  const int64_t growth_allowed_mib = kMemoryIsMeasurable ? 64 : 256;
  EXPECT_LE(rss_end, rss_first + growth_allowed_mib * 1024)
      << "RSS grew by more than " << growth_allowed_mib << " MiB after the first minute";
  // The unit's MemoryMax (deploy/systemd/balloond.service): answers held behind a window of 0, a
  // uid's watches and a reader's TLS connections all stay within it.
  if (kMemoryIsMeasurable) {
    EXPECT_LE(rss_max, 384 * 1024) << "past the unit's MemoryMax=384M";
  }
  EXPECT_LE(threads_max, 160);
  // A TLS connection refused at accept keeps its descriptor inside gRPC until gRPC's accept loop
  // has emptied the listen backlog, so the descriptors follow the handshake-less flood (100 to 300
  // seen; 2,969 under ASan when each accept read all of /proc/net/tcp, and RSS grew with them):
  // the bound is the unit's LimitNOFILE=4096 less the 256 the TLS cap keeps free.
  EXPECT_LE(fds_max, 4096 - 256);
  for (const CommandResult& r : abused) EXPECT_EQ(r.exit_code, 0) << r.out;
  // What the abusers met: the limits, named (not hangs, not crashes).
  EXPECT_THAT(abused[0].out, HasSubstr("health_watch_refused_8"));  // RESOURCE_EXHAUSTED
  EXPECT_THAT(abused[0].out, HasSubstr("padded_8"));
  // Answers held behind a window of 0 were refused once they reached the uid's unread bytes.
  auto count = [](const std::string& out, const std::string& key) {
    const size_t at = out.find(key + "=");
    int n = 0;
    if (at != std::string::npos) {
      (void)absl::SimpleAtoi(
          out.substr(at + key.size() + 1, out.find('\n', at) - at - key.size() - 1), &n);
    }
    return n;
  };
  EXPECT_GT(count(abused[0].out, "window0_refused"), 0);
  EXPECT_GT(count(abused[0].out, "window0_answers_held"), 0);
  EXPECT_THAT(abused[1].out, HasSubstr("unix_idle_closed_by_server"));
  EXPECT_THAT(abused[2].out, HasSubstr("watch_share_open=64"));
  EXPECT_THAT(abused[2].out, HasSubstr("watch_share_refused_8_max_watches_per_client"));
  EXPECT_THAT(abused[3].out, HasSubstr("tls_idle_"));
  // A certificate holds at most its share of the TLS port (16), and is refused past it. On a busy
  // machine (and under ASan) the listener is slow enough behind the handshake-less flood that some
  // of the reader's own handshakes time out before its share is reached, so the share is checked
  // as a bound here; TcpConnectionCapTest checks the refusal's words.
  EXPECT_GE(count(abused[4].out, "tls_reader_open"), 1);
  EXPECT_LE(count(abused[4].out, "tls_reader_open"), 16);
  EXPECT_THAT(abused[4].out, HasSubstr("tls_reader_refused_"));
  EXPECT_THAT(abused[5].out, HasSubstr("reserve_RESERVATION_STATE_FAILED"));
  // The reader of another uid and the operator were served every time.
  EXPECT_THAT(abused[first_served].out, HasSubstr("reader_list_ok"));
  EXPECT_THAT(abused[first_served].out, Not(HasSubstr("_failed")));
  EXPECT_THAT(abused[first_served + 1].out, HasSubstr("operator_ok"));
  EXPECT_THAT(abused[first_served + 1].out, Not(HasSubstr("operator_failed")));
  // And balloond ends cleanly, still without a report.
  const int status = agent->Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_THAT(agent->Log(), Not(HasSubstr("Sanitizer")));
}

}  // namespace
}  // namespace balloond::testing
