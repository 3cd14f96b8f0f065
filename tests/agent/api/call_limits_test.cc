#include "agent/api/call_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

CallLimitSettings Settings(int calls_per_connection, int watches, int watches_per_client = 1000) {
  CallLimitSettings s;
  s.max_calls_per_connection = calls_per_connection;
  s.max_watches = watches;
  s.max_watches_per_client = watches_per_client;
  return s;
}

TEST(CallLimitsTest, ACrowdedConnectionIsRefusedNamingTheSettingAndOthersGoOn) {
  CallLimits limits(Settings(3, 100));
  std::vector<CallLimits::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    auto t = limits.AdmitCall("fd:7", "uid 1000");
    ASSERT_TRUE(t.ok()) << t.status();
    held.push_back(std::move(*t));
  }
  auto refused = limits.AdmitCall("fd:7", "uid 1000");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("limits.max_calls_per_connection"));
  EXPECT_TRUE(limits.AdmitCall("fd:8", "uid 1000").ok()) << "another connection is not affected";

  held.pop_back();  // a call ends
  EXPECT_TRUE(limits.AdmitCall("fd:7", "uid 1000").ok());
  EXPECT_EQ(limits.calls_in_flight(), 2);
}

TEST(CallLimitsTest, WatchesAreCappedAcrossConnections) {
  CallLimits limits(Settings(10, 2));
  auto a = limits.AdmitWatch("fd:1", "uid 1");
  auto b = limits.AdmitWatch("fd:2", "uid 2");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = limits.AdmitWatch("fd:3", "uid 3");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("limits.max_watches"));
  EXPECT_TRUE(limits.AdmitCall("fd:3", "uid 3").ok()) << "unary calls are not watches";
  EXPECT_EQ(limits.open_watches(), 2);
  { CallLimits::Ticket gone = std::move(*a); }
  EXPECT_EQ(limits.open_watches(), 1);
  EXPECT_TRUE(limits.AdmitWatch("fd:3", "uid 3").ok());
}

// One user holding every watch it may leaves the listener's others to everyone else (the review's
// finding 4: one uid took all 1024 and refused root's).
TEST(CallLimitsTest, OneClientTakesOnlyItsShareOfTheWatchesWhateverItsConnections) {
  CallLimits limits(Settings(64, 100, /*watches_per_client=*/3));
  std::vector<CallLimits::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    auto t = limits.AdmitWatch(absl::StrCat("fd:", 10 + i), "uid 65534");
    ASSERT_TRUE(t.ok()) << t.status();
    held.push_back(std::move(*t));
  }
  auto refused = limits.AdmitWatch("fd:20", "uid 65534");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("uid 65534 already has 3 watch streams"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("limits.max_watches_per_client"));
  EXPECT_TRUE(limits.AdmitWatch("fd:30", "uid 0").ok()) << "another user still watches";
  held.pop_back();
  EXPECT_TRUE(limits.AdmitWatch("fd:20", "uid 65534").ok()) << "a watch ended: room again";
}

// What answers hold until their client reads them counts per client and in all.
TEST(CallLimitsTest, UnreadAnswersCountPerClientUntilTheirCallIsDone) {
  CallLimitSettings s = Settings(64, 100);
  s.max_unread_bytes_per_client = 1000;
  s.max_unread_bytes = 1500;
  CallLimits limits(s);
  auto a = limits.AdmitCall("fd:1", "uid 65534");
  auto b = limits.AdmitCall("fd:1", "uid 65534");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->ChargeAnswer(800).ok());
  absl::Status refused = b->ChargeAnswer(300);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("uid 65534 has 800 bytes of answers"));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("limits.max_unread_bytes_per_client"));

  auto other = limits.AdmitCall("fd:2", "uid 1000");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->ChargeAnswer(600).ok());
  auto third = limits.AdmitCall("fd:3", "uid 1001");
  ASSERT_TRUE(third.ok());
  absl::Status all = third->ChargeAnswer(200);
  EXPECT_THAT(std::string(all.message()), HasSubstr("limits.max_unread_bytes"))
      << "800 + 600 + 200 is past the listener's 1500";
  EXPECT_EQ(limits.unread_bytes(), 1400);

  { CallLimits::Ticket read = std::move(*a); }  // gRPC is done with the first answer
  EXPECT_EQ(limits.unread_bytes(), 600);
  EXPECT_TRUE(b->ChargeAnswer(300).ok());
}

TEST(CallLimitsTest, AMovedTicketIsReleasedOnce) {
  CallLimits limits(Settings(1, 1));
  {
    auto t = limits.AdmitWatch("fd:1", "uid 1");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->ChargeAnswer(10).ok());
    CallLimits::Ticket moved = std::move(*t);
    CallLimits::Ticket again;
    again = std::move(moved);
    EXPECT_EQ(limits.open_watches(), 1);
    EXPECT_EQ(limits.unread_bytes(), 10);
  }
  EXPECT_EQ(limits.open_watches(), 0);
  EXPECT_EQ(limits.calls_in_flight(), 0);
  EXPECT_EQ(limits.unread_bytes(), 0);
  EXPECT_TRUE(limits.AdmitWatch("fd:1", "uid 1").ok()) << "and the client's share with it";
}

}  // namespace
}  // namespace balloond
