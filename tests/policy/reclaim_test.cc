// Reclaim (policy/reclaim.cc): a short host takes memory back from the guests that need it least,
// a step at a time, and makes room for reservations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/policy/policy_run.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

TEST(PolicyHostTest, AShortHostReclaimsFromTheMostExcessPerShareFirst) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["gold"].set_shares(4000);
  p.mutable_host()->set_reserve_bytes(400 * kMiB);
  p.mutable_host()->set_reserve_fraction(0.01);
  // 100 MiB short; reclaim goes a quarter of the reserve past it: 200 MiB in all.
  PolicyRun run(p, Host(24 * kGiB, 300 * kMiB));
  run.Add(Guest("gold").Max(2 * kGiB).Actual(2 * kGiB).Used(200 * kMiB));
  run.Add(Guest("bronze").Max(2 * kGiB).Actual(2 * kGiB).Used(200 * kMiB));
  run.Add(
      Guest("lean").Max(2 * kGiB).Actual(380 * kMiB).Used(200 * kMiB));  // 12 MiB over its floor
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);         // one guest touched, not three
  EXPECT_EQ(decisions[0].name, "bronze");  // same excess, a quarter of gold's shares
  EXPECT_EQ(decisions[0].previous_bytes - decisions[0].target_bytes, 200 * kMiB);
  EXPECT_EQ(run.host_condition(), HostCondition::kShort);
}

TEST(PolicyHostTest, ReclaimIsRateLimitedPerCycleWhileReliefIsNot) {
  PolicyRun run = ShortHost();
  run.Add(Guest("big").Max(8 * kGiB).Actual(8 * kGiB).Used(100 * kMiB));
  auto shrink = run.Cycle();
  ASSERT_EQ(shrink.size(), 1u);
  EXPECT_EQ(shrink[0].previous_bytes - shrink[0].target_bytes, 512 * kMiB);

  PolicyRun relief = NeutralHost();
  relief.Add(Guest("starved").Max(8 * kGiB).Actual(1 * kGiB).Used(980 * kMiB));
  auto grow = relief.Cycle();
  ASSERT_EQ(grow.size(), 1u);
  EXPECT_GT(grow[0].target_bytes - grow[0].previous_bytes, 100 * kMiB);
}

TEST(PolicyStabilityTest, AGuestRelievedRecentlyKeepsItsPeakForFiveMinutes) {
  // A periodic job: relieved when it runs, it keeps that memory between runs for 5 minutes, so
  // the next run does not start short. An idle guest never relieved is reclaimed at once.
  PolicyRun run = ShortHost();
  FakeGuest& job = run.Add(Guest("job").Max(4 * kGiB).Actual(600 * kMiB).Used(400 * kMiB));
  run.Cycle();
  job.used = 540 * kMiB;  // pressure: relieved
  ASSERT_EQ(run.Cycle()[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  const int64_t relieved = job.actual;
  job.used = 100 * kMiB;                           // the job ends
  for (int i = 0; i < 100; ++i) run.Cycle();       // 200 s
  EXPECT_GE(job.actual, 540 * kMiB + 128 * kMiB);  // peak + headroom kept
  EXPECT_LE(job.actual, relieved);
  run.Advance(absl::Minutes(5));
  run.CycleUntilQuiet();
  EXPECT_LT(job.actual, 100 * kMiB + 128 * kMiB + kOverhead + 16 * kMiB);  // then reclaimed
}

TEST(PolicyHostTest, MemoryPressureStallAloneMakesTheHostShort) {
  PolicyRun run(Enforce(), Host(24 * kGiB, 20 * kGiB));
  run.host().pressure_some_avg10 = 35.0;
  run.Add(Guest("web").Max(4 * kGiB).Actual(4 * kGiB).Used(200 * kMiB));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_HOST_RECLAIM);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("memory pressure 35.0%"));
}

TEST(PolicyStabilityTest, ShrinkingIsSlowerThanGrowingAfterRelief) {
  // A growing guest on a short host is grown (with room for its growth); once it stops growing it
  // keeps that memory for 30 s before reclaim trims it back to use + headroom.
  PolicyRun run = ShortHost();
  FakeGuest& g = run.Add(Guest("batch").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  run.Cycle();
  g.used = 880 * kMiB;  // +90 MiB/s
  auto grow = run.Cycle();
  ASSERT_EQ(grow.size(), 1u);
  EXPECT_EQ(grow[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  const int64_t grown = g.actual;
  for (int i = 0; i < 14; ++i) EXPECT_TRUE(run.Cycle().empty()) << "cycle " << i;  // 28 s
  EXPECT_EQ(g.actual, grown);
  run.CycleUntilQuiet();
  EXPECT_LT(g.actual, grown);
  EXPECT_GE(g.actual, 880 * kMiB + 132 * kMiB + kOverhead);  // never below use + headroom
}

// The reservation tests' figures were worked out with MOM's 20 % reserve.
v1::Policy TwentyPercentReserve() {
  v1::Policy p = Enforce();
  p.mutable_host()->set_reserve_fraction(0.2);
  return p;
}

// Memory promised to reservations counts as used: the policy makes room for it and keeps it.
TEST(ReservationTest, ReservedMemoryIsMadeFromIdleGuestsAndNotGivenBack) {
  PolicyRun run(TwentyPercentReserve(), Host(16 * kGiB, 6 * kGiB));  // reserve 3.2 GiB: neutral
  run.Add(Guest("a").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  run.Add(Guest("b").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
  run.host().reserved_bytes = 4 * kGiB;
  int64_t taken = 0;
  for (int i = 0; i < 20; ++i) {
    const int64_t before = run.guest(0).actual + run.guest(1).actual;
    const std::vector<Decision> decisions = run.Cycle();
    for (const Decision& d : decisions) {
      EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM) << d.explanation;
      EXPECT_THAT(d.explanation, HasSubstr("4 GiB of it reserved for VMs to come"));
    }
    const int64_t freed = before - run.guest(0).actual - run.guest(1).actual;
    run.host().available_bytes += freed;  // what the guests gave, the host has
    taken += freed;
    if (decisions.empty()) break;
  }
  // Room for the reservation and the reserve, from both guests, none below its floor.
  EXPECT_GE(run.host().available_bytes - run.host().reserved_bytes,
            static_cast<int64_t>(0.2 * 16 * kGiB));
  EXPECT_GE(taken, 2 * kGiB - kMiB);
  EXPECT_LT(run.guest(0).actual, 4 * kGiB);
  EXPECT_LT(run.guest(1).actual, 4 * kGiB);

  // A host that would be comfortable without the reservation gives nothing back while it lives;
  // once it ends, the guests get their memory again.
  run.host().available_bytes = 12 * kGiB;
  run.host().reserved_bytes = 8 * kGiB;
  EXPECT_TRUE(run.Cycle().empty());
  run.host().reserved_bytes = 0;
  const std::vector<Decision> after = run.Cycle();
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0].reason, v1::DECISION_REASON_HOST_GIVE_BACK);
}

TEST(ReservationTest, WhatGuestsWereGivenButNeverTouchedIsNoRoomForAReservation) {
  // 8 GiB available, 3.2 GiB reserve: room for a 2 GiB reservation, unless the guest, which was
  // given 4 GiB and touched 1 GiB of it, counts: then the policy must take from it.
  PolicyRun run(TwentyPercentReserve(), Host(16 * kGiB, 8 * kGiB));
  FakeGuest& g = run.Add(Guest("lazy").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  run.host().reserved_bytes = 2 * kGiB;
  std::vector<DomainInput> inputs = {g.Input()};
  inputs[0].resident_bytes = kGiB;
  const Outcome o = Decide(TwentyPercentReserve(), run.host(), inputs, State(), run.now());
  ASSERT_EQ(o.decisions.size(), 1u);
  EXPECT_EQ(o.decisions[0].reason, v1::DECISION_REASON_HOST_RECLAIM);
  // The same guest, fully touched: the room is there, nothing is taken.
  inputs[0].resident_bytes = 4 * kGiB;
  EXPECT_TRUE(
      Decide(TwentyPercentReserve(), run.host(), inputs, State(), run.now()).decisions.empty());
}

TEST(ReservationTest, AGuestAboutToRunOutIsStillRelievedFromTheReservedMemory) {
  PolicyRun run(Enforce(), Host(16 * kGiB, 5 * kGiB));
  run.host().reserved_bytes = 4 * kGiB;  // free 1 GiB: under the reserve
  run.Add(Guest("busy").Max(4 * kGiB).Actual(kGiB).Used(kGiB - kOverhead - 16 * kMiB));
  const std::vector<Decision> decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_GT(decisions[0].target_bytes, kGiB);
}

// A storm (three guests in need at once) borrows the soft reserve: the idle guest is left alone
// while the host stays above its hard reserve, and is reclaimed from once no guest has needed
// relief for a minute. One guest in need is no storm: the reserve is restored at once.
TEST(PolicyStormTest, AStormBorrowsTheSoftReserveAndItIsTakenBackAfterACalmMinute) {
  for (const int growing : {3, 1}) {
    SCOPED_TRACE(absl::StrCat(growing, " guests growing"));
    v1::Policy policy = Enforce();
    policy.mutable_host()->set_reserve_bytes(4 * kGiB);  // hard: 256 MiB
    policy.mutable_host()->set_reserve_fraction(0.01);
    PolicyRun run(policy, Host(24 * kGiB, 5 * kGiB));
    FakeGuest& idle = run.Add(Guest("idle").Max(8 * kGiB).Actual(8 * kGiB).Used(kGiB));
    std::vector<FakeGuest*> desks;
    for (int i = 0; i < growing; ++i) {
      desks.push_back(
          &run.Add(Guest(absl::StrCat("desk-", i)).Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB)));
    }
    ASSERT_TRUE(run.Cycle().empty());
    for (FakeGuest* d : desks) d->used = 900 * kMiB;  // 100 MiB/s each
    run.host().available_bytes = 3 * kGiB;            // under the reserve
    std::map<std::string, Decision> first = ByName(run.Cycle());
    for (FakeGuest* d : desks) {
      ASSERT_EQ(first.count(d->name), 1u);
      EXPECT_EQ(first[d->name].reason, v1::DECISION_REASON_GUEST_PRESSURE);
    }
    if (growing == 1) {
      ASSERT_EQ(first.count("idle"), 1u) << "no storm: the reserve is restored";
      EXPECT_EQ(first["idle"].reason, v1::DECISION_REASON_HOST_RECLAIM);
      continue;
    }
    EXPECT_EQ(first.count("idle"), 0u) << "the soft reserve is lent to the storm";
    EXPECT_EQ(run.host_condition(), HostCondition::kNeutral);
    for (int i = 0; i < 25; ++i) {  // 50 s: the storm is over, the reserve still lent
      EXPECT_EQ(ByName(run.Cycle()).count("idle"), 0u) << "cycle " << i;
    }
    EXPECT_EQ(idle.actual, 8 * kGiB);
    run.Advance(absl::Seconds(12));
    std::map<std::string, Decision> after = ByName(run.Cycle());
    ASSERT_EQ(after.count("idle"), 1u) << "a calm minute later the reserve is taken back";
    EXPECT_EQ(after["idle"].reason, v1::DECISION_REASON_HOST_RECLAIM);
    EXPECT_THAT(after["idle"].explanation, HasSubstr("(reserve 4 GiB)"));
  }
}

// Guests growing fast into memory the host still has make it short before their growth lands:
// reclaim starts a cycle early. Growth into memory the host already gave them costs it nothing.
TEST(PolicyStormTest, TheHostIsShortOfWhatGrowingGuestsAreAboutToTake) {
  PolicyRun run(Enforce(), Host(24 * kGiB, 3500 * kMiB));  // reserve 2.4 GiB: not short
  run.Add(Guest("idle").Max(8 * kGiB).Actual(8 * kGiB).Used(kGiB));
  FakeGuest& a = run.Add(Guest("a").Max(8 * kGiB).Actual(8 * kGiB).Used(kGiB).Resident(kGiB));
  FakeGuest& b = run.Add(Guest("b").Max(8 * kGiB).Actual(8 * kGiB).Used(kGiB).Resident(kGiB));
  ASSERT_TRUE(run.Cycle().empty());
  a.used = b.used = kGiB + 400 * kMiB;  // 200 MiB/s each: 1.6 GiB before the next report
  std::map<std::string, Decision> decisions = ByName(run.Cycle());
  ASSERT_EQ(decisions.count("idle"), 1u);
  EXPECT_EQ(decisions["idle"].reason, v1::DECISION_REASON_HOST_RECLAIM);
  EXPECT_THAT(decisions["idle"].explanation,
              HasSubstr("1.6 GiB of it about to be taken by guests' growing use"));
  for (const char* growing : {"a", "b"}) {  // a growing guest keeps room for its growth
    if (decisions.count(growing)) {
      EXPECT_GE(decisions[growing].target_bytes, kGiB + 1200 * kMiB);
    }
  }

  a.resident = b.resident = 8 * kGiB;  // their growth lands in memory they already hold
  a.used = b.used = kGiB + 800 * kMiB;
  EXPECT_EQ(ByName(run.Cycle()).count("idle"), 0u);
}

}  // namespace
}  // namespace balloond::policy
