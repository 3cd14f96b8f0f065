// Worker pools: bounded queues, a task that throws is only logged, and Stop runs what is queued.
#include "agent/base/worker_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "absl/synchronization/notification.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(WorkerPoolTest, AFullQueueRefusesNamingThePool) {
  WorkerPool pool("test", 1, 1);
  absl::Notification release;
  ASSERT_TRUE(pool.TrySubmit([&] { release.WaitForNotification(); }).ok());
  // The one worker is busy; one task may wait, the next is refused.
  absl::Status queued;
  for (int i = 0; i < 100 && (queued = pool.TrySubmit([] {})).ok(); ++i) {
  }
  EXPECT_EQ(queued.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(queued.message()), HasSubstr("test queue is full"));
  release.Notify();
  pool.WaitIdle();
}

TEST(WorkerPoolTest, ATaskThatThrowsDoesNotEndItsWorker) {
  WorkerPool pool("test", 1);
  pool.Submit([] { throw std::runtime_error("boom"); });
  std::atomic<bool> ran{false};
  pool.Submit([&] { ran = true; });
  pool.WaitIdle();
  EXPECT_TRUE(ran);
}

TEST(WorkerPoolTest, StopRunsWhatIsQueuedAndRefusesMore) {
  std::atomic<int> ran{0};
  WorkerPool pool("test", 1);
  for (int i = 0; i < 10; ++i) pool.Submit([&] { ++ran; });
  pool.Stop();
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(pool.TrySubmit([&] { ++ran; }).code(), absl::StatusCode::kUnavailable);
  pool.Stop();  // again: nothing happens
  EXPECT_EQ(ran, 10);
}

}  // namespace
}  // namespace balloond
