// Decide as a whole: the same inputs give the same decisions, and the modes.
#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/policy/policy_run.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

TEST(PolicyStabilityTest, SameInputsSameDecisions) {
  auto once = [] {
    PolicyRun run = ShortHost();
    run.Add(Guest("a").Actual(2 * kGiB).Max(2 * kGiB).Used(300 * kMiB));
    run.Add(Guest("b").Actual(kGiB).Used(900 * kMiB));
    std::vector<std::string> out;
    for (int i = 0; i < 5; ++i) {
      for (const auto& d : run.Cycle())
        out.push_back(absl::StrCat(d.name, d.target_bytes, d.explanation));
    }
    return out;
  };
  EXPECT_EQ(once(), once());
}

TEST(PolicyModeTest, OffDecidesNothing) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_OFF);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("idle").Actual(kGiB).Used(60 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyModeTest, TheDefaultModeIsObserve) {
  EXPECT_EQ(WithDefaults(v1::Policy()).mode(), v1::POLICY_MODE_OBSERVE);
}

}  // namespace
}  // namespace balloond::policy
