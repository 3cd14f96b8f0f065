// The policy's layers: a domain's metadata beneath the host's overrides, and where each setting
// came from.
#include "policy/layers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

TEST(PolicyLayersTest, ChangesMergeFieldByFieldAndDurationsWhole) {
  v1::Policy base;
  base.mutable_defaults()->set_shares(2000);
  base.mutable_default_hold()->set_seconds(3600);
  base.mutable_default_hold()->set_nanos(500);
  (*base.mutable_domains())["db"].set_min_bytes(kGiB);
  v1::Policy changes;
  changes.mutable_default_hold()->set_seconds(10);
  (*changes.mutable_domains())["db"].set_max_bytes(4 * kGiB);
  const v1::Policy merged = MergePolicy(base, changes);
  EXPECT_EQ(merged.defaults().shares(), 2000);
  EXPECT_EQ(merged.default_hold().seconds(), 10);
  EXPECT_EQ(merged.default_hold().nanos(), 0) << "a duration is taken whole, not mixed";
  EXPECT_EQ(merged.domains().at("db").min_bytes(), kGiB);
  EXPECT_EQ(merged.domains().at("db").max_bytes(), 4 * kGiB);
}

// Durations inside the host's settings and a domain's are taken whole too, 0s included (a Duration
// of zeros has no field protobuf would merge).
TEST(PolicyLayersTest, NestedDurationsAreTakenWholeZeroIncluded) {
  v1::Policy base;
  base.mutable_host()->mutable_reserve_reclaim_after()->set_seconds(30);
  base.mutable_host()->set_reserve_fraction(0.15);
  (*base.mutable_domains())["db"].mutable_probe_slack_learn()->set_seconds(600);
  v1::Policy changes;
  changes.mutable_host()->mutable_reserve_reclaim_after()->set_seconds(0);
  (*changes.mutable_domains())["db"].mutable_probe_slack_learn()->set_seconds(0);
  const v1::Policy merged = MergePolicy(base, changes);
  EXPECT_TRUE(merged.host().has_reserve_reclaim_after());
  EXPECT_EQ(merged.host().reserve_reclaim_after().seconds(), 0);
  EXPECT_EQ(merged.host().reserve_fraction(), 0.15);
  EXPECT_EQ(merged.domains().at("db").probe_slack_learn().seconds(), 0);
}

TEST(PolicyLayersTest, OverridesOnTheHostWinFieldByField) {
  v1::Policy policy;
  (*policy.mutable_domains())["db"].set_shares(3000);
  std::map<std::string, v1::DomainPolicy> metadata;
  metadata["db"].set_shares(2000);
  metadata["db"].set_min_bytes(kGiB);
  metadata["web"].set_enabled(false);
  const v1::Policy merged = WithMetadata(policy, metadata);
  EXPECT_EQ(merged.domains().at("db").shares(), 3000);
  EXPECT_EQ(merged.domains().at("db").min_bytes(), kGiB);
  EXPECT_FALSE(merged.domains().at("web").enabled());
}

TEST(PolicyLayersTest, MetadataThatConflictsWithAnOverrideIsSetAside) {
  v1::Policy policy;
  (*policy.mutable_domains())["db"].set_max_bytes(kGiB);
  std::map<std::string, v1::DomainPolicy> metadata;
  metadata["db"].set_min_bytes(2 * kGiB);
  std::map<std::string, std::string> ignored;
  const v1::Policy merged = WithMetadata(policy, metadata, &ignored);
  EXPECT_FALSE(merged.domains().at("db").has_min_bytes());
  EXPECT_THAT(ignored["db"], HasSubstr("min_bytes must not exceed max_bytes"));
}

TEST(PolicyLayersTest, EachSettingSaysWhichLayerItCameFrom) {
  v1::Policy config;
  config.mutable_defaults()->set_headroom_bytes(200 * kMiB);
  (*config.mutable_domains())["db"].set_low_watermark_bytes(100 * kMiB);
  v1::Policy api;
  api.mutable_defaults()->set_headroom_fraction(0.3);
  (*api.mutable_domains())["db"].set_shares(3000);
  v1::DomainPolicy metadata;
  metadata.set_shares(2000);  // the API's override wins
  metadata.set_min_bytes(kGiB);
  const auto explained = ExplainDomainPolicy("db", config, api, &metadata);
  const auto& from = explained.sources();
  EXPECT_EQ(from.at("enabled"), v1::POLICY_SOURCE_BUILT_IN);
  EXPECT_EQ(from.at("headroom_bytes"), v1::POLICY_SOURCE_CONFIG_DEFAULTS);
  EXPECT_EQ(from.at("headroom_fraction"), v1::POLICY_SOURCE_API_DEFAULTS);
  EXPECT_EQ(from.at("min_bytes"), v1::POLICY_SOURCE_METADATA);
  EXPECT_EQ(from.at("low_watermark_bytes"), v1::POLICY_SOURCE_CONFIG_DOMAIN);
  EXPECT_EQ(from.at("shares"), v1::POLICY_SOURCE_API_DOMAIN);
  EXPECT_EQ(explained.settings().shares(), 3000);
  EXPECT_EQ(explained.settings().min_bytes(), kGiB);
  EXPECT_EQ(explained.settings().headroom_bytes(), 200 * kMiB);
  EXPECT_EQ(explained.metadata().shares(), 2000);
  EXPECT_TRUE(explained.metadata_problem().empty());
}

}  // namespace
}  // namespace balloond::policy
