// The Hypervisor interface's own types.
#include "agent/libvirt/hypervisor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::Optional;

// A statistic the guest did not report is absent, never zero.
TEST(GuestStatsTest, AnUnreportedStatisticIsAbsentNotZero) {
  GuestStats stats;
  stats.values["stat-available-memory"] = 0;
  EXPECT_THAT(stats.Get("stat-available-memory"), Optional(0));
  EXPECT_EQ(stats.Get("stat-swap-in"), std::nullopt);
}

}  // namespace
}  // namespace balloond
