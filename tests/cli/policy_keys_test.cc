#include "cli/policy_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balloon/v1/balloon.pb.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ApplyPolicyAssignmentsTest, SetsPolicyFieldsWithUnits) {
  v1::Policy p;
  google::protobuf::FieldMask mask;
  ASSERT_TRUE(
      ApplyPolicyAssignments({"mode=enforce", "headroom_bytes=256M", "host.reserve_fraction=0.1",
                              "cooperation_timeout=30s", "defaults.shares=2000", "enabled=false"},
                             p, mask)
          .ok());
  EXPECT_EQ(p.mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(p.defaults().headroom_bytes(), 256LL << 20);
  EXPECT_DOUBLE_EQ(p.host().reserve_fraction(), 0.1);
  EXPECT_EQ(p.cooperation_timeout().seconds(), 30);
  EXPECT_EQ(p.defaults().shares(), 2000);
  EXPECT_FALSE(p.defaults().enabled());
  EXPECT_TRUE(p.defaults().has_enabled());
  EXPECT_THAT(mask.paths(),
              ElementsAre("mode", "defaults.headroom_bytes", "host.reserve_fraction",
                          "cooperation_timeout", "defaults.shares", "defaults.enabled"));
}

TEST(ApplyPolicyAssignmentsTest, SetsADomainOverride) {
  v1::DomainPolicy d;
  google::protobuf::FieldMask mask;
  ASSERT_TRUE(ApplyPolicyAssignments({"min_bytes=1G"}, d, mask).ok());
  EXPECT_EQ(d.min_bytes(), 1LL << 30);
  EXPECT_THAT(mask.paths(), ElementsAre("min_bytes"));
}

TEST(ApplyPolicyAssignmentsTest, RefusesWithAReason) {
  struct Case {
    const char* assignment;
    const char* says;
  } cases[] = {
      {"nonsense", "KEY=VALUE"},
      {"bogus=1", "unknown setting 'bogus'"},
      {"mode=turbo", "expected off, observe, enforce"},
      {"headroom_bytes=lots", "does not start with a number"},
      {"shares=many", "whole number"},
      {"headroom_bytes=128", "has no unit: did you mean 128M?"},
      {"on_hold_broken=ignore", "expected reapply, release"},
      {"etag=abc", "unknown setting 'etag'"},
      {"enabled=perhaps", "true or false"},
      {"headroom_fraction=x", "number"},
      {"cooperation_timeout=soon", "duration"},
      {"domains=x", "unknown setting"},
      {"=3", "KEY=VALUE"},
  };
  for (const auto& c : cases) {
    v1::Policy p;
    google::protobuf::FieldMask mask;
    absl::Status s = ApplyPolicyAssignments({c.assignment}, p, mask);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.assignment;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.says)) << c.assignment;
  }
}

}  // namespace
}  // namespace balloond
