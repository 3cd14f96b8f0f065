#include "agent/libvirt/call_lanes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

// Waits (bounded) for other threads to get somewhere.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) absl::SleepFor(absl::Milliseconds(10));
  return done();
}

CallLanes::Options Options(int threads, int max_threads, absl::Duration hung_after) {
  CallLanes::Options o;
  o.threads = threads;
  o.max_threads = max_threads;
  o.hung_after = hung_after;
  return o;
}

TEST(CallLanesTest, RunsCallsOnItsThreadsWithoutMakingNewOnes) {
  CallLanes lanes(Options(2, 8, absl::Seconds(1)), RealClock());
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        lanes.Run("dom-" + std::to_string(i % 7), absl::Now() + absl::Seconds(5), [&] { ++ran; })
            .ok());
  }
  EXPECT_EQ(ran, 200);
  EXPECT_EQ(lanes.threads(), 2);
  EXPECT_EQ(lanes.lanes(), 0u) << "an idle lane is forgotten";
}

TEST(CallLanesTest, AHungCallHoldsUpOnlyItsLaneAndLaterCallsThereFailFast) {
  CallLanes lanes(Options(2, 8, absl::Milliseconds(100)), RealClock());
  absl::Notification release;
  absl::Status first = lanes.Run("hung", absl::Now() + absl::Milliseconds(200),
                                 [&] { release.WaitForNotification(); });
  EXPECT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded) << "the caller left at its deadline";

  const absl::Time before = absl::Now();
  absl::Status behind = lanes.Run("hung", absl::Now() + absl::Seconds(5), [] {});
  EXPECT_EQ(behind.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(behind.message()), HasSubstr("pending for"));
  EXPECT_LT(absl::Now() - before, absl::Milliseconds(100)) << "it did not wait out its deadline";

  EXPECT_TRUE(lanes.Run("fine", absl::Now() + absl::Seconds(5), [] {}).ok());
  release.Notify();
  EXPECT_TRUE(Eventually([&] {
    return lanes.Run("hung", absl::Now() + absl::Seconds(5), [] {}).ok();
  })) << "the lane is free again once the call returned";
}

TEST(CallLanesTest, StuckThreadsAreReplacedSoOtherLanesGoOn) {
  CallLanes lanes(Options(1, 4, absl::Milliseconds(50)), RealClock());
  absl::Notification release;
  std::vector<std::shared_ptr<PendingCall>> stuck;
  for (int i = 0; i < 3; ++i) {
    stuck.push_back(
        lanes.Submit("hung-" + std::to_string(i), [&] { release.WaitForNotification(); }));
    absl::SleepFor(absl::Milliseconds(60));  // each held past hung_after before the next arrives
  }
  EXPECT_TRUE(lanes.Run("fine", absl::Now() + absl::Seconds(5), [] {}).ok());
  EXPECT_LE(lanes.threads(), 4) << "never more than max_threads";
  release.Notify();
  for (auto& call : stuck) EXPECT_TRUE(call->Wait(absl::Now() + absl::Seconds(5)).ok());
}

TEST(CallLanesTest, ACallLeftWaitingInLineNeverRuns) {
  CallLanes lanes(Options(1, 1, absl::Seconds(10)), RealClock());
  absl::Notification release;
  auto busy = lanes.Submit("a", [&] { release.WaitForNotification(); });
  std::atomic<bool> ran{false};
  EXPECT_EQ(lanes.Run("a", absl::Now() + absl::Milliseconds(50), [&] { ran = true; }).code(),
            absl::StatusCode::kDeadlineExceeded);
  release.Notify();
  ASSERT_TRUE(busy->Wait(absl::Now() + absl::Seconds(5)).ok());
  EXPECT_TRUE(lanes.Run("a", absl::Now() + absl::Seconds(5), [] {}).ok());
  EXPECT_FALSE(ran) << "its caller had given up on it";
}

TEST(CallLanesTest, AThrowingCallIsLoggedAndTheLaneGoesOn) {
  CallLanes lanes(Options(1, 2, absl::Seconds(1)), RealClock());
  EXPECT_TRUE(
      lanes.Run("a", absl::Now() + absl::Seconds(5), [] { throw std::runtime_error("x"); }).ok());
  EXPECT_TRUE(lanes.Run("a", absl::Now() + absl::Seconds(5), [] {}).ok());
}

}  // namespace
}  // namespace balloond
