#include "policy/capacity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "policy/policy.h"
#include "policy/sizes.h"
#include "tests/policy/test_guest.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::DoubleNear;
using ::testing::Optional;

const absl::Time kNow = absl::FromUnixSeconds(1795634560);

// A running guest with a balloon of `actual` bytes (of 4 GiB) that uses `used` and reported just
// now.
DomainInput Guest(const std::string& name, int64_t actual, int64_t used) {
  FakeGuest g = balloond::policy::Guest(name).Max(4 * kGiB).Actual(actual).Used(used);
  g.reported_at = kNow;
  return g.Input();
}

// What the default policy keeps a guest that uses `used`: use + headroom (15 % of use, at least
// 128 MiB) + the kernel's share.
int64_t Need(int64_t used) {
  return used +
         std::max<int64_t>(128 * kMiB, static_cast<int64_t>(0.15 * static_cast<double>(used))) +
         kOverhead;
}

v1::Policy Mode(v1::PolicyMode mode) {
  v1::Policy p;
  p.set_mode(mode);
  return p;
}

// 16 GiB host with 10 GiB available: its reserve is 10 % of its total.
HostInput Host(int64_t available = 10 * kGiB) {
  HostInput h;
  h.total_bytes = 16 * kGiB;
  h.available_bytes = available;
  return h;
}

TEST(CapacityTest, AnIdleGuestsExcessAboveItsNeedIsReclaimableAndPlaceable) {
  const HostCapacity c = AssessCapacity(Mode(v1::POLICY_MODE_ENFORCE), Host(),
                                        {Guest("idle", 4 * kGiB, kGiB)}, State(), kNow);
  ASSERT_EQ(c.domains.size(), 1u);
  const DomainCapacity& d = c.domains[0];
  EXPECT_EQ(d.balloon_bytes, 4 * kGiB);
  EXPECT_EQ(d.max_bytes, 4 * kGiB);
  EXPECT_THAT(d.used_bytes, Optional(kGiB));
  EXPECT_THAT(d.needed_bytes, Optional(Need(kGiB)));
  EXPECT_EQ(d.reclaimable_bytes, 4 * kGiB - Need(kGiB));
  EXPECT_EQ(d.not_reclaimable_why, "");
  const int64_t reserve = static_cast<int64_t>(0.1 * static_cast<double>(16 * kGiB));
  EXPECT_EQ(c.reserve_bytes, reserve);
  EXPECT_EQ(c.reclaimable_bytes, d.reclaimable_bytes);
  // A guest just seen may jump by half its maximum: what it keeps once reclaimed from (its
  // headroom) covers part of that; the rest is not offered to new VMs.
  EXPECT_EQ(d.jump_room_bytes, 2 * kGiB - (Need(kGiB) - kGiB - kOverhead));
  EXPECT_EQ(c.jump_room_bytes, d.jump_room_bytes);
  EXPECT_EQ(c.placeable_bytes, 10 * kGiB - reserve - d.jump_room_bytes + d.reclaimable_bytes);
  EXPECT_THAT(c.pressure_index, Optional(DoubleNear(100.0 * Need(kGiB) / (4 * kGiB), 1e-9)));
}

TEST(CapacityTest, NothingIsReclaimableFromAGuestThePolicyMustLeaveAlone) {
  DomainInput held = Guest("held", 4 * kGiB, kGiB);
  held.held_until = kNow + absl::Minutes(5);
  DomainInput pressed = Guest("pressed", 4 * kGiB, 4 * kGiB - kOverhead - 32 * kMiB);
  DomainInput stale = Guest("stale", 4 * kGiB, kGiB);
  stale.report->last_update = kNow - absl::Minutes(1);
  DomainInput silent = Guest("silent", 4 * kGiB, kGiB);
  silent.report.reset();
  DomainInput paused = Guest("paused", 4 * kGiB, kGiB);
  paused.activity = Activity::kPaused;
  DomainInput at_floor = Guest("at-floor", Need(kGiB), kGiB);
  v1::Policy policy = Mode(v1::POLICY_MODE_ENFORCE);
  v1::DomainPolicy off;
  off.set_enabled(false);
  (*policy.mutable_domains())["disabled"] = off;
  const DomainInput disabled = Guest("disabled", 4 * kGiB, kGiB);

  const HostCapacity c = AssessCapacity(
      policy, Host(), {held, pressed, stale, silent, paused, at_floor, disabled}, State(), kNow);
  ASSERT_EQ(c.domains.size(), 7u);
  const std::vector<std::string> why = {
      "an operator holds it",         "it is under pressure", "its statistics are not fresh",
      "its statistics are not fresh", "it is not running",    "it is at its floor",
      "its policy is disabled"};
  for (size_t i = 0; i < c.domains.size(); ++i) {
    EXPECT_EQ(c.domains[i].reclaimable_bytes, 0) << c.domains[i].name;
    EXPECT_EQ(c.domains[i].not_reclaimable_why, why[i]) << c.domains[i].name;
  }
  EXPECT_EQ(c.reclaimable_bytes, 0);
  // The guest under pressure needs more than it has; the stale and silent ones count in neither.
  EXPECT_GT(*c.domains[1].pressure_index, 100);
  EXPECT_FALSE(c.domains[2].needed_bytes.has_value());
  EXPECT_FALSE(c.domains[3].used_bytes.has_value());
  EXPECT_EQ(c.committed_bytes, 7 * 4 * kGiB);
  EXPECT_EQ(c.balloon_bytes, 6 * 4 * kGiB + Need(kGiB));
}

TEST(CapacityTest, OnlyAnEnforcingPolicyMakesRoom) {
  const std::vector<DomainInput> guests = {Guest("idle", 4 * kGiB, kGiB)};
  const HostCapacity observe =
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), Host(), guests, State(), kNow);
  EXPECT_EQ(observe.reclaimable_bytes, 4 * kGiB - Need(kGiB));  // what it would take
  EXPECT_EQ(observe.placeable_bytes, 10 * kGiB - observe.reserve_bytes - observe.jump_room_bytes);
  // Observe takes nothing: the guest keeps its 4 GiB, room enough for its jumps (half its maximum
  // above its 1 GiB use), so none is kept out of placeable for them.
  EXPECT_EQ(observe.jump_room_bytes, 0);
  const HostCapacity off = AssessCapacity(Mode(v1::POLICY_MODE_OFF), Host(), guests, State(), kNow);
  EXPECT_EQ(off.reclaimable_bytes, 0);
  EXPECT_EQ(off.domains[0].not_reclaimable_why, "the policy is off");
  EXPECT_EQ(off.jump_room_bytes, 0) << "left at 4 GiB, it has room for its jumps";
  EXPECT_EQ(off.placeable_bytes, 10 * kGiB - off.reserve_bytes);
}

TEST(CapacityTest, ReservedMemoryIsNotPlaceableAndPlaceableIsNeverNegative) {
  const std::vector<DomainInput> guests = {Guest("idle", 4 * kGiB, kGiB)};
  const v1::Policy enforce = Mode(v1::POLICY_MODE_ENFORCE);
  const HostCapacity free = AssessCapacity(enforce, Host(), guests, State(), kNow);
  HostInput host = Host();
  host.reserved_bytes = 2 * kGiB;
  const HostCapacity reserved = AssessCapacity(enforce, host, guests, State(), kNow);
  EXPECT_EQ(reserved.reserved_bytes, 2 * kGiB);
  EXPECT_EQ(reserved.placeable_bytes, free.placeable_bytes - 2 * kGiB);
  HostInput short_of_room = Host(kGiB);
  short_of_room.reserved_bytes = 4 * kGiB;
  const HostCapacity short_host =
      AssessCapacity(enforce, short_of_room, {Guest("busy", 2 * kGiB, Need(kGiB))}, State(), kNow);
  EXPECT_EQ(short_host.placeable_bytes, 0);
}

TEST(CapacityTest, MemoryGuestsWereGivenButNeverTouchedIsTheirsNotPlaceable) {
  // The balloon gives the guest 4 GiB; QEMU holds 1.5 GiB of it: 2.5 GiB the host still counts
  // as available is the guest's to touch.
  DomainInput guest = Guest("idle", 4 * kGiB, kGiB);
  guest.resident_bytes = 1536 * kMiB;
  const HostCapacity c =
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), Host(), {guest}, State(), kNow);
  EXPECT_EQ(c.domains[0].unbacked_bytes, 2560 * kMiB);
  EXPECT_EQ(c.unbacked_bytes, 2560 * kMiB);
  EXPECT_EQ(c.placeable_bytes, 10 * kGiB - c.reserve_bytes - 2560 * kMiB - c.jump_room_bytes);
  // Reclaimed, each byte is a byte of room, untouched or not (less what its jumps then need of
  // the host: it keeps less above its use).
  const HostCapacity enforced =
      AssessCapacity(Mode(v1::POLICY_MODE_ENFORCE), Host(), {guest}, State(), kNow);
  EXPECT_EQ(enforced.placeable_bytes, c.placeable_bytes + enforced.reclaimable_bytes -
                                          enforced.jump_room_bytes + c.jump_room_bytes);
  // A domain that has just started, whose QEMU's memory is not known yet: all of it is its own,
  // so that the room a reservation made for it is not counted free again the moment it starts.
  guest.resident_bytes.reset();
  const HostCapacity just_started =
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), Host(), {guest}, State(), kNow);
  EXPECT_EQ(just_started.unbacked_bytes, 4 * kGiB);
}

TEST(CapacityTest, WhatSharingSavedCountsAsCapacityOnlyOnceItHasLasted) {
  // KSM saves 1 GiB; 624 MiB of it has lasted 10 minutes. A guest's write to a merged page takes a
  // new one, so the other 400 MiB is the guests' to take back, like memory they never touched.
  DomainInput guest = Guest("idle", 4 * kGiB, kGiB);
  guest.resident_bytes = 4 * kGiB;
  HostInput host = Host();
  const HostCapacity without =
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), host, {guest}, State(), kNow);
  host.shared_saved_bytes = kGiB;
  host.shared_lasting_bytes = 624 * kMiB;
  const HostCapacity with =
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), host, {guest}, State(), kNow);
  EXPECT_EQ(with.unbacked_bytes, without.unbacked_bytes + 400 * kMiB);
  EXPECT_EQ(with.placeable_bytes, without.placeable_bytes - 400 * kMiB);
  // A lasting figure above the saving is a lie: no more than the saving lasts.
  host.shared_lasting_bytes = 2 * kGiB;
  EXPECT_EQ(
      AssessCapacity(Mode(v1::POLICY_MODE_OBSERVE), host, {guest}, State(), kNow).unbacked_bytes,
      without.unbacked_bytes);
}

TEST(CapacityTest, WhatIsReclaimableIsWhatAPolicyCycleTakesFromAHostThatNeedsIt) {
  // A host short by more than its guests can give, and steps large enough to take all at once:
  // the cycle takes from each guest exactly what the capacity called reclaimable.
  v1::Policy policy = Mode(v1::POLICY_MODE_ENFORCE);
  policy.set_max_shrink_step_bytes(64 * kGiB);
  DomainInput held = Guest("held", 4 * kGiB, 512 * kMiB);
  held.held_until = kNow + absl::Hours(1);
  const std::vector<DomainInput> guests = {Guest("idle", 4 * kGiB, 512 * kMiB),
                                           Guest("half", 4 * kGiB, 2 * kGiB),
                                           Guest("small", kGiB, 256 * kMiB), held};
  HostInput host = Host(100 * kMiB);
  host.total_bytes = 64 * kGiB;
  const HostCapacity c = AssessCapacity(policy, host, guests, State(), kNow);
  const Outcome o = Decide(policy, host, guests, State(), kNow);
  int64_t taken = 0;
  for (const Decision& d : o.decisions) {
    ASSERT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM) << d.explanation;
    taken += d.previous_bytes - d.target_bytes;
    for (const DomainCapacity& dc : c.domains) {
      if (dc.uuid == d.uuid) {
        EXPECT_EQ(d.previous_bytes - d.target_bytes, dc.reclaimable_bytes) << dc.name;
      }
    }
  }
  EXPECT_EQ(taken, c.reclaimable_bytes);
  EXPECT_GT(taken, 0);
}

TEST(CapacityTest, SizesNoMachineHasDoNotOverflowTheSums) {
  DomainInput liar = Guest("liar", 4 * kGiB, kGiB);
  liar.max_memory_bytes = std::numeric_limits<int64_t>::max();
  liar.actual_bytes = std::numeric_limits<int64_t>::max();
  std::vector<DomainInput> guests(64, liar);
  HostInput host = Host();
  host.available_bytes = std::numeric_limits<int64_t>::max();
  host.reserved_bytes = std::numeric_limits<int64_t>::max();
  const HostCapacity c = AssessCapacity(Mode(v1::POLICY_MODE_ENFORCE), host, guests, State(), kNow);
  EXPECT_GE(c.committed_bytes, 0);
  EXPECT_EQ(c.balloon_bytes, 0);  // a balloon of impossible size counts as none
  EXPECT_GE(c.placeable_bytes, 0);
}

TEST(CapacityTest, WhatProbingFoundAGuestNeedsIsShownWithWhenItWasFound) {
  State state;
  Probing& probing = state.domains["uuid-probed"].probing;
  probing.working_set = 700 * kMiB;
  probing.working_set_at = kNow - absl::Minutes(3);
  const HostCapacity c = AssessCapacity(Mode(v1::POLICY_MODE_ENFORCE), Host(),
                                        {Guest("probed", 2 * kGiB, 512 * kMiB)}, state, kNow);
  ASSERT_TRUE(c.domains[0].working_set_bytes.has_value());
  EXPECT_EQ(*c.domains[0].working_set_bytes, 700 * kMiB);
  EXPECT_EQ(c.domains[0].working_set_at, kNow - absl::Minutes(3));
  const HostCapacity never = AssessCapacity(Mode(v1::POLICY_MODE_ENFORCE), Host(),
                                            {Guest("other", 2 * kGiB, 512 * kMiB)}, state, kNow);
  EXPECT_FALSE(never.domains[0].working_set_bytes.has_value());
}

}  // namespace
}  // namespace balloond::policy
