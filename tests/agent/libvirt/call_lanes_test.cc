#include "agent/libvirt/call_lanes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/agent/base/eventually.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::Eventually;

using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;

CallLanes::Options Options(int threads, int max_threads, absl::Duration hung_after) {
  CallLanes::Options o;
  o.threads = threads;
  o.max_threads = max_threads;
  o.hung_after = hung_after;
  return o;
}

TEST(CallLanesTest, RunsCallsOnItsThreadsWithoutMakingNewOnes) {
  FakeClock clock;
  CallLanes lanes(Options(2, 8, absl::Seconds(1)), clock);
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        lanes.Run("dom-" + std::to_string(i % 7), clock.Now() + absl::Seconds(5), [&] { ++ran; })
            .ok());
  }
  EXPECT_EQ(ran, 200);
  EXPECT_EQ(lanes.threads(), 2);
  EXPECT_EQ(lanes.lanes(), 0u) << "an idle lane is forgotten";
}

TEST(CallLanesTest, AHungCallHoldsUpOnlyItsLaneAndLaterCallsThereFailFast) {
  FakeClock clock;
  CallLanes lanes(Options(2, 8, absl::Milliseconds(100)), clock);
  absl::Notification started, release;
  std::thread deadline_passes([&] {
    // Once the call runs: a call still in line at its deadline would be dropped, not hung.
    started.WaitForNotification();
    clock.AwaitWaiters(1);
    clock.Advance(absl::Milliseconds(200));
  });
  absl::Status first = lanes.Run("hung", clock.Now() + absl::Milliseconds(200), [&] {
    started.Notify();
    release.WaitForNotification();
  });
  deadline_passes.join();
  EXPECT_EQ(first.code(), absl::StatusCode::kDeadlineExceeded) << "the caller left at its deadline";

  // Refused at once: nothing moves the clock now, so a call that waited would never return.
  absl::Status behind = lanes.Run("hung", clock.Now() + absl::Seconds(5), [] {});
  EXPECT_EQ(behind.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(behind.message(),
            "an earlier call to this domain has been pending for 200ms without an answer");

  EXPECT_TRUE(lanes.Run("fine", clock.Now() + absl::Seconds(5), [] {}).ok());
  release.Notify();
  EXPECT_TRUE(Eventually([&] {
    return lanes.Run("hung", clock.Now() + absl::Seconds(5), [] {}).ok();
  })) << "the lane is free again once the call returned";
}

TEST(CallLanesTest, StuckThreadsAreReplacedSoOtherLanesGoOn) {
  FakeClock clock;
  CallLanes lanes(Options(1, 4, absl::Milliseconds(50)), clock);
  absl::Notification release;
  std::vector<std::shared_ptr<PendingCall>> stuck;
  absl::Notification started[3];
  for (int i = 0; i < 3; ++i) {
    stuck.push_back(lanes.Submit("hung-" + std::to_string(i), [&, i] {
      started[i].Notify();
      release.WaitForNotification();
    }));
    started[i].WaitForNotification();
    clock.Advance(absl::Milliseconds(60));  // held past hung_after before the next arrives
  }
  EXPECT_TRUE(lanes.Run("fine", clock.Now() + absl::Seconds(5), [] {}).ok());
  EXPECT_EQ(lanes.threads(), 4) << "one more for each stuck call, up to max_threads";
  release.Notify();
  for (auto& call : stuck) EXPECT_TRUE(call->Wait(clock.Now() + absl::Seconds(5)).ok());
}

TEST(CallLanesTest, ACallLeftWaitingInLineNeverRuns) {
  FakeClock clock;
  CallLanes lanes(Options(1, 1, absl::Seconds(10)), clock);
  absl::Notification release;
  auto busy = lanes.Submit("a", [&] { release.WaitForNotification(); });
  std::atomic<bool> ran{false};
  std::thread deadline_passes([&] {
    clock.AwaitWaiters(1);
    clock.Advance(absl::Milliseconds(50));
  });
  EXPECT_EQ(lanes.Run("a", clock.Now() + absl::Milliseconds(50), [&] { ran = true; }).code(),
            absl::StatusCode::kDeadlineExceeded);
  deadline_passes.join();
  release.Notify();
  ASSERT_TRUE(busy->Wait(clock.Now() + absl::Seconds(5)).ok());
  EXPECT_TRUE(lanes.Run("a", clock.Now() + absl::Seconds(5), [] {}).ok());
  EXPECT_FALSE(ran) << "its caller had given up on it";
}

TEST(CallLanesTest, AThrowingCallIsLoggedAndTheLaneGoesOn) {
  FakeClock clock;
  CallLanes lanes(Options(1, 2, absl::Seconds(1)), clock);
  EXPECT_TRUE(
      lanes.Run("a", clock.Now() + absl::Seconds(5), [] { throw std::runtime_error("x"); }).ok());
  EXPECT_TRUE(lanes.Run("a", clock.Now() + absl::Seconds(5), [] {}).ok());
}

}  // namespace
}  // namespace balloond
