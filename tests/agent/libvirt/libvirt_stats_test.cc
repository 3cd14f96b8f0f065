#include "agent/libvirt/libvirt_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/libvirt/policy_metadata.h"
#include "policy/sizes.h"
#include "tests/agent/libvirt/fake_hypervisor.h"
#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::ReadTestData;
using ::balloond::testing::RecordedStats;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ParseDomainStatsTest, ReadsEveryStatisticLibvirtGivesInBytes) {
  DomainStats d = ParseDomainStats(RecordedStats("domstats-booted.txt"));
  EXPECT_EQ(d.info.state, DomainRunState::kRunning);
  EXPECT_THAT(d.actual_bytes, Optional(524288LL * 1024));
  EXPECT_EQ(d.info.max_memory_bytes, 524288LL * 1024);
  EXPECT_TRUE(d.stats_read);
  EXPECT_EQ(d.guest.last_update_unix_seconds, 1795634559);
  // libvirt's names and KiB become QEMU's names and bytes, as the QMP path read them.
  EXPECT_THAT(d.guest.Get("stat-free-memory"), Optional(453952LL * 1024));
  EXPECT_THAT(d.guest.Get("stat-total-memory"), Optional(481428LL * 1024));
  EXPECT_THAT(d.guest.Get("stat-available-memory"), Optional(453648LL * 1024));
  EXPECT_THAT(d.guest.Get("stat-disk-caches"), Optional(2216LL * 1024));
  EXPECT_THAT(d.guest.Get("stat-minor-faults"), Optional(665));
  EXPECT_THAT(d.guest.Get("stat-major-faults"), Optional(0));
  EXPECT_THAT(d.guest.Get("stat-swap-in"), Optional(0));
  EXPECT_THAT(d.guest.Get("stat-htlb-pgalloc"), Optional(0));
  // What libvirt adds that QEMU's list has not keeps libvirt's name.
  EXPECT_THAT(d.guest.Get("rss"), Optional(217376LL * 1024));
}

TEST(ParseDomainStatsTest, AGuestThatNeverReportedHasOnlyItsLastUpdate) {
  DomainStats d = ParseDomainStats(RecordedStats("domstats-never-reported.txt"));
  EXPECT_EQ(d.info.state, DomainRunState::kPaused);
  EXPECT_TRUE(d.stats_read);
  EXPECT_EQ(d.guest.last_update_unix_seconds, 0);
  EXPECT_FALSE(d.guest.Get("stat-free-memory").has_value());
}

TEST(ParseDomainStatsTest, ABusyOrBalloonlessDomainHasNoStatisticsRead) {
  DomainStats busy = ParseDomainStats(RecordedStats("domstats-busy.txt"));
  EXPECT_FALSE(busy.stats_read);
  EXPECT_THAT(busy.actual_bytes, Optional(524288LL * 1024));
  DomainStats none = ParseDomainStats(RecordedStats("domstats-no-balloon.txt"));
  EXPECT_FALSE(none.stats_read) << "rss comes from /proc, not from a balloon";
}

TEST(ParseDomainStatsTest, UnknownStatisticsPassThroughAndAbsurdOnesAreDropped) {
  DomainStats d = ParseDomainStats({{"balloon.oom_kills", 3},
                                    {"balloon.unused", UINT64_MAX / 2},
                                    {"balloon.current", UINT64_MAX},
                                    {"block.0.rd.reqs", 5}});
  EXPECT_THAT(d.guest.Get("oom_kills"), Optional(3));
  EXPECT_FALSE(d.guest.Get("stat-free-memory").has_value()) << "no int64 holds it in bytes";
  EXPECT_FALSE(d.actual_bytes.has_value());
  EXPECT_EQ(d.guest.values.size(), 1u);
}

TEST(ParseDomainXmlTest, ReadsTheBalloonsDefinition) {
  auto with_period = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-stats-period.xml"));
  ASSERT_TRUE(with_period.ok()) << with_period.status();
  EXPECT_TRUE(with_period->has_balloon);
  EXPECT_EQ(with_period->stats_period_seconds, 1);
  EXPECT_FALSE(with_period->autodeflate);

  auto no_period = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-no-period.xml"));
  EXPECT_TRUE(no_period->has_balloon);
  EXPECT_EQ(no_period->stats_period_seconds, 0);

  auto none = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-no-balloon.xml"));
  EXPECT_FALSE(none->has_balloon);

  auto deflate = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-autodeflate.xml"));
  EXPECT_TRUE(deflate->autodeflate);
  EXPECT_TRUE(deflate->free_page_reporting);
  EXPECT_EQ(deflate->stats_period_seconds, 2);
}

TEST(ParseDomainXmlTest, FindsBalloondsMetadataByItsNamespace) {
  auto with = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-metadata.xml"));
  ASSERT_TRUE(with.ok()) << with.status();
  auto settings = ParsePolicyMetadata(with->policy_metadata);
  ASSERT_TRUE(settings.ok()) << settings.status() << "\n" << with->policy_metadata;
  EXPECT_EQ(settings->min_bytes(), 512 * kMiB);  // not the other namespace's <policy><min>1
  EXPECT_EQ(settings->max_bytes(), 4 * kGiB);
  EXPECT_TRUE(
      ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-autodeflate.xml"))->policy_metadata.empty());
}

TEST(ParseDomainXmlTest, ReadsVirtioMemDevices) {
  auto config = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-virtio-mem.xml"));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->memory_devices.size(), 1u);
  const MemoryDevice& d = config->memory_devices[0];
  EXPECT_EQ(d.alias, "virtiomem0");
  EXPECT_EQ(d.size_bytes, 2 * kGiB);
  EXPECT_EQ(d.block_bytes, 2 * kMiB);
  EXPECT_EQ(d.node, 0);
  EXPECT_EQ(d.requested_bytes, 512 * kMiB);
  EXPECT_EQ(d.current_bytes, 512 * kMiB);
  EXPECT_TRUE(
      ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-stats-period.xml"))->memory_devices.empty());

  // Units as a user may write them in an inactive definition; no <current> before it runs.
  auto defined = ParseDomainXml(
      "<domain><devices><memory model='virtio-mem'><target><size unit='GiB'>4</size>"
      "<node>1</node><block unit='MiB'>4</block><requested unit='b'>0</requested></target>"
      "</memory><memory model='dimm'><target><size>1024</size></target></memory>"
      "<memory model='virtio-mem'><target><size>x</size></target></memory></devices></domain>");
  ASSERT_TRUE(defined.ok()) << defined.status();
  ASSERT_EQ(defined->memory_devices.size(), 1u) << "a DIMM and a device that does not parse";
  EXPECT_EQ(defined->memory_devices[0].size_bytes, 4 * kGiB);
  EXPECT_EQ(defined->memory_devices[0].block_bytes, 4 * kMiB);
  EXPECT_EQ(defined->memory_devices[0].node, 1);
  EXPECT_EQ(defined->memory_devices[0].current_bytes, 0);
}

TEST(WithRequestedSizeTest, RewritesOnlyTheRequestedSize) {
  auto config = ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-virtio-mem.xml"));
  ASSERT_TRUE(config.ok()) << config.status();
  auto xml = WithRequestedSize(config->memory_devices[0].xml, 1536 * kMiB);
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_THAT(*xml, HasSubstr("<requested unit=\"KiB\">1572864</requested>"));
  EXPECT_THAT(*xml, HasSubstr("<size unit=\"KiB\">2097152</size>"));
  EXPECT_THAT(*xml, HasSubstr("<address type=\"pci\""));  // how libvirt finds the device

  auto added = WithRequestedSize(
      "<memory model='virtio-mem'><target><size unit='MiB'>64</size></target></memory>", 0);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_THAT(*added, HasSubstr("<requested unit=\"KiB\">0</requested>"));

  EXPECT_FALSE(WithRequestedSize("<memory model='dimm'><target/></memory>", 0).ok());
  EXPECT_FALSE(WithRequestedSize("<memory", 0).ok());
}

TEST(ParseDomainXmlTest, RefusesWhatIsNotADomain) {
  EXPECT_FALSE(ParseDomainXml("").ok());
  EXPECT_FALSE(ParseDomainXml("<network/>").ok());
  EXPECT_FALSE(ParseDomainXml("<domain><devices>").ok());
  // An external entity is never fetched: such a document is refused.
  EXPECT_FALSE(ParseDomainXml(R"(<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
    <domain><devices><memballoon model='&x;'/></devices></domain>)")
                   .ok());
}

}  // namespace
}  // namespace balloond
