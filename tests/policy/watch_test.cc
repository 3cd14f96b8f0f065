// Watching the balloons (policy/watch.cc): one that does not follow its target is left alone,
// for longer each time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/policy/policy_run.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

TEST(PolicySafetyTest, AnUncooperativeBalloonIsResetAndBackedOffExponentially) {
  PolicyRun run = ShortHost();
  FakeGuest& g = run.Add(Guest("stuck").Actual(2 * kGiB).Max(2 * kGiB).Used(60 * kMiB));
  ASSERT_EQ(run.Cycle(/*stuck=*/true).size(), 1u);  // asked to shrink; the balloon does not move
  std::vector<Decision> strikes;
  for (int i = 0; i < 200; ++i) {
    for (const auto& d : run.Cycle(/*stuck=*/true)) {
      if (d.reason == v1::DECISION_REASON_UNCOOPERATIVE) strikes.push_back(d);
    }
  }
  ASSERT_GE(strikes.size(), 3u);
  EXPECT_EQ(strikes[0].target_bytes, g.actual);  // reset to where it is: not counted as reclaimed
  EXPECT_THAT(strikes[0].explanation, HasSubstr("left alone for 30s"));
  EXPECT_THAT(strikes[1].explanation, HasSubstr("left alone for 1m"));
  EXPECT_THAT(strikes[2].explanation, HasSubstr("left alone for 2m"));
}

}  // namespace
}  // namespace balloond::policy
