// An unprivileged user floods balloond's read-only socket with watch streams and QOM queries while
// a well-behaved client measures what it gets; the real daemon, a real guest, a real libvirtd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

// Threads and resident memory of a process, from /proc.
struct ProcessUse {
  int threads = 0;
  int64_t rss_kib = 0;
};

ProcessUse Use(pid_t pid) {
  ProcessUse use;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "Threads:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &use.threads);
    }
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      (void)absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(v), " kB"), &use.rss_kib);
    }
  }
  return use;
}

// flood_client's key=value output.
std::map<std::string, std::string> Report(const std::string& out) {
  std::map<std::string, std::string> kv;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    // Lines hold several "key=value" words, or one "kind words=value".
    if (absl::StartsWith(line, "streams ") || absl::StartsWith(line, "ended ") ||
        absl::StartsWith(line, "qom ")) {
      std::pair<std::string, std::string> p = absl::StrSplit(line, absl::MaxSplits('=', 1));
      kv[p.first] = p.second;
      continue;
    }
    for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p = absl::StrSplit(word, absl::MaxSplits('=', 1));
      kv[p.first] = p.second;
    }
  }
  return kv;
}

double Number(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  double v = -1;
  if (it != kv.end()) (void)absl::SimpleAtod(it->second, &v);
  return v;
}

TEST(FloodIntegrationTest, AnUnprivilegedFloodLeavesOtherClientsAndStatisticsOnTime) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("flood"));
  char tmpl[] = "/tmp/balloond-flood-XXXXXX";
  const std::string config = std::string(mkdtemp(tmpl)) + "/balloond.textproto";
  // 3100 watches on the socket: the 3000 steady ones, then the bursts below meet both caps. The
  // flood and its well-behaved client share a uid here, which needs more than the 32 connections
  // one user may have by default (SoakIntegrationTest floods past that cap).
  std::ofstream(config)
      << "limits { max_watches: 3100 max_watches_per_client: 4000 max_calls_per_connection: 64 "
         "max_connections_per_uid: 96 }\n";
  // QOM on the read-only socket is the operator's choice (off by default); on here, its limits
  // hold.
  Agent agent({"--config=" + config, "--stats-period=2s", "--qom-on-read-only-socket"});
  agent.OpenToAllUsers();
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        CommandResult r = agent.Ctl({"-o", "json", "stats", guest.name()});
        return r.exit_code == 0 && r.out.find("lastUpdateTime") != std::string::npos;
      },
      absl::Seconds(30)));
  const ProcessUse idle = Use(agent.pid());

  ProcessUse peak;
  std::atomic<bool> flooding{true};
  std::thread sampler([&] {
    while (flooding) {
      ProcessUse now = Use(agent.pid());
      peak.threads = std::max(peak.threads, now.threads);
      peak.rss_kib = std::max(peak.rss_kib, now.rss_kib);
      absl::SleepFor(absl::Milliseconds(250));
    }
  });
  // As nobody: the read-only socket is open to every local user, so any of them can do this.
  CommandResult r = RunCommand(
      {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", FLOOD_CLIENT_BIN,
       "--socket=" + agent.ro_socket(), "--domain=" + guest.name(), "--connections=50",
       "--streams_per_connection=60", "--bursts=70,40", "--qom_loopers=16", "--seconds=20"},
      absl::Minutes(3));
  flooding = false;
  sampler.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << r.out << "balloond: threads " << idle.threads << " idle, " << peak.threads
            << " at most during the flood; RSS " << idle.rss_kib / 1024 << " MiB idle, "
            << peak.rss_kib / 1024 << " MiB at most\n";
  const auto kv = Report(r.out);

  EXPECT_EQ(Number(kv, "steady_streams_open"), 3000);
  // Bursts: 70 streams on one connection (64 fit), then 40 on another (36 fit the socket's 3100).
  EXPECT_EQ(Number(kv, "streams open"), 3100);
  EXPECT_EQ(Number(kv, "ended RESOURCE_EXHAUSTED max_calls_per_connection"), 6);
  EXPECT_EQ(Number(kv, "ended RESOURCE_EXHAUSTED max_watches"), 4);
  // A client that behaves is served on time throughout.
  EXPECT_LE(Number(kv, "listdomains_p99_ms"), 100);
  EXPECT_EQ(Number(kv, "failures"), 0);
  // The guest's statistics stay fresh: at most two 2 s periods old, plus the whole second QEMU's
  // last-update is rounded to.
  EXPECT_LE(Number(kv, "max_stats_age_s"), 5);
  EXPECT_LE(Number(kv, "max_collect_age_s"), 4);
  // The QOM loopers get the per-user rate and nothing worse: no deadline missed, no error.
  EXPECT_GT(Number(kv, "qom OK"), 0);
  EXPECT_GT(Number(kv, "qom RESOURCE_EXHAUSTED qom_queries_per_second"), 0);
  EXPECT_EQ(kv.count("qom DEADLINE_EXCEEDED"), 0u);
  // Streams cost memory, not threads.
  EXPECT_LE(peak.threads, 128);
  EXPECT_LE(peak.threads, idle.threads + 16);
  // And the daemon is still there and serving.
  EXPECT_EQ(agent.HealthStatus(), "SERVING") << agent.Log();
  EXPECT_EQ(kill(agent.pid(), 0), 0);
}

}  // namespace
}  // namespace balloond::testing
