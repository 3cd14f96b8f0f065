// Clients' QOM queries and the collector's pauses.
#include "agent/qom/qom_traffic.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;

TEST(QomTrafficTest, AQueryCountsUntilItEndsHoweverItEnds) {
  FakeClock clock;
  QomTraffic traffic(clock);
  {
    auto pass = traffic.Enter(absl::InfiniteFuture());
    ASSERT_TRUE(pass.has_value());
    EXPECT_EQ(traffic.running(), 1);
  }
  EXPECT_EQ(traffic.running(), 0);
  try {
    auto pass = traffic.Enter(absl::InfiniteFuture());
    throw std::runtime_error("the query failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(traffic.running(), 0) << "a query that threw still counted: collections would wait";
}

TEST(QomTrafficTest, NoQueryStartsWhileACollectionRuns) {
  FakeClock clock;
  QomTraffic traffic(clock);
  traffic.Pause(absl::ZeroDuration());
  // A query whose deadline comes during the pause does not start.
  EXPECT_FALSE(traffic.Enter(clock.Now()).has_value());
  std::thread resume([&] { traffic.Resume(); });
  EXPECT_TRUE(traffic.Enter(absl::InfiniteFuture()).has_value());
  resume.join();
}

// A collection waits for the queries running when it starts, but not for longer than it said: a
// query stuck on a hung QEMU must not hold up the statistics of every domain.
TEST(QomTrafficTest, APauseWaitsForRunningQueriesOnlyAsLongAsItSaid) {
  FakeClock clock;
  QomTraffic traffic(clock);
  auto stuck = traffic.Enter(absl::InfiniteFuture());
  ASSERT_TRUE(stuck.has_value());
  std::thread collection([&] { traffic.Pause(absl::Seconds(1)); });
  clock.AwaitWaiters(1);
  clock.Advance(absl::Seconds(1));
  collection.join();  // returned with the query still running
  EXPECT_EQ(traffic.running(), 1);
  traffic.Resume();
}

}  // namespace
}  // namespace balloond
