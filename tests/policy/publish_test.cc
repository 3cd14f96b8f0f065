// Publishing a cycle (policy/publish.cc): the collection plan, the deadband, proposals made once.
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

TEST(PolicyStabilityTest, ChangesInsideTheDeadbandAreDropped) {
  PolicyRun run = ShortHost();
  // 10 MiB over its floor: less than the 16 MiB deadband.
  run.Add(Guest("web").Actual(100 * kMiB + 128 * kMiB + kOverhead + 10 * kMiB).Used(100 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyStabilityTest, NoFlipFlopWithoutAChangeOfInputs) {
  // A guest given relief, whose use then holds steady, is neither shrunk back nor grown again.
  v1::Policy p = Enforce();
  p.mutable_host()->set_reserve_bytes(100 * kGiB);  // short host: reclaim runs every cycle
  PolicyRun run(p, Host(24 * kGiB, 20 * kGiB));
  FakeGuest& g = run.Add(Guest("web").Max(4 * kGiB).Actual(512 * kMiB).Used(450 * kMiB));
  auto first = run.Cycle();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(run.Cycle().empty()) << "cycle " << i << " at " << g.actual;
}

TEST(PolicyModeTest, ObserveDecidesOnceAndSendsNothing) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_OBSERVE);
  PolicyRun run = ShortHost(p);
  FakeGuest& g = run.Add(Guest("idle").Actual(kGiB).Used(60 * kMiB));
  auto first = run.Cycle();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(g.actual, kGiB);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(run.Cycle().empty());  // the same proposal is not repeated
}

namespace collection {

// Collection plans after each of `cycles` cycles of `run`, for the guest `name`.
std::vector<int> Plans(PolicyRun& run, const std::string& name, int cycles) {
  std::vector<int> plans;
  for (int i = 0; i < cycles; ++i) {
    run.Cycle();
    plans.push_back(run.CollectEvery(name));
  }
  return plans;
}

TEST(CollectionPlanTest, ASteadyGuestIsCollectedLessAndLessOftenUpToTheMaximum) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("steady").Used(100 * kMiB));
  EXPECT_THAT(Plans(run, "steady", 6), ::testing::ElementsAre(1, 2, 4, 5, 5, 5));
}

TEST(CollectionPlanTest, TheMaximumIsThePolicys) {
  v1::Policy policy = Enforce();
  policy.set_max_collect_interval_periods(1);
  PolicyRun run = NeutralHost(policy);
  run.Add(Guest("steady").Used(100 * kMiB));
  EXPECT_THAT(Plans(run, "steady", 4), ::testing::ElementsAre(1, 1, 1, 1));
}

TEST(CollectionPlanTest, GrowthSwappingOrAShortHostBringsItBackAtOnce) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("web").Used(100 * kMiB));
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  // Use growing fast enough to reach the low watermark within the longer wait.
  g.used += 300 * kMiB;
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  g.swap_in += 4 * kMiB;
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  run.host().available_bytes = 512 * kMiB;  // the host is short: everyone is watched closely
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
}

TEST(CollectionPlanTest, SlowGrowthFarFromTheWatermarkStaysSteady) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("web").Used(100 * kMiB));
  std::vector<int> plans;
  for (int i = 0; i < 6; ++i) {
    g.used += 64 * 1024;  // 32 KiB/s: hours from the watermark
    run.Cycle();
    plans.push_back(run.CollectEvery("web"));
  }
  EXPECT_THAT(plans, ::testing::ElementsAre(1, 2, 4, 5, 5, 5));
}

TEST(CollectionPlanTest, GuestsThePolicyDoesNotActOnWaitTheLongest) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("paused").In(Activity::kPaused));
  run.Add(Guest("migrating").In(Activity::kMigrating));
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("paused"), 5);
  EXPECT_EQ(run.CollectEvery("migrating"), 5);
}

TEST(CollectionPlanTest, AGuestUnderPressureOrBeingResizedIsCollectedEveryPeriod) {
  PolicyRun run = ShortHost();
  run.Add(Guest("idle").Used(60 * kMiB));
  // Shrinking step by step: each step is watched.
  int steps = 0;
  for (int i = 0; i < 10; ++i) {
    if (!run.Cycle().empty()) ++steps;
    EXPECT_EQ(run.CollectEvery("idle"), 1);
  }
  EXPECT_GE(steps, 2);
}

TEST(CollectionPlanTest, StatisticsAsOldAsTheWaitAreStillFresh) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("steady").Used(100 * kMiB).Actual(512 * kMiB));
  Plans(run, "steady", 5);
  ASSERT_EQ(run.CollectEvery("steady"), 5);
  // Collected every 5 periods, its report is up to 10 s old: not stale (3 periods would be 6 s).
  g.frozen = true;
  for (int i = 0; i < 5; ++i) {
    for (const Decision& d : run.Cycle()) {
      ADD_FAILURE() << "unexpected decision: " << d.explanation;
    }
  }
  // Past stale_after_periods beyond the wait, it is stale: its memory goes back.
  bool given_back = false;
  for (int i = 0; i < 4; ++i) {
    for (const Decision& d : run.Cycle()) {
      given_back |= d.reason == v1::DECISION_REASON_STATS_STALE;
    }
  }
  EXPECT_TRUE(given_back);
}

}  // namespace collection

}  // namespace
}  // namespace balloond::policy
