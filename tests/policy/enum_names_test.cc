#include "policy/enum_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balloon/v1/balloon.pb.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

TEST(ShortNameTest, NamesComeFromTheProtoWithoutTheirPrefix) {
  EXPECT_EQ(ShortName(v1::POLICY_MODE_ENFORCE), "enforce");
  EXPECT_EQ(ShortName(v1::DECISION_REASON_HOST_RECLAIM), "host-reclaim");
  EXPECT_EQ(ShortName(v1::BALLOON_STATE_NO_DEVICE), "no-device");
  EXPECT_EQ(ShortName(v1::DOMAIN_STATE_SHUTTING_DOWN), "shutting-down");
  EXPECT_EQ(ShortName(static_cast<v1::PolicyMode>(42)), "unknown");
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("observe"), v1::POLICY_MODE_OBSERVE);
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("unspecified"), std::nullopt);
  EXPECT_EQ(ParseShortName<v1::PolicyMode>("POLICY_MODE_OFF"), std::nullopt);
  EXPECT_THAT(ShortEnumNames(google::protobuf::GetEnumDescriptor<v1::PolicyMode>()),
              ::testing::ElementsAre("off", "observe", "enforce"));
}

}  // namespace
}  // namespace balloond
