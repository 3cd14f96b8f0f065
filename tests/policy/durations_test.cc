#include "policy/durations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

namespace balloond {
namespace {

TEST(TimeTest, ProtoAndAbslTimesConvertBothWaysKeepingNanoseconds) {
  const absl::Time t = absl::FromUnixSeconds(1795612931) + absl::Nanoseconds(123456789);
  EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(t)), t);
  EXPECT_EQ(ToProtoTimestamp(t).nanos(), 123456789);
  const absl::Duration d = absl::Milliseconds(1500);
  EXPECT_EQ(ToProtoDuration(d).seconds(), 1);
  EXPECT_EQ(ToProtoDuration(d).nanos(), 500000000);
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(d)), d);
}

// What a client or a config file sends is checked before it is used: malformed, out of range and
// values meant to wrap around are refused naming the field; the bounds themselves are accepted.
TEST(DurationInRangeTest, RefusesMalformedAndOutOfRangeDurationsNamingTheField) {
  google::protobuf::Duration d;
  d.set_seconds(5);
  auto ok = DurationInRange(d, "hold", absl::Seconds(1), absl::Seconds(5));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, absl::Seconds(5));

  d.set_seconds(6);
  EXPECT_EQ(DurationInRange(d, "hold", absl::Seconds(1), absl::Seconds(5)).status().message(),
            "hold must be between 1s and 5s, got 6s");
  d.set_seconds(1);
  d.set_nanos(-1);  // signs disagree
  EXPECT_THAT(DurationInRange(d, "hold", absl::Seconds(1), absl::Seconds(5)).status().message(),
              ::testing::HasSubstr("hold is not a valid duration"));
  d.set_seconds(INT64_MAX);  // beyond protobuf's ±10000 years
  d.set_nanos(0);
  EXPECT_EQ(DurationInRange(d, "hold", absl::Seconds(1), absl::Seconds(5)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      CheckDurationRange(absl::Seconds(1), "period", absl::Seconds(1), absl::Seconds(1)).ok());
  EXPECT_FALSE(
      CheckDurationRange(absl::InfiniteDuration(), "period", absl::Seconds(1), absl::Hours(1))
          .ok());
}

}  // namespace
}  // namespace balloond
