#include "agent/qom/qom_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "absl/synchronization/notification.h"
#include "tests/agent/base/eventually.h"
#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::Eventually;
using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;

QomGateSettings Settings(double rate, int burst, int queue) {
  QomGateSettings s;
  s.queries_per_second = rate;
  s.burst = burst;
  s.queue_per_domain = queue;
  s.workers = 2;
  return s;
}

TEST(QomGateTest, AClientPastItsRateIsRefusedUntilItsBucketRefills) {
  FakeClock clock;
  QomGate gate(Settings(/*rate=*/2, /*burst=*/3, /*queue=*/100), clock);
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(gate.Submit("uid 1000", "dom-" + std::to_string(i), [&] { ++ran; }).ok());
  }
  absl::Status refused = gate.Submit("uid 1000", "dom-9", [&] { ++ran; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("uid 1000"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("limits.qom_queries_per_second"));
  EXPECT_TRUE(gate.Submit("uid 0", "dom-9", [&] { ++ran; }).ok()) << "other clients have their own";

  clock.Advance(absl::Milliseconds(500));  // one token back at 2/s
  EXPECT_TRUE(gate.Submit("uid 1000", "dom-9", [&] { ++ran; }).ok());
  EXPECT_FALSE(gate.Submit("uid 1000", "dom-9", [&] { ++ran; }).ok());
  EXPECT_TRUE(Eventually([&] { return ran == 5; })) << ran;
}

TEST(QomGateTest, ADomainRunsOneClientQueryAtATimeWithAShortQueue) {
  FakeClock clock;
  QomGate gate(Settings(/*rate=*/1000, /*burst=*/1000, /*queue=*/2), clock);
  absl::Notification release;
  std::atomic<int> running{0}, most{0}, done{0};
  auto query = [&] {
    const int now = ++running;
    most = std::max(most.load(), now);
    release.WaitForNotification();
    --running;
    ++done;
  };
  ASSERT_TRUE(gate.Submit("a", "dom", query).ok());  // runs
  ASSERT_TRUE(gate.Submit("b", "dom", query).ok());  // waits
  ASSERT_TRUE(gate.Submit("c", "dom", query).ok());  // waits
  absl::Status full = gate.Submit("d", "dom", query);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()), HasSubstr("limits.qom_queue_per_domain"));

  absl::Notification other_ran;
  ASSERT_TRUE(gate.Submit("a", "other-dom", [&] { other_ran.Notify(); }).ok());
  EXPECT_TRUE(other_ran.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "a busy domain holds up no other";

  release.Notify();
  EXPECT_TRUE(Eventually([&] { return done == 3; })) << done;
  EXPECT_EQ(most.load(), 1) << "never two client queries on one domain at once";
}

TEST(QomGateTest, AThrowingQueryIsLoggedAndTheDomainMovesOn) {
  FakeClock clock;
  QomGate gate(Settings(1000, 1000, 4), clock);
  absl::Notification next_ran;
  ASSERT_TRUE(gate.Submit("a", "dom", [] { throw std::runtime_error("boom"); }).ok());
  ASSERT_TRUE(gate.Submit("a", "dom", [&] { next_ran.Notify(); }).ok());
  EXPECT_TRUE(next_ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
}

}  // namespace
}  // namespace balloond
