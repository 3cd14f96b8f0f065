#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/paths.h"
#include "tests/sim/fleet.h"
#include "tests/sim/model.h"
#include "tests/sim/policies.h"
#include "tests/sim/scenario_file.h"

namespace balloond::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kGiB = 1024 * kMiB;
const absl::Time kNow = absl::FromUnixSeconds(1795600000);

GuestView View(std::string name, int64_t min, int64_t max, int64_t actual, int64_t free) {
  GuestView g;
  g.name = std::move(name);
  g.min_bytes = min;
  g.max_bytes = max;
  g.actual_bytes = actual;
  policy::GuestReport r;
  r.total_bytes = actual - 40 * kMiB;
  r.free_bytes = free;
  r.available_bytes = free;
  r.last_update = kNow;
  g.report = r;
  g.stats_period = absl::Seconds(2);
  return g;
}

HostView Host(int64_t total, int64_t available) {
  HostView h;
  h.total_bytes = total;
  h.available_bytes = available;
  return h;
}

// MOM, vdsm's policy: hfp = 1 GiB / 10 GiB = 0.1 < 0.2, so every guest shrinks; gfp = hfp.
// used = 2048 − 1024 = 1024 MiB; floor = max(256, 1024 + 0.1 × 2048) = 1228.8 MiB;
// target = max(0.95 × 2048, floor) = 1945.6 MiB.
TEST(MomPolicyTest, OneShrinkCycleByHand) {
  MomPolicy mom;
  auto targets =
      mom.Cycle(Host(10 * kGiB, kGiB), {View("a", 256 * kMiB, 4 * kGiB, 2 * kGiB, kGiB)}, kNow);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_NEAR(targets[0], 1945.6 * kMiB, 1);
}

// hfp = 0.5: grow. used = 1024 − 200 = 824 MiB; floor = 824 + 0.5 × 1024 = 1336 MiB;
// target = min(max(1.05 × 1024, 1336), 4096) = 1336 MiB.
TEST(MomPolicyTest, OneGrowCycleByHand) {
  MomPolicy mom;
  auto targets = mom.Cycle(Host(10 * kGiB, 5 * kGiB),
                           {View("a", 256 * kMiB, 4 * kGiB, kGiB, 200 * kMiB)}, kNow);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_NEAR(targets[0], 1336.0 * kMiB, 1);
}

// Proxmox alg1: goal = 0.8 × 10 GiB − 9 GiB used = −1 GiB. Both VMs have enough free memory.
// pool = (3072 − 512) + (2048 − 512) − 1024 = 3072 MiB; desired = 512 + 3072/2 = 2048 MiB each;
// the first moves 100 MiB toward it (3072 → 2972), the second is already there.
TEST(ProxmoxPolicyTest, OneShrinkCycleByHand) {
  ProxmoxPolicy px;
  auto targets = px.Cycle(Host(10 * kGiB, kGiB),
                          {View("a", 512 * kMiB, 4 * kGiB, 3 * kGiB, kGiB),
                           View("b", 512 * kMiB, 4 * kGiB, 2 * kGiB, kGiB)},
                          kNow);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], 2972 * kMiB);
}

// squeezed: surplus = (1024 − 512) + (3072 − 512) + (2048 − 1024) = 4096 MiB; Σ(max − min) = 4608
// MiB; γ = 0.888…; targets = min + γ(max − min): 3697.8 MiB and 1934.2 MiB.
TEST(SqueezedPolicyTest, OneCycleByHand) {
  SqueezedPolicy sq(512 * kMiB);
  auto targets = sq.Cycle(
      Host(10 * kGiB, kGiB),
      {View("a", 512 * kMiB, 4 * kGiB, 3 * kGiB, kGiB), View("b", kGiB, 2 * kGiB, 2 * kGiB, kGiB)},
      kNow);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_NEAR(static_cast<double>(targets[0]) / kMiB, 512 + 4096.0 / 4608 * 3584, 0.01);
  EXPECT_NEAR(static_cast<double>(targets[1]) / kMiB, 1024 + 4096.0 / 4608 * 1024, 0.01);
}

Scenario OneGuest(double anon_mib, int64_t host_mib, int64_t start_balloon_mib, int64_t swap_mib) {
  auto s = ParseScenario(
      absl::StrCat(R"({"name": "t", "duration_s": 60, "host": {"ram_mib": )", host_mib,
                   R"(, "base_mib": 0}, "guests": [{"name": "g", "max_mib": 2048, "swap_mib": )",
                   swap_mib, R"(, "start_balloon_mib": )", start_balloon_mib, R"(, "anon_mib": )",
                   anon_mib, "}]}"),
      "test");
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(ModelTest, AGuestWhoseWorkFitsIsNeverUnderPressure) {
  NoBallooning none;
  const Metrics m = Simulate(OneGuest(500, 4096, 0, 0), none);
  EXPECT_EQ(m.pressure_seconds, 0);
  EXPECT_EQ(m.oom_kills, 0);
  EXPECT_EQ(m.overcommit_seconds, 0);
}

TEST(ModelTest, TooSmallABalloonSwapsThenKills) {
  NoBallooning none;
  const Metrics swapping = Simulate(OneGuest(900, 4096, 800, 1024), none);  // fits with swap
  EXPECT_GT(swapping.pressure_seconds, 50);
  EXPECT_EQ(swapping.oom_kills, 0);
  const Metrics killed = Simulate(OneGuest(900, 4096, 800, 0), none);  // no swap to fall back on
  EXPECT_GT(killed.oom_kills, 0);
}

TEST(ModelTest, AnAutodeflateBalloonGivesBackWhatTheGuestLacksInsteadOfAKill) {
  NoBallooning none;
  Scenario s = OneGuest(900, 4096, 800, 0);  // no swap: without autodeflate, killed
  s.guests[0].autodeflate = true;
  const Metrics m = Simulate(s, none);
  EXPECT_EQ(m.oom_kills, 0);
  EXPECT_LT(m.reclaimed_mean_bytes, (2048.0 - 900) * kMiB) << "the balloon gave the guest back";
}

TEST(ModelTest, CyclesAreLoggedWithinTheWindowOnly) {
  // A guest whose 900 MiB of work does not fit its 800 MiB balloon: under pressure (swapping),
  // relieved by balloond. The log shows each cycle from 10 s to 14 s, and nothing else.
  BalloondPolicy balloond;
  std::ostringstream out;
  Simulate(OneGuest(900, 4096, 800, 1024), balloond, CycleLog{&out, 10, 14});
  const std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out.str();  // t = 10 and 12: a cycle every 2 s
  EXPECT_THAT(lines[0], StartsWith("t=10.0 host available "));
  EXPECT_THAT(lines[1], StartsWith("t=12.0 host available "));
  EXPECT_THAT(out.str(), HasSubstr(" g ")) << "the guest, by name";
  EXPECT_THAT(out.str(), ::testing::ContainsRegex(R"(g [0-9]+/900 a[0-9]+)"));

  std::ostringstream early;
  Simulate(OneGuest(900, 4096, 800, 1024), balloond, CycleLog{&early, 0, 4});
  EXPECT_THAT(early.str(), HasSubstr("*g 800/900")) << "under pressure before any relief";
  EXPECT_THAT(early.str(), HasSubstr("->")) << "and given memory";
}

TEST(ModelTest, GuestsHoldingMoreThanTheHostIsOvercommit) {
  NoBallooning none;
  EXPECT_GT(Simulate(OneGuest(1500, 1024, 0, 0), none).overcommit_seconds, 50);
}

Scenario OnHost(const std::string& host, const std::string& guest) {
  auto s = ParseScenario(absl::StrCat(R"({"name": "t", "duration_s": 60, "host": )", host,
                                      R"(, "guests": [)", guest, "]}"),
                         "test");
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST(ModelTest, TheHostSwappingWhatAGuestUsesIsPressureThatGuestFeels) {
  NoBallooning none;
  // 1.5 GiB in use on a host with 1 GiB: the host swaps half a GiB of it, all the time.
  const Metrics m = Simulate(OnHost(R"({"ram_mib": 1024, "base_mib": 0})",
                                    R"({"name": "g", "max_mib": 2048, "anon_mib": 1500})"),
                             none);
  EXPECT_GT(m.host_swap_seconds, 55);
  EXPECT_EQ(m.pressure_seconds, m.host_swap_seconds);  // the guest itself has all it needs
  EXPECT_EQ(m.host_oom_kills, 0);
}

TEST(ModelTest, TheHostSwapsMemoryNoOneUsesFirstAndNoOneFeelsIt) {
  NoBallooning none;
  // Touched 1.5 GiB while starting, then idle at 200 MiB: after the start, what the host swaps
  // is memory the guest no longer uses.
  const Metrics m = Simulate(
      OnHost(R"({"ram_mib": 1024, "base_mib": 0})",
             R"({"name": "g", "max_mib": 2048, "anon_mib": [[0, 1500], [10, 1500], [11, 200]]})"),
      none);
  EXPECT_GT(m.overcommit_seconds, 55);
  EXPECT_LT(m.host_swap_seconds, 12);
}

TEST(ModelTest, BeyondTheHostsRamAndSwapItsOomKillerEndsTheLargestGuest) {
  NoBallooning none;
  const Metrics m = Simulate(OnHost(R"({"ram_mib": 1024, "base_mib": 0, "swap_mib": 256})",
                                    R"({"name": "small", "max_mib": 512, "anon_mib": 300},
                         {"name": "big", "max_mib": 2048, "anon_mib": 1500})"),
                             none);
  EXPECT_GT(m.host_oom_kills, 0);
  EXPECT_EQ(m.oom_kills, m.host_oom_kills);
  // The killed guest is down (under pressure) while it restarts; the small one never is killed.
  EXPECT_GT(m.pressure_seconds_by_guest.at("big"), 25);
}

TEST(ModelTest, ALyingGuestReportsWhatItClaims) {
  // On a host short of memory, an honest idle guest is shrunk to its use plus headroom; one that
  // claims no memory available from 10 s on is given everything up to its maximum instead.
  BalloondPolicy balloond;
  const std::string host = R"({"ram_mib": 2048, "base_mib": 1024})";
  const Metrics honest = Simulate(
      OnHost(host, R"({"name": "g", "max_mib": 2048, "start_balloon_mib": 1024, "anon_mib": 200})"),
      balloond);
  const Metrics lying = Simulate(OnHost(host, R"({"name": "g", "max_mib": 2048,
                                                  "start_balloon_mib": 1024, "anon_mib": 200,
                                                  "lies": "starving", "lies_from_s": 10})"),
                                 balloond);
  EXPECT_GT(honest.reclaimed_mean_bytes, 1200.0 * kMiB);
  EXPECT_LT(lying.reclaimed_mean_bytes, 700.0 * kMiB);
  EXPECT_EQ(lying.pressure_seconds, 0);  // a lie is no pressure the model counts
  EXPECT_THAT(std::string(ParseScenario(R"({"host": {"ram_mib": 1}, "guests": [{"name": "g",
                                           "max_mib": 1, "lies": "always"}]})",
                                        "x.json")
                              .status()
                              .message()),
              HasSubstr("lies must be"));
}

TEST(ModelTest, BalloondRelievesAGuestThatTheBaselinesLeaveShort) {
  // Started ballooned down to 800 MiB with 900 MiB of work: balloond grows it within seconds.
  BalloondPolicy balloond;
  const Metrics m = Simulate(OneGuest(900, 8192, 800, 1024), balloond);
  EXPECT_LT(m.pressure_seconds, 5);
  EXPECT_GT(m.commands, 0);
}

TEST(ModelTest, AKilledWorkloadRunsAgainAfterItsRestartNotAtOnce) {
  // 900 MiB of work in an 800 MiB balloon without swap: killed, restarted 30 s later, killed
  // again; a minute holds two kills, not one per tick.
  NoBallooning none;
  EXPECT_EQ(Simulate(OneGuest(900, 4096, 800, 0), none).oom_kills, 2);
}

TEST(ModelTest, VirtioMemGrowsAGuestPastItsBootMemoryWhereABalloonCannot) {
  // Booted with 1 GiB, a 2 GiB device; its work grows to 1.6 GiB over 20 s.
  const Scenario s = OnHost(R"({"ram_mib": 16384, "base_mib": 0})",
                            R"({"name": "g", "max_mib": 1024, "virtio_mem_mib": 2048,
                                "anon_mib": [[0, 300], [10, 300], [30, 1600]]})");
  BalloondPolicy balloond;
  const Metrics grown = Simulate(s, balloond);
  EXPECT_EQ(grown.oom_kills, 0);
  EXPECT_LT(grown.pressure_seconds, 1);
  EXPECT_LT(grown.returned_gib_hours, 0) << "it has more than it booted with";
  MomPolicy mom;
  const Metrics balloon_only = Simulate(s, mom);
  EXPECT_GT(balloon_only.pressure_seconds, 25);
}

TEST(ModelTest, UnmovableMemoryStaysPlugged) {
  // A guest with 2 GiB plugged and idle on a host that is short: balloond unplugs what it can,
  // the guest keeps the 1 GiB it cannot move, the balloon takes the rest.
  // (Without the refusal handled, balloond would keep asking and the balloon would stay full.)
  Scenario s = OnHost(R"({"ram_mib": 4096, "base_mib": 0})",
                      R"({"name": "g", "max_mib": 1024, "virtio_mem_mib": 2048,
                          "start_plugged_mib": 2048, "unmovable_mib": 1024, "anon_mib": 200})");
  s.balloond_policy.mutable_host()->set_reserve_bytes(100 * kGiB);
  balloon::v1::Policy policy = s.balloond_policy;
  BalloondPolicy balloond(absl::Seconds(2), policy);
  const Metrics m = Simulate(s, balloond);
  // Its floor is 200 + 128 + 40 MiB: below the 1 GiB it cannot unplug, so the balloon takes all
  // it can (it leaves the guest 64 MiB of its boot memory).
  EXPECT_EQ(m.end_plugged_by_guest.at("g"), 1024.0 * kMiB);
  EXPECT_EQ(m.end_balloon_by_guest.at("g"), 64.0 * kMiB);
  EXPECT_EQ(m.oom_kills, 0);
  EXPECT_EQ(m.pressure_seconds, 0);
}

Scenario Reader(int64_t start_balloon_mib, int64_t hot_mib, const std::string& extra = "") {
  return OnHost(R"({"ram_mib": 16384, "base_mib": 0})",
                absl::StrCat(R"({"name": "g", "max_mib": 2048, "start_balloon_mib": )",
                             start_balloon_mib, R"(, "anon_mib": 300, "cache_mib": 1000,
                             "hot_cache_mib": )",
                             hot_mib, extra, "}"));
}

TEST(ModelTest, SqueezingColdCacheCostsNothingSqueezingTheHotSetRefaults) {
  NoBallooning none;
  // 800 MiB balloon: 760 MiB MemTotal, 97% of it usable, 300 MiB anonymous: 437 MiB for cache.
  const Metrics cold = Simulate(Reader(800, 400), none);
  EXPECT_EQ(cold.refault_seconds, 0);
  EXPECT_EQ(cold.pressure_seconds, 0);
  // A 600 MiB hot set misses 163 MiB, a tenth of it reread each second: 4170 faults/s of 100 µs,
  // the guest waits 42% of the time.
  const Metrics hot = Simulate(Reader(800, 600), none);
  EXPECT_NEAR(hot.refault_seconds, 0.417 * 60, 1.0);
  EXPECT_EQ(hot.pressure_seconds, hot.refault_seconds);
  // Rereading less often costs less.
  const Metrics slow = Simulate(Reader(800, 600, R"(, "hot_reread_per_s": 0.01)"), none);
  EXPECT_NEAR(slow.refault_seconds, 0.0417 * 60, 0.2);
  EXPECT_EQ(hot.oom_kills, 0);
}

TEST(ModelTest, MemoryReturnedIsTheBalloonsGapToTheMaximumOverTime) {
  NoBallooning none;
  // 1 GiB below its maximum for a minute: 1/60 GiB·h.
  EXPECT_NEAR(Simulate(Reader(1024, 0), none).returned_gib_hours, 1.0 / 60, 1e-3);
  EXPECT_EQ(Simulate(Reader(2048, 0), none).returned_gib_hours, 0);
}

TEST(ModelTest, ProbingStopsAtTheHotSetOverEagerReclaimPaysInRefaults) {
  balloon::v1::Policy probing;
  probing.mutable_defaults()->set_probe(true);
  Scenario s = Reader(2048, 600);
  s.duration_s = 600;
  BalloondPolicy balloond(absl::Seconds(2), probing);
  const Metrics m = Simulate(s, balloond);
  // It needs 300 anonymous + 600 hot + 40 kernel: probing returns most of the rest and stops
  // near there, with refaults a small share of the guest's time.
  EXPECT_GT(m.reclaimed_mean_bytes, 600.0 * kMiB);
  EXPECT_LT(m.reclaimed_mean_bytes, (2048.0 - 940) * kMiB);
  EXPECT_LT(m.refault_seconds, 0.005 * m.guest_seconds);
  EXPECT_EQ(m.oom_kills, 0);
  // The same guest held where use + headroom would put it, without the hot set, refaults.
  NoBallooning none;
  const Metrics squeezed = Simulate(Reader(300 + 128 + 45 + 40, 600), none);
  EXPECT_GT(squeezed.refault_seconds, 0.1 * squeezed.guest_seconds);
}

TEST(ScenarioFileTest, ErrorsNameTheFileAndField) {
  EXPECT_THAT(std::string(ParseScenario("{", "x.json").status().message()), HasSubstr("x.json"));
  EXPECT_THAT(std::string(ParseScenario(R"({"guests": []})", "x.json").status().message()),
              HasSubstr("ram_mib"));
  EXPECT_THAT(
      std::string(ParseScenario(R"({"host": {"ram_mib": 1}, "guests": [{"name": "g"}]})", "x.json")
                      .status()
                      .message()),
      HasSubstr("max_mib"));
  EXPECT_THAT(
      std::string(ParseScenario(R"({"host": {"ram_mib": 1}, "guests": [{"name": "g", "max_mib": 1,
      "anon_mib": [[5, 1], [2, 1]]}]})",
                                "x.json")
                      .status()
                      .message()),
      HasSubstr("go back"));
}

TEST(ScenarioFileTest, HotCacheAndExpectationsAreRead) {
  auto s = ParseScenario(R"({"host": {"ram_mib": 4096}, "spike": {"guest": "g", "at_s": 5,
      "window_s": 30}, "expect": {"returned_fraction": 0.25, "refault_fraction": 0.005,
      "storm_relieved_s": 15}, "guests": [{"name": "g", "max_mib": 1024, "cache_mib": 500,
      "hot_cache_mib": [[0, 100], [10, 200]], "hot_reread_per_s": 0.5}]})",
                         "x.json");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->guests[0].hot_cache.At(10), 200);
  EXPECT_EQ(s->guests[0].hot_reread_per_s, 0.5);
  EXPECT_EQ(s->spike_window_s, 30);
  EXPECT_EQ(s->expect_returned_fraction, 0.25);
  EXPECT_EQ(s->expect_refault_fraction, 0.005);
  EXPECT_EQ(s->expect_storm_relieved_s, 15);
  EXPECT_THAT(std::string(ParseScenario(R"({"host": {"ram_mib": 1}, "guests": [{"name": "g",
                                           "max_mib": 1, "hot_reread_per_s": -1}]})",
                                        "x.json")
                              .status()
                              .message()),
              HasSubstr("hot_reread_per_s must not be negative"));
}

TEST(ScenarioFileTest, EveryShippedScenarioLoads) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(BALLOOND_SOURCE_DIR) +
                                                               "/tests/sim/scenarios")) {
    auto s = LoadScenario(entry.path().string());
    EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.status();
    ++loaded;
  }
  EXPECT_GE(loaded, 16);
  auto fleet =
      LoadScenario(std::string(BALLOOND_SOURCE_DIR) + "/tests/sim/scenarios/fleet-100.json");
  EXPECT_EQ(fleet->guests.size(), 100u);
}

// A host of 8 GiB (7 usable) and VMs of 2 GiB that touch 1 GiB while starting and idle at 300 MiB,
// one every 5 s for 10 minutes: the static rules place by maximum (3, and 5 at 1.5x), balloond by
// what its capacity can make room for, waiting for each reservation to be READY. Its capacity keeps
// room for each guest's jumps: half its maximum until it has been watched for a minute here.
TEST(FleetTest, TheStaticRulesPlaceByMaximumAndBalloondByCapacity) {
  auto fleet = ParseFleet(R"({"duration_s": 600, "seed": 3,
      "balloond_policy": {"defaults": {"probe_slack_learn": "60s"}},
      "hosts": {"count": 1, "ram_mib": 8192, "base_mib": 1024},
      "arrivals": {"interval_s": 5},
      "kinds": [{"name": "app", "guest": {"max_mib": 2048, "min_mib": 256,
                 "anon_mib": [[0, 1000], [20, 1000], [30, 300]], "cache_mib": 100}}]})",
                          "tiny.json");
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  const FleetMetrics none = RunFleet(*fleet, PlacementRule::kNoOvercommit);
  EXPECT_EQ(none.vms_placed, 3);
  EXPECT_EQ(none.ready_p99_s, 0);
  EXPECT_GT(none.vms_refused, 100);
  EXPECT_EQ(RunFleet(*fleet, PlacementRule::kStatic15).vms_placed, 5);
  const FleetMetrics b = RunFleet(*fleet, PlacementRule::kBalloond);
  EXPECT_GT(b.vms_placed, 5);
  EXPECT_EQ(b.oom_kills, 0);
  EXPECT_GT(b.ready_p50_s, 0) << "each VM waits for its room to be made";
  EXPECT_LT(b.pressure_seconds, 0.005 * b.guest_seconds);
}

TEST(FleetFileTest, ShippedFleetsLoadAndBadOnesAreRefusedByName) {
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(BALLOOND_SOURCE_DIR) +
                                                               "/tests/sim/fleets")) {
    EXPECT_TRUE(IsFleetFile(entry.path().string())) << entry.path();
    auto f = LoadFleet(entry.path().string());
    EXPECT_TRUE(f.ok()) << entry.path() << ": " << f.status();
    ++loaded;
  }
  EXPECT_GE(loaded, 2);
  EXPECT_THAT(std::string(ParseFleet(R"({"hosts": {"count": 0, "ram_mib": 1}, "kinds": []})", "x")
                              .status()
                              .message()),
              HasSubstr("x: hosts needs a count of 1 or more"));
  EXPECT_THAT(std::string(ParseFleet(R"({"hosts": {"ram_mib": 1024}, "kinds": [{"name": "k",
                                         "guest": {"min_mib": 1}}]})",
                                     "x")
                              .status()
                              .message()),
              HasSubstr("x: kind k: max_mib is required"));
}

}  // namespace
}  // namespace balloond::sim
