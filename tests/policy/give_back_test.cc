// Give-back (policy/give_back.cc): a comfortable host gives memory back by shares, and no one
// moves a held guest.
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

TEST(PolicyHostTest, AComfortableHostGivesMemoryBackByShares) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["a"].set_shares(3000);
  p.set_max_grow_step_bytes(8 * kGiB);
  p.mutable_host()->set_target_used_fraction(0.8);
  // 24 GiB host, 80% target: comfortable above 4.8 GiB available; 1 GiB of surplus to give.
  PolicyRun run(p, Host(24 * kGiB, 24 * kGiB / 5 + kGiB + 16 * kMiB));
  run.Add(Guest("a").Max(4 * kGiB).Actual(kGiB));
  run.Add(Guest("b").Max(4 * kGiB).Actual(kGiB));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 2u);
  std::map<std::string, int64_t> given;
  for (const auto& d : decisions) {
    EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_GIVE_BACK);
    given[d.name] = d.target_bytes - d.previous_bytes;
  }
  EXPECT_NEAR(static_cast<double>(given["a"]) / given["b"], 3.0, 0.01);
  EXPECT_NEAR(given["a"] + given["b"], kGiB, kMiB);
}

TEST(PolicyHoldTest, AHeldGuestIsNeitherShrunkNorGivenMemoryBackUntilTheHoldEnds) {
  PolicyRun run = ShortHost();
  FakeGuest& held = run.Add(Guest("pinned").Max(2 * kGiB).Actual(2 * kGiB));
  held.held_until = kStart + absl::Seconds(30);
  run.Add(Guest("free").Max(2 * kGiB).Actual(2 * kGiB));
  for (int i = 0; i < 10; ++i) {
    for (const Decision& d : run.Cycle()) EXPECT_NE(d.name, "pinned") << d.explanation;
  }
  EXPECT_EQ(held.actual, 2 * kGiB);
  // 20 s in, the hold has 10 s left; past it the host's shortage reaches the pinned guest too.
  for (int i = 0; i < 6; ++i) run.Cycle();
  EXPECT_LT(held.actual, 2 * kGiB);

  // A comfortable host gives nothing to a guest held low, either.
  v1::Policy p = Enforce();
  p.mutable_host()->set_target_used_fraction(0.8);
  PolicyRun comfortable(p, Host(24 * kGiB, 20 * kGiB));
  FakeGuest& low = comfortable.Add(Guest("low").Max(4 * kGiB).Actual(kGiB));
  low.held_until = kStart + absl::Hours(1);
  EXPECT_TRUE(comfortable.CycleUntilQuiet().empty());
  EXPECT_EQ(low.actual, kGiB);
}

TEST(PolicyHostTest, ANeutralHostLeavesSettledGuestsAlone) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("web").Actual(kGiB).Used(300 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

}  // namespace
}  // namespace balloond::policy
