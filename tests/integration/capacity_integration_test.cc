// The host's capacity (GetHostCapacity, `balloonctl capacity`, metrics) against a real libvirtd and
// real guests: what it calls reclaimable is what the policy then takes from a host that needs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

std::optional<v1::HostCapacity> Capacity(Agent& agent) {
  v1::HostCapacity c;
  if (!agent.read().GetHostCapacity(Deadline().get(), {}, &c).ok()) return std::nullopt;
  return c;
}

const v1::DomainCapacity* Find(const v1::HostCapacity& c, const std::string& name) {
  for (const v1::DomainCapacity& d : c.domains()) {
    if (d.name() == name) return &d;
  }
  return nullptr;
}

int64_t Actual(Agent& agent, const std::string& domain) {
  v1::GetMemoryStatsRequest req;
  req.set_domain(domain);
  v1::MemoryStats resp;
  if (!agent.read().GetMemoryStats(Deadline().get(), req, &resp).ok()) return -1;
  return resp.domain().balloon_actual_bytes();
}

// The first capacity judged after `after` in which every named guest had fresh statistics.
std::optional<v1::HostCapacity> FreshCapacity(Agent& agent, const std::vector<std::string>& names,
                                              absl::Time after) {
  std::optional<v1::HostCapacity> found;
  WaitFor(
      [&] {
        found = Capacity(agent);
        if (!found || FromProtoTimestamp(found->assess_time()) <= after) return false;
        for (const std::string& name : names) {
          const v1::DomainCapacity* d = Find(*found, name);
          if (d == nullptr || !d->has_used_bytes()) return false;
        }
        return true;
      },
      absl::Seconds(60));
  return found;
}

TEST(CapacityIntegrationTest, WhatItCallsReclaimableIsWhatAShortHostTakesAndAHeldGuestGivesNone) {
  DestroyLeftoverGuests();
  Guest idle(BootedGuest("cap-idle", 1024));
  Guest held(BootedGuest("cap-held", 768));
  Agent agent({"--metrics-address=127.0.0.1:0"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();

  CommandResult set = agent.Ctl({"set", held.name(), "700M", "--hold=10m", "--wait"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_EQ(agent.Ctl({"policy", "set", "mode=enforce", "max_shrink_step_bytes=4G"}).exit_code, 0);
  const absl::Time enforcing = absl::Now();
  std::optional<v1::HostCapacity> before =
      FreshCapacity(agent, {idle.name(), held.name()}, enforcing);
  ASSERT_TRUE(before.has_value()) << agent.Log();
  std::cout << agent.Ctl({"capacity"}).out;

  // The idle guest could give most of its 1 GiB; the held one nothing, and why.
  const v1::DomainCapacity& idle_before = *Find(*before, idle.name());
  const v1::DomainCapacity& held_before = *Find(*before, held.name());
  EXPECT_EQ(before->mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_GT(idle_before.reclaimable_bytes(), 500 * kMiB);
  EXPECT_LT(idle_before.needed_bytes(), idle_before.balloon_bytes());
  EXPECT_LT(idle_before.pressure_index(), 100);
  EXPECT_EQ(held_before.reclaimable_bytes(), 0);
  EXPECT_EQ(held_before.not_reclaimable_reason(), "an operator holds it");
  EXPECT_NEAR(static_cast<double>(held_before.balloon_bytes()), 700.0 * kMiB, 16.0 * kMiB);
  EXPECT_EQ(before->committed_bytes(), 1792 * kMiB);
  EXPECT_GT(before->total_bytes(), before->available_bytes());
  EXPECT_EQ(before->placeable_bytes(),
            std::max<int64_t>(0, before->available_bytes() - before->reserve_bytes() -
                                     before->reserved_bytes() + before->reclaimable_bytes()));
  EXPECT_EQ(before->reclaimable_bytes(), idle_before.reclaimable_bytes());

  // What an operator and Prometheus see.
  const CommandResult shown = agent.Ctl({"capacity"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("placeable"));
  EXPECT_THAT(shown.out, ContainsRegex("cap-held .*- \\(an operator holds it\\)"));
  const std::string metrics = HttpGet("127.0.0.1", agent.MetricsPort(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("balloon_host_placeable_bytes "));
  EXPECT_THAT(metrics, ContainsRegex("balloon_domain_reclaimable_bytes\\{domain=\"cap-idle\""));

  // The host runs short: the policy takes from the idle guest what the capacity said it could
  // (within a deadband and the guest's own drift), and nothing from the held one.
  const int64_t idle_actual = idle_before.balloon_bytes();
  ASSERT_EQ(agent.Ctl({"policy", "set", "host.reserve_bytes=1000G"}).exit_code, 0);
  const int64_t expected = idle_actual - idle_before.reclaimable_bytes();
  int64_t settled = -1;
  EXPECT_TRUE(WaitFor(
      [&] {
        settled = Actual(agent, idle.name());
        return std::abs(settled - expected) <= 48 * kMiB;
      },
      absl::Seconds(60)))
      << "balloon at " << settled / kMiB << " MiB, capacity said " << expected / kMiB << " MiB\n"
      << agent.Log();
  std::cout << "idle guest: " << idle_actual / kMiB << " MiB, "
            << idle_before.reclaimable_bytes() / kMiB << " MiB reclaimable; settled at "
            << settled / kMiB << " MiB\n";
  EXPECT_NEAR(static_cast<double>(Actual(agent, held.name())), 700.0 * kMiB, 16.0 * kMiB);
  EXPECT_THAT(idle.Command("oomkills"), HasSubstr("oom_kill 0"));

  // Afterwards it has nothing more to give, and a host short of its reserve places nothing.
  const absl::Time shrunk = absl::Now();
  std::optional<v1::HostCapacity> after = FreshCapacity(agent, {idle.name()}, shrunk);
  ASSERT_TRUE(after.has_value());
  EXPECT_LT(Find(*after, idle.name())->reclaimable_bytes(), 48 * kMiB);
  EXPECT_EQ(after->placeable_bytes(), 0);
}

}  // namespace
}  // namespace balloond::testing
