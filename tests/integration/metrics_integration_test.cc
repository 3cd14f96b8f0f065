// balloond's /metrics, scraped by a real Prometheus server (Debian's prometheus package) while a
// real guest runs; the Grafana dashboard's queries asked of that Prometheus.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

using ::testing::HasSubstr;

// A Prometheus server on 127.0.0.1 scraping `target` every second, with storage of its own.
class PrometheusServer {
 public:
  explicit PrometheusServer(const std::string& target) {
    char tmpl[] = "/tmp/balloond-prometheus-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: balloond\n    static_configs:\n"
        << "      - targets: ['" << target << "']\n";
    port_ = 19090 + getpid() % 500;
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log = dir_ + "/prometheus.log";
      freopen(log.c_str(), "w", stderr);
      execl("/usr/bin/prometheus", "prometheus",
            ("--config.file=" + dir_ + "/prometheus.yml").c_str(),
            ("--storage.tsdb.path=" + dir_ + "/data").c_str(),
            absl::StrCat("--web.listen-address=127.0.0.1:", port_).c_str(), nullptr);
      _exit(127);
    }
  }
  ~PrometheusServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    RunCommand({"rm", "-rf", dir_});
  }
  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The result vector of an instant query; empty on any failure.
  nlohmann::json Query(const std::string& promql) const {
    const std::string body =
        HttpGet("127.0.0.1", port_, "/api/v1/query?query=" + UrlEncode(promql));
    auto reply = nlohmann::json::parse(body, nullptr, false);
    if (reply.is_discarded() || reply.value("status", "") != "success") return {};
    return reply["data"]["result"];
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Connections to the metrics port that never send a request (a port scan, a stuck client): a
// scrape still gets its answer (HttpGet gives up after 10 s; one idle connection held civetweb's
// only worker for 30 s before).
TEST(MetricsIntegrationTest, IdleConnectionsDoNotKeepScrapesOut) {
  Agent agent({"--metrics-address=127.0.0.1:0"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const int port = agent.MetricsPort();
  ASSERT_GT(port, 0) << agent.Log();
  std::vector<int> idle;
  for (int i = 0; i < 6; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    idle.push_back(fd);
  }
  for (int scrape = 0; scrape < 3; ++scrape) {
    EXPECT_THAT(HttpGet("127.0.0.1", port, "/metrics"), HasSubstr("balloon_libvirt_connected 1"))
        << "scrape " << scrape;
  }
  for (int fd : idle) close(fd);
}

TEST(MetricsIntegrationTest, PrometheusScrapesAGuestsMemoryAndTheDashboardsQueriesAnswer) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("metrics"));
  Agent agent({"--metrics-address=127.0.0.1:0"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const int port = agent.MetricsPort();
  ASSERT_GT(port, 0) << agent.Log();

  // The text format is valid by Prometheus's own checker.
  std::string text;
  ASSERT_TRUE(WaitFor(
      [&] {
        text = HttpGet("127.0.0.1", port, "/metrics");
        return absl::StrContains(text,
                                 "balloon_guest_memory_available_bytes{domain=\"" + guest.name());
      },
      absl::Seconds(30)))
      << text;
  const std::string file = agent.dir() + "/metrics.txt";
  std::ofstream(file) << text;
  CommandResult check = RunCommand({"sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_connected 1"));
  EXPECT_THAT(text, HasSubstr("balloon_domain_resident_bytes{domain=\"" + guest.name()));
  EXPECT_THAT(text, HasSubstr("balloon_collection_round_duration_seconds_count"));
  EXPECT_THAT(text,
              HasSubstr("balloon_libvirt_call_duration_seconds_bucket{call=\"collect_stats\""));

  // A real Prometheus scrapes it; its API has the guest's available memory, as balloond has it.
  PrometheusServer prometheus(absl::StrCat("127.0.0.1:", port));
  const std::string query =
      absl::StrCat("balloon_guest_memory_available_bytes{domain=\"", guest.name(), "\"}");
  nlohmann::json result;
  ASSERT_TRUE(WaitFor(
      [&] {
        result = prometheus.Query(query);
        return result.is_array() && !result.empty();
      },
      absl::Seconds(60)))
      << prometheus.Log();
  double scraped = 0;
  ASSERT_TRUE(absl::SimpleAtod(result[0]["value"][1].get<std::string>(), &scraped));
  balloon::v1::GetMemoryStatsRequest req;
  req.set_domain(guest.name());
  balloon::v1::MemoryStats stats;
  grpc::ClientContext ctx;
  ASSERT_TRUE(agent.read().GetMemoryStats(&ctx, req, &stats).ok());
  const double now = static_cast<double>(stats.guest().available_memory_bytes());
  std::cout << "Prometheus: " << query << " = " << scraped << " (balloond now: " << now << ")\n";
  EXPECT_NEAR(scraped, now, now * 0.2);

  // Every query of the Grafana dashboard, asked of the same Prometheus after a few scrapes; a
  // host short of memory on purpose gives the policy (observe mode) something to propose.
  CommandResult set = agent.Ctl({"policy", "set", "host.reserve_bytes=1000G"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  absl::SleepFor(absl::Seconds(8));
  std::ifstream in(std::string(BALLOOND_SOURCE_DIR) + "/deploy/grafana/balloond-dashboard.json");
  const auto dashboard = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded());
  int answered = 0, asked = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      const std::string expr =
          absl::StrReplaceAll(target["expr"].get<std::string>(), {{"$domain", ".*"}});
      const nlohmann::json series = prometheus.Query(expr);
      ++asked;
      answered += series.is_array() && !series.empty();
      std::cout << "  " << (series.is_array() ? series.size() : 0) << " series  "
                << panel["title"].get<std::string>() << ": " << expr << "\n";
      // Errors, PSI on a kernel without it, and working sets where nothing is probed may rightly
      // have no series.
      const bool may_be_empty = absl::StrContains(expr, "errors") ||
                                absl::StrContains(expr, "pressure") ||
                                absl::StrContains(expr, "working_set");
      if (!may_be_empty) {
        EXPECT_FALSE(series.empty()) << expr;
      }
    }
  }
  std::cout << answered << " of " << asked << " dashboard queries returned data\n";
}

}  // namespace
}  // namespace balloond::testing
