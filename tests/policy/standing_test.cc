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

}  // namespace
}  // namespace balloond::policy
