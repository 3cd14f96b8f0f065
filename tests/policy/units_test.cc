#include "policy/units.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balloon/v1/balloon.pb.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

TEST(FormatBytesTest, PrintsBinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1000), "1000 B");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(FormatBytes(1536 * kMiB), "1.5 GiB");
  EXPECT_EQ(FormatBytes(-64 * kMiB), "-64 MiB");
  EXPECT_EQ(FormatBytes(300 * kMiB + 700 * kKiB), "300.7 MiB");
}

TEST(TimeTest, ProtoAndAbslTimesConvertBothWaysKeepingNanoseconds) {
  const absl::Time t = absl::FromUnixSeconds(1795612931) + absl::Nanoseconds(123456789);
  EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(t)), t);
  EXPECT_EQ(ToProtoTimestamp(t).nanos(), 123456789);
  const absl::Duration d = absl::Milliseconds(1500);
  EXPECT_EQ(ToProtoDuration(d).seconds(), 1);
  EXPECT_EQ(ToProtoDuration(d).nanos(), 500000000);
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(d)), d);
}

TEST(ShortNameTest, NamesComeFromTheProtoWithoutTheirPrefix) {
  EXPECT_EQ(ShortName(v1::POLICY_MODE_ENFORCE), "enforce");
  EXPECT_EQ(ShortName(v1::DECISION_REASON_HOST_RECLAIM), "host-reclaim");
  EXPECT_EQ(ShortName(v1::BALLOON_STATE_NO_DEVICE), "no-device");
  EXPECT_EQ(ShortName(v1::DOMAIN_STATE_SHUTTING_DOWN), "shutting-down");
  EXPECT_EQ(ShortName(static_cast<v1::PolicyMode>(42)), "unknown");
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("observe"), v1::POLICY_MODE_OBSERVE);
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("unspecified"), std::nullopt);
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("POLICY_MODE_OFF"), std::nullopt);
}

}  // namespace
}  // namespace balloond
