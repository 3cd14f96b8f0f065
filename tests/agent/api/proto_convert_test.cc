// What the API's messages say of balloond's state.
#include "agent/api/proto_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

// Known statistics fill their typed fields; unknown ones (a newer QEMU's) pass through by name; a
// statistic the guest did not report stays absent rather than zero.
TEST(ProtoConvertTest, GuestStatisticsAreTypedPassedThroughOrAbsent) {
  GuestStats stats;
  stats.values["stat-available-memory"] = 400 * kMiB;
  stats.values["stat-swap-in"] = 0;
  stats.values["stat-new-in-qemu-10"] = 7;
  v1::GuestMemoryStats out;
  ToProto(stats, &out);
  EXPECT_EQ(out.available_memory_bytes(), 400 * kMiB);
  EXPECT_TRUE(out.has_swap_in_bytes());
  EXPECT_EQ(out.swap_in_bytes(), 0);
  EXPECT_FALSE(out.has_total_memory_bytes());
  EXPECT_EQ(out.other().at("stat-new-in-qemu-10"), 7);
}

TEST(ProtoConvertTest, StatisticsSayHowOldTheGuestsReportIs) {
  DomainSnapshot snap;
  snap.info.name = "web1";
  snap.balloon = BalloonStatus::kActive;
  snap.guest = GuestStats{};
  snap.guest->last_update_unix_seconds = 1795612930;
  snap.collect_time = absl::FromUnixSeconds(1795612931);
  snap.stats_period_seconds = 2;
  v1::MemoryStats out;
  ToProto(snap, absl::FromUnixSeconds(1795612933), &out);
  EXPECT_EQ(out.domain().name(), "web1");
  EXPECT_EQ(out.domain().balloon_state(), v1::BALLOON_STATE_ACTIVE);
  EXPECT_EQ(out.stats_age().seconds(), 3);
  EXPECT_EQ(out.last_update_time().seconds(), 1795612930);
  EXPECT_EQ(out.stats_period().seconds(), 2);

  snap.guest->last_update_unix_seconds = 0;  // never reported
  v1::MemoryStats never;
  ToProto(snap, absl::FromUnixSeconds(1795612933), &never);
  EXPECT_FALSE(never.has_stats_age());
}

TEST(ProtoConvertTest, ADomainShowsItsProblemsTogether) {
  DomainSnapshot snap;
  snap.problem = "its monitor is busy";
  snap.metadata_problem = "balloond metadata <min>: 'lots' is not a whole number; ignored";
  v1::Domain out;
  ToProto(snap, &out);
  EXPECT_EQ(out.problem(), absl::StrCat(snap.problem, "; ", snap.metadata_problem));
}

}  // namespace
}  // namespace balloond
