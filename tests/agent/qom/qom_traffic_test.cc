// Clients' QOM queries and the collector's pauses.
#include "agent/qom/qom_traffic.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "absl/time/clock.h"

namespace balloond {
namespace {

TEST(QomTrafficTest, AQueryCountsUntilItEndsHoweverItEnds) {
  QomTraffic traffic;
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
  QomTraffic traffic;
  traffic.Pause(absl::ZeroDuration());
  // A query whose deadline comes during the pause does not start.
  EXPECT_FALSE(traffic.Enter(absl::Now()).has_value());
  std::thread resume([&] { traffic.Resume(); });
  EXPECT_TRUE(traffic.Enter(absl::InfiniteFuture()).has_value());
  resume.join();
}

}  // namespace
}  // namespace balloond
