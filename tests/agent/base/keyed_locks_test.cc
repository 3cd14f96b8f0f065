// One change of a key at a time; other keys side by side.
#include "agent/base/keyed_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;

TEST(KeyedLocksTest, OneHolderPerKeyAndOtherKeysAreFree) {
  FakeClock clock;
  KeyedLocks locks(clock);
  auto a = locks.Lock("web1", clock.Now() + absl::Seconds(1));
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(locks.Lock("web2", clock.Now() + absl::Seconds(1)).has_value());
  // Held: a second holder of web1 waits until its deadline, which the clock passes.
  std::atomic<bool> got{true};
  std::thread second([&] { got = locks.Lock("web1", clock.Now() + absl::Seconds(1)).has_value(); });
  clock.AwaitWaiters(1);
  clock.Advance(absl::Seconds(2));
  second.join();
  EXPECT_FALSE(got);
  a.reset();
  EXPECT_TRUE(locks.Lock("web1", clock.Now()).has_value()) << "free once released";
}

TEST(KeyedLocksTest, AWaiterGetsTheLockWhenItIsReleased) {
  FakeClock clock;
  KeyedLocks locks(clock);
  auto first = locks.Lock("web1", clock.Now() + absl::Seconds(1));
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = locks.Lock("web1", clock.Now() + absl::Hours(1)).has_value(); });
  first.reset();
  waiter.join();
  EXPECT_TRUE(got);
}

}  // namespace
}  // namespace balloond
