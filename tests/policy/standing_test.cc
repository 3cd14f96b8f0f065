// Where the host stands: the one rule for "short" that reclaim, the capacity figures and the events
// read.
#include "policy/standing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

using ::testing::HasSubstr;

// A 24 GiB host whose reserve is 2 GiB and whose comfortable level is 10 GiB available.
HostStanding Standing(int64_t available, int64_t reserved = 0, int64_t unbacked = 0,
                      std::optional<double> psi = std::nullopt) {
  balloon::v1::HostPolicy host_policy = WithDefaults({}).host();
  host_policy.set_reserve_bytes(2 * kGiB);
  host_policy.set_reserve_fraction(0.01);
  host_policy.set_target_used_fraction(1 - 10.0 / 24);
  HostInput host;
  host.total_bytes = 24 * kGiB;
  host.available_bytes = available;
  host.pressure_some_avg10 = psi;
  return StandingOf(host_policy, host, reserved, unbacked);
}

TEST(HostStandingTest, ShortUnderTheReserveComfortableAboveItsLevelNeutralBetween) {
  EXPECT_EQ(Standing(1 * kGiB).Condition(), HostCondition::kShort);
  EXPECT_EQ(Standing(5 * kGiB).Condition(), HostCondition::kNeutral);
  EXPECT_EQ(Standing(12 * kGiB).Condition(), HostCondition::kComfortable);
  EXPECT_THAT(Standing(1 * kGiB).DescribeShort(), HasSubstr("the host had 1 GiB available"));
}

TEST(HostStandingTest, MemoryPressureMakesItShortWhateverIsAvailable) {
  const HostStanding pressed = Standing(12 * kGiB, 0, 0, 35.0);
  EXPECT_EQ(pressed.Condition(), HostCondition::kShort);
  EXPECT_THAT(pressed.DescribeShort(), HasSubstr("memory pressure 35.0%"));
  EXPECT_EQ(Standing(12 * kGiB, 0, 0, 5.0).Condition(), HostCondition::kComfortable);
}

// Reserved memory counts as used, and so, while there are reservations, does what guests may still
// take: room is promised once.
TEST(HostStandingTest, ReservationsAndWhatGuestsMayStillTakeCountAsUsed) {
  EXPECT_EQ(Standing(5 * kGiB, 0, 4 * kGiB).FreeBytes(), 5 * kGiB) << "no reservation";
  const HostStanding reserving = Standing(5 * kGiB, 2 * kGiB, 2 * kGiB);
  EXPECT_EQ(reserving.FreeBytes(), 1 * kGiB);
  EXPECT_EQ(reserving.Condition(), HostCondition::kShort);
  EXPECT_THAT(reserving.DescribeShort(), HasSubstr("2 GiB of it reserved for VMs to come"));
  EXPECT_EQ(Standing(1 * kGiB, 4 * kGiB, 4 * kGiB).FreeBytes(), 0) << "never below 0";
}

// The default reserve, as the README's table gives it: a tenth of the host (1 GiB at least), of
// which 1 % of the host (256 MiB at least: ESX's minFree on a large host) is never lent. A reserve
// set far above the host (tests make a host short that way) leaves the hard part as it was.
TEST(HostReserveTest, TheDefaultIsATenthOfTheHostAndItsHardPartOnePercent) {
  const balloon::v1::HostPolicy defaults = WithDefaults({}).host();
  EXPECT_EQ(HostReserve(defaults, 8 * kGiB), 1 * kGiB);
  EXPECT_EQ(HardReserve(defaults, 8 * kGiB), 256 * kMiB);
  EXPECT_NEAR(HostReserve(defaults, 24 * kGiB), 2.4 * kGiB, kMiB);
  EXPECT_EQ(HardReserve(defaults, 24 * kGiB), 256 * kMiB);
  EXPECT_NEAR(HostReserve(defaults, 128 * kGiB), 12.8 * kGiB, kMiB);
  EXPECT_NEAR(HardReserve(defaults, 128 * kGiB), 1.28 * kGiB, kMiB);
  EXPECT_NEAR(HostReserve(defaults, 512 * kGiB), 51.2 * kGiB, kMiB);
  EXPECT_NEAR(HardReserve(defaults, 512 * kGiB), 5.12 * kGiB, kMiB);
  balloon::v1::HostPolicy huge = defaults;
  huge.set_reserve_bytes(1000 * kGiB);
  EXPECT_EQ(HardReserve(huge, 24 * kGiB), 256 * kMiB);
}

// The reserve's states: kept, lent in a storm (the host short only below the hard part), taken
// back once no storm has been seen for reserve_reclaim_after, and hard below the hard part.
TEST(HostReserveTest, AStormBorrowsTheSoftReserveUntilAMinuteAfterIt) {
  balloon::v1::HostPolicy host_policy = WithDefaults({}).host();
  host_policy.set_reserve_bytes(4 * kGiB);  // hard: 256 MiB
  HostInput host;
  host.total_bytes = 24 * kGiB;
  const absl::Time now = absl::FromUnixSeconds(1795612931);
  const auto standing = [&](int64_t available, absl::Time storm_at) {
    host.available_bytes = available;
    return StandingOf(host_policy, host, 0, 0, 0, storm_at, now);
  };
  const absl::Time no_storm = absl::InfinitePast();
  EXPECT_EQ(standing(5 * kGiB, no_storm).ReserveState(), balloon::v1::RESERVE_STATE_KEPT);
  EXPECT_EQ(standing(3 * kGiB, no_storm).ReserveState(), balloon::v1::RESERVE_STATE_RECLAIMING);
  EXPECT_EQ(standing(3 * kGiB, no_storm).Condition(), HostCondition::kShort);

  const HostStanding storm = standing(3 * kGiB, now - absl::Seconds(30));
  EXPECT_EQ(storm.ReserveState(), balloon::v1::RESERVE_STATE_LENT);
  EXPECT_EQ(storm.Condition(), HostCondition::kNeutral) << "the soft reserve is the guests'";
  EXPECT_EQ(storm.KeptReserveBytes(), 256 * kMiB);

  const HostStanding hard = standing(200 * kMiB, now - absl::Seconds(30));
  EXPECT_EQ(hard.ReserveState(), balloon::v1::RESERVE_STATE_HARD);
  EXPECT_EQ(hard.Condition(), HostCondition::kShort);
  EXPECT_THAT(hard.DescribeShort(), HasSubstr("hard reserve 256 MiB"));

  const HostStanding after = standing(3 * kGiB, now - absl::Seconds(61));
  EXPECT_EQ(after.ReserveState(), balloon::v1::RESERVE_STATE_RECLAIMING);
  EXPECT_EQ(after.Condition(), HostCondition::kShort) << "taken back after a calm minute";

  host_policy.mutable_reserve_reclaim_after()->set_seconds(0);
  EXPECT_EQ(standing(3 * kGiB, now).ReserveState(), balloon::v1::RESERVE_STATE_RECLAIMING)
      << "0s: never lent";
}

// Growth the guests will take from the host before the next cycle can act counts as gone.
TEST(HostReserveTest, WhatGrowingGuestsAreAboutToTakeIsNotFree) {
  balloon::v1::HostPolicy host_policy = WithDefaults({}).host();
  host_policy.set_reserve_bytes(2 * kGiB);
  HostInput host;
  host.total_bytes = 24 * kGiB;
  host.available_bytes = 3 * kGiB;
  const HostStanding growing = StandingOf(host_policy, host, 0, 0, 2 * kGiB);
  EXPECT_EQ(growing.FreeBytes(), 1 * kGiB);
  EXPECT_EQ(growing.Condition(), HostCondition::kShort);
  EXPECT_THAT(growing.DescribeShort(),
              HasSubstr("2 GiB of it about to be taken by guests' growing"));
}

}  // namespace
}  // namespace balloond::policy
