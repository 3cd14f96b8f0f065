// What the policy makes of one guest (Assess): its floor and ceiling, fresh statistics or none,
// and the guests it leaves alone.
#include "policy/assessment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/policy/policy_run.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

TEST(PolicyBoundsTest, AnIdleGuestShrinksToItsUsePlusHeadroomAndNeverBelow) {
  PolicyRun run = ShortHost();
  run.Add(Guest("idle").Max(kGiB).Actual(kGiB).Used(60 * kMiB));
  auto decisions = run.CycleUntilQuiet();
  ASSERT_FALSE(decisions.empty());
  for (const auto& d : decisions) EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM);
  const int64_t floor = 60 * kMiB + 128 * kMiB + kOverhead;  // use + headroom (+ kernel overhead)
  EXPECT_GE(run.guest(0).actual, floor);
  EXPECT_LE(run.guest(0).actual, floor + 16 * kMiB);  // within one deadband of it
  EXPECT_THAT(decisions.back().explanation, HasSubstr("toward its floor"));
}

TEST(PolicyBoundsTest, AConfiguredMinimumIsAFloor) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["db"].set_min_bytes(600 * kMiB);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("db").Actual(kGiB).Used(60 * kMiB));
  run.Add(Guest("web").Actual(kGiB).Used(60 * kMiB));
  run.CycleUntilQuiet();
  EXPECT_EQ(run.guest(0).actual, 600 * kMiB);
  EXPECT_LT(run.guest(1).actual, 300 * kMiB);
}

TEST(PolicyBoundsTest, NeverAboveTheMaximum) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["capped"].set_max_bytes(700 * kMiB);
  PolicyRun run(p, Host(24 * kGiB, 23 * kGiB));  // comfortable: memory is given back
  run.Add(Guest("capped").Max(kGiB).Actual(800 * kMiB));
  run.Add(Guest("free").Max(kGiB).Actual(300 * kMiB));
  auto decisions = run.CycleUntilQuiet();
  EXPECT_EQ(run.guest(0).actual, 700 * kMiB);
  EXPECT_EQ(decisions.front().reason, v1::DECISION_REASON_ABOVE_MAX);
  EXPECT_EQ(run.guest(1).actual, kGiB);  // back to its maximum, not beyond
}

TEST(PolicySafetyTest, StaleOrMissingStatisticsNeverShrink) {
  PolicyRun run = ShortHost();
  FakeGuest& stale = run.Add(Guest("stale").Actual(kGiB).Used(60 * kMiB));
  run.Add(Guest("silent").Actual(kGiB).Used(60 * kMiB).Silent());
  run.Cycle();
  stale.frozen = true;  // its last report ages from here on
  const int64_t before = stale.actual;
  run.Advance(absl::Seconds(10));
  EXPECT_TRUE(run.Cycle().empty());
  EXPECT_EQ(stale.actual, before);
  EXPECT_EQ(run.guest(1).actual, kGiB);
}

TEST(PolicyBoundsTest, TheKernelsShareIsLearnedWhileTheBalloonIsStill) {
  // While a balloon moves, the guest's MemTotal lags behind it: the floor must still count the
  // kernel's share learned before the move, or it ends up that much too low.
  v1::Policy p = Enforce();
  p.mutable_host()->set_reserve_bytes(100 * kGiB);
  FakeGuest g = Guest("moving").Actual(kGiB).Used(100 * kMiB);
  State state;
  Outcome first =
      Decide(p, Host(24 * kGiB, 20 * kGiB), {g.Input()}, state, kStart + absl::Seconds(2));
  DomainInput moving = g.Input();
  moving.actual_bytes = 600 * kMiB;  // the balloon moved; the report is from before
  moving.report->last_update = kStart + absl::Seconds(3);
  Outcome second =
      Decide(p, Host(24 * kGiB, 20 * kGiB), {moving}, first.state, kStart + absl::Seconds(4));
  ASSERT_EQ(second.decisions.size(), 1u);
  EXPECT_EQ(second.decisions[0].inputs.floor_bytes(), 100 * kMiB + 128 * kMiB + kOverhead);
}

TEST(PolicySafetyTest, ImpossibleStatisticsAreNoStatistics) {
  PolicyRun run = ShortHost();
  run.Add(Guest("liar").Max(kGiB).Actual(kGiB).Used(-300 * kMiB));  // available > total
  EXPECT_TRUE(run.Cycle().empty());
  PolicyRun run2 = ShortHost();
  run2.Add(Guest("bigger").Max(512 * kMiB).Actual(2 * kGiB).Used(60 * kMiB));  // total > max
  for (const auto& d : run2.Cycle()) EXPECT_NE(d.reason, v1::DECISION_REASON_HOST_RECLAIM);
}

TEST(PolicySafetyTest, PausedMigratingAndStoppingDomainsAreSkipped) {
  for (Activity activity : {Activity::kPaused, Activity::kMigrating, Activity::kShuttingDown}) {
    PolicyRun run = ShortHost();
    run.Add(Guest("busy").Actual(kGiB).Used(60 * kMiB).In(activity));
    EXPECT_TRUE(run.Cycle().empty());
  }
}

TEST(PolicySafetyTest, ADisabledDomainIsLeftAlone) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["pinned"].set_enabled(false);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("pinned").Actual(kGiB).Used(60 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

// The partial rollout (the quickstart's too): off by default, on for the domains named; the host's
// other VMs are never moved, however short it is.
TEST(PolicySafetyTest, APartialRolloutMovesOnlyTheDomainsNamed) {
  v1::Policy p = Enforce();
  p.mutable_defaults()->set_enabled(false);
  (*p.mutable_domains())["demo"].set_enabled(true);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("demo").Actual(kGiB).Used(60 * kMiB));
  run.Add(Guest("theirs").Actual(kGiB).Used(60 * kMiB));
  const auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].name, "demo");
}

// Every byte a guest may still take counts as its own (the 12-06 review's finding 3: a VM without
// a balloon counted 0, and its reservation's room was promised again).
TEST(MayHoldTest, AGuestWithoutABalloonReadingMayHoldAllOfItsMaximum) {
  DomainInput no_balloon = Guest("nb").Max(kGiB).Input();
  no_balloon.actual_bytes.reset();
  no_balloon.resident_bytes = 41 * kMiB;
  Assessment a = Assess(WithDefaults(Enforce()), no_balloon, DomainHistory(), kStart);
  EXPECT_EQ(MayHoldBytes(a), kGiB);
  EXPECT_EQ(UnbackedBytes(a), kGiB - 41 * kMiB);
  no_balloon.resident_bytes.reset();
  a = Assess(WithDefaults(Enforce()), no_balloon, DomainHistory(), kStart);
  EXPECT_EQ(UnbackedBytes(a), kGiB) << "all of it while what the host holds is unknown";
}

TEST(MayHoldTest, MemoryOnItsWayToTheGuestCounts) {
  DomainInput in = Guest("g").Max(4 * kGiB).Actual(kGiB).Input();
  in.resident_bytes = kGiB;
  DomainHistory history;
  EXPECT_EQ(UnbackedBytes(Assess(WithDefaults(Enforce()), in, history, kStart)), 0);
  // A balloon deflating toward a target above its size.
  history.following.pending_target = 3 * kGiB;
  EXPECT_EQ(UnbackedBytes(Assess(WithDefaults(Enforce()), in, history, kStart)), 2 * kGiB);
  history.following.pending_target = 512 * kMiB;  // shrinking: what it has now
  EXPECT_EQ(UnbackedBytes(Assess(WithDefaults(Enforce()), in, history, kStart)), 0);
  // An operator's hold at a target above it.
  in.held_until = kStart + absl::Minutes(5);
  in.held_target_bytes = 2 * kGiB;
  EXPECT_EQ(UnbackedBytes(Assess(WithDefaults(Enforce()), in, history, kStart)), kGiB);
  // A virtio-mem device asked to plug 1 GiB, of which 256 MiB are plugged.
  DomainInput plugging = Guest("p").Max(4 * kGiB).Actual(kGiB + 256 * kMiB).Input();
  plugging.resident_bytes = plugging.actual_bytes;
  plugging.hotplug = Hotplug{256 * kMiB, kGiB, 3 * kGiB, 2 * kMiB};
  EXPECT_EQ(UnbackedBytes(Assess(WithDefaults(Enforce()), plugging, DomainHistory(), kStart)),
            768 * kMiB);
}

}  // namespace
}  // namespace balloond::policy
