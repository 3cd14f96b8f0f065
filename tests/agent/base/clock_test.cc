// The clocks: the system's, and the fake one the unit tests drive.
#include "agent/base/clock.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;

TEST(RealClockTest, IsOneClockForTheWholeProcessAndMonotonicOnlyMovesForward) {
  EXPECT_EQ(&RealClock(), &RealClock());
  const absl::Duration a = RealClock().Monotonic();
  const absl::Duration b = RealClock().Monotonic();
  EXPECT_LE(a, b);
}

TEST(FakeClockTest, AWaitEndsWhenAdvanceMovesPastItsTimeoutWithoutPolling) {
  FakeClock clock;
  absl::Mutex mu;
  bool never = false;
  bool timed_out = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    timed_out = !clock.AwaitWithTimeout(mu, absl::Condition(&never), absl::Seconds(10));
  });
  clock.AwaitWaiters(1);
  clock.Advance(absl::Seconds(5));  // not yet
  clock.Advance(absl::Seconds(6));  // past it: the waiter is woken by Advance itself
  waiter.join();
  EXPECT_TRUE(timed_out);
}

TEST(FakeClockTest, AWaitEndsAtOnceWhenItsConditionHolds) {
  FakeClock clock;
  absl::Mutex mu;
  bool ready = false;
  std::thread setter([&] {
    absl::MutexLock lock(&mu);
    ready = true;
  });
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(clock.AwaitWithTimeout(mu, absl::Condition(&ready), absl::Hours(1)));
  }
  setter.join();
}

}  // namespace
}  // namespace balloond
