// virtio-mem under the policy, on real guests: booted with 512 MiB and a 2 GiB virtio-mem device,
// they are grown past their boot memory when they need it and unplugged when the host does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

GuestSpec HotplugGuest(const std::string& name, bool online_movable) {
  GuestSpec spec = BootedGuest(name, 512);
  spec.stats_period = 1;
  spec.virtio_mem_mib = 2048;
  spec.online_movable = online_movable;
  return spec;
}

std::optional<v1::Domain> FindDomain(Agent& agent, const std::string& name) {
  v1::ListDomainsResponse resp;
  if (!agent.read().ListDomains(Deadline().get(), {}, &resp).ok()) return std::nullopt;
  for (const v1::Domain& d : resp.domains()) {
    if (d.name() == name) return d;
  }
  return std::nullopt;
}

// What the domain's virtio-mem device has plugged, as balloond lists it; -1 when not listed.
int64_t Plugged(Agent& agent, const std::string& name) {
  auto d = FindDomain(agent, name);
  return d && d->memory_devices_size() == 1 ? d->memory_devices(0).plugged_bytes() : -1;
}

int64_t OomKills(Guest& guest) {
  int64_t kills = -1;
  std::string out = guest.Command("oomkills");
  absl::string_view line = absl::StripAsciiWhitespace(out);
  if (absl::ConsumePrefix(&line, "oom_kill ")) {
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(0, line.find('\n'))), &kills);
  }
  return kills;
}

void PrintDecisions(Agent& agent, const std::string& name, absl::Time since) {
  for (const v1::Decision& d : Decisions(agent, name)) {
    std::cout << "  +" << d.time().seconds() - absl::ToUnixSeconds(since) << "s "
              << v1::DecisionReason_Name(d.reason()) << " " << d.previous_bytes() / kMiB << " -> "
              << d.target_bytes() / kMiB << " MiB: " << d.explanation() << "\n";
  }
}

TEST(HotplugIntegrationTest, GrowsAGuestPastItsBootMemoryWhenItNeedsIt) {
  DestroyLeftoverGuests();
  Guest guest(HotplugGuest("hotplug", true));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor([&] { return Plugged(agent, guest.name()) == 0; }, absl::Seconds(30)))
      << "the virtio-mem device is not listed";
  ASSERT_THAT(guest.Command("fillsize 1800"), HasSubstr("MiB"));
  ASSERT_EQ(agent.Ctl({"policy", "set", "mode=enforce"}).exit_code, 0);
  const absl::Time start = absl::Now();

  // 1 GiB, 50 MiB a second, into a guest that has 481 MiB: only plugged memory lets it finish.
  const std::string alloc = guest.Command("alloc 1000 20", absl::Seconds(180));
  PrintDecisions(agent, guest.name(), start);
  EXPECT_THAT(alloc, HasSubstr("allocated 1000 MiB")) << "the allocation did not complete";
  EXPECT_EQ(OomKills(guest), 0);
  const int64_t grown = Plugged(agent, guest.name());
  std::cout << "after the allocation: " << grown / kMiB << " MiB plugged, "
            << guest.MemTotalKiB() / 1024 << " MiB MemTotal\n";
  EXPECT_GE(grown, 600 * kMiB);
  EXPECT_GT(guest.MemTotalKiB() * 1024, 1000 * kMiB);
  bool plugged_by_relief = false;
  for (const v1::Decision& d : Decisions(agent, guest.name())) {
    if (d.reason() == v1::DECISION_REASON_GUEST_PRESSURE && d.has_requested_bytes() &&
        d.applied()) {
      plugged_by_relief = true;
      EXPECT_THAT(d.explanation(), HasSubstr("virtio-mem plugs"));
    }
  }
  EXPECT_TRUE(plugged_by_relief);
}

TEST(HotplugIntegrationTest, PlugsAGigabyteOnATargetAndUnplugsItWhenTheHostIsShort) {
  DestroyLeftoverGuests();
  Guest guest(HotplugGuest("unplug", true));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor([&] { return Plugged(agent, guest.name()) == 0; }, absl::Seconds(30)));
  // An operator's target past the boot memory: the balloon is full size, 1 GiB is plugged.
  const absl::Time set_at = absl::Now();
  CommandResult set = agent.Ctl({"set", guest.name(), "1536M", "--hold=0s"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(WaitFor([&] { return Plugged(agent, guest.name()) == kGiB; }, absl::Seconds(30)))
      << Plugged(agent, guest.name());
  std::cout << "1 GiB plugged "
            << absl::FormatDuration(absl::Trunc(absl::Now() - set_at, absl::Milliseconds(100)))
            << " after balloonctl set was sent; guest MemTotal " << guest.MemTotalKiB() / 1024
            << " MiB\n";
  EXPECT_GT(guest.MemTotalKiB() * 1024, 1400 * kMiB);
  // The guest uses the plugged memory (slowly: a guest that came under pressure would keep its
  // peak for minutes), then lets it go.
  ASSERT_THAT(guest.Command("fillsize 1400"), HasSubstr("MiB"));
  ASSERT_THAT(guest.Command("alloc 600 10", absl::Seconds(60)), HasSubstr("allocated 600 MiB"));
  guest.Command("free");

  // The host runs short: the policy takes it back, unplugging.
  const absl::Time start = absl::Now();
  ASSERT_EQ(agent
                .Ctl({"policy", "set", "mode=enforce", "host.reserve_bytes=1000G",
                      "max_shrink_step_bytes=4G"})
                .exit_code,
            0);
  std::optional<absl::Time> first_unplug;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const v1::Decision& d : Decisions(agent, guest.name())) {
          if (d.has_requested_bytes() && d.requested_bytes() < kGiB && d.applied()) {
            first_unplug = FromProtoTimestamp(d.time());
            return true;
          }
        }
        return false;
      },
      absl::Seconds(30)))
      << "no unplug decision";
  // (-1, a listing without the device, is no answer: not "unplugged".)
  const bool unplugged = WaitFor(
      [&] {
        const int64_t plugged = Plugged(agent, guest.name());
        return plugged >= 0 && plugged <= kGiB / 10;
      },
      absl::Seconds(30));
  const absl::Duration took = absl::Now() - *first_unplug;
  PrintDecisions(agent, guest.name(), start);
  std::cout << "unplugged to " << Plugged(agent, guest.name()) / kMiB << " MiB within "
            << absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(100)))
            << " of the decision; guest MemTotal " << guest.MemTotalKiB() / 1024 << " MiB\n";
  EXPECT_TRUE(unplugged) << "at least 90% of the plugged 1 GiB unplugged within 30 s";
  EXPECT_LT(guest.MemTotalKiB() * 1024, 600 * kMiB);
  EXPECT_EQ(OomKills(guest), 0);
}

TEST(HotplugIntegrationTest, AGuestThatCannotUnplugIsReportedOnceAndTheBalloonTakesOver) {
  DestroyLeftoverGuests();
  // Without online_movable its plugged memory is onlined as normal memory, where the kernel keeps
  // what it cannot move: inodes and dentries of the files made below.
  Guest guest(HotplugGuest("nounplug", false));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor([&] { return Plugged(agent, guest.name()) == 0; }, absl::Seconds(30)));
  // An operator's target past the boot memory: 1 GiB is plugged.
  CommandResult set = agent.Ctl({"set", guest.name(), "1536M", "--hold=0s"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(WaitFor([&] { return Plugged(agent, guest.name()) == kGiB; }, absl::Seconds(10)))
      << Plugged(agent, guest.name());
  EXPECT_GT(guest.MemTotalKiB() * 1024, 1400 * kMiB);
  ASSERT_THAT(guest.Command("fillsize 1400"), HasSubstr("MiB"));
  guest.Command("files 50", absl::Seconds(120));

  const absl::Time start = absl::Now();
  ASSERT_EQ(agent
                .Ctl({"policy", "set", "mode=enforce", "host.reserve_bytes=1000G",
                      "max_shrink_step_bytes=4G"})
                .exit_code,
            0);
  auto refusals = [&] {
    int n = 0;
    for (const v1::Decision& d : Decisions(agent, guest.name())) {
      n += d.reason() == v1::DECISION_REASON_UNPLUG_REFUSED;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return refusals() > 0; }, absl::Seconds(60)))
      << "the guest kept " << Plugged(agent, guest.name()) / kMiB << " MiB plugged unreported";
  // The balloon takes over, and unplugging is not tried again in a loop.
  absl::SleepFor(absl::Seconds(20));
  PrintDecisions(agent, guest.name(), start);
  EXPECT_EQ(refusals(), 1);
  auto d = FindDomain(agent, guest.name());
  ASSERT_TRUE(d && d->memory_devices_size() == 1);
  // libvirt's balloon size counts what is plugged.
  const int64_t balloon = d->balloon_actual_bytes() - d->memory_devices(0).plugged_bytes();
  std::cout << "kept plugged: " << d->memory_devices(0).plugged_bytes() / kMiB << " MiB (requested "
            << d->memory_devices(0).requested_bytes() / kMiB << " MiB); balloon " << balloon / kMiB
            << " MiB\n";
  EXPECT_GT(d->memory_devices(0).plugged_bytes(), 0);
  EXPECT_EQ(d->memory_devices(0).requested_bytes(), d->memory_devices(0).plugged_bytes())
      << "asked for what it kept, so it stops trying";
  EXPECT_LT(balloon, 400 * kMiB) << "the balloon took memory instead";
  EXPECT_EQ(agent.Running(), true);
}

}  // namespace
}  // namespace balloond::testing
