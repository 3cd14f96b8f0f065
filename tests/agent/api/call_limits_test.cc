#include "agent/api/call_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(CallLimitsTest, ACrowdedConnectionIsRefusedNamingTheSettingAndOthersGoOn) {
  CallLimits limits({/*max_calls_per_connection=*/3, /*max_watches=*/100});
  std::vector<CallLimits::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    auto t = limits.AdmitCall("fd:7");
    ASSERT_TRUE(t.ok()) << t.status();
    held.push_back(std::move(*t));
  }
  auto refused = limits.AdmitCall("fd:7");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("limits.max_calls_per_connection"));
  EXPECT_TRUE(limits.AdmitCall("fd:8").ok()) << "another connection is not affected";

  held.pop_back();  // a call ends
  EXPECT_TRUE(limits.AdmitCall("fd:7").ok());
  EXPECT_EQ(limits.calls_in_flight(), 2);
}

TEST(CallLimitsTest, WatchesAreCappedAcrossConnections) {
  CallLimits limits({/*max_calls_per_connection=*/10, /*max_watches=*/2});
  auto a = limits.AdmitWatch("fd:1");
  auto b = limits.AdmitWatch("fd:2");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = limits.AdmitWatch("fd:3");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("limits.max_watches"));
  EXPECT_TRUE(limits.AdmitCall("fd:3").ok()) << "unary calls are not watches";
  EXPECT_EQ(limits.open_watches(), 2);
  { CallLimits::Ticket gone = std::move(*a); }
  EXPECT_EQ(limits.open_watches(), 1);
  EXPECT_TRUE(limits.AdmitWatch("fd:3").ok());
}

TEST(CallLimitsTest, AMovedTicketIsReleasedOnce) {
  CallLimits limits({1, 1});
  {
    auto t = limits.AdmitWatch("fd:1");
    ASSERT_TRUE(t.ok());
    CallLimits::Ticket moved = std::move(*t);
    CallLimits::Ticket again;
    again = std::move(moved);
    EXPECT_EQ(limits.open_watches(), 1);
  }
  EXPECT_EQ(limits.open_watches(), 0);
  EXPECT_EQ(limits.calls_in_flight(), 0);
}

}  // namespace
}  // namespace balloond
