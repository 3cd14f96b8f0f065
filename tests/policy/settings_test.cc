// The policy's settings: validation naming the field, and one domain's settings in force.
#include "policy/settings.h"

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

TEST(ValidatePolicyTest, RefusesBadValuesNamingTheField) {
  struct Case {
    std::function<void(v1::Policy&)> set;
    const char* field;
  } cases[] = {
      {[](v1::Policy& p) { p.mutable_defaults()->set_headroom_fraction(1.5); },
       "defaults.headroom_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_shares(0); }, "defaults.shares"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_min_bytes(-1); }, "defaults.min_bytes"},
      {[](v1::Policy& p) { (*p.mutable_domains())["x"].set_max_bytes(0); }, "domains[x].max_bytes"},
      {[](v1::Policy& p) {
         (*p.mutable_domains())["x"].set_min_bytes(2);
         (*p.mutable_domains())["x"].set_max_bytes(1);
       },
       "domains[x].min_bytes"},
      {[](v1::Policy& p) { p.mutable_host()->set_reserve_fraction(1); }, "host.reserve_fraction"},
      {[](v1::Policy& p) { p.mutable_host()->set_target_used_fraction(0.99); },
       "host.target_used_fraction"},
      {[](v1::Policy& p) { p.mutable_host()->set_pressure_threshold(0); },
       "host.pressure_threshold"},
      {[](v1::Policy& p) { p.set_max_shrink_step_bytes(0); }, "max_shrink_step_bytes"},
      {[](v1::Policy& p) { p.mutable_cooperation_timeout()->set_seconds(-1); },
       "cooperation_timeout"},
      {[](v1::Policy& p) { p.set_stale_after_periods(0); }, "stale_after_periods"},
      // Summed with a period count, a value near INT32_MAX would overflow.
      {[](v1::Policy& p) { p.set_stale_after_periods(2147483647); }, "stale_after_periods"},
      // seconds * 1000 wraps around to a positive number of milliseconds: refused all the same.
      {[](v1::Policy& p) { p.mutable_default_hold()->set_seconds(-18446744073709551); },
       "default_hold"},
      {[](v1::Policy& p) { p.mutable_default_hold()->set_seconds(8 * 24 * 3600); }, "default_hold"},
      {[](v1::Policy& p) { p.mutable_max_backoff()->set_seconds(INT64_MAX); }, "max_backoff"},
      {[](v1::Policy& p) {
         p.mutable_cooperation_timeout()->set_seconds(1);
         p.mutable_cooperation_timeout()->set_nanos(-5);
       },
       "cooperation_timeout"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_step_fraction(0.5); },
       "defaults.probe_step_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_step_fraction(0); },
       "defaults.probe_step_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_slack_fraction(1.5); },
       "defaults.probe_slack_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->mutable_probe_slack_learn()->set_seconds(-1); },
       "defaults.probe_slack_learn"},
      {[](v1::Policy& p) { (*p.mutable_domains())["x"].set_probe_max_step_bytes(0); },
       "domains[x].probe_max_step_bytes"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_major_faults_per_second(-1); },
       "defaults.probe_major_faults_per_second"},
      {[](v1::Policy& p) { p.mutable_probe_interval()->set_nanos(500000000); }, "probe_interval"},
  };
  for (const auto& c : cases) {
    v1::Policy p;
    c.set(p);
    absl::Status s = ValidatePolicy(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.field));
  }
  EXPECT_TRUE(ValidatePolicy(v1::Policy()).ok());
  EXPECT_TRUE(ValidatePolicy(WithDefaults(v1::Policy())).ok());
}

TEST(EffectiveDomainPolicyTest, AnOverrideWinsFieldByField) {
  v1::Policy p;
  p.mutable_defaults()->set_headroom_bytes(256 * kMiB);
  (*p.mutable_domains())["db"].set_min_bytes(kGiB);
  const v1::DomainPolicy db = EffectiveDomainPolicy(p, "db");
  EXPECT_EQ(db.min_bytes(), kGiB);
  EXPECT_EQ(db.headroom_bytes(), 256 * kMiB);
  EXPECT_EQ(db.shares(), 1000);
  EXPECT_EQ(EffectiveDomainPolicy(p, "web").min_bytes(), 128 * kMiB);
}

// A Duration of zeros has no field protobuf would merge: a set 0s must still win over a default.
TEST(EffectiveDomainPolicyTest, ASetZeroDurationWinsOverTheDefault) {
  v1::Policy policy;
  policy.mutable_defaults()->mutable_probe_slack_learn()->set_seconds(0);
  policy.mutable_host()->mutable_reserve_reclaim_after()->set_seconds(0);
  EXPECT_EQ(EffectiveDomainPolicy(policy, "any").probe_slack_learn().seconds(), 0);
  EXPECT_EQ(WithDefaults(policy).host().reserve_reclaim_after().seconds(), 0);
  EXPECT_EQ(WithDefaults({}).host().reserve_reclaim_after().seconds(), 60);
}

}  // namespace
}  // namespace balloond::policy
