// Transient domains come and go by the thousand on a busy host (CI runners, short jobs): balloond
// must keep nothing of a domain once it is gone. Created and destroyed through libvirt's C API
// (virsh would spend more time starting than the domains do).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

std::string PausedDomainXml(const std::string& name) {
  const char* env = std::getenv("BALLOOND_GUEST_DIR");
  const std::string images = env ? env : "/var/lib/libvirt/images/balloond";
  return absl::StrCat("<domain type='qemu'><name>", name,
                      "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                      "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>",
                      images, "/vmlinuz</kernel><initrd>", images,
                      "/initrd.gz</initrd></os><devices><memballoon model='virtio'/></devices>"
                      "</domain>");
}

// `cycles` create/destroy cycles of paused transient domains, `parallel` at a time; returns how
// many cycles succeeded.
int Churn(int cycles, int parallel, const std::string& prefix) {
  std::atomic<int> next{0}, done{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&, w] {
      virConnectPtr conn = virConnectOpen("qemu:///system");
      if (conn == nullptr) return;
      const std::string xml = PausedDomainXml(absl::StrCat(prefix, w));
      while (next.fetch_add(1) < cycles) {
        virDomainPtr dom = virDomainCreateXML(conn, xml.c_str(), VIR_DOMAIN_START_PAUSED);
        if (dom == nullptr) continue;
        absl::SleepFor(absl::Milliseconds(50 * (w + 1)));  // some live across a collection
        if (virDomainDestroy(dom) == 0) done.fetch_add(1);
        virDomainFree(dom);
      }
      virConnectClose(conn);
    });
  }
  for (auto& t : workers) t.join();
  return done.load();
}

// CI churns enough domains to show growth (each leaked domain would cost well over the bounds
// below); tests/bench/churn.sh runs the thousand of the benchmark.
int ChurnCycles() {
  const char* env = std::getenv("BALLOOND_CHURN_CYCLES");
  int cycles = 0;
  return env != nullptr && absl::SimpleAtoi(env, &cycles) && cycles > 0 ? cycles : 200;
}

TEST(ChurnIntegrationTest, DomainsComeAndGoAndNothingOfThemStays) {
  DestroyLeftoverGuests();
  Agent agent({"--stats-period=1s"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const std::string prefix = "bdtest-churn-";

  // Which churned domains balloond saw, sampled from ListDomains while they come and go.
  absl::Mutex mu;
  std::set<std::string> seen;
  std::atomic<bool> stop{false};
  std::thread sampler([&] {
    while (!stop.load()) {
      balloon::v1::ListDomainsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      if (agent.read().ListDomains(&ctx, {}, &resp).ok()) {
        absl::MutexLock lock(&mu);
        for (const auto& d : resp.domains()) {
          if (absl::StartsWith(d.name(), prefix)) seen.insert(d.uuid());
        }
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  });

  // Warm up: the allocator's arenas and gRPC's pools reach their working size.
  const absl::Time start = absl::Now();
  ASSERT_GE(Churn(30, 3, prefix), 28);
  absl::SleepFor(absl::Seconds(3));
  const int64_t rss_before = RssKiB(agent.pid());
  const int fds_before = OpenFds(agent.pid());

  const int cycles = ChurnCycles();
  const int done = Churn(cycles, 3, prefix);
  absl::SleepFor(absl::Seconds(3));  // the last ones leave the store at the next collection
  const int64_t rss_after = RssKiB(agent.pid());
  const int fds_after = OpenFds(agent.pid());
  stop = true;
  sampler.join();

  std::cout << done << " domains created and destroyed in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1)))
            << "; balloond RSS " << rss_before / 1024 << " -> " << rss_after / 1024
            << " MiB, open files " << fds_before << " -> " << fds_after << ", " << seen.size()
            << " churned domains seen in ListDomains\n";
  EXPECT_GE(done, cycles - cycles / 100);
  EXPECT_GE(seen.size(), static_cast<size_t>(cycles / 20))
      << "balloond should have listed some of them while they ran";
  EXPECT_LE(rss_after - rss_before, 3 * 1024) << "RSS grew with the domains that went away";
  EXPECT_LE(fds_after - fds_before, 2);

  // None of them is left in the API, and balloond still serves and logs no failure.
  balloon::v1::ListDomainsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(agent.read().ListDomains(&ctx, {}, &resp).ok());
  for (const auto& d : resp.domains()) EXPECT_FALSE(absl::StartsWith(d.name(), prefix)) << d.name();
  EXPECT_EQ(agent.HealthStatus(), "SERVING");
  EXPECT_THAT(agent.Log(), ::testing::Not(::testing::HasSubstr(" error: ")));
}

}  // namespace
}  // namespace balloond::testing
