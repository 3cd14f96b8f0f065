// The host's capacity (GetHostCapacity, `balloonctl capacity`, metrics) against a real libvirtd and
// real guests: what it calls reclaimable is what the policy then takes from a host that needs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
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
                                     before->unbacked_bytes() - before->reserved_bytes() -
                                     before->jump_room_bytes() + before->reclaimable_bytes()));
  // Both guests were just seen: each may jump by half its maximum, less the headroom it keeps.
  EXPECT_GT(before->jump_room_bytes(), 256 * kMiB);
  EXPECT_EQ(before->jump_room_bytes(),
            idle_before.jump_room_bytes() + held_before.jump_room_bytes());
  EXPECT_EQ(before->reclaimable_bytes(), idle_before.reclaimable_bytes());

  // What an operator and Prometheus see.
  const CommandResult shown = agent.Ctl({"capacity"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("placeable"));
  EXPECT_THAT(shown.out, ContainsRegex("cap-held .*- \\(an operator holds it\\)"));
  const std::string metrics = HttpGet("127.0.0.1", agent.MetricsPort(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("balloon_host_placeable_bytes "));
  EXPECT_THAT(metrics,
              HasSubstr("balloon_domain_reclaimable_bytes{domain=\"" + idle.name() + "\""));

  // The host runs short: the policy takes from the idle guest what the capacity said it could
  // (within a deadband and the guest's own drift), and nothing from the held one.
  const int64_t idle_actual = idle_before.balloon_bytes();
  ASSERT_EQ(agent.Ctl({"policy", "set", "host.reserve_bytes=1000G"}).exit_code, 0);
  const int64_t expected = idle_actual - idle_before.reclaimable_bytes();
  int64_t settled = -1;
  EXPECT_TRUE(WaitFor(
      [&] {
        settled = BalloonActual(agent, idle.name());
        return std::abs(settled - expected) <= 48 * kMiB;
      },
      absl::Seconds(60)))
      << "balloon at " << settled / kMiB << " MiB, capacity said " << expected / kMiB << " MiB\n"
      << agent.Log();
  std::cout << "idle guest: " << idle_actual / kMiB << " MiB, "
            << idle_before.reclaimable_bytes() / kMiB << " MiB reclaimable; settled at "
            << settled / kMiB << " MiB\n";
  EXPECT_NEAR(static_cast<double>(BalloonActual(agent, held.name())), 700.0 * kMiB, 16.0 * kMiB);
  EXPECT_THAT(idle.Command("oomkills"), HasSubstr("oom_kill 0"));

  // Afterwards it has nothing more to give, and a host short of its reserve places nothing.
  const absl::Time shrunk = absl::Now();
  std::optional<v1::HostCapacity> after = FreshCapacity(agent, {idle.name()}, shrunk);
  ASSERT_TRUE(after.has_value());
  EXPECT_LT(Find(*after, idle.name())->reclaimable_bytes(), 48 * kMiB);
  EXPECT_EQ(after->placeable_bytes(), 0);
}

TEST(CapacityIntegrationTest, AReservationMakesRoomFromIdleGuestsKeepsItAcrossARestartAndEnds) {
  DestroyLeftoverGuests();
  Guest one(BootedGuest("rsv-1", 1024));
  Guest two(BootedGuest("rsv-2", 1024));
  std::string state_dir;
  auto agent = std::make_unique<Agent>();
  state_dir = agent->state_dir();
  ASSERT_TRUE(agent->WaitServing()) << agent->Log();
  ASSERT_EQ(agent->Ctl({"policy", "mode", "enforce"}).exit_code, 0);
  std::optional<v1::HostCapacity> c = FreshCapacity(*agent, {one.name(), two.name()}, absl::Now());
  ASSERT_TRUE(c.has_value()) << agent->Log();
  ASSERT_GT(c->reclaimable_bytes(), 1200 * kMiB);

  // A host with 256 MiB of room above its reserve and what its guests were given (under TCG they
  // touch little of it: it is theirs all the same); a VM to come wants 1 GiB. The guests keep a
  // quarter of their maximum for jumps (not half): room for the VM is what is tested.
  const int64_t reserve = c->available_bytes() - c->unbacked_bytes() - 256 * kMiB;
  CommandResult set_reserve =
      agent->Ctl({"policy", "set", absl::StrCat("host.reserve_bytes=", reserve, "B"),
                  "defaults.probe_slack_fraction=0.25"});
  ASSERT_EQ(set_reserve.exit_code, 0) << set_reserve.err;
  // Reservations are judged by the last cycle's capacity: one that has the new reserve.
  ASSERT_TRUE(WaitFor(
      [&] {
        c = Capacity(*agent);
        return c && c->reserve_bytes() == reserve;
      },
      absl::Seconds(10)));
  std::cout << agent->Ctl({"capacity"}).out;
  const int64_t before = BalloonActual(*agent, one.name()) + BalloonActual(*agent, two.name());
  const absl::Time asked = absl::Now();
  CommandResult reserved =
      agent->Ctl({"reserve", "1G", "--ttl=10m", "--domain=vm-to-come", "--wait", "--timeout=90s"});
  const absl::Duration took = absl::Now() - asked;
  ASSERT_EQ(reserved.exit_code, 0) << reserved.out << reserved.err << agent->Log();
  EXPECT_THAT(reserved.out, HasSubstr("r-1: ready, 1 GiB for vm-to-come"));
  const int64_t after = BalloonActual(*agent, one.name()) + BalloonActual(*agent, two.name());
  std::cout << "1 GiB reserved in " << absl::FormatDuration(absl::Trunc(took, absl::Seconds(1)))
            << ": the guests went from " << before / kMiB << " to " << after / kMiB << " MiB\n"
            << reserved.out;
  EXPECT_GT(before - after, 600 * kMiB) << "the room came from the guests";
  EXPECT_THAT(one.Command("oomkills"), HasSubstr("oom_kill 0"));
  EXPECT_THAT(two.Command("oomkills"), HasSubstr("oom_kill 0"));

  // More than the host could ever make fails at once, saying how much it could.
  CommandResult too_big = agent->Ctl({"reserve", "64G"});
  EXPECT_EQ(too_big.exit_code, 1);
  EXPECT_THAT(too_big.out, HasSubstr("r-2: failed"));
  EXPECT_THAT(too_big.out, HasSubstr("can make only"));

  // A restart keeps the reservation, and its room stays free: the guests get back only what was
  // taken beyond it (reclaim takes a quarter of the reserve more than a short host needs).
  agent.reset();
  agent = std::make_unique<Agent>(std::vector<std::string>{}, state_dir);
  ASSERT_TRUE(agent->WaitServing()) << agent->Log();
  EXPECT_THAT(agent->Ctl({"reservations"}).out, ContainsRegex("r-1 +ready +1 GiB"));
  absl::SleepFor(absl::Seconds(5));
  c = FreshCapacity(*agent, {one.name(), two.name()}, absl::Now());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->reserved_bytes(), kGiB);
  EXPECT_GE(c->available_bytes() - c->reserve_bytes() - c->unbacked_bytes(), kGiB - 32 * kMiB)
      << agent->Ctl({"capacity"}).out << agent->Log();
  const int64_t kept = BalloonActual(*agent, one.name()) + BalloonActual(*agent, two.name());

  // Released, its room goes back to the guests.
  CommandResult released = agent->Ctl({"unreserve", "r-1"});
  EXPECT_EQ(released.exit_code, 0) << released.err;
  EXPECT_THAT(released.out, HasSubstr("r-1: released"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return BalloonActual(*agent, one.name()) + BalloonActual(*agent, two.name()) >
               kept + 512 * kMiB;
      },
      absl::Seconds(60)))
      << agent->Log();
}

// deploy/examples/orchestrator.py placing `vms` (NAME:SIZE...) through `agent`, its lines
// prefixed with `label`.
CommandResult Orchestrate(const Agent& agent, const std::vector<std::string>& vms,
                          const std::string& label) {
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   BALLOOND_SOURCE_DIR "/deploy/examples/orchestrator.py",
                                   "--socket=" + agent.rw_socket(),
                                   "--label=" + label,
                                   "--ttl=5m",
                                   "--timeout=150s"};
  argv.insert(argv.end(), vms.begin(), vms.end());
  return RunCommand(argv, absl::Seconds(240));
}

TEST(CapacityIntegrationTest,
     TwoOrchestratorsPlaceEveryVmThatFitsThroughReservationsAcrossARestart) {
  DestroyLeftoverGuests();
  Guest one(BootedGuest("place-idle-1", 1024));
  Guest two(BootedGuest("place-idle-2", 1024));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_EQ(agent.Ctl({"policy", "mode", "enforce"}).exit_code, 0);
  std::optional<v1::HostCapacity> c = FreshCapacity(agent, {one.name(), two.name()}, absl::Now());
  ASSERT_TRUE(c.has_value()) << agent.Log();
  // A host with 128 MiB of room beyond its reserve and what its guests were given: too small for
  // one more VM of 384 MiB unless the idle guests give some back, and too small for all six that
  // two orchestrators want to place. (The guests keep a quarter of their maximum for jumps, not
  // half: the room that leaves is what this test is about, not the jumps.)
  const int64_t reserve = c->available_bytes() - c->unbacked_bytes() - 128 * kMiB;
  ASSERT_EQ(agent
                .Ctl({"policy", "set", absl::StrCat("host.reserve_bytes=", reserve, "B"),
                      "defaults.probe_slack_fraction=0.25"})
                .exit_code,
            0);
  ASSERT_TRUE(WaitFor(
      [&] {
        c = Capacity(agent);
        return c && c->reserve_bytes() == reserve;
      },
      absl::Seconds(10)));
  const int64_t placeable = c->placeable_bytes();
  std::cout << agent.Ctl({"capacity"}).out;

  // What the host looks like while the orchestrators work, balloond's restart aside.
  absl::Mutex mu;
  bool done = false;
  int64_t lowest_headroom = std::numeric_limits<int64_t>::max();
  int samples = 0;
  std::thread sampler([&] {
    for (;;) {
      {
        absl::MutexLock lock(&mu);
        if (done) return;
      }
      if (auto now = Capacity(agent)) {
        absl::MutexLock lock(&mu);
        lowest_headroom = std::min(lowest_headroom, now->available_bytes() - now->reserve_bytes());
        ++samples;
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
  });

  const absl::Time began = absl::Now();
  CommandResult first, second;
  const std::vector<std::string> vms = {"bdtest-place-a1", "bdtest-place-a2", "bdtest-place-a3",
                                        "bdtest-place-b1", "bdtest-place-b2", "bdtest-place-b3"};
  std::thread a([&] {
    first = Orchestrate(agent, {vms[0] + ":384M", vms[1] + ":384M", vms[2] + ":384M"}, "A ");
  });
  std::thread b([&] {
    second = Orchestrate(agent, {vms[3] + ":384M", vms[4] + ":384M", vms[5] + ":384M"}, "B ");
  });
  // balloond restarts once the first reservation is made: reservations and their room survive.
  std::map<std::string, std::string> before_restart;  // id -> VM
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::ListReservationsResponse listed;
        if (!agent.read().ListReservations(Deadline().get(), {}, &listed).ok()) return false;
        for (const auto& r : listed.reservations()) before_restart[r.id()] = r.domain();
        return !before_restart.empty();
      },
      absl::Seconds(60)));
  agent.Restart();
  const absl::Time restarted = absl::Now();
  a.join();
  b.join();
  {
    absl::MutexLock lock(&mu);
    done = true;
  }
  sampler.join();
  std::cout << "placement timeline (balloond restarted at t+"
            << absl::FormatDuration(absl::Trunc(restarted - began, absl::Milliseconds(10)))
            << "):\n"
            << first.out << first.err << second.out << second.err;

  // Every VM that fits was placed and runs, those that could not were refused and never defined,
  // and the room they were all given is what the host could place when they asked: none of it was
  // granted twice.
  const std::string running = Virsh({"list", "--name"}).out;
  int placed = 0;
  for (const std::string& vm : vms) {
    const bool runs = absl::StrContains(running, vm);
    placed += runs;
    const std::string& out = vm[13] == 'a' ? first.out : second.out;
    EXPECT_THAT(out, HasSubstr(runs ? vm + " started" : vm + " not placed")) << vm;
  }
  std::cout << placed << " of 6 VMs of 384 MiB placed; the host could place " << placeable / kMiB
            << " MiB when they asked\n";
  EXPECT_LE(placed * 384 * kMiB, placeable + 64 * kMiB);
  // The figure asked for is a cycle's: as guests are reclaimed from, their floors and the room
  // their jumps need move by a few hundred MiB.
  EXPECT_GT((placed + 1) * 384 * kMiB, placeable - 256 * kMiB) << "one more would have fit";
  EXPECT_GE(placed, 2);
  EXPECT_LT(placed, 6);

  // The restart kept the reservations made before it: each VM placed has exactly one reservation,
  // claimed; one that could not be made was answered FAILED and not kept.
  v1::ListReservationsResponse listed;
  ASSERT_TRUE(agent.read().ListReservations(Deadline().get(), {}, &listed).ok());
  std::map<std::string, std::vector<v1::ReservationState>> per_vm;
  std::set<std::string> ids;
  for (const auto& r : listed.reservations()) {
    per_vm[r.domain()].push_back(r.state());
    ids.insert(r.id());
  }
  for (const auto& [id, vm] : before_restart) {
    EXPECT_EQ(ids.count(id), 1u) << id << " of " << vm << " was lost in the restart";
  }
  for (const std::string& vm : vms) {
    const bool runs = absl::StrContains(running, vm);
    ASSERT_EQ(per_vm[vm].size(), runs ? 1u : 0u) << vm << "\n" << agent.Ctl({"reservations"}).out;
    if (runs) {
      EXPECT_EQ(per_vm[vm][0], v1::RESERVATION_STATE_CLAIMED) << vm << "\n"
                                                              << agent.Ctl({"reservations"}).out;
    }
  }

  // The host never went below its reserve, and no guest was pushed into pressure.
  std::cout << "lowest available above the reserve " << lowest_headroom / kMiB << " MiB in "
            << samples << " samples\n";
  EXPECT_GE(lowest_headroom, 0);
  const std::string pressure =
      agent.Ctl({"events", "--kind=guest-pressure-began", "--timeout=2s"}).out;
  EXPECT_THAT(pressure, ::testing::Not(HasSubstr(one.name())));
  EXPECT_THAT(pressure, ::testing::Not(HasSubstr(two.name())));
  EXPECT_THAT(one.Command("oomkills"), HasSubstr("oom_kill 0"));
  EXPECT_THAT(two.Command("oomkills"), HasSubstr("oom_kill 0"));

  // Its VMs go with one command, and only its own: a guest it did not place is left alone.
  std::vector<std::string> remove = {"--remove", one.name()};
  for (const std::string& vm : vms) {
    if (absl::StrContains(running, vm)) remove.push_back(vm);
  }
  CommandResult removed = Orchestrate(agent, remove, "R ");
  EXPECT_EQ(removed.exit_code, 1) << "one of those named was not its own\n" << removed.err;
  EXPECT_THAT(removed.out, HasSubstr(one.name() + " was not placed by this orchestrator"));
  const std::string after = Virsh({"list", "--name"}).out;
  EXPECT_THAT(after, HasSubstr(one.name()));
  for (const std::string& vm : vms) EXPECT_THAT(after, ::testing::Not(HasSubstr(vm + "\n")));
  for (const std::string& vm : vms) Virsh({"destroy", vm});
}

// The 12-06 review's finding 3 on a real host: a VM without a balloon (VFIO and hugepages guests
// have none) claimed its reservation and counted nothing, so its room was placeable again and the
// next reservation was READY on memory the first VM will touch. Every byte it may take now counts
// as its own: the room stays taken, and a second reservation that does not fit fails.
TEST(CapacityIntegrationTest, AVmWithoutABalloonKeepsTheRoomItClaimedAndNoneIsPromisedTwice) {
  DestroyLeftoverGuests();
  Agent agent({"--stats-period=1s", "--policy-mode=observe"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  std::optional<v1::HostCapacity> start = FreshCapacity(agent, {}, absl::Now());
  ASSERT_TRUE(start.has_value()) << agent.Log();
  // A reserve that leaves 1.5 GiB placeable (observe mode: only room already there counts).
  const int64_t reserve = start->reserve_bytes() + start->placeable_bytes() - 1536 * kMiB;
  ASSERT_GT(reserve, 0);
  ASSERT_EQ(
      agent.Ctl({"policy", "set", absl::StrCat("host.reserve_bytes=", reserve, "B")}).exit_code, 0);
  std::optional<v1::HostCapacity> roomy = FreshCapacity(agent, {}, absl::Now());
  ASSERT_TRUE(roomy.has_value());
  EXPECT_NEAR(roomy->placeable_bytes(), 1536 * kMiB, 128 * kMiB);

  const std::string vm = "bdtest-nb-claim";
  CommandResult first =
      agent.Ctl({"reserve", "1G", "--domain=" + vm, "--ttl=5m", "--wait", "-o", "json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("RESERVATION_STATE_READY"));
  // The capacity counts it at once, not a cycle later.
  CommandResult after_reserve = agent.Ctl({"capacity"});
  EXPECT_THAT(after_reserve.out, HasSubstr("reserved 1 GiB")) << after_reserve.out;
  GuestSpec spec = BootedGuest("nb-claim", 1024);
  spec.balloon = false;
  Guest nb(spec);
  ASSERT_EQ(nb.name(), vm);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(agent.Ctl({"reservations"}).out, "claimed"); },
                      absl::Seconds(30)))
      << agent.Ctl({"reservations"}).out;

  // Claimed: the VM's memory is its own now, all it has not touched yet counted as promised.
  std::optional<v1::HostCapacity> claimed = FreshCapacity(agent, {}, absl::Now());
  ASSERT_TRUE(claimed.has_value());
  std::cout << agent.Ctl({"capacity"}).out;
  const v1::DomainCapacity* counted = Find(*claimed, vm);
  ASSERT_NE(counted, nullptr);
  EXPECT_EQ(claimed->reserved_bytes(), 0);
  EXPECT_EQ(counted->unbacked_bytes() + counted->resident_bytes(), kGiB);
  EXPECT_LT(claimed->placeable_bytes(),
            roomy->placeable_bytes() - kGiB + counted->resident_bytes() + 128 * kMiB)
      << "the VM's room was promised again";

  CommandResult second = agent.Ctl({"reserve", "1G", "--ttl=5m", "-o", "json"});
  EXPECT_EQ(second.exit_code, 1) << "balloonctl's exit status for a reservation that failed";
  EXPECT_THAT(second.out, HasSubstr("RESERVATION_STATE_FAILED"))
      << "a second reservation on memory the first VM will touch";
}

TEST(CapacityIntegrationTest, AGuestsJumpsLearnedBeforeARestartAreKnownRightAfterIt) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("cap-jumps", 1024));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  // The guest's jumps are known once it has been watched for 40 s: it then keeps its largest jump
  // (64 MiB at least) above its use instead of half its maximum, and needs no jump room of the host
  // beyond the headroom it keeps anyway.
  ASSERT_EQ(
      agent.Ctl({"policy", "set", "mode=enforce", "defaults.probe_slack_learn=40s"}).exit_code, 0);
  auto jump_room = [&](const v1::HostCapacity& c) {
    return Find(c, guest.name())->jump_room_bytes();
  };
  std::optional<v1::HostCapacity> c = FreshCapacity(agent, {guest.name()}, absl::Now());
  ASSERT_TRUE(c.has_value()) << agent.Log();
  EXPECT_GT(jump_room(*c), 128 * kMiB) << "not watched long enough: half its maximum is kept";
  ASSERT_TRUE(WaitFor(
      [&] {
        c = FreshCapacity(agent, {guest.name()}, absl::Now());
        return c && jump_room(*c) == 0;
      },
      absl::Seconds(120)))
      << agent.Log();

  // balloond restarts; well within 40 s of it, the guest's jumps are still known.
  agent.Restart();
  const absl::Time restarted = absl::Now();
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  c = FreshCapacity(agent, {guest.name()}, restarted);
  ASSERT_TRUE(c.has_value()) << agent.Log();
  ASSERT_LT(absl::Now() - restarted, absl::Seconds(30)) << "too slow to tell";
  EXPECT_EQ(jump_room(*c), 0) << agent.Ctl({"capacity"}).out;
}

}  // namespace
}  // namespace balloond::testing
